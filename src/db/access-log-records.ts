import type { ExpressionBuilder, Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The `access_log_entries` table: S3 access log lines, written ahead of delivery (storage/access-logs.ts). */
export interface AccessLogRecords {
  append(e: { id: string; storeId: string; accountId: string; time: number; line: string }): Promise<void>;
  /**
   * Claims up to `limit` lines of one store that no live batch holds (unclaimed, or claimed before `staleBefore`
   * by a process that did not finish), oldest first, for batch `batch`; returns the store's id and account and the lines.
   */
  claimBatch(batch: string, now: number, staleBefore: number, limit: number): Promise<{ storeId: string; accountId: string; lines: string[] } | undefined>;
  /** Removes a delivered batch's lines. */
  deleteBatch(batch: string): Promise<void>;
  /** Gives a batch's lines back (delivery failed); `drop` removes them instead (given up). */
  releaseBatch(batch: string, drop: boolean): Promise<void>;
}

export class KyselyAccessLogRecords implements AccessLogRecords {
  constructor(private readonly db: Kysely<Database>) {}

  async append(e: { id: string; storeId: string; accountId: string; time: number; line: string }): Promise<void> {
    await this.db.insertInto('access_log_entries').values({ id: e.id, store_id: e.storeId, account_id: e.accountId, time: e.time, line: e.line, batch: null, claimed_at: null }).execute();
  }

  async claimBatch(batch: string, now: number, staleBefore: number, limit: number): Promise<{ storeId: string; accountId: string; lines: string[] } | undefined> {
    const free = (eb: ExpressionBuilder<Database, 'access_log_entries'>) => eb.or([eb('batch', 'is', null), eb('claimed_at', '<', staleBefore)]);
    const first = await this.db.selectFrom('access_log_entries').select(['store_id', 'account_id']).where(free).orderBy('time').limit(1).executeTakeFirst();
    if (!first) return undefined;
    const ids = this.db.selectFrom('access_log_entries').select('id').where('store_id', '=', first.store_id).where(free).orderBy('time').orderBy('id').limit(limit);
    // Compare-and-set: only lines still free are claimed, so two processes never deliver the same line twice.
    await this.db.updateTable('access_log_entries').set({ batch, claimed_at: now }).where('id', 'in', ids).where(free).execute();
    const claimed = await this.db.selectFrom('access_log_entries').select('line').where('batch', '=', batch).orderBy('time').orderBy('id').execute();
    if (claimed.length === 0) return undefined;
    return { storeId: first.store_id, accountId: first.account_id, lines: claimed.map((r) => r.line) };
  }

  async deleteBatch(batch: string): Promise<void> {
    await this.db.deleteFrom('access_log_entries').where('batch', '=', batch).execute();
  }

  async releaseBatch(batch: string, drop: boolean): Promise<void> {
    if (drop) await this.deleteBatch(batch);
    else await this.db.updateTable('access_log_entries').set({ batch: null, claimed_at: null }).where('batch', '=', batch).execute();
  }
}
