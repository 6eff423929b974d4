import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Authenticator } from '../iam/authenticator.js';
import type { Principal } from '../iam/identity.js';
import { readBody } from './omics/edge.js';

/**
 * AWS's JSON 1.1 protocol as the small side APIs on the server's port speak it (CloudWatch Logs, Athena): a POST
 * whose `X-Amz-Target` is `<prefix>.<Operation>`, a JSON body, SigV4 for the API's own service name, a JSON
 * answer, and errors as `{"__type": code, "message": ...}` with `x-amzn-errortype`. The API's edge says what
 * each operation does and how its errors are named.
 */
export class JsonTargetError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    /** Members the API adds to its error bodies (Athena's AthenaErrorCode, say). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface JsonTargetApi {
  /** `Logs_20140328`, `AmazonAthena`. */
  targetPrefix: string;
  /** The SigV4 service name. */
  service: string;
  auth: boolean;
  authenticator: Authenticator;
  anonymousPrincipal: Principal;
  /** Runs one operation for an authenticated caller (authorization included). */
  call(op: string, principal: Principal, body: Record<string, unknown>, req: IncomingMessage): Promise<unknown>;
  /** The API's own error for anything the call threw. */
  wireError(e: unknown, log: Logger): JsonTargetError;
}

const MAX_BODY = 1024 * 1024;

export async function handleJsonTarget(api: JsonTargetApi, req: IncomingMessage, res: ServerResponse, info: { requestId: string; rawPath: string; rawQuery: string; log: Logger }): Promise<void> {
  try {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = new RegExp(`^${api.targetPrefix}\\.(\\w+)$`).exec(target)?.[1];
    if (req.method !== 'POST' || !op) throw new JsonTargetError('UnknownOperationException', 400, `No ${api.targetPrefix} operation in X-Amz-Target ${JSON.stringify(target)}.`);
    const raw = await readBody(req, MAX_BODY);
    const principal = api.auth
      ? (await api.authenticator.authenticate({ method: 'POST', rawPath: info.rawPath, rawQuery: info.rawQuery, headers: req.headers }, api.service, raw, false)).principal
      : api.anonymousPrincipal;
    let body: Record<string, unknown>;
    try {
      body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      throw new JsonTargetError('SerializationException', 400, 'The request body is not JSON.');
    }
    const out = await api.call(op, principal, body, req);
    const json = Buffer.from(JSON.stringify(out));
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': info.requestId, 'content-length': json.length });
    res.end(json);
  } catch (e) {
    const err = api.wireError(e, info.log);
    const json = Buffer.from(JSON.stringify({ __type: err.code, message: err.message, Message: err.message, ...err.extra }));
    res.writeHead(err.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': info.requestId, 'x-amzn-errortype': err.code, 'content-length': json.length });
    res.end(json);
  }
}

/** Body members, typed as the JSON has them (undefined otherwise). */
export const str = (b: Record<string, unknown>, k: string): string | undefined => (typeof b[k] === 'string' ? (b[k] as string) : undefined);
export const int = (b: Record<string, unknown>, k: string): number | undefined => (typeof b[k] === 'number' ? (b[k] as number) : undefined);
