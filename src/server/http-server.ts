import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { requestsInFlight } from '../core/activity.js';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { requests, latency, s3Requests, s3Latency, s3Bytes } from './edge-metrics.js';
import { OpsEndpoints } from './ops-endpoints.js';
import type { Core } from '../app.js';
import { bootstrapRootCredentials } from '../app.js';
import { Authenticator } from '../iam/authenticator.js';
import { userArn } from '../core/arn.js';
import { parseSignature } from '../iam/sigv4.js';
import { OmicsEdge, type RequestInfo } from '../api/omics/edge.js';
import { startServices } from '../services.js';
import { LogsEdge } from '../api/logs/edge.js';
import { CONNECTIONS_TARGET_PREFIX, ConnectionsEdge } from '../api/connections/edge.js';
import { AthenaEdge } from '../api/athena/edge.js';
import { serveWorkflowFile, WORKFLOW_FILES_PATH } from '../api/workflow-files.js';
import { serveConsole } from './console-files.js';
import { S3Edge } from '../api/s3/edge.js';
import { S3Authorizer } from '../storage/s3-authorization.js';
import { AuthenticationError } from '../core/errors.js';

export { READY_PATH, METRICS_PATH } from './ops-endpoints.js';

/**
 * What the edges are told of a request. A class, not an object literal with a `log` getter closing over the
 * handler's scope: V8 builds such a literal on its slow path (dictionary properties), and with it each request's
 * objects survived young-generation collections — 79 KB promoted to the old generation per scavenge of a 64 KiB
 * GET load against 22 KB with this class (--trace-gc-nvp; decision 85).
 */
class RequestContext implements RequestInfo {
  private requestLog: Logger | undefined;

  constructor(
    readonly requestId: string,
    readonly rawPath: string,
    readonly rawQuery: string,
    readonly secure: boolean,
    private readonly parentLog: Logger,
  ) {}

  /** The request's own log, made when first written to (most S3 reads never write a line). */
  get log(): Logger {
    return (this.requestLog ??= this.parentLog.child({ requestId: this.requestId }));
  }
}

export interface RunningServer {
  url: string;
  port: number;
  credentials: { accessKeyId: string; secretAccessKey: string; file: string };
  close(): Promise<void>;
}

/** The request handler of a process, built apart from any socket (tests can call it in-process, `inject`-style). */
export interface RequestListener {
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  credentials: { accessKeyId: string; secretAccessKey: string; file: string };
  /** Stops accepting work: readiness answers 503, then background services stop. */
  drain(): void;
  stop(): Promise<void>;
}

/**
 * One listener for everything: readiness and metrics under /_openomics/,
 * the Omics API (routed by method and path, whatever the Host header), and
 * the S3 API (a SigV4 request names its service in its scope).
 */
export async function startHttpServer(core: Core, log: Logger = pino({ level: core.config.logLevel })): Promise<RunningServer> {
  const { config } = core;
  const app = await createRequestListener(core, log);
  const server: Server = config.tls
    ? createHttpsServer({ cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }, app.listener)
    : createServer(app.listener);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `${config.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    credentials: app.credentials,
    close: async () => {
      app.drain();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 10_000).unref();
      });
      await app.stop();
    },
  };
}

/** The request handler: edges, ops endpoints, background services and metrics of a process; no socket. */
export async function createRequestListener(core: Core, log: Logger): Promise<RequestListener> {
  const { config } = core;
  const credentials = await bootstrapRootCredentials(core);
  const running = startServices(core, log, { runJobs: config.workers > 0 });
  const services = running.services;

  const ops = new OpsEndpoints(core);
  // Every request's principal when authentication is off (--no-auth): the account's root.
  const anonymousPrincipal = { accountId: config.accountId, userName: null, arn: userArn(core.partition, config.accountId, null), accessKeyId: 'anonymous' };

  const edge = new OmicsEdge({
    auth: config.auth,
    authenticator: new Authenticator(core.identity, config.region),
    identity: core.identity,
    anonymousPrincipal,
    services,
    strictOutput: config.strictOutput,
    onOperation: (op, status, seconds) => {
      requests.inc({ operation: op, status: String(status) });
      latency.observe({ operation: op }, seconds);
    },
  });

  const s3Edge = new S3Edge({
    auth: config.auth,
    authenticator: new Authenticator(core.identity, config.region),
    identity: core.identity,
    anonymousPrincipal,
    view: running.s3View,
    access: new S3Authorizer(core.identity, running.s3View, core.partition),
    region: config.region,
    corsOrigins: config.s3.corsOrigins,
    onAccess: (store, entry) => running.accessLogs.record(store, entry),
    onOperation: (op, status, seconds, bytes) => {
      s3Requests.inc({ operation: op, status: String(status) });
      s3Latency.observe({ operation: op }, seconds);
      s3Bytes.inc({ operation: op }, bytes);
    },
    ...(config.s3.baseDomain ? { baseDomain: config.s3.baseDomain } : {}),
    log,
  });

  const logsEdge = new LogsEdge({
    auth: config.auth,
    authenticator: new Authenticator(core.identity, config.region),
    identity: core.identity,
    anonymousPrincipal,
    logs: services.runLogs,
    region: config.region,
    partition: core.partition.partition,
  });

  const athenaEdge = new AthenaEdge({
    auth: config.auth,
    authenticator: new Authenticator(core.identity, config.region),
    identity: core.identity,
    anonymousPrincipal,
    queries: services.queries,
    region: config.region,
    partition: core.partition.partition,
  });

  const connectionsEdge = new ConnectionsEdge({
    auth: config.auth,
    authenticator: new Authenticator(core.identity, config.region),
    identity: core.identity,
    anonymousPrincipal,
    connections: core.connections,
    region: config.region,
    partition: core.partition.partition,
  });

  const handler = async (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    if (serveConsole(req, res, rawPath)) return; // the web console's static files (/console/)
    if (rawPath.startsWith(WORKFLOW_FILES_PATH)) {
      await serveWorkflowFile(req, res, rawPath, services.workflows);
      return;
    }
    if (await ops.handle(req, res, rawPath)) return;
    const info = new RequestContext(requestId, rawPath, rawQuery, config.tls !== undefined, log);
    // The SigV4 scope names the service; otherwise (unsigned, SigV2, or a malformed signature, which the
    // owning edge reports) the path decides: Omics routes are never valid bucket names.
    let signedFor: string | undefined;
    try {
      signedFor = parseSignature({ method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers })?.service;
    } catch (e) {
      if (!(e instanceof AuthenticationError)) throw e;
    }
    const service = signedFor ?? (edge.router.matchesAnyMethod(rawPath) && !s3Edge.virtualBucket(req.headers.host) ? 'omics' : 's3');
    // CloudWatch Logs' JSON protocol names its operation in X-Amz-Target (also when unsigned).
    if (service === 'logs' || String(req.headers['x-amz-target'] ?? '').startsWith('Logs_20140328.')) {
      await logsEdge.handle(req, res, info);
      return;
    }
    // Athena's likewise.
    if (service === 'athena' || String(req.headers['x-amz-target'] ?? '').startsWith('AmazonAthena.')) {
      await athenaEdge.handle(req, res, info);
      return;
    }
    // The account's storage connections (read-only; OpenOmics' own JSON API).
    if (service === 'openomics' || String(req.headers['x-amz-target'] ?? '').startsWith(`${CONNECTIONS_TARGET_PREFIX}.`)) {
      await connectionsEdge.handle(req, res, info);
      return;
    }
    if (service === 's3') {
      await s3Edge.handle(req, res, info);
      return;
    }
    await edge.handle(req, res, info);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID().replace(/-/g, ''); // 32 hex digits; randomUUID draws on a cached entropy pool
    // The request's lookups read the metadata's change generation anew: it sees what was committed before it came.
    core.db.requestArrived();
    requestsInFlight.add(requestId);
    res.once('close', () => requestsInFlight.delete(requestId));
    handler(req, res, requestId).catch((err) => {
      log.error({ err, requestId }, 'unhandled request error');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  return { listener, credentials, drain: () => ops.drain(), stop: () => running.stop() };
}
