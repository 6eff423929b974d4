import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { NotImplementedError, OpenOmicsError } from '../../core/errors.js';
import type { AuthenticatedRequest, Authenticator } from '../../iam/authenticator.js';
import { verifiedBody } from '../../iam/payload.js';
import { closeIfBodyUnread, sendStream } from '../send-stream.js';
import type { IdentityService, Principal } from '../../iam/identity.js';
import { queryPairs } from '../../iam/sigv4.js';
import { loadModel, type Operation } from './model.js';
import { OmicsRouter } from './router.js';
import { WireSerde } from './serde.js';
import { toWireError } from './errors.js';
import { operationHandler, type Services } from './operations.js';

export const MAX_JSON_BODY = 1024 * 1024;

export interface RequestInfo {
  requestId: string;
  rawPath: string;
  rawQuery: string;
  log: Logger;
  secure: boolean;
}

export interface EdgeOptions {
  auth: boolean;
  authenticator: Authenticator;
  identity: IdentityService;
  /** The principal used for every request when auth is off (--no-auth). */
  anonymousPrincipal: Principal;
  services: Services;
  onOperation?: (operation: string, status: number, seconds: number) => void;
  /** Fail a request whose output does not match the model (tests: OPENOMICS_STRICT_OUTPUT=1). */
  strictOutput?: boolean;
}

/**
 * The Omics REST-JSON edge. Request path, in order:
 *   name the operation (router) -> authenticate (SigV4) -> parse and validate
 *   the input (model) -> authorize (identity policies) -> domain call ->
 *   serialise the output (model). Any error -> errors.ts -> JSON error.
 */
export class OmicsEdge {
  readonly router: OmicsRouter;
  private readonly serde: WireSerde;

  constructor(private readonly opts: EdgeOptions) {
    const model = loadModel();
    this.router = new OmicsRouter(model);
    this.serde = new WireSerde(model, opts.strictOutput ?? false);
  }

  /** Whether this edge owns the request (used for unsigned requests). */
  owns(method: string, rawPath: string): boolean {
    return this.router.match(method, rawPath) !== undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo): Promise<void> {
    const started = process.hrtime.bigint();
    let opName = 'Unknown';
    let principal: Principal | undefined;
    let status = 500;
    try {
      const match = this.router.match(req.method ?? 'GET', info.rawPath);
      if (!match) {
        status = 404;
        this.sendError(res, info, { status: 404, code: 'UnknownOperationException', message: `No operation matches ${req.method} ${info.rawPath}.` });
        return;
      }
      const op = match.operation;
      opName = op.name;
      const streamed = this.hasStreamingInput(op);
      const body = streamed ? undefined : await readBody(req, MAX_JSON_BODY);
      let authn: AuthenticatedRequest | undefined;
      if (this.opts.auth) {
        authn = await this.opts.authenticator.authenticate(
          { method: req.method ?? 'GET', rawPath: info.rawPath, rawQuery: info.rawQuery, headers: req.headers },
          'omics',
          body,
          true,
        );
        principal = authn.principal;
      } else {
        principal = this.opts.anonymousPrincipal;
      }
      const impl = operationHandler(op.name);
      if (!impl) throw new NotImplementedError(`OpenOmics does not implement ${op.name} yet. See docs/compatibility.md.`);
      const stream = streamed ? verifiedBody(req, req.headers, authn) : undefined;
      const input = this.serde.parseInput(op, match.labels, queryPairs(info.rawQuery), req.headers, body, stream);
      const context = {
        'aws:SourceIp': req.socket.remoteAddress ?? '',
        'aws:SecureTransport': info.secure ? 'true' : 'false',
        'aws:RequestedRegion': this.opts.services.partition.region,
      };
      await this.opts.identity.authorize(principal, `omics:${op.name}`, impl.resource(input, principal, this.opts.services), context);
      for (const extra of impl.alsoRequires?.(input, principal, this.opts.services) ?? []) await this.opts.identity.authorize(principal, extra.action, extra.resource, context);
      const host = req.headers.host ?? '127.0.0.1';
      const output = await impl.handle(input, principal, this.opts.services, { baseUrl: `${info.secure ? 'https' : 'http'}://${host}` });
      const out = this.serde.serializeOutput(op, output);
      status = out.status;
      res.statusCode = out.status;
      res.setHeader('x-amzn-requestid', info.requestId);
      for (const [k, v] of Object.entries(out.headers)) res.setHeader(k, v);
      if (out.stream) {
        res.setHeader('content-type', 'application/octet-stream');
        sendStream(res, out.stream, (e) => info.log.error({ err: e }, 'response stream failed'));
      } else {
        const buf = Buffer.from(out.json ?? '{}');
        res.setHeader('content-type', 'application/json');
        res.setHeader('content-length', buf.length);
        res.end(buf);
      }
    } catch (err) {
      const { wire, internal } = toWireError(err, info.requestId);
      status = wire.status;
      if (internal) info.log.error({ err, operation: opName }, 'internal error');
      else if (err instanceof OpenOmicsError && (err.kind === 'Authentication' || err.kind === 'AccessDenied')) {
        info.log.warn({ operation: opName, code: wire.code, reason: err.message, principal: principal?.arn }, 'request denied');
      }
      this.sendError(res, info, wire);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.opts.onOperation?.(opName, status, seconds);
      info.log.info({ operation: opName, status, ms: Math.round(seconds * 1e4) / 10, principal: principal?.arn }, 'request');
    }
  }

  private hasStreamingInput(op: Operation): boolean {
    if (!op.input) return false;
    const shape = this.serde.shape(op.input.shape);
    if (!shape.payload) return false;
    const payload = shape.members![shape.payload]!;
    return this.serde.shape(payload.shape).streaming === true;
  }

  private sendError(res: ServerResponse, info: RequestInfo, wire: { status: number; code: string; message: string }): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const buf = Buffer.from(JSON.stringify({ message: wire.message }));
    closeIfBodyUnread(res);
    res.statusCode = wire.status;
    res.setHeader('x-amzn-requestid', info.requestId);
    res.setHeader('x-amzn-errortype', wire.code);
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', buf.length);
    res.end(buf);
  }
}

/** Reads a bounded request body. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return Buffer.alloc(0);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new OpenOmicsError('PayloadTooLarge', `The request body of ${declared} bytes exceeds the limit of ${limit} bytes.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new OpenOmicsError('PayloadTooLarge', `The request body exceeds the limit of ${limit} bytes.`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks, size);
}
