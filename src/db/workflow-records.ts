import { sql } from 'kysely';
import { decodeNextToken, encodeNextToken, type Page } from '../core/pagination.js';
import type { WorkflowRecord } from '../workflows/entities.js';
import { keyset, pageOf, type PageRequest } from './query.js';
import { col, json, num, rowMapping, type Db } from './rows.js';
import type { WorkflowsTable } from './schema.js';

/** The `workflows` table: a workflow (version name '') and its versions, one row each. */
export interface WorkflowRecords {
  insert(rec: WorkflowRecord): Promise<void>;
  get(accountId: string, id: string, versionName: string): Promise<WorkflowRecord | undefined>;
  update(accountId: string, id: string, versionName: string, patch: Partial<Omit<WorkflowRecord, 'accountId' | 'id' | 'versionName' | 'uuid'>>): Promise<boolean>;
  delete(accountId: string, id: string, versionName: string): Promise<boolean>;
  /** Workflows (not their versions), oldest first. */
  list(accountId: string, q: { name?: string }, page: PageRequest): Promise<Page<WorkflowRecord>>;
  /** One workflow's versions (not the workflow itself), oldest first. */
  listVersions(accountId: string, id: string, page: PageRequest): Promise<Page<WorkflowRecord>>;
  countWorkflows(accountId: string): Promise<number>;
  countVersions(accountId: string, id: string): Promise<number>;
}

const rows = rowMapping<WorkflowRecord, WorkflowsTable>({
  accountId: col('account_id'),
  id: col('id'),
  versionName: col('version_name'),
  uuid: col('uuid'),
  name: col('name'),
  description: col('description'),
  engine: col('engine'),
  status: col('status'),
  statusMessage: col('status_message'),
  main: col('main'),
  digest: col('digest'),
  dataKey: col('data_key'),
  definitionKey: col('definition_key'),
  definitionSize: num('definition_size'),
  readmeKey: col('readme_key'),
  readmePath: col('readme_path'),
  parameterTemplate: json('parameter_template'),
  templateGiven: { column: 'template_given', read: (v) => Number(v) === 1, write: (v) => (v ? 1 : 0) },
  storageType: col('storage_type'),
  storageCapacity: num('storage_capacity'),
  accelerators: col('accelerators'),
  containerRegistryMap: json('container_registry_map'),
  creationTime: num('creation_time'),
});

export class KyselyWorkflowRecords implements WorkflowRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: WorkflowRecord): Promise<void> {
    await this.db.insertInto('workflows').values(rows.toFullRow(rec)).execute();
  }
  async get(accountId: string, id: string, versionName: string): Promise<WorkflowRecord | undefined> {
    const r = await this.db
      .selectFrom('workflows')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .where('version_name', '=', versionName)
      .executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async update(accountId: string, id: string, versionName: string, patch: Partial<WorkflowRecord>): Promise<boolean> {
    const r = await this.db
      .updateTable('workflows')
      .set(rows.toRow(patch))
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .where('version_name', '=', versionName)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async delete(accountId: string, id: string, versionName: string): Promise<boolean> {
    const r = await this.db.deleteFrom('workflows').where('account_id', '=', accountId).where('id', '=', id).where('version_name', '=', versionName).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(accountId: string, q: { name?: string }, page: PageRequest): Promise<Page<WorkflowRecord>> {
    let query = this.db.selectFrom('workflows').selectAll().where('account_id', '=', accountId).where('version_name', '=', '');
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(rows.fromRow), page.maxResults);
  }
  async listVersions(accountId: string, id: string, page: PageRequest): Promise<Page<WorkflowRecord>> {
    const cursor = decodeNextToken(page.nextToken);
    let query = this.db.selectFrom('workflows').selectAll().where('account_id', '=', accountId).where('id', '=', id).where('version_name', '!=', '');
    if (cursor) query = query.where(sql<boolean>`(creation_time, version_name) > (${cursor.t}, ${cursor.id})`);
    const found = (await query.orderBy('creation_time').orderBy('version_name').limit(page.maxResults + 1).execute()).map(rows.fromRow);
    if (found.length <= page.maxResults) return { items: found };
    const items = found.slice(0, page.maxResults);
    const last = items[items.length - 1]!;
    return { items, nextToken: encodeNextToken({ t: last.creationTime, id: last.versionName }) };
  }
  async countWorkflows(accountId: string): Promise<number> {
    const r = await this.db
      .selectFrom('workflows')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('account_id', '=', accountId)
      .where('version_name', '=', '')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
  async countVersions(accountId: string, id: string): Promise<number> {
    const r = await this.db
      .selectFrom('workflows')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .where('version_name', '!=', '')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
