import { decodeNextToken, type Page } from '../core/pagination.js';
import type { ConfigurationRecord, RunGroupRecord } from '../workflows/entities.js';
import { keyset, pageOf, type PageRequest } from './query.js';
import { col, countWhere, json, num, rowMapping, type Db } from './rows.js';
import type { RunConfigurationsTable, RunGroupsTable } from './schema.js';

/** The `run_groups` table. */
export interface RunGroupRecords {
  insert(rec: RunGroupRecord): Promise<void>;
  get(accountId: string, id: string): Promise<RunGroupRecord | undefined>;
  update(accountId: string, id: string, patch: Partial<Omit<RunGroupRecord, 'accountId' | 'id'>>): Promise<boolean>;
  delete(accountId: string, id: string): Promise<boolean>;
  list(accountId: string, q: { name?: string }, page: PageRequest): Promise<Page<RunGroupRecord>>;
  count(accountId: string): Promise<number>;
  /**
   * Takes the group's admission turn inside a transaction (a write to its row: PostgreSQL's row lock, SQLite's
   * single writer), so the decisions of two processes about one group are made one after the other. False if
   * the group is gone.
   */
  takeAdmissionTurn(accountId: string, id: string): Promise<boolean>;
}

const groupRows = rowMapping<RunGroupRecord, RunGroupsTable>({
  accountId: col('account_id'),
  id: col('id'),
  name: col('name'),
  maxCpus: num('max_cpus'),
  maxGpus: num('max_gpus'),
  maxRuns: num('max_runs'),
  maxDuration: num('max_duration'),
  creationTime: num('creation_time'),
});

export class KyselyRunGroupRecords implements RunGroupRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: RunGroupRecord): Promise<void> {
    await this.db.insertInto('run_groups').values({ ...groupRows.toFullRow(rec), admissions: 0 }).execute();
  }
  async get(accountId: string, id: string): Promise<RunGroupRecord | undefined> {
    const r = await this.db.selectFrom('run_groups').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return r && groupRows.fromRow(r);
  }
  async update(accountId: string, id: string, patch: Partial<RunGroupRecord>): Promise<boolean> {
    const row = groupRows.toRow(patch);
    if (!Object.keys(row).length) return (await this.get(accountId, id)) !== undefined;
    const r = await this.db.updateTable('run_groups').set(row).where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async delete(accountId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('run_groups').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(accountId: string, q: { name?: string }, page: PageRequest): Promise<Page<RunGroupRecord>> {
    let query = this.db.selectFrom('run_groups').selectAll().where('account_id', '=', accountId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(groupRows.fromRow), page.maxResults);
  }
  count(accountId: string): Promise<number> {
    return countWhere(this.db, 'run_groups', 'account_id', accountId);
  }
  async takeAdmissionTurn(accountId: string, id: string): Promise<boolean> {
    const r = await this.db
      .updateTable('run_groups')
      .set((eb) => ({ admissions: eb('admissions', '+', 1) }))
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}

/** The `run_configurations` table. */
export interface ConfigurationRecords {
  insert(rec: ConfigurationRecord): Promise<void>;
  get(accountId: string, name: string): Promise<ConfigurationRecord | undefined>;
  delete(accountId: string, name: string): Promise<boolean>;
  list(accountId: string, page: PageRequest): Promise<Page<ConfigurationRecord>>;
}

const configurationRows = rowMapping<ConfigurationRecord, RunConfigurationsTable>({
  accountId: col('account_id'),
  name: col('name'),
  uuid: col('id'),
  description: col('description'),
  securityGroupIds: json('security_group_ids'),
  subnetIds: json('subnet_ids'),
  status: col('status'),
  creationTime: num('creation_time'),
});

export class KyselyConfigurationRecords implements ConfigurationRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: ConfigurationRecord): Promise<void> {
    await this.db.insertInto('run_configurations').values(configurationRows.toFullRow(rec)).execute();
  }
  async get(accountId: string, name: string): Promise<ConfigurationRecord | undefined> {
    const r = await this.db.selectFrom('run_configurations').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r && configurationRows.fromRow(r);
  }
  async delete(accountId: string, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('run_configurations').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(accountId: string, page: PageRequest): Promise<Page<ConfigurationRecord>> {
    const query = this.db.selectFrom('run_configurations').selectAll().where('account_id', '=', accountId);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    const res = pageOf(
      found.map((r) => ({ rec: configurationRows.fromRow(r), creationTime: Number(r.creation_time), id: r.id })),
      page.maxResults,
    );
    return { items: res.items.map((x) => x.rec), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }
}
