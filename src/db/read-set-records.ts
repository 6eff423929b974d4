import type { Page } from '../core/pagination.js';
import { decodeNextToken } from '../core/pagination.js';
import type { ReadSetPatch, ReadSetRecord, ReadSetStatus } from '../storage/entities.js';
import { inRange, keyset, pageOf, type PageRequest, type TimeRange } from './query.js';
import { col, countWhere, json, num, rowMapping, type Db } from './rows.js';
import type { ReadSetsTable } from './schema.js';

/** The `read_sets` table: read sets, their files (JSON), statistics and ETags. */
export interface ReadSetQuery {
  name?: string;
  status?: string;
  /** '' matches read sets without a reference. */
  referenceArn?: string;
  created?: TimeRange;
  sampleId?: string;
  subjectId?: string;
  generatedFrom?: string;
  creationType?: string;
}

export interface ReadSetRecords {
  insert(r: ReadSetRecord): Promise<void>;
  get(sequenceStoreId: string, id: string): Promise<ReadSetRecord | undefined>;
  /**
   * Applies the patch; with `fromStatus`, only if the read set is still in one of those states, and with
   * `ifLastAccessTime`, only if it was not read since. Returns whether it changed (the single winner of a race).
   */
  update(sequenceStoreId: string, id: string, patch: ReadSetPatch, fromStatus?: ReadSetStatus[], ifLastAccessTime?: number): Promise<boolean>;
  delete(sequenceStoreId: string, id: string): Promise<boolean>;
  list(sequenceStoreId: string, q: ReadSetQuery, page: PageRequest): Promise<Page<ReadSetRecord>>;
  count(sequenceStoreId: string): Promise<number>;
  countByReference(referenceArn: string): Promise<number>;
  /** A store's ACTIVE read sets in id order, from `fromId` (inclusive): the S3 view lists in this (key) order. */
  listActiveFrom(sequenceStoreId: string, fromId: string, limit: number): Promise<ReadSetRecord[]>;
  /** ACTIVE read sets of any store last accessed before `before`, oldest first (the archiver's worklist). */
  listIdle(before: number, limit: number): Promise<ReadSetRecord[]>;
}

const rows = rowMapping<ReadSetRecord, ReadSetsTable>({
  id: col('id'),
  sequenceStoreId: col('sequence_store_id'),
  accountId: col('account_id'),
  status: col('status'),
  statusMessage: col('status_message'),
  name: col('name'),
  description: col('description'),
  subjectId: col('subject_id'),
  sampleId: col('sample_id'),
  generatedFrom: col('generated_from'),
  referenceArn: col('reference_arn'),
  fileType: col('file_type'),
  creationType: col('creation_type'),
  creationJobId: col('creation_job_id'),
  sequenceInformation: json('sequence_information'),
  etag: json('etag'),
  files: json('files'),
  creationTime: num('creation_time'),
  updateTime: num('update_time'),
  lastAccessTime: num('last_access_time'),
});

export class KyselyReadSetRecords implements ReadSetRecords {
  constructor(private readonly db: Db) {}

  async insert(r: ReadSetRecord): Promise<void> {
    await this.db.insertInto('read_sets').values(rows.toFullRow(r)).execute();
  }
  async get(sequenceStoreId: string, id: string): Promise<ReadSetRecord | undefined> {
    const r = await this.db.selectFrom('read_sets').selectAll().where('sequence_store_id', '=', sequenceStoreId).where('id', '=', id).executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async update(sequenceStoreId: string, id: string, patch: ReadSetPatch, fromStatus?: ReadSetStatus[], ifLastAccessTime?: number): Promise<boolean> {
    let q = this.db.updateTable('read_sets').set(rows.toRow(patch)).where('sequence_store_id', '=', sequenceStoreId).where('id', '=', id);
    if (fromStatus) q = q.where('status', 'in', fromStatus);
    if (ifLastAccessTime !== undefined) q = q.where('last_access_time', '=', ifLastAccessTime);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
  async delete(sequenceStoreId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('read_sets').where('sequence_store_id', '=', sequenceStoreId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(sequenceStoreId: string, q: ReadSetQuery, page: PageRequest): Promise<Page<ReadSetRecord>> {
    let query = this.db.selectFrom('read_sets').selectAll().where('sequence_store_id', '=', sequenceStoreId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    if (q.referenceArn !== undefined) {
      query = q.referenceArn === '' ? query.where('reference_arn', 'is', null) : query.where('reference_arn', '=', q.referenceArn);
    }
    if (q.sampleId !== undefined) query = query.where('sample_id', '=', q.sampleId);
    if (q.subjectId !== undefined) query = query.where('subject_id', '=', q.subjectId);
    if (q.generatedFrom !== undefined) query = query.where('generated_from', '=', q.generatedFrom);
    if (q.creationType !== undefined) query = query.where('creation_type', '=', q.creationType);
    query = inRange(query, 'creation_time', q.created);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(rows.fromRow), page.maxResults);
  }
  count(sequenceStoreId: string): Promise<number> {
    return countWhere(this.db, 'read_sets', 'sequence_store_id', sequenceStoreId);
  }
  countByReference(referenceArn: string): Promise<number> {
    return countWhere(this.db, 'read_sets', 'reference_arn', referenceArn);
  }
  async listActiveFrom(sequenceStoreId: string, fromId: string, limit: number): Promise<ReadSetRecord[]> {
    const found = await this.db
      .selectFrom('read_sets')
      .selectAll()
      .where('sequence_store_id', '=', sequenceStoreId)
      .where('status', '=', 'ACTIVE')
      .where('id', '>=', fromId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return found.map(rows.fromRow);
  }
  async listIdle(before: number, limit: number): Promise<ReadSetRecord[]> {
    const found = await this.db
      .selectFrom('read_sets')
      .selectAll()
      .where('status', '=', 'ACTIVE')
      .where('last_access_time', '<', before)
      .orderBy('last_access_time')
      .limit(limit)
      .execute();
    return found.map(rows.fromRow);
  }
}
