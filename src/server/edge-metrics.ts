import { Counter, Histogram } from 'prom-client';
import { metrics } from '../core/metrics.js';

/** The edges' request metrics: one set per process, whatever number of listeners it builds (tests build several). */
export const requests = new Counter({ name: 'openomics_requests_total', help: 'API requests by operation and status', labelNames: ['operation', 'status'], registers: [metrics] });
export const latency = new Histogram({
  name: 'openomics_request_duration_seconds',
  help: 'API request latency by operation',
  labelNames: ['operation'],
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  registers: [metrics],
});

export const s3Requests = new Counter({ name: 'openomics_s3_requests_total', help: 'S3-view requests by operation and status', labelNames: ['operation', 'status'], registers: [metrics] });
export const s3Latency = new Histogram({
  name: 'openomics_s3_request_duration_seconds',
  help: 'S3-view request latency by operation (to the last byte sent)',
  labelNames: ['operation'],
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  registers: [metrics],
});
export const s3Bytes = new Counter({ name: 'openomics_s3_bytes_sent_total', help: 'Body bytes the S3 view sent, by operation', labelNames: ['operation'], registers: [metrics] });
