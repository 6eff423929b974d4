import type { Page } from '../core/pagination.js';
import { decodeNextToken } from '../core/pagination.js';
import type { AnnotationStoreRecord, AnnotationStoreVersionRecord } from '../analytics/entities.js';
import { keyset, pageOf, type PageRequest } from './query.js';
import { col, countWhere, json, num, rowMapping, type Db } from './rows.js';
import type { AnnotationStoresTable, AnnotationStoreVersionsTable } from './schema.js';

/** The `annotation_stores` table and its child `annotation_store_versions`. */
export interface AnnotationStoreQuery {
  ids?: string[];
  status?: string;
}

type StorePatch = Partial<Pick<AnnotationStoreRecord, 'description' | 'status' | 'statusMessage' | 'updateTime'>>;
type VersionPatch = Partial<Pick<AnnotationStoreVersionRecord, 'description' | 'status' | 'statusMessage' | 'updateTime'>>;

export interface AnnotationStoreRecords {
  insert(rec: AnnotationStoreRecord, firstVersion: AnnotationStoreVersionRecord): Promise<void>;
  get(accountId: string, name: string): Promise<AnnotationStoreRecord | undefined>;
  getById(id: string): Promise<AnnotationStoreRecord | undefined>;
  update(accountId: string, name: string, patch: StorePatch): Promise<boolean>;
  delete(accountId: string, name: string): Promise<boolean>;
  list(accountId: string, q: AnnotationStoreQuery, page: PageRequest): Promise<Page<AnnotationStoreRecord>>;
  count(accountId: string): Promise<number>;
  insertVersion(v: AnnotationStoreVersionRecord): Promise<void>;
  getVersion(storeId: string, versionName: string): Promise<AnnotationStoreVersionRecord | undefined>;
  updateVersion(storeId: string, versionName: string, patch: VersionPatch): Promise<boolean>;
  deleteVersion(storeId: string, versionName: string): Promise<boolean>;
  listVersions(storeId: string, status: string | undefined, page: PageRequest): Promise<Page<AnnotationStoreVersionRecord>>;
  countVersions(storeId: string): Promise<number>;
  /** Adds published files' bytes to the version's size. */
  addSize(storeId: string, versionName: string, bytes: number): Promise<void>;
}

const stores = rowMapping<AnnotationStoreRecord, AnnotationStoresTable>({
  accountId: col('account_id'),
  id: col('id'),
  name: col('name'),
  description: col('description'),
  referenceArn: col('reference_arn'),
  storeFormat: col('store_format'),
  storeOptions: json('store_options'),
  status: col('status'),
  statusMessage: col('status_message'),
  sseType: col('sse_type'),
  sseKeyArn: col('sse_key_arn'),
  dataKey: col('data_key'),
  creationTime: num('creation_time'),
  updateTime: num('update_time'),
});

const versions = rowMapping<AnnotationStoreVersionRecord, AnnotationStoreVersionsTable>({
  storeId: col('store_id'),
  versionName: col('version_name'),
  id: col('id'),
  description: col('description'),
  versionOptions: json('version_options'),
  status: col('status'),
  statusMessage: col('status_message'),
  sizeBytes: num('size_bytes'),
  creationTime: num('creation_time'),
  updateTime: num('update_time'),
});

export class KyselyAnnotationStoreRecords implements AnnotationStoreRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: AnnotationStoreRecord, firstVersion: AnnotationStoreVersionRecord): Promise<void> {
    await this.db.insertInto('annotation_stores').values(stores.toFullRow(rec)).execute();
    await this.insertVersion(firstVersion);
  }
  async get(accountId: string, name: string): Promise<AnnotationStoreRecord | undefined> {
    const r = await this.db.selectFrom('annotation_stores').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r && stores.fromRow(r);
  }
  async getById(id: string): Promise<AnnotationStoreRecord | undefined> {
    const r = await this.db.selectFrom('annotation_stores').selectAll().where('id', '=', id).executeTakeFirst();
    return r && stores.fromRow(r);
  }
  async update(accountId: string, name: string, patch: StorePatch): Promise<boolean> {
    const r = await this.db.updateTable('annotation_stores').set(stores.toRow(patch)).where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async delete(accountId: string, name: string): Promise<boolean> {
    const store = await this.get(accountId, name);
    if (!store) return false;
    await this.db.deleteFrom('annotation_store_versions').where('store_id', '=', store.id).execute();
    const r = await this.db.deleteFrom('annotation_stores').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(accountId: string, q: AnnotationStoreQuery, page: PageRequest): Promise<Page<AnnotationStoreRecord>> {
    let query = this.db.selectFrom('annotation_stores').selectAll().where('account_id', '=', accountId);
    if (q.ids?.length) query = query.where((eb) => eb.or([eb('id', 'in', q.ids!), eb('name', 'in', q.ids!)]));
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(stores.fromRow), page.maxResults);
  }
  count(accountId: string): Promise<number> {
    return countWhere(this.db, 'annotation_stores', 'account_id', accountId);
  }
  async insertVersion(v: AnnotationStoreVersionRecord): Promise<void> {
    await this.db.insertInto('annotation_store_versions').values(versions.toFullRow(v)).execute();
  }
  async getVersion(storeId: string, versionName: string): Promise<AnnotationStoreVersionRecord | undefined> {
    const r = await this.db.selectFrom('annotation_store_versions').selectAll().where('store_id', '=', storeId).where('version_name', '=', versionName).executeTakeFirst();
    return r && versions.fromRow(r);
  }
  async updateVersion(storeId: string, versionName: string, patch: VersionPatch): Promise<boolean> {
    const r = await this.db.updateTable('annotation_store_versions').set(versions.toRow(patch)).where('store_id', '=', storeId).where('version_name', '=', versionName).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async deleteVersion(storeId: string, versionName: string): Promise<boolean> {
    const r = await this.db.deleteFrom('annotation_store_versions').where('store_id', '=', storeId).where('version_name', '=', versionName).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async listVersions(storeId: string, status: string | undefined, page: PageRequest): Promise<Page<AnnotationStoreVersionRecord>> {
    let query = this.db.selectFrom('annotation_store_versions').selectAll().where('store_id', '=', storeId);
    if (status !== undefined) query = query.where('status', '=', status);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(versions.fromRow), page.maxResults);
  }
  countVersions(storeId: string): Promise<number> {
    return countWhere(this.db, 'annotation_store_versions', 'store_id', storeId);
  }
  async addSize(storeId: string, versionName: string, bytes: number): Promise<void> {
    await this.db
      .updateTable('annotation_store_versions')
      .set((eb) => ({ size_bytes: eb('size_bytes', '+', bytes) }))
      .where('store_id', '=', storeId)
      .where('version_name', '=', versionName)
      .execute();
  }
}
