import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Gauge } from 'prom-client';
import { metrics } from '../core/metrics.js';
import type { Core } from '../app.js';

let defaultsCollected = false;

export const READY_PATH = '/_openomics/ready';
export const METRICS_PATH = '/_openomics/metrics';

/**
 * The operational endpoints every process serves: readiness (the database answers within 2 s, the data
 * folder's disk has room) and Prometheus metrics (behind a bearer token when one is configured).
 * `openomics serve` answers them on its API listener; `openomics worker` on OPENOMICS_WORKER_PORT.
 */
export class OpsEndpoints {
  readonly registry = metrics;
  private draining = false;

  constructor(private readonly core: Core) {
    if (!defaultsCollected) collectDefaultMetrics({ register: this.registry });
    defaultsCollected = true;
    if (this.registry.getSingleMetric('openomics_jobs_stalled')) return; // one set of queue gauges per process
    const lease = core.config.jobLeaseMs;
    const queue = () => core.db.jobs.queued().catch(() => []);
    new Gauge({
      name: 'openomics_jobs_queued',
      help: 'Jobs submitted or in progress, by kind (read at scrape time)',
      labelNames: ['kind'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const q of await queue()) this.set({ kind: q.kind }, q.count);
      },
    });
    new Gauge({
      name: 'openomics_jobs_oldest_age_seconds',
      help: 'Age of the oldest job not finished, by kind (read at scrape time)',
      labelNames: ['kind'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const q of await queue()) this.set({ kind: q.kind }, Math.max(0, (Date.now() - q.oldestCreation) / 1000));
      },
    });
    new Gauge({
      name: 'openomics_jobs_stalled',
      help: 'Jobs not finished that no worker has run for three job leases, by kind (read at scrape time)',
      labelNames: ['kind'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const s of await core.db.jobs.stalled(Date.now() - 3 * lease).catch(() => [])) this.set({ kind: s.kind }, s.count);
      },
    });
  }

  /** From now on readiness answers 503 (shutting down). */
  drain(): void {
    this.draining = true;
  }

  /** Answers the request if it is for an operational endpoint; false otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse, rawPath: string): Promise<boolean> {
    if (rawPath === READY_PATH) {
      try {
        await this.checkReady();
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}');
      } catch (e) {
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'unavailable', reason: (e as Error).message }));
      }
      return true;
    }
    if (rawPath === METRICS_PATH) {
      const token = this.core.config.metricsToken;
      if (token && !tokenMatches(req.headers.authorization, token)) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' }).end('{"message":"metrics need Authorization: Bearer <OPENOMICS_METRICS_TOKEN>"}');
        return true;
      }
      res.writeHead(200, { 'content-type': this.registry.contentType }).end(await this.registry.metrics());
      return true;
    }
    return false;
  }

  private async checkReady(): Promise<void> {
    const { config, db } = this.core;
    if (this.draining) throw new Error('shutting down');
    // A database that hangs must not hang the readiness probe: unready after 2 s.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      db.ping(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the database did not answer within 2 s')), 2_000))),
    ]).finally(() => clearTimeout(timer));
    // The local disk (data dir: SQLite, local blobs, scratch) filling up makes every write fail.
    const fs = await statfs(config.dataDir);
    const free = fs.bavail * fs.bsize;
    if (free < config.minFreeDiskBytes) {
      throw new Error(`the disk is almost full: ${Math.floor(free / 1048576)} MiB free in ${config.dataDir} (at least ${Math.floor(config.minFreeDiskBytes / 1048576)} MiB wanted)`);
    }
  }

  /** A listener of its own for these endpoints only (a worker's health and metrics port). */
  async listen(host: string, port: number): Promise<{ server: Server; url: string }> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      this.handle(req, res, path).then(
        (handled) => {
          if (!handled) res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"a worker serves /_openomics/ready and /_openomics/metrics only"}');
        },
        () => res.destroy(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return { server, url: `http://${host}:${(server.address() as AddressInfo).port}` };
  }
}

function tokenMatches(authorization: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(authorization ?? '')?.[1] ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
