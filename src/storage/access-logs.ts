import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { MetadataStore } from '../db/metadata-store.js';
import type { SequenceStoreRecord } from './entities.js';
import type { DataLocations } from './locations.js';

/**
 * S3 server access logs (spec §7.3) for stores with an `accessLogLocation`:
 * one line per S3 request in the S3 server access log format, batched per
 * store and delivered as objects `<location><YYYY-mm-DD-HH-MM-SS>-<unique>`
 * through connected storage.
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

/**
 * Lines are written ahead to the metadata store as each request finishes (so a killed process loses at most
 * the requests whose response had not finished), and delivered in batches by whichever process flushes first:
 * a batch is claimed with a compare-and-set, written as one object, then removed. A process that dies between
 * writing and removing leaves its claim to go stale and the batch is delivered again (at least once, never
 * lost). A batch whose location cannot be written is retried at the next flushes, then dropped with an error.
 */
export class AccessLogService {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly failures = new Map<string, number>();
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly db: MetadataStore,
    private readonly locations: DataLocations,
    private readonly log: Logger,
    private readonly flushMs = 60_000,
    private readonly batchLines = 10_000,
  ) {}

  /** Records a request to `store` if the store logs its access; `entry` is made only then. */
  record(store: SequenceStoreRecord, entry: () => AccessLogEntry): void {
    if (!store.accessLogLocation) return;
    const e = entry();
    const write = this.db
      .accessLogs.append({ id: `${e.time}-${randomBytes(8).toString('hex')}`, storeId: store.id, accountId: store.accountId, time: e.time, line: formatAccessLogLine(store, e) })
      .catch((err: unknown) => this.log.error({ err, storeId: store.id, requestId: e.requestId }, 'S3 access log line could not be recorded'))
      .finally(() => this.inFlight.delete(write));
    this.inFlight.add(write);
    if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  private closed = false;

  /** Starts delivering: what earlier processes left (killed before delivery) goes out with the first flush. */
  start(): void {
    void this.flush();
  }

  /** Delivers what is pending, then stops the timer (shutdown). */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** Delivers every pending batch. */
  flush(): Promise<void> {
    this.flushing ??= this.deliver().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async deliver(): Promise<void> {
    this.timer = undefined;
    await Promise.all([...this.inFlight]);
    const now = Date.now();
    const tried = new Set<string>();
    for (;;) {
      const batch = `${now}-${randomBytes(8).toString('hex')}`;
      const claimed = await this.db.accessLogs.claimBatch(batch, now, now - 10 * Math.max(this.flushMs, 60_000), this.batchLines).catch((err: unknown) => {
        this.log.error({ err }, 'S3 access logs could not be read for delivery');
        return undefined;
      });
      if (!claimed) break;
      if (tried.has(claimed.storeId)) {
        // Failed once in this flush already: leave it for the next one.
        await this.db.accessLogs.releaseBatch(batch, false);
        break;
      }
      tried.add(claimed.storeId);
      const store = await this.db.sequenceStores.get(claimed.accountId, claimed.storeId);
      if (!store?.accessLogLocation) {
        await this.db.accessLogs.releaseBatch(batch, true); // the store or its logging is gone
        continue;
      }
      const d = new Date();
      const pad = (n: number) => String(n).padStart(2, '0');
      const name = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}-${pad(d.getUTCHours())}-${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}-${randomBytes(8).toString('hex').toUpperCase()}`;
      try {
        const target = await this.locations.target(store.accessLogLocation, { accountId: store.accountId });
        await target.write(name, Readable.from([Buffer.from(claimed.lines.join('\n') + '\n')]));
        await this.db.accessLogs.deleteBatch(batch);
        this.failures.delete(store.id);
      } catch (err) {
        const failures = (this.failures.get(store.id) ?? 0) + 1;
        this.failures.set(store.id, failures);
        const drop = failures >= 3;
        if (drop) this.failures.delete(store.id);
        await this.db.accessLogs.releaseBatch(batch, drop);
        this.log.error({ err, storeId: store.id, location: store.accessLogLocation, lines: claimed.lines.length, dropped: drop }, 'S3 access log delivery failed');
      }
    }
    if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }
}
