import type { MetadataStore } from '../db/metadata-store.js';
import type { LogEvent } from './entities.js';

/** The log group HealthOmics writes run logs to (spec workflows §7.2). */
export const WORKFLOW_LOG_GROUP = '/aws/omics/WorkflowLog';

/** Stream names of §7.2. */
export const logStreams = {
  run: (runId: string) => `run/${runId}`,
  engine: (runId: string) => `run/${runId}/engine`,
  task: (runId: string, taskId: string) => `run/${runId}/task/${taskId}`,
  manifest: (runId: string, runUuid: string) => `manifest/run/${runId}/${runUuid}`,
};

/** Lines of one stream, written in order by the one worker that holds the run (events batched). */
export class LogStreamWriter {
  private pending: LogEvent[] = [];
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: MetadataStore,
    private readonly accountId: string,
    readonly stream: string,
    private readonly now: () => number,
  ) {}

  add(message: string, timestamp = this.now()): void {
    for (const line of message.split('\n')) if (line.length) this.pending.push({ timestamp, message: line.slice(0, 256 * 1024) });
  }

  /** Writes what was added so far (in order with earlier flushes). */
  flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return this.writing;
    this.writing = this.writing.then(() => this.db.logs.append(this.accountId, WORKFLOW_LOG_GROUP, this.stream, batch, this.now()).then(() => undefined));
    return this.writing;
  }
}

/** One page of a stream's events, with the tokens CloudWatch Logs' GetLogEvents hands back. */
export interface EventPage {
  events: { timestamp: number; message: string; ingestionTime: number }[];
  nextForwardToken: string;
  nextBackwardToken: string;
}

export interface FilteredEvent {
  logStreamName: string;
  timestamp: number;
  message: string;
  ingestionTime: number;
  eventId: string;
}

/**
 * The read side of run logs, shaped as CloudWatch Logs answers (DescribeLogStreams, GetLogEvents,
 * FilterLogEvents) for the API subset the server speaks (api/logs/). Only the workflow log group exists.
 */
export class RunLogService {
  constructor(private readonly db: MetadataStore) {}

  private group(name: string): void {
    if (name !== WORKFLOW_LOG_GROUP) throw new LogGroupNotFound(`The specified log group does not exist: ${name}`);
  }

  async describeStreams(accountId: string, group: string, prefix: string | undefined, limit: number, nextToken?: string) {
    this.group(group);
    const after = nextToken ? Buffer.from(nextToken, 'base64url').toString('utf8') : undefined;
    const found = await this.db.logs.streams(accountId, group, prefix, limit + 1, after);
    const page = found.slice(0, limit);
    return { streams: page, ...(found.length > limit ? { nextToken: Buffer.from(page[page.length - 1]!.stream).toString('base64url') } : {}) };
  }

  /** Tokens are `f/<seq>` (events after seq) and `b/<seq>` (events before seq), as opaque strings. */
  async getEvents(accountId: string, group: string, stream: string, q: { startTime?: number; endTime?: number; limit: number; startFromHead: boolean; nextToken?: string }): Promise<EventPage> {
    this.group(group);
    const token = q.nextToken ? /^([fb])\/(\d+)$/.exec(q.nextToken) : null;
    if (q.nextToken && !token) throw new InvalidLogParameter('The specified nextToken is invalid.');
    const forward = token ? token[1] === 'f' : q.startFromHead;
    const seq = token ? Number(token[2]) : undefined;
    const found = await this.db.logs.events(accountId, group, {
      streams: [stream],
      ...(q.startTime !== undefined ? { startTime: q.startTime } : {}),
      ...(q.endTime !== undefined ? { endTime: q.endTime } : {}),
      ...(seq !== undefined ? (forward ? { afterSeq: seq } : { beforeSeq: seq }) : {}),
      descending: !forward,
      limit: q.limit,
    });
    const events = forward ? found : found.reverse();
    const first = events[0]?.seq ?? seq ?? (forward ? 0 : Number.MAX_SAFE_INTEGER);
    const last = events[events.length - 1]?.seq ?? seq ?? 0;
    return {
      events: events.map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
      // As CloudWatch does: at the end of the stream the forward token comes back unchanged.
      nextForwardToken: events.length ? `f/${last}` : (q.nextToken ?? `f/${forward ? first : last}`),
      nextBackwardToken: `b/${first}`,
    };
  }

  async filter(accountId: string, group: string, q: { streams?: string[]; streamPrefix?: string; pattern?: string; startTime?: number; endTime?: number; limit: number; nextToken?: string }) {
    this.group(group);
    const m = q.nextToken ? /^(.*)\/(\d+)$/s.exec(Buffer.from(q.nextToken, 'base64url').toString('utf8')) : null;
    if (q.nextToken && !m) throw new InvalidLogParameter('The specified nextToken is invalid.');
    const terms = (q.pattern ?? '').match(/"[^"]*"|\S+/g)?.map((t) => t.replace(/^"|"$/g, '')) ?? [];
    const out: FilteredEvent[] = [];
    let after = m ? { stream: m[1]!, seq: Number(m[2]) } : undefined;
    // Stream by stream, in name order, events in order; the pattern's terms must all appear (CloudWatch's
    // plain-term patterns; JSON and regular-expression patterns are not supported).
    for (;;) {
      const batch = await this.db.logs.events(accountId, group, {
        ...(q.streams ? { streams: q.streams } : {}),
        ...(q.streamPrefix !== undefined ? { streamPrefix: q.streamPrefix } : {}),
        ...(q.startTime !== undefined ? { startTime: q.startTime } : {}),
        ...(q.endTime !== undefined ? { endTime: q.endTime } : {}),
        ...(after ? { after } : {}),
        limit: 1000,
      });
      for (const e of batch) {
        if (terms.every((t) => e.message.includes(t))) {
          out.push({ logStreamName: e.stream, timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime, eventId: `${e.stream}/${e.seq}` });
          if (out.length === q.limit) return { events: out, nextToken: Buffer.from(`${e.stream}/${e.seq}`).toString('base64url') };
        }
      }
      if (batch.length < 1000) return { events: out };
      const last = batch[batch.length - 1]!;
      after = { stream: last.stream, seq: last.seq };
    }
  }
}

/** CloudWatch Logs' own error names (the logs edge maps these; they are not Omics errors). */
export class LogGroupNotFound extends Error {
  readonly code = 'ResourceNotFoundException';
}
export class InvalidLogParameter extends Error {
  readonly code = 'InvalidParameterException';
}
