import type { QueryExecutionRecord } from '../analytics/entities.js';
import type { PageCursor } from '../core/pagination.js';
import { col, json, num, rowMapping, type Db } from './rows.js';
import type { QueryExecutionsTable } from './schema.js';

/** The `query_executions` table (the Athena subset's query executions). */
export interface QueryExecutionRecords {
  insert(rec: QueryExecutionRecord): Promise<void>;
  get(accountId: string, id: string): Promise<QueryExecutionRecord | undefined>;
  /** Moves an execution on unless it already ended (a stopped query stays CANCELLED). */
  update(id: string, patch: Partial<Omit<QueryExecutionRecord, 'accountId' | 'id' | 'query' | 'dataKey' | 'submissionTime'>>): Promise<boolean>;
  /** Newest first, after `after` (the previous page's last). */
  list(accountId: string, workGroup: string | undefined, limit: number, after?: PageCursor): Promise<QueryExecutionRecord[]>;
}

const rows = rowMapping<QueryExecutionRecord, QueryExecutionsTable>({
  accountId: col('account_id'),
  id: col('id'),
  query: col('query'),
  database: col('database_name'),
  workGroup: col('work_group'),
  outputLocation: col('output_location'),
  state: col('state'),
  stateChangeReason: col('state_change_reason'),
  columns: json('columns'),
  resultKey: col('result_key'),
  dataKey: col('data_key'),
  rows: num('rows'),
  dataScannedBytes: num('data_scanned_bytes'),
  engineMs: num('engine_ms'),
  submissionTime: num('submission_time'),
  completionTime: num('completion_time'),
});

export class KyselyQueryExecutionRecords implements QueryExecutionRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: QueryExecutionRecord): Promise<void> {
    await this.db.insertInto('query_executions').values(rows.toFullRow(rec)).execute();
  }
  async get(accountId: string, id: string): Promise<QueryExecutionRecord | undefined> {
    const r = await this.db.selectFrom('query_executions').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async update(id: string, patch: Partial<Omit<QueryExecutionRecord, 'accountId' | 'id' | 'query' | 'dataKey' | 'submissionTime'>>): Promise<boolean> {
    const r = await this.db.updateTable('query_executions').set(rows.toRow(patch)).where('id', '=', id).where('state', 'in', ['QUEUED', 'RUNNING']).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async list(accountId: string, workGroup: string | undefined, limit: number, after?: PageCursor): Promise<QueryExecutionRecord[]> {
    let q = this.db.selectFrom('query_executions').selectAll().where('account_id', '=', accountId);
    if (workGroup !== undefined) q = q.where('work_group', '=', workGroup);
    if (after) q = q.where((eb) => eb.or([eb('submission_time', '<', after.t), eb.and([eb('submission_time', '=', after.t), eb('id', '<', after.id)])]));
    const r = await q.orderBy('submission_time', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return r.map(rows.fromRow);
  }
}
