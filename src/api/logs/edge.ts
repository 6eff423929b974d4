import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AuthenticationError, OpenOmicsError } from '../../core/errors.js';
import type { Authenticator } from '../../iam/authenticator.js';
import type { IdentityService, Principal } from '../../iam/identity.js';
import { InvalidLogParameter, LogGroupNotFound, type RunLogService } from '../../workflows/run-logs.js';
import { handleJsonTarget, int, JsonTargetError, str } from '../json-target.js';

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

class LogsError extends JsonTargetError {}

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

  handle(req: IncomingMessage, res: ServerResponse, info: { requestId: string; rawPath: string; rawQuery: string; log: Logger }): Promise<void> {
    return handleJsonTarget(
      {
        targetPrefix: 'Logs_20140328',
        service: 'logs',
        auth: this.o.auth,
        authenticator: this.o.authenticator,
        anonymousPrincipal: this.o.anonymousPrincipal,
        call: async (op, principal, body, r) => {
          const group = required(body, 'logGroupName');
          const resource = `arn:${this.o.partition}:logs:${this.o.region}:${principal.accountId}:log-group:${group}:log-stream:${str(body, 'logStreamName') ?? '*'}`;
          await this.o.identity.authorize(principal, `logs:${op}`, resource, { 'aws:SourceIp': r.socket.remoteAddress ?? '' });
          return this.call(op, principal.accountId, group, body);
        },
        wireError: (e, log) => this.wireError(e, log),
      },
      req,
      res,
      info,
    );
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
  private wireError(e: unknown, log: Logger): JsonTargetError {
    if (e instanceof JsonTargetError) return e;
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
