import type { Page } from '../core/pagination.js';
import { decodeNextToken } from '../core/pagination.js';
import type { VariantStoreRecord } from '../analytics/entities.js';
import { keyset, pageOf, type PageRequest } from './query.js';
import { col, countWhere, num, rowMapping, type Db } from './rows.js';
import type { VariantStoresTable } from './schema.js';

/** The `variant_stores` table. */
export interface VariantStoreQuery {
  /** Store ids or names (ListVariantStores `ids`). */
  ids?: string[];
  status?: string;
}

export interface VariantStoreRecords {
  insert(rec: VariantStoreRecord): Promise<void>;
  get(accountId: string, name: string): Promise<VariantStoreRecord | undefined>;
  getById(id: string): Promise<VariantStoreRecord | undefined>;
  update(accountId: string, name: string, patch: Partial<Pick<VariantStoreRecord, 'description' | 'status' | 'statusMessage' | 'updateTime'>>): Promise<boolean>;
  delete(accountId: string, name: string): Promise<boolean>;
  list(accountId: string, q: VariantStoreQuery, page: PageRequest): Promise<Page<VariantStoreRecord>>;
  count(accountId: string): Promise<number>;
  /** Adds published files' bytes to the store's size. */
  addSize(storeId: string, bytes: number): Promise<void>;
}

const stores = rowMapping<VariantStoreRecord, VariantStoresTable>({
  accountId: col('account_id'),
  id: col('id'),
  name: col('name'),
  description: col('description'),
  referenceArn: col('reference_arn'),
  status: col('status'),
  statusMessage: col('status_message'),
  sseType: col('sse_type'),
  sseKeyArn: col('sse_key_arn'),
  dataKey: col('data_key'),
  sizeBytes: num('size_bytes'),
  creationTime: num('creation_time'),
  updateTime: num('update_time'),
});

export class KyselyVariantStoreRecords implements VariantStoreRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: VariantStoreRecord): Promise<void> {
    await this.db.insertInto('variant_stores').values(stores.toFullRow(rec)).execute();
  }
  async get(accountId: string, name: string): Promise<VariantStoreRecord | undefined> {
    const r = await this.db.selectFrom('variant_stores').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r && stores.fromRow(r);
  }
  async getById(id: string): Promise<VariantStoreRecord | undefined> {
    const r = await this.db.selectFrom('variant_stores').selectAll().where('id', '=', id).executeTakeFirst();
    return r && stores.fromRow(r);
  }
  async update(accountId: string, name: string, patch: Partial<Pick<VariantStoreRecord, 'description' | 'status' | 'statusMessage' | 'updateTime'>>): Promise<boolean> {
    const r = await this.db.updateTable('variant_stores').set(stores.toRow(patch)).where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async delete(accountId: string, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('variant_stores').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(accountId: string, q: VariantStoreQuery, page: PageRequest): Promise<Page<VariantStoreRecord>> {
    let query = this.db.selectFrom('variant_stores').selectAll().where('account_id', '=', accountId);
    if (q.ids?.length) query = query.where((eb) => eb.or([eb('id', 'in', q.ids!), eb('name', 'in', q.ids!)]));
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(stores.fromRow), page.maxResults);
  }
  count(accountId: string): Promise<number> {
    return countWhere(this.db, 'variant_stores', 'account_id', accountId);
  }
  async addSize(storeId: string, bytes: number): Promise<void> {
    await this.db
      .updateTable('variant_stores')
      .set((eb) => ({ size_bytes: eb('size_bytes', '+', bytes) }))
      .where('id', '=', storeId)
      .execute();
  }
}
