import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { decodeNextToken, encodeNextToken, type Page } from '../core/pagination.js';
import { inRange, keyset, pageOf, type TimeRange } from './query.js';

/**
 * Persistence of the data-plane records: read sets, references, direct
 * uploads and their parts, and jobs. Same rules as the rest of the metadata
 * store: plain records in and out, times in epoch milliseconds, JSON columns
 * for nested values, one Kysely implementation for SQLite and PostgreSQL.
 */

/** One stored file of a read set or reference. */
export interface StoredFile {
  blobKey: string;
  /**
   * While the read set is ARCHIVED: its key in the cold tier, unique to the sweep that archived it (so racing
   * sweeps never touch each other's copies). Absent: the cold copy is at `blobKey` (read sets archived before).
   */
  coldBlobKey?: string;
  /** The file name under the S3 view (spec §2.10). */
  name: string;
  contentLength: number;
  partSize: number;
}

export interface ReadSetFiles {
  source1?: StoredFile;
  source2?: StoredFile;
  index?: StoredFile;
}

export interface ReadSetRecord {
  id: string;
  sequenceStoreId: string;
  accountId: string;
  status: string;
  statusMessage: string | null;
  name: string | null;
  description: string | null;
  subjectId: string;
  sampleId: string;
  generatedFrom: string | null;
  referenceArn: string | null;
  fileType: string;
  creationType: 'IMPORT' | 'UPLOAD';
  creationJobId: string | null;
  sequenceInformation: { totalReadCount: number; totalBaseCount: number; generatedFrom?: string; alignment: string } | null;
  etag: { algorithm: string; source1: string; source2?: string } | null;
  files: ReadSetFiles;
  creationTime: number;
  updateTime: number;
  lastAccessTime: number;
}

export type ReadSetPatch = Partial<Pick<ReadSetRecord, 'status' | 'statusMessage' | 'sequenceInformation' | 'etag' | 'files' | 'lastAccessTime'>> & {
  updateTime: number;
};

export interface ReadSetQuery {
  name?: string;
  status?: string;
  referenceArn?: string;
  created?: TimeRange;
  sampleId?: string;
  subjectId?: string;
  generatedFrom?: string;
  creationType?: string;
}

export interface ReferenceSequenceRecord {
  name: string;
  length: number;
  md5: string;
}

export interface ReferenceRecord {
  id: string;
  referenceStoreId: string;
  accountId: string;
  status: string;
  name: string;
  description: string | null;
  md5: string;
  creationJobId: string | null;
  files: { source?: StoredFile; index?: StoredFile };
  sequences: ReferenceSequenceRecord[];
  creationTime: number;
  updateTime: number;
}

export interface ReferenceQuery {
  name?: string;
  md5?: string;
  status?: string;
  created?: TimeRange;
}

export interface UploadRecord {
  id: string;
  sequenceStoreId: string;
  accountId: string;
  /** IN_PROGRESS while parts may arrive; COMPLETED or ABORTED afterwards. */
  status: 'IN_PROGRESS' | 'COMPLETED' | 'ABORTED';
  sourceFileType: string;
  subjectId: string;
  sampleId: string;
  name: string;
  generatedFrom: string | null;
  referenceArn: string | null;
  description: string | null;
  tags: Record<string, string>;
  readSetId: string | null;
  creationTime: number;
}

export interface PartRecord {
  uploadId: string;
  partSource: 'SOURCE1' | 'SOURCE2';
  partNumber: number;
  partSize: number;
  checksum: string;
  blobKey: string;
  creationTime: number;
  lastUpdatedTime: number;
}

export interface JobRecord<P = unknown> {
  id: string;
  kind: string;
  accountId: string;
  storeId: string;
  status: string;
  statusMessage: string | null;
  payload: P;
  creationTime: number;
  completionTime: number | null;
  leaseOwner: string | null;
  leaseExpires: number | null;
  attempts: number;
}

export interface JobQuery {
  status?: string;
  created?: TimeRange;
}

export interface PageRequest {
  maxResults: number;
  nextToken?: string;
}

export interface ReadSetRecords {
  insert(r: ReadSetRecord): Promise<void>;
  get(sequenceStoreId: string, id: string): Promise<ReadSetRecord | undefined>;
  /**
   * Applies the patch; with `fromStatus`, only if the read set is still in one of those states, and with
   * `ifLastAccessTime`, only if it was not read since. Returns whether it changed (the single winner of a race).
   */
  update(sequenceStoreId: string, id: string, patch: ReadSetPatch, fromStatus?: string[], ifLastAccessTime?: number): Promise<boolean>;
  delete(sequenceStoreId: string, id: string): Promise<boolean>;
  list(sequenceStoreId: string, q: ReadSetQuery, page: PageRequest): Promise<Page<ReadSetRecord>>;
  count(sequenceStoreId: string): Promise<number>;
  countByReference(referenceArn: string): Promise<number>;
  /** A store's ACTIVE read sets in id order, from `fromId` (inclusive): the S3 view lists in this (key) order. */
  listActiveFrom(sequenceStoreId: string, fromId: string, limit: number): Promise<ReadSetRecord[]>;
  /** ACTIVE read sets of any store last accessed before `before`, oldest first (the archiver's worklist). */
  listIdle(before: number, limit: number): Promise<ReadSetRecord[]>;
}

export interface ReferenceRecords {
  insert(r: ReferenceRecord): Promise<void>;
  get(referenceStoreId: string, id: string): Promise<ReferenceRecord | undefined>;
  delete(referenceStoreId: string, id: string): Promise<boolean>;
  list(referenceStoreId: string, q: ReferenceQuery, page: PageRequest): Promise<Page<ReferenceRecord>>;
  count(referenceStoreId: string): Promise<number>;
}

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

export interface JobRecords {
  insert(j: JobRecord): Promise<void>;
  get(kind: string, storeId: string, id: string): Promise<JobRecord | undefined>;
  getById(id: string): Promise<JobRecord | undefined>;
  list(kind: string, storeId: string, q: JobQuery, page: PageRequest): Promise<Page<JobRecord>>;
  countActive(kind: string, accountId: string): Promise<number>;
  /**
   * Claims one runnable job (SUBMITTED or IN_PROGRESS whose lease has
   * expired) of the given kinds for `owner` until `now + leaseMs`.
   */
  claim(kinds: string[], owner: string, now: number, leaseMs: number): Promise<JobRecord | undefined>;
  /** Renews or changes a job the caller holds the lease of; false if the lease was lost. */
  update(id: string, owner: string, patch: Partial<Pick<JobRecord, 'status' | 'statusMessage' | 'payload' | 'completionTime' | 'leaseExpires'>>): Promise<boolean>;
  /**
   * Jobs no worker is running: not finished, and unclaimed since before `before` (never claimed, or a lease
   * that ran out then and was not taken over), by kind, with the oldest's creation time.
   */
  stalled(before: number): Promise<{ kind: string; count: number; oldestCreation: number }[]>;
  /** Jobs not finished (submitted or in progress), by kind, with the oldest's creation time: the queue. */
  queued(): Promise<{ kind: string; count: number; oldestCreation: number }[]>;
  /** Ends a job the caller holds: final status, lease released. */
  complete(id: string, owner: string, status: string, statusMessage: string | null, payload: unknown, now: number): Promise<boolean>;
}

const json = <T>(s: string | null): T | null => (s === null ? null : (JSON.parse(s) as T));

function toReadSet(r: Database['read_sets']): ReadSetRecord {
  return {
    id: r.id,
    sequenceStoreId: r.sequence_store_id,
    accountId: r.account_id,
    status: r.status,
    statusMessage: r.status_message,
    name: r.name,
    description: r.description,
    subjectId: r.subject_id,
    sampleId: r.sample_id,
    generatedFrom: r.generated_from,
    referenceArn: r.reference_arn,
    fileType: r.file_type,
    creationType: r.creation_type as 'IMPORT' | 'UPLOAD',
    creationJobId: r.creation_job_id,
    sequenceInformation: json(r.sequence_information),
    etag: json(r.etag),
    files: JSON.parse(r.files) as ReadSetFiles,
    creationTime: Number(r.creation_time),
    updateTime: Number(r.update_time),
    lastAccessTime: Number(r.last_access_time),
  };
}

function toReference(r: Database['references']): ReferenceRecord {
  return {
    id: r.id,
    referenceStoreId: r.reference_store_id,
    accountId: r.account_id,
    status: r.status,
    name: r.name,
    description: r.description,
    md5: r.md5,
    creationJobId: r.creation_job_id,
    files: JSON.parse(r.files) as ReferenceRecord['files'],
    sequences: JSON.parse(r.sequences) as ReferenceSequenceRecord[],
    creationTime: Number(r.creation_time),
    updateTime: Number(r.update_time),
  };
}

function toUpload(r: Database['read_set_uploads']): UploadRecord {
  return {
    id: r.id,
    sequenceStoreId: r.sequence_store_id,
    accountId: r.account_id,
    status: r.status as UploadRecord['status'],
    sourceFileType: r.source_file_type,
    subjectId: r.subject_id,
    sampleId: r.sample_id,
    name: r.name,
    generatedFrom: r.generated_from,
    referenceArn: r.reference_arn,
    description: r.description,
    tags: JSON.parse(r.tags) as Record<string, string>,
    readSetId: r.read_set_id,
    creationTime: Number(r.creation_time),
  };
}

function toPart(r: Database['read_set_upload_parts']): PartRecord {
  return {
    uploadId: r.upload_id,
    partSource: r.part_source as PartRecord['partSource'],
    partNumber: Number(r.part_number),
    partSize: Number(r.part_size),
    checksum: r.checksum,
    blobKey: r.blob_key,
    creationTime: Number(r.creation_time),
    lastUpdatedTime: Number(r.last_updated_time),
  };
}

function toJob(r: Database['jobs']): JobRecord {
  return {
    id: r.id,
    kind: r.kind,
    accountId: r.account_id,
    storeId: r.store_id,
    status: r.status,
    statusMessage: r.status_message,
    payload: JSON.parse(r.payload) as unknown,
    creationTime: Number(r.creation_time),
    completionTime: r.completion_time === null ? null : Number(r.completion_time),
    leaseOwner: r.lease_owner,
    leaseExpires: r.lease_expires === null ? null : Number(r.lease_expires),
    attempts: Number(r.attempts),
  };
}

async function countWhere(db: Kysely<Database>, table: 'read_sets' | 'references', column: string, value: string): Promise<number> {
  const r = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where(sql.ref(column), '=', value)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export class KyselyReadSetRecords implements ReadSetRecords {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(r: ReadSetRecord): Promise<void> {
    await this.db
      .insertInto('read_sets')
      .values({
        id: r.id,
        sequence_store_id: r.sequenceStoreId,
        account_id: r.accountId,
        status: r.status,
        status_message: r.statusMessage,
        name: r.name,
        description: r.description,
        subject_id: r.subjectId,
        sample_id: r.sampleId,
        generated_from: r.generatedFrom,
        reference_arn: r.referenceArn,
        file_type: r.fileType,
        creation_type: r.creationType,
        creation_job_id: r.creationJobId,
        sequence_information: r.sequenceInformation ? JSON.stringify(r.sequenceInformation) : null,
        etag: r.etag ? JSON.stringify(r.etag) : null,
        files: JSON.stringify(r.files),
        creation_time: r.creationTime,
        update_time: r.updateTime,
        last_access_time: r.lastAccessTime,
      })
      .execute();
  }
  async get(sequenceStoreId: string, id: string): Promise<ReadSetRecord | undefined> {
    const r = await this.db.selectFrom('read_sets').selectAll().where('sequence_store_id', '=', sequenceStoreId).where('id', '=', id).executeTakeFirst();
    return r && toReadSet(r);
  }
  async update(sequenceStoreId: string, id: string, p: ReadSetPatch, fromStatus?: string[], ifLastAccessTime?: number): Promise<boolean> {
    const set: Partial<Database['read_sets']> = { update_time: p.updateTime };
    if (p.status !== undefined) set.status = p.status;
    if (p.statusMessage !== undefined) set.status_message = p.statusMessage;
    if (p.sequenceInformation !== undefined) set.sequence_information = p.sequenceInformation ? JSON.stringify(p.sequenceInformation) : null;
    if (p.etag !== undefined) set.etag = p.etag ? JSON.stringify(p.etag) : null;
    if (p.files !== undefined) set.files = JSON.stringify(p.files);
    if (p.lastAccessTime !== undefined) set.last_access_time = p.lastAccessTime;
    let q = this.db.updateTable('read_sets').set(set).where('sequence_store_id', '=', sequenceStoreId).where('id', '=', id);
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
    const cursor = decodeNextToken(page.nextToken);
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
    const rows = await keyset(query, cursor, page.maxResults).execute();
    return pageOf(rows.map(toReadSet), page.maxResults);
  }
  count(sequenceStoreId: string): Promise<number> {
    return countWhere(this.db, 'read_sets', 'sequence_store_id', sequenceStoreId);
  }
  countByReference(referenceArn: string): Promise<number> {
    return countWhere(this.db, 'read_sets', 'reference_arn', referenceArn);
  }
  async listActiveFrom(sequenceStoreId: string, fromId: string, limit: number): Promise<ReadSetRecord[]> {
    const rows = await this.db
      .selectFrom('read_sets')
      .selectAll()
      .where('sequence_store_id', '=', sequenceStoreId)
      .where('status', '=', 'ACTIVE')
      .where('id', '>=', fromId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toReadSet);
  }
  async listIdle(before: number, limit: number): Promise<ReadSetRecord[]> {
    const rows = await this.db
      .selectFrom('read_sets')
      .selectAll()
      .where('status', '=', 'ACTIVE')
      .where('last_access_time', '<', before)
      .orderBy('last_access_time')
      .limit(limit)
      .execute();
    return rows.map(toReadSet);
  }
}

export class KyselyReferenceRecords implements ReferenceRecords {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(r: ReferenceRecord): Promise<void> {
    await this.db
      .insertInto('references')
      .values({
        id: r.id,
        reference_store_id: r.referenceStoreId,
        account_id: r.accountId,
        status: r.status,
        name: r.name,
        description: r.description,
        md5: r.md5,
        creation_job_id: r.creationJobId,
        files: JSON.stringify(r.files),
        sequences: JSON.stringify(r.sequences),
        creation_time: r.creationTime,
        update_time: r.updateTime,
      })
      .execute();
  }
  async get(referenceStoreId: string, id: string): Promise<ReferenceRecord | undefined> {
    const r = await this.db.selectFrom('references').selectAll().where('reference_store_id', '=', referenceStoreId).where('id', '=', id).executeTakeFirst();
    return r && toReference(r);
  }
  async delete(referenceStoreId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('references').where('reference_store_id', '=', referenceStoreId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(referenceStoreId: string, q: ReferenceQuery, page: PageRequest): Promise<Page<ReferenceRecord>> {
    const cursor = decodeNextToken(page.nextToken);
    let query = this.db.selectFrom('references').selectAll().where('reference_store_id', '=', referenceStoreId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.md5 !== undefined) query = query.where('md5', '=', q.md5);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    query = inRange(query, 'creation_time', q.created);
    const rows = await keyset(query, cursor, page.maxResults).execute();
    return pageOf(rows.map(toReference), page.maxResults);
  }
  count(referenceStoreId: string): Promise<number> {
    return countWhere(this.db, 'references', 'reference_store_id', referenceStoreId);
  }
}

export class KyselyUploadRecords implements UploadRecords {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(r: UploadRecord): Promise<void> {
    await this.db
      .insertInto('read_set_uploads')
      .values({
        id: r.id,
        sequence_store_id: r.sequenceStoreId,
        account_id: r.accountId,
        status: r.status,
        source_file_type: r.sourceFileType,
        subject_id: r.subjectId,
        sample_id: r.sampleId,
        name: r.name,
        generated_from: r.generatedFrom,
        reference_arn: r.referenceArn,
        description: r.description,
        tags: JSON.stringify(r.tags),
        read_set_id: r.readSetId,
        creation_time: r.creationTime,
      })
      .execute();
  }
  async get(sequenceStoreId: string, id: string): Promise<UploadRecord | undefined> {
    const r = await this.db
      .selectFrom('read_set_uploads')
      .selectAll()
      .where('sequence_store_id', '=', sequenceStoreId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r && toUpload(r);
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
    const cursor = decodeNextToken(page.nextToken);
    const query = this.db.selectFrom('read_set_uploads').selectAll().where('sequence_store_id', '=', sequenceStoreId).where('status', '=', 'IN_PROGRESS');
    const rows = await keyset(query, cursor, page.maxResults).execute();
    return pageOf(rows.map(toUpload), page.maxResults);
  }
  async listStale(before: number, limit: number): Promise<UploadRecord[]> {
    const rows = await this.db
      .selectFrom('read_set_uploads')
      .selectAll()
      .where((eb) => eb.or([eb('status', '=', 'ABORTED'), eb.and([eb('status', '=', 'IN_PROGRESS'), eb('creation_time', '<', before)])]))
      .orderBy('creation_time')
      .limit(limit)
      .execute();
    return rows.map(toUpload);
  }
  async putPart(p: PartRecord): Promise<void> {
    await this.db
      .insertInto('read_set_upload_parts')
      .values({
        upload_id: p.uploadId,
        part_source: p.partSource,
        part_number: p.partNumber,
        part_size: p.partSize,
        checksum: p.checksum,
        blob_key: p.blobKey,
        creation_time: p.creationTime,
        last_updated_time: p.lastUpdatedTime,
      })
      .onConflict((oc) =>
        oc.columns(['upload_id', 'part_source', 'part_number']).doUpdateSet({
          part_size: p.partSize,
          checksum: p.checksum,
          blob_key: p.blobKey,
          last_updated_time: p.lastUpdatedTime,
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
    const rows = (await query.orderBy('part_source').orderBy('part_number').limit(page.maxResults + 1).execute()).map(toPart);
    if (rows.length <= page.maxResults) return { items: rows };
    const items = rows.slice(0, page.maxResults);
    const last = items[items.length - 1]!;
    return { items, nextToken: encodeNextToken({ t: last.partNumber, id: last.partSource }) };
  }
  async allParts(uploadId: string): Promise<PartRecord[]> {
    const rows = await this.db.selectFrom('read_set_upload_parts').selectAll().where('upload_id', '=', uploadId).orderBy('part_source').orderBy('part_number').execute();
    return rows.map(toPart);
  }
  async deleteParts(uploadId: string): Promise<void> {
    await this.db.deleteFrom('read_set_upload_parts').where('upload_id', '=', uploadId).execute();
  }
}

export class KyselyJobRecords implements JobRecords {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(j: JobRecord): Promise<void> {
    await this.db
      .insertInto('jobs')
      .values({
        id: j.id,
        kind: j.kind,
        account_id: j.accountId,
        store_id: j.storeId,
        status: j.status,
        status_message: j.statusMessage,
        payload: JSON.stringify(j.payload),
        creation_time: j.creationTime,
        completion_time: j.completionTime,
        lease_owner: j.leaseOwner,
        lease_expires: j.leaseExpires,
        attempts: j.attempts,
      })
      .execute();
  }
  async get(kind: string, storeId: string, id: string): Promise<JobRecord | undefined> {
    const r = await this.db.selectFrom('jobs').selectAll().where('kind', '=', kind).where('store_id', '=', storeId).where('id', '=', id).executeTakeFirst();
    return r && toJob(r);
  }
  async getById(id: string): Promise<JobRecord | undefined> {
    const r = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toJob(r);
  }
  async list(kind: string, storeId: string, q: JobQuery, page: PageRequest): Promise<Page<JobRecord>> {
    const cursor = decodeNextToken(page.nextToken);
    let query = this.db.selectFrom('jobs').selectAll().where('kind', '=', kind).where('store_id', '=', storeId);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    query = inRange(query, 'creation_time', q.created);
    const rows = await keyset(query, cursor, page.maxResults).execute();
    return pageOf(rows.map(toJob), page.maxResults);
  }
  async countActive(kind: string, accountId: string): Promise<number> {
    const r = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('kind', '=', kind)
      .where('account_id', '=', accountId)
      .where('status', 'in', ['SUBMITTED', 'IN_PROGRESS'])
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
  async claim(kinds: string[], owner: string, now: number, leaseMs: number): Promise<JobRecord | undefined> {
    const candidates = await this.db
      .selectFrom('jobs')
      .select('id')
      .where('status', 'in', ['SUBMITTED', 'IN_PROGRESS'])
      .where('kind', 'in', kinds)
      .where((eb) => eb.or([eb('lease_expires', 'is', null), eb('lease_expires', '<', now)]))
      .orderBy('creation_time')
      .limit(8)
      .execute();
    for (const { id } of candidates) {
      // Compare-and-set on the lease: of two workers racing, one updates the row.
      const res = await this.db
        .updateTable('jobs')
        .set((eb) => ({ lease_owner: owner, lease_expires: now + leaseMs, attempts: eb('attempts', '+', 1) }))
        .where('id', '=', id)
        .where('status', 'in', ['SUBMITTED', 'IN_PROGRESS'])
        .where((eb) => eb.or([eb('lease_expires', 'is', null), eb('lease_expires', '<', now)]))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) > 0) return this.getById(id);
    }
    return undefined;
  }
  async update(id: string, owner: string, p: Partial<Pick<JobRecord, 'status' | 'statusMessage' | 'payload' | 'completionTime' | 'leaseExpires'>>): Promise<boolean> {
    const set: Partial<Database['jobs']> = {};
    if (p.status !== undefined) set.status = p.status;
    if (p.statusMessage !== undefined) set.status_message = p.statusMessage;
    if (p.payload !== undefined) set.payload = JSON.stringify(p.payload);
    if (p.completionTime !== undefined) set.completion_time = p.completionTime;
    if (p.leaseExpires !== undefined) set.lease_expires = p.leaseExpires;
    const res = await this.db.updateTable('jobs').set(set).where('id', '=', id).where('lease_owner', '=', owner).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
  queued(): Promise<{ kind: string; count: number; oldestCreation: number }[]> {
    return this.unfinishedByKind();
  }
  stalled(before: number): Promise<{ kind: string; count: number; oldestCreation: number }[]> {
    return this.unfinishedByKind(before);
  }
  /** Unfinished jobs by kind; with `unclaimedSince`, only those no lease has covered since then. */
  private async unfinishedByKind(unclaimedSince?: number): Promise<{ kind: string; count: number; oldestCreation: number }[]> {
    let q = this.db
      .selectFrom('jobs')
      .select((eb) => ['kind', eb.fn.countAll<number>().as('count'), eb.fn.min<number>('creation_time').as('oldest')])
      .where('status', 'in', ['SUBMITTED', 'IN_PROGRESS']);
    if (unclaimedSince !== undefined) {
      const t = unclaimedSince;
      q = q.where((eb) => eb.or([eb.and([eb('lease_expires', 'is', null), eb('creation_time', '<', t)]), eb('lease_expires', '<', t)]));
    }
    const rows = await q.groupBy('kind').execute();
    return rows.map((r) => ({ kind: r.kind, count: Number(r.count), oldestCreation: Number(r.oldest) }));
  }
  async complete(id: string, owner: string, status: string, statusMessage: string | null, payload: unknown, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('jobs')
      .set({ status, status_message: statusMessage, payload: JSON.stringify(payload), completion_time: now, lease_owner: null, lease_expires: null })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}

/** A customer's S3-compatible location (connected storage); the secret is sealed by the caller. */
export interface ConnectionRecord {
  accountId: string;
  name: string;
  config: {
    bucket: string;
    prefix: string;
    endpoint?: string;
    region: string;
    forcePathStyle: boolean;
    versioned: boolean;
    sse?: { type: 'SSE-S3' | 'SSE-KMS'; kmsKeyId?: string };
    accessKeyId?: string;
    /** Assume this role (with the external id) using the access key above. */
    roleArn?: string;
    externalId?: string;
    /** Only jobs naming this roleArn use the connection (unset: any job). */
    jobRoleArn?: string;
  };
  secretEnc: string | null;
  createdAt: number;
}

export interface ConnectionRecords {
  put(c: ConnectionRecord): Promise<void>;
  get(accountId: string, name: string): Promise<ConnectionRecord | undefined>;
  list(accountId: string): Promise<ConnectionRecord[]>;
  delete(accountId: string, name: string): Promise<boolean>;
}

export class KyselyConnectionRecords implements ConnectionRecords {
  constructor(private readonly db: Kysely<Database>) {}
  private static to(r: Database['storage_connections']): ConnectionRecord {
    return { accountId: r.account_id, name: r.name, config: JSON.parse(r.config) as ConnectionRecord['config'], secretEnc: r.secret_enc, createdAt: Number(r.created_at) };
  }
  async put(c: ConnectionRecord): Promise<void> {
    const row = { account_id: c.accountId, name: c.name, config: JSON.stringify(c.config), secret_enc: c.secretEnc, created_at: c.createdAt };
    await this.db
      .insertInto('storage_connections')
      .values(row)
      .onConflict((oc) => oc.columns(['account_id', 'name']).doUpdateSet({ config: row.config, secret_enc: row.secret_enc }))
      .execute();
  }
  async get(accountId: string, name: string): Promise<ConnectionRecord | undefined> {
    const r = await this.db.selectFrom('storage_connections').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r && KyselyConnectionRecords.to(r);
  }
  async list(accountId: string): Promise<ConnectionRecord[]> {
    const rows = await this.db.selectFrom('storage_connections').selectAll().where('account_id', '=', accountId).orderBy('name').execute();
    return rows.map(KyselyConnectionRecords.to);
  }
  async delete(accountId: string, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('storage_connections').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
