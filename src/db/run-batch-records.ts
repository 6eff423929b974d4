import { decodeNextToken, type Page } from '../core/pagination.js';
import type { BatchRunRecord, BatchStatus, RunBatchRecord } from '../workflows/entities.js';
import { keyset, pageOf, type PageRequest } from './query.js';
import { col, json, num, rowMapping, type Db } from './rows.js';
import type { RunBatchesTable, RunBatchRunsTable } from './schema.js';

export interface RunBatchQuery {
  status?: string;
  name?: string;
  runGroupId?: string;
}

export interface BatchRunQuery {
  submissionStatus?: string;
  runSettingId?: string;
  runId?: string;
}

/** The `run_batches` table and its child `run_batch_runs`. */
export interface RunBatchRecords {
  insert(rec: RunBatchRecord): Promise<void>;
  get(accountId: string, id: string): Promise<RunBatchRecord | undefined>;
  /** Changes a batch; with `from`, only while its status is one of those (false otherwise). */
  update(accountId: string, id: string, patch: Partial<Omit<RunBatchRecord, 'accountId' | 'id' | 'uuid'>>, from?: BatchStatus[]): Promise<boolean>;
  delete(accountId: string, id: string): Promise<void>;
  list(accountId: string, q: RunBatchQuery, page: PageRequest): Promise<Page<RunBatchRecord>>;

  /** Adds runs (their settings, starts pending); already-added sequence numbers are left as they are. */
  addRuns(runs: BatchRunRecord[]): Promise<void>;
  countRuns(batchId: string): Promise<number>;
  /** The next runs whose start is pending, in order. */
  pendingRuns(batchId: string, limit: number): Promise<BatchRunRecord[]>;
  /** Runs whose start succeeded (and that have no `cancelStatus`/`deleteStatus` yet, per `without`). */
  startedRuns(batchId: string, without: 'cancel' | 'delete', limit: number): Promise<BatchRunRecord[]>;
  updateRun(batchId: string, seq: number, patch: Partial<Omit<BatchRunRecord, 'batchId' | 'seq'>>): Promise<void>;
  /** Pending starts that will not happen (the batch was cancelled or failed): FAILED with this reason. */
  failPending(batchId: string, reason: string, message: string): Promise<void>;
  listRuns(batchId: string, q: BatchRunQuery, page: { maxResults: number; nextToken?: string }): Promise<{ items: BatchRunRecord[]; nextToken?: string }>;
  /** Counts of start, cancel and delete outcomes (null: pending) for GetBatch's submissionSummary. */
  submissionCounts(batchId: string): Promise<{ start: Record<string, number>; cancel: Record<string, number>; delete: Record<string, number> }>;
  /** The batch's runs by status, for GetBatch's runSummary. */
  runStatusCounts(accountId: string, batchId: string): Promise<Record<string, number>>;
}

const batchRows = rowMapping<RunBatchRecord, RunBatchesTable>({
  accountId: col('account_id'),
  id: col('id'),
  uuid: col('uuid'),
  name: col('name'),
  status: col('status'),
  defaultRunSetting: json('default_run_setting'),
  settingsUri: col('settings_uri'),
  settingsEtag: col('settings_etag'),
  totalRuns: num('total_runs'),
  startedBy: col('started_by'),
  failureReason: col('failure_reason'),
  creationTime: num('creation_time'),
  submittedTime: num('submitted_time'),
  processedTime: num('processed_time'),
  failedTime: num('failed_time'),
});

const runRows = rowMapping<BatchRunRecord, RunBatchRunsTable>({
  batchId: col('batch_id'),
  seq: num('seq'),
  runSettingId: col('run_setting_id'),
  setting: json('setting'),
  startStatus: col('start_status'),
  cancelStatus: col('cancel_status'),
  deleteStatus: col('delete_status'),
  submissionStatus: col('submission_status'),
  failureReason: col('failure_reason'),
  failureMessage: col('failure_message'),
  runId: col('run_id'),
  runUuid: col('run_uuid'),
});

export class KyselyRunBatchRecords implements RunBatchRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: RunBatchRecord): Promise<void> {
    await this.db
      .insertInto('run_batches')
      .values({ ...batchRows.toFullRow(rec), workflow_id: rec.defaultRunSetting.workflowId, run_group_id: rec.defaultRunSetting.runGroupId ?? null })
      .execute();
  }
  async get(accountId: string, id: string): Promise<RunBatchRecord | undefined> {
    const r = await this.db.selectFrom('run_batches').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return r && batchRows.fromRow(r);
  }
  async update(accountId: string, id: string, patch: Partial<RunBatchRecord>, from?: BatchStatus[]): Promise<boolean> {
    let q = this.db.updateTable('run_batches').set(batchRows.toRow(patch)).where('account_id', '=', accountId).where('id', '=', id);
    if (from) q = q.where('status', 'in', from);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async delete(accountId: string, id: string): Promise<void> {
    await this.db.deleteFrom('run_batch_runs').where('batch_id', '=', id).execute();
    await this.db.deleteFrom('run_batches').where('account_id', '=', accountId).where('id', '=', id).execute();
  }
  async list(accountId: string, q: RunBatchQuery, page: PageRequest): Promise<Page<RunBatchRecord>> {
    let query = this.db.selectFrom('run_batches').selectAll().where('account_id', '=', accountId);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.runGroupId !== undefined) query = query.where('run_group_id', '=', q.runGroupId);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(batchRows.fromRow), page.maxResults);
  }

  async addRuns(runs: BatchRunRecord[]): Promise<void> {
    if (!runs.length) return;
    await this.db
      .insertInto('run_batch_runs')
      .values(runs.map((r) => runRows.toFullRow(r)))
      .onConflict((oc) => oc.columns(['batch_id', 'seq']).doNothing())
      .execute();
  }
  async countRuns(batchId: string): Promise<number> {
    const r = await this.db.selectFrom('run_batch_runs').select((eb) => eb.fn.countAll<number | string>().as('n')).where('batch_id', '=', batchId).executeTakeFirstOrThrow();
    return Number(r.n);
  }
  async pendingRuns(batchId: string, limit: number): Promise<BatchRunRecord[]> {
    const rows = await this.db.selectFrom('run_batch_runs').selectAll().where('batch_id', '=', batchId).where('start_status', 'is', null).orderBy('seq').limit(limit).execute();
    return rows.map(runRows.fromRow);
  }
  async startedRuns(batchId: string, without: 'cancel' | 'delete', limit: number): Promise<BatchRunRecord[]> {
    const rows = await this.db
      .selectFrom('run_batch_runs')
      .selectAll()
      .where('batch_id', '=', batchId)
      .where('start_status', '=', 'SUCCESS')
      .where(without === 'cancel' ? 'cancel_status' : 'delete_status', 'is', null)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(runRows.fromRow);
  }
  async updateRun(batchId: string, seq: number, patch: Partial<BatchRunRecord>): Promise<void> {
    await this.db.updateTable('run_batch_runs').set(runRows.toRow(patch)).where('batch_id', '=', batchId).where('seq', '=', seq).execute();
  }
  async failPending(batchId: string, reason: string, message: string): Promise<void> {
    await this.db
      .updateTable('run_batch_runs')
      .set({ start_status: 'FAILED', submission_status: 'FAILED', failure_reason: reason, failure_message: message })
      .where('batch_id', '=', batchId)
      .where('start_status', 'is', null)
      .execute();
  }
  async listRuns(batchId: string, q: BatchRunQuery, page: { maxResults: number; nextToken?: string }): Promise<{ items: BatchRunRecord[]; nextToken?: string }> {
    const after = page.nextToken ? Number(Buffer.from(page.nextToken, 'base64url').toString('utf8')) : -1;
    let query = this.db.selectFrom('run_batch_runs').selectAll().where('batch_id', '=', batchId).where('seq', '>', Number.isFinite(after) ? after : -1);
    if (q.submissionStatus !== undefined) query = query.where('submission_status', '=', q.submissionStatus);
    if (q.runSettingId !== undefined) query = query.where('run_setting_id', '=', q.runSettingId);
    if (q.runId !== undefined) query = query.where('run_id', '=', q.runId);
    const rows = (await query.orderBy('seq').limit(page.maxResults + 1).execute()).map(runRows.fromRow);
    if (rows.length <= page.maxResults) return { items: rows };
    const items = rows.slice(0, page.maxResults);
    return { items, nextToken: Buffer.from(String(items[items.length - 1]!.seq)).toString('base64url') };
  }
  async submissionCounts(batchId: string): Promise<{ start: Record<string, number>; cancel: Record<string, number>; delete: Record<string, number> }> {
    const count = async (column: 'start_status' | 'cancel_status' | 'delete_status') => {
      const rows = await this.db
        .selectFrom('run_batch_runs')
        .select((eb) => [eb.ref(column).as('s'), eb.fn.countAll<number | string>().as('n')])
        .where('batch_id', '=', batchId)
        .groupBy(column)
        .execute();
      return Object.fromEntries(rows.map((r) => [String(r.s ?? 'PENDING'), Number(r.n)]));
    };
    return { start: await count('start_status'), cancel: await count('cancel_status'), delete: await count('delete_status') };
  }
  async runStatusCounts(accountId: string, batchId: string): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('runs')
      .select((eb) => ['status', eb.fn.countAll<number | string>().as('n')])
      .where('account_id', '=', accountId)
      .where('batch_id', '=', batchId)
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}
