import type { Page } from '../core/pagination.js';
import { decodeNextToken, encodeNextToken } from '../core/pagination.js';
import type { PartRecord, UploadRecord } from '../storage/entities.js';
import { inRange, keyset, pageOf, type PageRequest, type TimeRange } from './query.js';
import { col, json, num, rowMapping, type Db } from './rows.js';
import type { ReadSetUploadPartsTable, ReadSetUploadsTable } from './schema.js';

/** The `read_set_uploads` and `read_set_upload_parts` tables: direct uploads and the parts they received. */
export interface UploadRecords {
  insert(r: UploadRecord): Promise<void>;
  get(sequenceStoreId: string, id: string): Promise<UploadRecord | undefined>;
  /**
   * Inside a transaction: true if the upload is IN_PROGRESS, holding its row (PostgreSQL row lock) until
   * the transaction ends, so a concurrent `finish` waits for it or is seen by it.
   */
  lockInProgress(sequenceStoreId: string, id: string): Promise<boolean>;
  /** Moves IN_PROGRESS -> `to` atomically; false when the upload was not in progress. */
  finish(sequenceStoreId: string, id: string, to: 'COMPLETED' | 'ABORTED', readSetId: string | null): Promise<boolean>;
  delete(id: string): Promise<void>;
  listInProgress(sequenceStoreId: string, page: PageRequest): Promise<Page<UploadRecord>>;
  /** Uploads of any store, in progress and created before `before` (expiry), or finished (parts to clean). */
  listStale(before: number, limit: number): Promise<UploadRecord[]>;
  putPart(p: PartRecord): Promise<void>;
  listParts(uploadId: string, source: string | undefined, created: TimeRange | undefined, page: PageRequest): Promise<Page<PartRecord>>;
  allParts(uploadId: string): Promise<PartRecord[]>;
  deleteParts(uploadId: string): Promise<void>;
}

const uploadRows = rowMapping<UploadRecord, ReadSetUploadsTable>({
  id: col('id'),
  sequenceStoreId: col('sequence_store_id'),
  accountId: col('account_id'),
  status: col('status'),
  sourceFileType: col('source_file_type'),
  subjectId: col('subject_id'),
  sampleId: col('sample_id'),
  name: col('name'),
  generatedFrom: col('generated_from'),
  referenceArn: col('reference_arn'),
  description: col('description'),
  tags: json('tags'),
  readSetId: col('read_set_id'),
  creationTime: num('creation_time'),
});

const partRows = rowMapping<PartRecord, ReadSetUploadPartsTable>({
  uploadId: col('upload_id'),
  partSource: col('part_source'),
  partNumber: num('part_number'),
  partSize: num('part_size'),
  checksum: col('checksum'),
  blobKey: col('blob_key'),
  creationTime: num('creation_time'),
  lastUpdatedTime: num('last_updated_time'),
});

export class KyselyUploadRecords implements UploadRecords {
  constructor(private readonly db: Db) {}

  async insert(r: UploadRecord): Promise<void> {
    await this.db.insertInto('read_set_uploads').values(uploadRows.toFullRow(r)).execute();
  }
  async get(sequenceStoreId: string, id: string): Promise<UploadRecord | undefined> {
    const r = await this.db.selectFrom('read_set_uploads').selectAll().where('sequence_store_id', '=', sequenceStoreId).where('id', '=', id).executeTakeFirst();
    return r && uploadRows.fromRow(r);
  }
  async lockInProgress(sequenceStoreId: string, id: string): Promise<boolean> {
    const r = await this.db
      .updateTable('read_set_uploads')
      .set({ status: 'IN_PROGRESS' })
      .where('sequence_store_id', '=', sequenceStoreId)
      .where('id', '=', id)
      .where('status', '=', 'IN_PROGRESS')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async finish(sequenceStoreId: string, id: string, to: 'COMPLETED' | 'ABORTED', readSetId: string | null): Promise<boolean> {
    const r = await this.db
      .updateTable('read_set_uploads')
      .set({ status: to, read_set_id: readSetId })
      .where('sequence_store_id', '=', sequenceStoreId)
      .where('id', '=', id)
      .where('status', '=', 'IN_PROGRESS')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('read_set_uploads').where('id', '=', id).execute();
  }
  async listInProgress(sequenceStoreId: string, page: PageRequest): Promise<Page<UploadRecord>> {
    const query = this.db.selectFrom('read_set_uploads').selectAll().where('sequence_store_id', '=', sequenceStoreId).where('status', '=', 'IN_PROGRESS');
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(uploadRows.fromRow), page.maxResults);
  }
  async listStale(before: number, limit: number): Promise<UploadRecord[]> {
    const found = await this.db
      .selectFrom('read_set_uploads')
      .selectAll()
      .where((eb) => eb.or([eb('status', '=', 'ABORTED'), eb.and([eb('status', '=', 'IN_PROGRESS'), eb('creation_time', '<', before)])]))
      .orderBy('creation_time')
      .limit(limit)
      .execute();
    return found.map(uploadRows.fromRow);
  }
  async putPart(p: PartRecord): Promise<void> {
    const row = partRows.toFullRow(p);
    await this.db
      .insertInto('read_set_upload_parts')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['upload_id', 'part_source', 'part_number']).doUpdateSet({
          part_size: row.part_size,
          checksum: row.checksum,
          blob_key: row.blob_key,
          last_updated_time: row.last_updated_time,
        }),
      )
      .execute();
  }
  async listParts(uploadId: string, source: string | undefined, created: TimeRange | undefined, page: PageRequest): Promise<Page<PartRecord>> {
    // Ordered by (source, part number); the token carries the last part number.
    const cursor = decodeNextToken(page.nextToken);
    let query = this.db.selectFrom('read_set_upload_parts').selectAll().where('upload_id', '=', uploadId);
    if (source !== undefined) query = query.where('part_source', '=', source);
    query = inRange(query, 'creation_time', created);
    if (cursor) {
      query = query.where((eb) =>
        eb.or([eb('part_source', '>', cursor.id), eb.and([eb('part_source', '=', cursor.id), eb('part_number', '>', cursor.t)])]),
      );
    }
    const found = (await query.orderBy('part_source').orderBy('part_number').limit(page.maxResults + 1).execute()).map(partRows.fromRow);
    if (found.length <= page.maxResults) return { items: found };
    const items = found.slice(0, page.maxResults);
    const last = items[items.length - 1]!;
    return { items, nextToken: encodeNextToken({ t: last.partNumber, id: last.partSource }) };
  }
  async allParts(uploadId: string): Promise<PartRecord[]> {
    const found = await this.db.selectFrom('read_set_upload_parts').selectAll().where('upload_id', '=', uploadId).orderBy('part_source').orderBy('part_number').execute();
    return found.map(partRows.fromRow);
  }
  async deleteParts(uploadId: string): Promise<void> {
    await this.db.deleteFrom('read_set_upload_parts').where('upload_id', '=', uploadId).execute();
  }
}
