import { decodeNextToken, type Page } from '../core/pagination.js';
import type { RunCacheEntryRecord, RunCacheRecord } from '../workflows/entities.js';
import { keyset, pageOf, type PageRequest } from './query.js';
import { col, countWhere, num, rowMapping, type Db } from './rows.js';
import type { RunCacheEntriesTable, RunCachesTable } from './schema.js';

/** The `run_caches` table and the index of their entries, `run_cache_entries`. */
export interface RunCacheRecords {
  insert(rec: RunCacheRecord): Promise<void>;
  get(accountId: string, id: string): Promise<RunCacheRecord | undefined>;
  update(accountId: string, id: string, patch: Partial<Pick<RunCacheRecord, 'name' | 'description' | 'cacheBehavior'>>): Promise<boolean>;
  delete(accountId: string, id: string): Promise<void>;
  list(accountId: string, q: { name?: string }, page: PageRequest): Promise<Page<RunCacheRecord>>;
  count(accountId: string): Promise<number>;
  putEntry(e: RunCacheEntryRecord): Promise<void>;
  /** Entries of this key, newest first. */
  entries(cacheId: string, cacheKey: string, limit: number): Promise<RunCacheEntryRecord[]>;
}

const cacheRows = rowMapping<RunCacheRecord, RunCachesTable>({
  accountId: col('account_id'),
  id: col('id'),
  uuid: col('uuid'),
  name: col('name'),
  description: col('description'),
  cacheS3Location: col('cache_s3_location'),
  cacheBucketOwnerId: col('cache_bucket_owner_id'),
  cacheBehavior: col('cache_behavior'),
  status: col('status'),
  creationTime: num('creation_time'),
});

const entryRows = rowMapping<RunCacheEntryRecord, RunCacheEntriesTable>({
  cacheId: col('cache_id'),
  cacheKey: col('cache_key'),
  entryUri: col('entry_uri'),
  entryUuid: col('entry_uuid'),
  runId: col('run_id'),
  taskId: col('task_id'),
  creationTime: num('creation_time'),
});

export class KyselyRunCacheRecords implements RunCacheRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: RunCacheRecord): Promise<void> {
    await this.db.insertInto('run_caches').values(cacheRows.toFullRow(rec)).execute();
  }
  async get(accountId: string, id: string): Promise<RunCacheRecord | undefined> {
    const r = await this.db.selectFrom('run_caches').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return r && cacheRows.fromRow(r);
  }
  async update(accountId: string, id: string, patch: Partial<RunCacheRecord>): Promise<boolean> {
    const row = cacheRows.toRow(patch);
    if (!Object.keys(row).length) return (await this.get(accountId, id)) !== undefined;
    const r = await this.db.updateTable('run_caches').set(row).where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async delete(accountId: string, id: string): Promise<void> {
    await this.db.deleteFrom('run_cache_entries').where('cache_id', '=', id).execute();
    await this.db.deleteFrom('run_caches').where('account_id', '=', accountId).where('id', '=', id).execute();
  }
  async list(accountId: string, q: { name?: string }, page: PageRequest): Promise<Page<RunCacheRecord>> {
    let query = this.db.selectFrom('run_caches').selectAll().where('account_id', '=', accountId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(cacheRows.fromRow), page.maxResults);
  }
  count(accountId: string): Promise<number> {
    return countWhere(this.db, 'run_caches', 'account_id', accountId);
  }
  async putEntry(e: RunCacheEntryRecord): Promise<void> {
    await this.db.insertInto('run_cache_entries').values(entryRows.toFullRow(e)).execute();
  }
  async entries(cacheId: string, cacheKey: string, limit: number): Promise<RunCacheEntryRecord[]> {
    const rows = await this.db.selectFrom('run_cache_entries').selectAll().where('cache_id', '=', cacheId).where('cache_key', '=', cacheKey).orderBy('creation_time', 'desc').limit(limit).execute();
    return rows.map(entryRows.fromRow);
  }
}
