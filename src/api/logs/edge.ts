import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AuthenticationError, OpenOmicsError } from '../../core/errors.js';
import type { Authenticator } from '../../iam/authenticator.js';
import type { IdentityService, Principal } from '../../iam/identity.js';
import { InvalidLogParameter, LogGroupNotFound, type RunLogService } from '../../workflows/run-logs.js';
import { readBody } from '../omics/edge.js';

/**
 * A CloudWatch Logs API subset on the server's port (JSON 1.1, `X-Amz-Target: Logs_20140328.<Operation>`,
 * SigV4 service `logs`): DescribeLogStreams, GetLogEvents and FilterLogEvents over the run logs of the
 * `/aws/omics/WorkflowLog` group, enough for `aws logs get-log-events`, `aws logs tail` and tools that read
 * run manifests. Other operations answer UnknownOperationException.
 */
export interface LogsEdgeOptions {
  auth: boolean;
  authenticator: Authenticator;
  identity: IdentityService;
  anonymousPrincipal: Principal;
  logs: RunLogService;
  region: string;
  partition: string;
}

class LogsError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const str = (b: Record<string, unknown>, k: string): string | undefined => (typeof b[k] === 'string' ? (b[k] as string) : undefined);
const int = (b: Record<string, unknown>, k: string): number | undefined => (typeof b[k] === 'number' ? (b[k] as number) : undefined);
const limitOf = (b: Record<string, unknown>, max: number, dflt: number): number => {
  const l = int(b, 'limit');
  if (l === undefined) return dflt;
  if (!Number.isInteger(l) || l < 1 || l > max) throw new LogsError('InvalidParameterException', 400, `limit must be between 1 and ${max}.`);
  return l;
};
const required = (b: Record<string, unknown>, k: string): string => {
  const v = str(b, k);
  if (!v) throw new LogsError('InvalidParameterException', 400, `${k} is required.`);
  return v;
};

export class LogsEdge {
  constructor(private readonly o: LogsEdgeOptions) {}

  async handle(req: IncomingMessage, res: ServerResponse, info: { requestId: string; rawPath: string; rawQuery: string; log: Logger }): Promise<void> {
    try {
      const target = String(req.headers['x-amz-target'] ?? '');
      const op = /^Logs_20140328\.(\w+)$/.exec(target)?.[1];
      if (req.method !== 'POST' || !op) throw new LogsError('UnknownOperationException', 400, `No CloudWatch Logs operation in X-Amz-Target ${JSON.stringify(target)}.`);
      const raw = await readBody(req, 1024 * 1024);
      const principal = this.o.auth
        ? (await this.o.authenticator.authenticate({ method: 'POST', rawPath: info.rawPath, rawQuery: info.rawQuery, headers: req.headers }, 'logs', raw, false)).principal
        : this.o.anonymousPrincipal;
      let body: Record<string, unknown>;
      try {
        body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        throw new LogsError('SerializationException', 400, 'The request body is not JSON.');
      }
      const group = required(body, 'logGroupName');
      const resource = `arn:${this.o.partition}:logs:${this.o.region}:${principal.accountId}:log-group:${group}:log-stream:${str(body, 'logStreamName') ?? '*'}`;
      await this.o.identity.authorize(principal, `logs:${op}`, resource, { 'aws:SourceIp': req.socket.remoteAddress ?? '' });
      const out = await this.call(op, principal.accountId, group, body);
      const json = Buffer.from(JSON.stringify(out));
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': info.requestId, 'content-length': json.length });
      res.end(json);
    } catch (e) {
      const err = this.wireError(e, info.log);
      const json = Buffer.from(JSON.stringify({ __type: err.code, message: err.message }));
      res.writeHead(err.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': info.requestId, 'x-amzn-errortype': err.code, 'content-length': json.length });
      res.end(json);
    }
  }

  private async call(op: string, accountId: string, group: string, b: Record<string, unknown>): Promise<unknown> {
    switch (op) {
      case 'DescribeLogStreams': {
        if (b['orderBy'] === 'LastEventTime' && b['logStreamNamePrefix'] !== undefined) {
          throw new LogsError('InvalidParameterException', 400, 'Cannot order by LastEventTime with a logStreamNamePrefix.');
        }
        const page = await this.o.logs.describeStreams(accountId, group, str(b, 'logStreamNamePrefix'), limitOf(b, 50, 50), str(b, 'nextToken'));
        const arn = (s: string) => `arn:${this.o.partition}:logs:${this.o.region}:${accountId}:log-group:${group}:log-stream:${s}`;
        const streams = page.streams.map((s) => ({
          logStreamName: s.stream,
          creationTime: s.firstTimestamp,
          firstEventTimestamp: s.firstTimestamp,
          lastEventTimestamp: s.lastTimestamp,
          lastIngestionTime: s.lastIngestionTime,
          arn: arn(s.stream),
          storedBytes: 0,
        }));
        if (b['descending'] === true) streams.reverse();
        return { logStreams: streams, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
      }
      case 'GetLogEvents':
        return this.o.logs.getEvents(accountId, group, required(b, 'logStreamName'), {
          ...(int(b, 'startTime') !== undefined ? { startTime: int(b, 'startTime')! } : {}),
          ...(int(b, 'endTime') !== undefined ? { endTime: int(b, 'endTime')! } : {}),
          limit: limitOf(b, 10_000, 10_000),
          startFromHead: b['startFromHead'] === true,
          ...(str(b, 'nextToken') ? { nextToken: str(b, 'nextToken')! } : {}),
        });
      case 'FilterLogEvents': {
        const names = Array.isArray(b['logStreamNames']) ? (b['logStreamNames'] as unknown[]).filter((x): x is string => typeof x === 'string') : undefined;
        const res = await this.o.logs.filter(accountId, group, {
          ...(names ? { streams: names } : {}),
          ...(str(b, 'logStreamNamePrefix') !== undefined ? { streamPrefix: str(b, 'logStreamNamePrefix')! } : {}),
          ...(str(b, 'filterPattern') !== undefined ? { pattern: str(b, 'filterPattern')! } : {}),
          ...(int(b, 'startTime') !== undefined ? { startTime: int(b, 'startTime')! } : {}),
          ...(int(b, 'endTime') !== undefined ? { endTime: int(b, 'endTime')! } : {}),
          limit: limitOf(b, 10_000, 10_000),
          ...(str(b, 'nextToken') ? { nextToken: str(b, 'nextToken')! } : {}),
        });
        return { events: res.events, searchedLogStreams: [], ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
      }
      default:
        throw new LogsError('UnknownOperationException', 400, `OpenOmics serves DescribeLogStreams, GetLogEvents and FilterLogEvents of the workflow log group, not ${op}.`);
    }
  }

  /** CloudWatch Logs' error names; authentication and access errors as AWS's JSON protocols spell them. */
  private wireError(e: unknown, log: Logger): LogsError {
    if (e instanceof LogsError) return e;
    if (e instanceof LogGroupNotFound) return new LogsError('ResourceNotFoundException', 400, e.message);
    if (e instanceof InvalidLogParameter) return new LogsError('InvalidParameterException', 400, e.message);
    if (e instanceof AuthenticationError) return new LogsError(e.code, 403, e.message);
    if (e instanceof OpenOmicsError) {
      if (e.kind === 'AccessDenied') return new LogsError('AccessDeniedException', 400, e.message);
      if (e.kind === 'Validation' || e.kind === 'PayloadTooLarge') return new LogsError('InvalidParameterException', 400, e.message);
    }
    log.error({ err: e }, 'logs request failed');
    return new LogsError('ServiceUnavailableException', 500, 'An internal error occurred.');
  }
}
