import { createHash, randomBytes } from 'node:crypto';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { readSetArn } from '../core/arn.js';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { newNumericId } from '../core/ids.js';
import type { Page } from '../core/pagination.js';
import type { PageRequest } from '../db/query.js';
import type { FileType, PartRecord, ReadSetRecord, UploadRecord } from './entities.js';
import type { TimeRange } from '../db/query.js';
import type { DomainDeps } from './context.js';
import { idempotent } from './idempotency.js';
import { READ_SET_INGEST_JOB, type ReadSetIngestPayload } from './ingest.js';
import { plannedFiles } from './read-set-files.js';
import type { ReferenceService } from './references.js';
import type { SequenceStoreService } from './sequence-stores.js';
import { blobKeys, storeBlobs } from './store-storage.js';
import { checkNewTags } from './tags.js';

/** The service's per-part limit (spec §2.4): 100 MiB. */
export const MAX_PART_SIZE = 104_857_600;

export interface CreateUploadInput {
  sourceFileType: FileType;
  subjectId: string;
  sampleId: string;
  name: string;
  generatedFrom?: string;
  referenceArn?: string;
  description?: string;
  tags?: Record<string, string>;
  clientToken?: string;
}

export interface CompletePart {
  partNumber: number;
  partSource: 'SOURCE1' | 'SOURCE2';
  checksum: string;
}

/** Counts and hashes a part while it streams, and stops it at the size limit. */
class PartMeter extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      cb(new ValidationError(`The part is larger than the limit of ${this.limit} bytes; split the file into parts of at most 100 MiB.`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
  digest(): Buffer {
    return this.hash.digest();
  }
}

/** The part checksum as returned (lowercase hex SHA-256); Complete also accepts its base64 form. */
function sameChecksum(stored: string, given: string): boolean {
  if (given.toLowerCase() === stored) return true;
  try {
    return Buffer.from(given, 'base64').toString('hex') === stored;
  } catch {
    return false;
  }
}

/**
 * Direct upload (spec §2.4): an upload collects parts per source; Complete
 * checks the listed parts and their checksums, then atomically creates the
 * read set in PROCESSING_UPLOAD and the ingest job that turns the parts into
 * the read set's files (ingest.ts).
 */
export class UploadService {
  constructor(
    private readonly d: DomainDeps,
    private readonly stores: SequenceStoreService,
    private readonly references: ReferenceService,
    private readonly onJobSubmitted: () => void = () => {},
  ) {}

  private async upload(accountId: string, storeId: string, uploadId: string): Promise<UploadRecord> {
    await this.stores.get(accountId, storeId);
    const up = await this.d.db.uploads.get(storeId, uploadId);
    if (!up || up.accountId !== accountId || up.status === 'ABORTED') throw new NotFoundError(`Upload ${uploadId} not found in sequence store ${storeId}.`);
    return up;
  }

  private async inProgress(accountId: string, storeId: string, uploadId: string): Promise<UploadRecord> {
    const up = await this.upload(accountId, storeId, uploadId);
    if (up.status !== 'IN_PROGRESS') throw new NotFoundError(`Upload ${uploadId} is already complete; its read set is ${up.readSetId}.`);
    return up;
  }

  async create(accountId: string, storeId: string, input: CreateUploadInput): Promise<UploadRecord> {
    const store = await this.stores.get(accountId, storeId);
    if (store.status !== 'ACTIVE') throw new ConflictError(`Sequence store ${storeId} is ${store.status}.`);
    checkNewTags(input.tags, this.d.quotas.maxTagsPerResource);
    if (input.sourceFileType === 'CRAM' && !input.referenceArn) throw new ValidationError('A CRAM read set needs a referenceArn.');
    if (input.referenceArn) await this.references.sequencesOf(accountId, input.referenceArn);
    const now = this.d.now();
    const { resourceId } = await idempotent(this.d.db, accountId, `CreateMultipartReadSetUpload:${storeId}`, input.clientToken, { ...input }, now, async () => {
      const rec: UploadRecord = {
        id: newNumericId(),
        sequenceStoreId: storeId,
        accountId,
        status: 'IN_PROGRESS',
        sourceFileType: input.sourceFileType,
        subjectId: input.subjectId,
        sampleId: input.sampleId,
        name: input.name,
        generatedFrom: input.generatedFrom ?? null,
        referenceArn: input.referenceArn ?? null,
        description: input.description ?? null,
        tags: input.tags ?? {},
        readSetId: null,
        creationTime: now,
      };
      await this.d.db.uploads.insert(rec);
      return rec.id;
    });
    return (await this.d.db.uploads.get(storeId, resourceId))!;
  }

  async uploadPart(accountId: string, storeId: string, uploadId: string, partSource: 'SOURCE1' | 'SOURCE2', partNumber: number, body: Readable): Promise<string> {
    let up: UploadRecord;
    try {
      up = await this.inProgress(accountId, storeId, uploadId);
      if (partSource === 'SOURCE2' && up.sourceFileType !== 'FASTQ') {
        throw new ValidationError(`A ${up.sourceFileType} upload has one source; SOURCE2 is only for the second file of paired FASTQ.`);
      }
    } catch (e) {
      body.resume();
      throw e;
    }
    const store = await this.stores.get(accountId, storeId);
    const blobs = storeBlobs(this.d, store.dataKey);
    // Each attempt writes its own blob; the part row then points at it. The row
    // and the bytes it names always agree, whatever fails in between.
    const key = `${blobKeys.uploadPart(storeId, uploadId, partSource, partNumber)}-${randomBytes(6).toString('hex')}`;
    const meter = new PartMeter(MAX_PART_SIZE);
    // pipeline: an error of either stream reaches the put, and neither is left with an unheard error.
    await blobs.put(key, pipeline(body, meter, () => undefined));
    if (meter.size === 0) {
      await blobs.delete(key);
      throw new ValidationError('The part is empty; a part holds at least one byte.');
    }
    const checksum = meter.digest().toString('hex');
    const now = this.d.now();
    // Recorded only while the upload is still in progress, in one transaction with that check: once
    // Complete (or Abort) is accepted, a part still streaming in cannot replace what the ingest reads.
    const prior = await this.d.db.atomically(async (tx) => {
      if (!(await tx.uploads.lockInProgress(storeId, uploadId))) return false;
      const before = (await tx.uploads.allParts(uploadId)).find((p) => p.partSource === partSource && p.partNumber === partNumber);
      await tx.uploads.putPart({ uploadId, partSource, partNumber, partSize: meter.size, checksum, blobKey: key, creationTime: now, lastUpdatedTime: now });
      return before;
    });
    if (prior === false) {
      await blobs.delete(key).catch(() => undefined);
      throw new ConflictError(`Upload ${uploadId} was completed or aborted while this part was being sent; the part was not added.`);
    }
    if (prior && prior.blobKey !== key) await blobs.delete(prior.blobKey);
    return checksum;
  }

  async listParts(accountId: string, storeId: string, uploadId: string, partSource: string, created: TimeRange, page: PageRequest): Promise<Page<PartRecord>> {
    await this.inProgress(accountId, storeId, uploadId);
    return this.d.db.uploads.listParts(uploadId, partSource, created, page);
  }

  async listUploads(accountId: string, storeId: string, page: PageRequest): Promise<Page<UploadRecord>> {
    await this.stores.get(accountId, storeId);
    return this.d.db.uploads.listInProgress(storeId, page);
  }

  async complete(accountId: string, storeId: string, uploadId: string, parts: CompletePart[]): Promise<string> {
    const up = await this.upload(accountId, storeId, uploadId);
    if (up.status === 'COMPLETED') return up.readSetId!;
    const readSetId = newNumericId();
    const now = this.d.now();
    // The upload leaves IN_PROGRESS first, then its parts are read in the same transaction: a part upload
    // either committed before (and is seen here) or finds the upload completed and is refused.
    const won = await this.d.db.atomically(async (tx) => {
      if (!(await tx.uploads.finish(storeId, uploadId, 'COMPLETED', readSetId))) return false;
      const chosen = choosePartsToComplete(parts, await tx.uploads.allParts(uploadId));
      const size = (l: PartRecord[]) => l.reduce((n, p) => n + p.partSize, 0);
      const rs: ReadSetRecord = {
        id: readSetId,
        sequenceStoreId: storeId,
        accountId,
        status: 'PROCESSING_UPLOAD',
        statusMessage: null,
        name: up.name,
        description: up.description,
        subjectId: up.subjectId,
        sampleId: up.sampleId,
        generatedFrom: up.generatedFrom,
        referenceArn: up.referenceArn,
        fileType: up.sourceFileType,
        creationType: 'UPLOAD',
        creationJobId: null,
        sequenceInformation: null,
        etag: null,
        files: plannedFiles(storeId, readSetId, up.sourceFileType, up.name, size(chosen.SOURCE1), chosen.SOURCE2.length ? size(chosen.SOURCE2) : undefined),
        creationTime: now,
        updateTime: now,
        lastAccessTime: now,
      };
      const payload: ReadSetIngestPayload = {
        readSetId,
        uploadId,
        source1: chosen.SOURCE1.map((p) => p.blobKey),
        ...(chosen.SOURCE2.length ? { source2: chosen.SOURCE2.map((p) => p.blobKey) } : {}),
      };
      await tx.readSets.insert(rs);
      await tx.tags.put(readSetArn(this.d.partition, accountId, storeId, readSetId), up.tags);
      await tx.jobs.insert({
        id: newNumericId(),
        kind: READ_SET_INGEST_JOB,
        accountId,
        storeId,
        status: 'SUBMITTED',
        statusMessage: null,
        payload,
        creationTime: now,
        completionTime: null,
        leaseOwner: null,
        leaseExpires: null,
        attempts: 0,
      });
      return true;
    });
    if (!won) {
      // A concurrent Complete (or Abort) got there first.
      const again = await this.upload(accountId, storeId, uploadId);
      if (again.status === 'COMPLETED') return again.readSetId!;
      throw new NotFoundError(`Upload ${uploadId} not found in sequence store ${storeId}.`);
    }
    this.onJobSubmitted();
    return readSetId;
  }

  async abort(accountId: string, storeId: string, uploadId: string): Promise<void> {
    const up = await this.inProgress(accountId, storeId, uploadId);
    // The part blobs go first: on a full disk that frees the space the record's own write may need.
    await this.removePartBlobs(up);
    if (!(await this.d.db.uploads.finish(storeId, uploadId, 'ABORTED', null))) throw new NotFoundError(`Upload ${uploadId} is no longer in progress.`);
    await this.removeParts(up);
  }

  /** Deletes an upload's part blobs and rows (after abort, expiry, or ingest). */
  async removeParts(up: Pick<UploadRecord, 'id' | 'sequenceStoreId'>): Promise<void> {
    await this.removePartBlobs(up);
    await this.d.db.uploads.deleteParts(up.id);
  }

  private async removePartBlobs(up: Pick<UploadRecord, 'id' | 'sequenceStoreId'>): Promise<void> {
    const prefix = blobKeys.uploadPart(up.sequenceStoreId, up.id, 'x', 0).replace(/x\/0$/, '');
    for await (const b of this.d.blobs.list(prefix)) await this.d.blobs.delete(b.key);
  }

  /** Aborts uploads idle past the expiry and clears what aborted ones left. Returns how many it handled. */
  async sweep(expiryMs: number): Promise<number> {
    const stale = await this.d.db.uploads.listStale(this.d.now() - expiryMs, 100);
    for (const up of stale) {
      if (up.status === 'IN_PROGRESS') await this.d.db.uploads.finish(up.sequenceStoreId, up.id, 'ABORTED', null);
      await this.removeParts(up);
      await this.d.db.uploads.delete(up.id);
    }
    return stale.length;
  }
}

/** The parts a Complete names, checked against those stored (each uploaded once, same checksum), in order. */
function choosePartsToComplete(parts: CompletePart[], storedParts: PartRecord[]): Record<'SOURCE1' | 'SOURCE2', PartRecord[]> {
  const stored = new Map(storedParts.map((p) => [`${p.partSource}/${p.partNumber}`, p]));
  const chosen: Record<'SOURCE1' | 'SOURCE2', PartRecord[]> = { SOURCE1: [], SOURCE2: [] };
  const seen = new Set<string>();
  for (const p of parts) {
    const k = `${p.partSource}/${p.partNumber}`;
    if (seen.has(k)) throw new ValidationError(`Part ${p.partNumber} of ${p.partSource} is listed twice.`);
    seen.add(k);
    const s = stored.get(k);
    if (!s) throw new ValidationError(`Part ${p.partNumber} of ${p.partSource} was not uploaded.`);
    if (!sameChecksum(s.checksum, p.checksum)) {
      throw new ValidationError(`The checksum given for part ${p.partNumber} of ${p.partSource} does not match the uploaded part.`);
    }
    chosen[p.partSource].push(s);
  }
  if (chosen.SOURCE1.length === 0) throw new ValidationError('The parts list names no part of SOURCE1.');
  for (const list of Object.values(chosen)) list.sort((a, b) => a.partNumber - b.partNumber);
  return chosen;
}
