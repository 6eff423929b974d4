import type { Page } from '../core/pagination.js';
import { decodeNextToken } from '../core/pagination.js';
import type { SequenceStorePatch, SequenceStoreRecord } from '../storage/entities.js';
import { inRange, keyset, pageOf, type PageRequest, type TimeRange } from './query.js';
import { col, countWhere, json, num, rowMapping, type Db } from './rows.js';
import type { SequenceStoresTable } from './schema.js';

/** The `sequence_stores` table: stores, their encryption, S3 access point and access policy. */
export interface SequenceStoreQuery {
  name?: string;
  status?: string;
  created?: TimeRange;
  updated?: TimeRange;
}

export interface SequenceStoreRecords {
  insert(rec: SequenceStoreRecord): Promise<void>;
  get(accountId: string, id: string): Promise<SequenceStoreRecord | undefined>;
  /** The store whose S3 access point has this name or alias, of any account. */
  getByAccessPoint(nameOrAlias: string): Promise<SequenceStoreRecord | undefined>;
  update(accountId: string, id: string, patch: SequenceStorePatch): Promise<SequenceStoreRecord | undefined>;
  delete(accountId: string, id: string): Promise<boolean>;
  list(accountId: string, q: SequenceStoreQuery, page: PageRequest): Promise<Page<SequenceStoreRecord>>;
  count(accountId: string): Promise<number>;
}

const rows = rowMapping<SequenceStoreRecord, SequenceStoresTable>({
  id: col('id'),
  accountId: col('account_id'),
  name: col('name'),
  description: col('description'),
  sseType: col('sse_type'),
  sseKeyArn: col('sse_key_arn'),
  dataKey: col('data_key'),
  fallbackLocation: col('fallback_location'),
  eTagAlgorithmFamily: col('etag_algorithm_family'),
  status: col('status'),
  statusMessage: col('status_message'),
  propagatedSetLevelTags: json('propagated_tags'),
  accessLogLocation: col('access_log_location'),
  accessPointName: col('access_point_name'),
  accessPointAlias: col('access_point_alias'),
  creationTime: num('creation_time'),
  updateTime: num('update_time'),
  s3AccessPolicy: col('s3_access_policy'),
  s3AccessPolicyTime: num('s3_access_policy_time'),
});

export class KyselySequenceStoreRecords implements SequenceStoreRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: SequenceStoreRecord): Promise<void> {
    await this.db.insertInto('sequence_stores').values(rows.toFullRow(rec)).execute();
  }
  async get(accountId: string, id: string): Promise<SequenceStoreRecord | undefined> {
    const r = await this.db.selectFrom('sequence_stores').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async getByAccessPoint(nameOrAlias: string): Promise<SequenceStoreRecord | undefined> {
    const r = await this.db
      .selectFrom('sequence_stores')
      .selectAll()
      .where((eb) => eb.or([eb('access_point_alias', '=', nameOrAlias), eb('access_point_name', '=', nameOrAlias)]))
      .executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async update(accountId: string, id: string, patch: SequenceStorePatch): Promise<SequenceStoreRecord | undefined> {
    await this.db.updateTable('sequence_stores').set(rows.toRow(patch)).where('account_id', '=', accountId).where('id', '=', id).execute();
    return this.get(accountId, id);
  }
  async delete(accountId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('sequence_stores').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(accountId: string, q: SequenceStoreQuery, page: PageRequest): Promise<Page<SequenceStoreRecord>> {
    let query = this.db.selectFrom('sequence_stores').selectAll().where('account_id', '=', accountId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    query = inRange(inRange(query, 'creation_time', q.created), 'update_time', q.updated);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(rows.fromRow), page.maxResults);
  }
  count(accountId: string): Promise<number> {
    return countWhere(this.db, 'sequence_stores', 'account_id', accountId);
  }
}
