import { Counter, Gauge, Registry } from 'prom-client';
import { ioBuffers } from './buffer-recycler.js';

/**
 * The process's Prometheus registry and the metrics layers below the edges count into (the edges' own
 * request metrics are made where the edges are composed, server/http-server.ts). Served by
 * /_openomics/metrics (server/ops-endpoints.ts) on a server's port or a worker's.
 */
export const metrics = new Registry();

/** Job attempts by kind and how each ended: completed, retry (failed, will be retried), gave_up, lease_lost. */
export const jobAttempts = new Counter({
  name: 'openomics_job_attempts_total',
  help: 'Job attempts by kind and outcome (completed, retry, gave_up, lease_lost)',
  labelNames: ['kind', 'outcome'],
  registers: [metrics],
});

/** Blob store operations that failed, by tier (hot, cold) and operation; storage faults among them by kind. */
export const blobErrors = new Counter({
  name: 'openomics_blob_errors_total',
  help: 'Blob store operations that failed, by tier and operation',
  labelNames: ['tier', 'operation'],
  registers: [metrics],
});

new Gauge({
  name: 'openomics_read_buffers_idle_bytes',
  help: 'Bytes of read buffers waiting in the recycler for reuse',
  registers: [metrics],
  collect() {
    this.set(ioBuffers.idleBytes);
  },
});
