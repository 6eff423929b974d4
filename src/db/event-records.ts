import type { Db } from './rows.js';

/** One recorded status change (migration 0012's triggers write them). */
export interface EventRow {
  seq: number;
  accountId: string;
  /** The table whose row changed: runs, run_tasks, workflows, shares, read_sets, jobs. */
  source: string;
  status: string;
  /** The row's columns the trigger kept (see EVENT_SOURCES in migrations.ts). */
  record: Record<string, string | null>;
  time: number;
}

export interface DeliveryCursor {
  deliveredSeq: number;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
}

/** The event outbox and where each webhook's delivery stands. */
export interface EventRecords {
  /** Events after `seq`, in order (of these accounts only, if given). */
  after(seq: number, accounts: string[] | undefined, limit: number): Promise<EventRow[]>;
  /** The newest event's sequence number (0: none). */
  last(): Promise<number>;
  cursor(webhook: string): Promise<DeliveryCursor | undefined>;
  /** Starts a webhook's delivery at `seq` (its first use: only what happens from now on). */
  startCursor(webhook: string, seq: number): Promise<void>;
  /** Moves a webhook's cursor from `from` to `to` (attempts reset); false if another process moved it first. */
  advance(webhook: string, from: number, to: number): Promise<boolean>;
  failed(webhook: string, attempts: number, nextAttemptAt: number, error: string): Promise<void>;
  deadLetter(webhook: string, seq: number, envelope: string, error: string, time: number): Promise<void>;
  deadLetters(webhook: string): Promise<{ seq: number; envelope: string; error: string; time: number }[]>;
  /** Drops events before `time` that every webhook has had (`upTo`: the lowest delivered sequence number). */
  prune(upTo: number, before: number): Promise<number>;
}

export class KyselyEventRecords implements EventRecords {
  constructor(private readonly db: Db) {}

  async after(seq: number, accounts: string[] | undefined, limit: number): Promise<EventRow[]> {
    let q = this.db.selectFrom('events').selectAll().where('seq', '>', seq);
    if (accounts) q = q.where('account_id', 'in', accounts.length ? accounts : ['']);
    const rows = await q.orderBy('seq').limit(limit).execute();
    return rows.map((r) => ({ seq: Number(r.seq), accountId: r.account_id, source: r.source, status: r.status, record: JSON.parse(r.record) as Record<string, string | null>, time: Number(r.time) }));
  }
  async last(): Promise<number> {
    const r = await this.db.selectFrom('events').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
    return Number(r?.m ?? 0);
  }
  async cursor(webhook: string): Promise<DeliveryCursor | undefined> {
    const r = await this.db.selectFrom('event_deliveries').selectAll().where('webhook', '=', webhook).executeTakeFirst();
    return r && { deliveredSeq: Number(r.delivered_seq), attempts: r.attempts, nextAttemptAt: Number(r.next_attempt_at), lastError: r.last_error };
  }
  async startCursor(webhook: string, seq: number): Promise<void> {
    await this.db
      .insertInto('event_deliveries')
      .values({ webhook, delivered_seq: seq, attempts: 0, next_attempt_at: 0, last_error: null })
      .onConflict((oc) => oc.column('webhook').doNothing())
      .execute();
  }
  async advance(webhook: string, from: number, to: number): Promise<boolean> {
    const r = await this.db
      .updateTable('event_deliveries')
      .set({ delivered_seq: to, attempts: 0, next_attempt_at: 0, last_error: null })
      .where('webhook', '=', webhook)
      .where('delivered_seq', '=', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async failed(webhook: string, attempts: number, nextAttemptAt: number, error: string): Promise<void> {
    await this.db.updateTable('event_deliveries').set({ attempts, next_attempt_at: nextAttemptAt, last_error: error }).where('webhook', '=', webhook).execute();
  }
  async deadLetter(webhook: string, seq: number, envelope: string, error: string, time: number): Promise<void> {
    await this.db.insertInto('event_dead_letters').values({ webhook, seq, envelope, error, time }).onConflict((oc) => oc.columns(['webhook', 'seq']).doNothing()).execute();
  }
  async deadLetters(webhook: string): Promise<{ seq: number; envelope: string; error: string; time: number }[]> {
    const rows = await this.db.selectFrom('event_dead_letters').selectAll().where('webhook', '=', webhook).orderBy('seq').execute();
    return rows.map((r) => ({ seq: Number(r.seq), envelope: r.envelope, error: r.error, time: Number(r.time) }));
  }
  async prune(upTo: number, before: number): Promise<number> {
    const r = await this.db.deleteFrom('events').where('seq', '<=', upTo).where('time', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
