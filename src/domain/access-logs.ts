import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { SequenceStoreRecord } from '../db/metadata-store.js';
import type { DataLocations } from './locations.js';

/**
 * S3 server access logs (spec §7.3) for stores with an `accessLogLocation`:
 * one line per S3 request in the S3 server access log format, batched per
 * store and delivered as objects `<location><YYYY-mm-DD-HH-MM-SS>-<unique>`
 * through connected storage. Delivery is best effort, as S3's is: a batch
 * that cannot be written is retried at the next flush, then dropped with an
 * operator-visible error.
 */
export interface AccessLogEntry {
  time: number;
  remoteIp: string;
  requester: string;
  requestId: string;
  operation: string; // REST.GET.OBJECT, REST.GET.BUCKET, ...
  key: string;
  requestUri: string; // "GET /bucket/key HTTP/1.1"
  status: number;
  errorCode: string;
  bytesSent: number;
  objectSize: number;
  totalMs: number;
  referrer: string;
  userAgent: string;
  signatureVersion: string; // SigV4 | SigV2
  authType: string; // AuthHeader | QueryString
  hostHeader: string;
  accessPointArn: string;
}

const dash = (v: string | number | undefined) => (v === undefined || v === '' ? '-' : String(v));
const quoted = (v: string) => `"${v.replace(/"/g, '\\"')}"`;

function timestamp(ms: number): string {
  // [06/Feb/2019:00:00:38 +0000]
  const d = new Date(ms);
  const mon = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const p = (n: number) => String(n).padStart(2, '0');
  return `[${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`;
}

/** One line in the S3 server access log format (fields in S3's documented order). */
export function formatAccessLogLine(store: SequenceStoreRecord, e: AccessLogEntry): string {
  return [
    store.accountId,
    store.accessPointAlias,
    timestamp(e.time),
    e.remoteIp,
    dash(e.requester),
    e.requestId,
    e.operation,
    dash(e.key),
    quoted(e.requestUri),
    e.status,
    dash(e.errorCode),
    dash(e.bytesSent),
    dash(e.objectSize),
    e.totalMs,
    e.totalMs,
    quoted(e.referrer || '-'),
    quoted(e.userAgent || '-'),
    '-', // version id
    '-', // host id
    e.signatureVersion,
    '-', // cipher suite (plain HTTP here)
    e.authType,
    e.hostHeader,
    '-', // TLS version
    e.accessPointArn,
    '-', // ACL required
  ].join(' ');
}

export class AccessLogService {
  private readonly pending = new Map<string, { store: SequenceStoreRecord; lines: string[]; failures: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly locations: DataLocations,
    private readonly log: Logger,
    private readonly flushMs = 60_000,
    private readonly maxLinesPerStore = 100_000,
  ) {}

  record(store: SequenceStoreRecord, e: AccessLogEntry): void {
    if (!store.accessLogLocation) return;
    let p = this.pending.get(store.id);
    if (!p) this.pending.set(store.id, (p = { store, lines: [], failures: 0 }));
    p.store = store;
    if (p.lines.length < this.maxLinesPerStore) p.lines.push(formatAccessLogLine(store, e));
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Delivers every pending batch (also called at shutdown). */
  async flush(): Promise<void> {
    this.timer = undefined;
    for (const [id, p] of [...this.pending]) {
      if (p.lines.length === 0) continue;
      const lines = p.lines;
      p.lines = [];
      const d = new Date();
      const pad = (n: number) => String(n).padStart(2, '0');
      const name = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}-${pad(d.getUTCHours())}-${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}-${randomBytes(8).toString('hex').toUpperCase()}`;
      try {
        const target = await this.locations.target(p.store.accessLogLocation!, { accountId: p.store.accountId });
        await target.write(name, Readable.from([Buffer.from(lines.join('\n') + '\n')]));
        p.failures = 0;
        this.pending.delete(id);
      } catch (err) {
        p.failures++;
        if (p.failures < 3) p.lines.unshift(...lines);
        this.log.error({ err, storeId: id, location: p.store.accessLogLocation, lines: lines.length, dropped: p.failures >= 3 }, 'S3 access log delivery failed');
      }
    }
    if ([...this.pending.values()].some((p) => p.lines.length > 0) && !this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }
}
