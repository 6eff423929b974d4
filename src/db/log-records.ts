import { sql } from 'kysely';
import type { LogEvent } from '../workflows/entities.js';
import type { Db } from './rows.js';

/** The `log_events` table: log streams of runs (engine, run, task, manifest), events numbered per stream. */
export interface StoredLogEvent extends LogEvent {
  stream: string;
  seq: number;
  ingestionTime: number;
}

export interface LogStreamSummary {
  stream: string;
  firstTimestamp: number;
  lastTimestamp: number;
  lastIngestionTime: number;
  events: number;
}

export interface LogEventQuery {
  streams?: string[];
  streamPrefix?: string;
  startTime?: number;
  endTime?: number;
  /** Events after (or, descending, before) this sequence number of the stream. */
  afterSeq?: number;
  beforeSeq?: number;
  descending?: boolean;
  /** Across streams (ascending only): events after this (stream, seq). */
  after?: { stream: string; seq: number };
  limit: number;
}

export interface LogRecords {
  /** Appends events to a stream; returns the last sequence number used. */
  append(accountId: string, group: string, stream: string, events: LogEvent[], now: number): Promise<number>;
  lastSeq(accountId: string, group: string, stream: string): Promise<number>;
  events(accountId: string, group: string, q: LogEventQuery): Promise<StoredLogEvent[]>;
  streams(accountId: string, group: string, prefix: string | undefined, limit: number, after?: string): Promise<LogStreamSummary[]>;
}

export class KyselyLogRecords implements LogRecords {
  constructor(private readonly db: Db) {}

  async lastSeq(accountId: string, group: string, stream: string): Promise<number> {
    const r = await this.db
      .selectFrom('log_events')
      .select((eb) => eb.fn.max<number | string | null>('seq').as('m'))
      .where('account_id', '=', accountId)
      .where('log_group', '=', group)
      .where('log_stream', '=', stream)
      .executeTakeFirst();
    return r?.m === null || r?.m === undefined ? 0 : Number(r.m);
  }

  async append(accountId: string, group: string, stream: string, events: LogEvent[], now: number): Promise<number> {
    let seq = await this.lastSeq(accountId, group, stream);
    if (events.length === 0) return seq;
    const values = events.map((e) => ({
      account_id: accountId,
      log_group: group,
      log_stream: stream,
      seq: ++seq,
      timestamp: e.timestamp,
      ingestion_time: now,
      message: e.message,
    }));
    for (let i = 0; i < values.length; i += 200) await this.db.insertInto('log_events').values(values.slice(i, i + 200)).execute();
    return seq;
  }

  async events(accountId: string, group: string, q: LogEventQuery): Promise<StoredLogEvent[]> {
    let query = this.db.selectFrom('log_events').selectAll().where('account_id', '=', accountId).where('log_group', '=', group);
    if (q.streams) query = query.where('log_stream', 'in', q.streams.length ? q.streams : ['']);
    if (q.streamPrefix !== undefined) query = query.where('log_stream', '>=', q.streamPrefix).where('log_stream', '<', `${q.streamPrefix}\uffff`);
    if (q.startTime !== undefined) query = query.where('timestamp', '>=', q.startTime);
    if (q.endTime !== undefined) query = query.where('timestamp', '<', q.endTime);
    if (q.afterSeq !== undefined) query = query.where('seq', '>', q.afterSeq);
    if (q.beforeSeq !== undefined) query = query.where('seq', '<', q.beforeSeq);
    if (q.after) query = query.where(sql<boolean>`(log_stream, seq) > (${q.after.stream}, ${q.after.seq})`);
    const dir = q.descending ? 'desc' : 'asc';
    const found = await query.orderBy('log_stream').orderBy('seq', dir).limit(q.limit).execute();
    return found.map((r) => ({
      stream: r.log_stream,
      seq: Number(r.seq),
      timestamp: Number(r.timestamp),
      ingestionTime: Number(r.ingestion_time),
      message: r.message,
    }));
  }

  async streams(accountId: string, group: string, prefix: string | undefined, limit: number, after?: string): Promise<LogStreamSummary[]> {
    let query = this.db
      .selectFrom('log_events')
      .select((eb) => [
        'log_stream',
        eb.fn.min<number>('timestamp').as('first'),
        eb.fn.max<number>('timestamp').as('last'),
        eb.fn.max<number>('ingestion_time').as('ingested'),
        eb.fn.countAll<number>().as('n'),
      ])
      .where('account_id', '=', accountId)
      .where('log_group', '=', group);
    // A prefix as a range (LIKE differs between SQLite and PostgreSQL in case and escaping).
    if (prefix !== undefined) query = query.where('log_stream', '>=', prefix).where('log_stream', '<', `${prefix}\uffff`);
    if (after !== undefined) query = query.where('log_stream', '>', after);
    const found = await query.groupBy('log_stream').orderBy('log_stream').limit(limit).execute();
    return found.map((r) => ({
      stream: r.log_stream,
      firstTimestamp: Number(r.first),
      lastTimestamp: Number(r.last),
      lastIngestionTime: Number(r.ingested),
      events: Number(r.n),
    }));
  }
}
