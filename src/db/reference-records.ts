import type { Page } from '../core/pagination.js';
import { decodeNextToken } from '../core/pagination.js';
import type { ReferenceRecord } from '../storage/entities.js';
import { inRange, keyset, pageOf, type PageRequest, type TimeRange } from './query.js';
import { col, countWhere, json, num, rowMapping, type Db } from './rows.js';
import type { ReferencesTable } from './schema.js';

/** The `references` table: references with their files and sequences (JSON). */
export interface ReferenceQuery {
  name?: string;
  md5?: string;
  status?: string;
  created?: TimeRange;
}

export interface ReferenceRecords {
  insert(r: ReferenceRecord): Promise<void>;
  get(referenceStoreId: string, id: string): Promise<ReferenceRecord | undefined>;
  delete(referenceStoreId: string, id: string): Promise<boolean>;
  list(referenceStoreId: string, q: ReferenceQuery, page: PageRequest): Promise<Page<ReferenceRecord>>;
  count(referenceStoreId: string): Promise<number>;
}

const rows = rowMapping<ReferenceRecord, ReferencesTable>({
  id: col('id'),
  referenceStoreId: col('reference_store_id'),
  accountId: col('account_id'),
  status: col('status'),
  name: col('name'),
  description: col('description'),
  md5: col('md5'),
  creationJobId: col('creation_job_id'),
  files: json('files'),
  sequences: json('sequences'),
  creationTime: num('creation_time'),
  updateTime: num('update_time'),
});

export class KyselyReferenceRecords implements ReferenceRecords {
  constructor(private readonly db: Db) {}

  async insert(r: ReferenceRecord): Promise<void> {
    await this.db.insertInto('references').values(rows.toFullRow(r)).execute();
  }
  async get(referenceStoreId: string, id: string): Promise<ReferenceRecord | undefined> {
    const r = await this.db.selectFrom('references').selectAll().where('reference_store_id', '=', referenceStoreId).where('id', '=', id).executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async delete(referenceStoreId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('references').where('reference_store_id', '=', referenceStoreId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(referenceStoreId: string, q: ReferenceQuery, page: PageRequest): Promise<Page<ReferenceRecord>> {
    let query = this.db.selectFrom('references').selectAll().where('reference_store_id', '=', referenceStoreId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.md5 !== undefined) query = query.where('md5', '=', q.md5);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    query = inRange(query, 'creation_time', q.created);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(rows.fromRow), page.maxResults);
  }
  count(referenceStoreId: string): Promise<number> {
    return countWhere(this.db, 'references', 'reference_store_id', referenceStoreId);
  }
}
