import type { Page } from '../core/pagination.js';
import { decodeNextToken } from '../core/pagination.js';
import type { ReferenceStoreRecord } from '../storage/entities.js';
import { inRange, keyset, pageOf, type PageRequest, type TimeRange } from './query.js';
import { col, countWhere, num, rowMapping, type Db } from './rows.js';
import type { ReferenceStoresTable } from './schema.js';

/** The `reference_stores` table. */
export interface ReferenceStoreQuery {
  name?: string;
  created?: TimeRange;
}

export interface ReferenceStoreRecords {
  insert(rec: ReferenceStoreRecord): Promise<void>;
  get(accountId: string, id: string): Promise<ReferenceStoreRecord | undefined>;
  delete(accountId: string, id: string): Promise<boolean>;
  list(accountId: string, q: ReferenceStoreQuery, page: PageRequest): Promise<Page<ReferenceStoreRecord>>;
  count(accountId: string): Promise<number>;
}

const rows = rowMapping<ReferenceStoreRecord, ReferenceStoresTable>({
  id: col('id'),
  accountId: col('account_id'),
  name: col('name'),
  description: col('description'),
  sseType: col('sse_type'),
  sseKeyArn: col('sse_key_arn'),
  dataKey: col('data_key'),
  creationTime: num('creation_time'),
});

export class KyselyReferenceStoreRecords implements ReferenceStoreRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: ReferenceStoreRecord): Promise<void> {
    await this.db.insertInto('reference_stores').values(rows.toFullRow(rec)).execute();
  }
  async get(accountId: string, id: string): Promise<ReferenceStoreRecord | undefined> {
    const r = await this.db.selectFrom('reference_stores').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async delete(accountId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('reference_stores').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(accountId: string, q: ReferenceStoreQuery, page: PageRequest): Promise<Page<ReferenceStoreRecord>> {
    let query = this.db.selectFrom('reference_stores').selectAll().where('account_id', '=', accountId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    query = inRange(query, 'creation_time', q.created);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(rows.fromRow), page.maxResults);
  }
  count(accountId: string): Promise<number> {
    return countWhere(this.db, 'reference_stores', 'account_id', accountId);
  }
}
