import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArn, referenceArn } from '../core/arn.js';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { newNumericId } from '../core/ids.js';
import type { Page } from '../core/pagination.js';
import type { JobQuery, JobRecord } from '../db/job-records.js';
import type { PageRequest } from '../db/query.js';
import type { ReferenceQuery } from '../db/reference-records.js';
import type { ReferenceRecord, ReferenceSequenceRecord } from './entities.js';
import { inspectFasta } from '../formats/fasta.js';
import type { GiveUpHandler, JobContext, JobHandler } from '../jobs/runner.js';
import type { DomainDeps } from './context.js';
import { giveUpItems, JobBook, runItems, type ItemsPayload, type JobItem } from './storage-jobs.js';
import { partRange, rangeWithinPart, storedFile } from './read-set-files.js';
import type { ReferenceStoreService } from './reference-stores.js';
import { checkJobRole, type DataLocations } from './locations.js';
import { blobKeys, storeBlobs } from './store-storage.js';
import { teeIntoBlob, writeUnderLease } from './tee.js';
import { checkNewTags } from './tags.js';

export const REFERENCE_IMPORT_JOB = 'ReferenceImport';
/** The service's fixed limit on a reference file (spec §2.2). */
export const MAX_REFERENCE_BYTES = 15_000_000_000;

export interface ReferenceImportSource extends JobItem {
  sourceFile: string;
  name: string;
  description?: string;
  tags?: Record<string, string>;
  referenceId?: string;
}

export interface ReferenceImportPayload extends ItemsPayload<ReferenceImportSource> {
  roleArn: string;
}

export interface ReferenceView extends ReferenceRecord {
  arn: string;
}

/**
 * References (spec §1.4, §2.2): imported by jobs from FASTA files, stored with
 * a samtools-identical .fai, the whole-file MD5 and each sequence's M5 (which
 * aligned read sets are checked against).
 */
export class ReferenceService {
  private readonly importJobs: JobBook<ReferenceImportPayload>;

  constructor(
    private readonly d: DomainDeps,
    private readonly stores: ReferenceStoreService,
    private readonly sources: DataLocations,
    onJobSubmitted: () => void = () => {},
  ) {
    this.importJobs = new JobBook(d, REFERENCE_IMPORT_JOB, 'Reference import job', onJobSubmitted);
  }

  view(r: ReferenceRecord): ReferenceView {
    return { ...r, arn: referenceArn(this.d.partition, r.accountId, r.referenceStoreId, r.id) };
  }

  async get(accountId: string, storeId: string, id: string): Promise<ReferenceView> {
    await this.stores.get(accountId, storeId);
    const r = await this.d.db.references.get(storeId, id);
    if (!r || r.accountId !== accountId) throw new NotFoundError(`Reference ${id} not found in reference store ${storeId}.`);
    return this.view(r);
  }

  async list(accountId: string, storeId: string, q: ReferenceQuery, page: PageRequest): Promise<Page<ReferenceView>> {
    await this.stores.get(accountId, storeId);
    const res = await this.d.db.references.list(storeId, q, page);
    return { items: res.items.map((r) => this.view(r)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  /** The sequences of an ACTIVE reference named by ARN (what aligned read sets are checked against). */
  async sequencesOf(accountId: string, arn: string): Promise<ReferenceSequenceRecord[]> {
    const p = parseArn(arn);
    const parts = p?.resource.split('/') ?? [];
    if (!p || p.service !== 'omics' || parts.length !== 4 || parts[0] !== 'referenceStore' || parts[2] !== 'reference') {
      throw new ValidationError(`${arn} is not a reference ARN (arn:aws:omics:<region>:<account>:referenceStore/<id>/reference/<id>).`);
    }
    const r = p.account === accountId && p.region === this.d.partition.region ? await this.d.db.references.get(parts[1]!, parts[3]!) : undefined;
    if (!r || r.accountId !== accountId) throw new NotFoundError(`Reference ${arn} not found.`);
    if (r.status !== 'ACTIVE') throw new ValidationError(`Reference ${arn} is ${r.status}.`);
    return r.sequences;
  }

  /**
   * The reference as a local FASTA file with its `.fai`, for htslib (CRAM decoding), decrypted into a
   * private folder of this process's scratch space for one use: the caller removes it when done (in a
   * `finally`), so no plaintext reference outlives the job that needed it, and a deleted reference is in no
   * cache anywhere. What a killed process leaves is removed by the next process on the machine (services.ts).
   */
  async decryptedFasta(accountId: string, arn: string): Promise<{ path: string; remove(): Promise<void> }> {
    await this.sequencesOf(accountId, arn);
    const parts = parseArn(arn)!.resource.split('/');
    const ref = (await this.d.db.references.get(parts[1]!, parts[3]!))!;
    const store = await this.stores.get(accountId, ref.referenceStoreId);
    const blobs = storeBlobs(this.d, store.dataKey);
    const dir = await mkdtemp(join(this.d.scratchDir, 'ref-'));
    const remove = () => rm(dir, { recursive: true, force: true });
    try {
      const path = join(dir, ref.files.source!.name);
      await pipeline(await blobs.get(ref.files.source!.blobKey), createWriteStream(path, { mode: 0o600 }));
      await pipeline(await blobs.get(ref.files.index!.blobKey), createWriteStream(`${path}.fai`, { mode: 0o600 }));
      return { path, remove };
    } catch (e) {
      await remove();
      throw e;
    }
  }

  async open(accountId: string, storeId: string, id: string, file: 'SOURCE' | 'INDEX', partNumber: number, range?: string): Promise<Readable> {
    const ref = await this.get(accountId, storeId, id);
    const f = file === 'INDEX' ? ref.files.index : ref.files.source;
    if (!f) throw new NotFoundError(`Reference ${id} has no ${file} file.`);
    const store = await this.stores.get(accountId, storeId);
    return storeBlobs(this.d, store.dataKey).get(f.blobKey, rangeWithinPart(partRange(f, partNumber), range), { lend: true });
  }

  async delete(accountId: string, storeId: string, id: string): Promise<void> {
    const ref = await this.get(accountId, storeId, id);
    const users = await this.d.db.readSets.countByReference(ref.arn);
    if (users > 0) throw new ConflictError(`Reference ${id} is linked to ${users} read set(s); delete them before deleting the reference.`);
    await this.d.db.references.delete(storeId, id);
    await this.d.db.tags.deleteAll(ref.arn);
    for (const f of Object.values(ref.files)) if (f) await this.d.blobs.delete(f.blobKey);
  }

  // ---- import jobs

  async startImportJob(
    accountId: string,
    storeId: string,
    input: { roleArn: string; clientToken?: string; sources: { sourceFile: string; name: string; description?: string; tags?: Record<string, string> }[] },
  ): Promise<JobRecord<ReferenceImportPayload>> {
    await this.stores.get(accountId, storeId);
    checkJobRole(input.roleArn, accountId);
    for (const s of input.sources) {
      this.sources.checkForm(s.sourceFile);
      checkNewTags(s.tags, this.d.quotas.maxTagsPerResource);
    }
    return this.importJobs.submit(accountId, storeId, input.clientToken, { ...input }, {
      roleArn: input.roleArn,
      items: input.sources.map((src) => ({ ...src, status: 'NOT_STARTED' as const })),
    });
  }

  async getImportJob(accountId: string, storeId: string, id: string): Promise<JobRecord<ReferenceImportPayload>> {
    await this.stores.get(accountId, storeId);
    return this.importJobs.get(accountId, storeId, id);
  }

  async listImportJobs(accountId: string, storeId: string, q: JobQuery, page: PageRequest): Promise<Page<JobRecord<ReferenceImportPayload>>> {
    await this.stores.get(accountId, storeId);
    return this.importJobs.list(storeId, q, page);
  }

  /** Gives up a reference import: items not done fail with the reason (a reference already stored counts as done). */
  importGiveUp(): GiveUpHandler<ReferenceImportPayload> {
    return (job, reason) => giveUpItems(job, reason, async (src) => !!src.referenceId && !!(await this.d.db.references.get(job.storeId, src.referenceId)));
  }

  /** Runs a reference import job: one source at a time, progress saved after each (a re-run resumes). */
  importHandler(): JobHandler<ReferenceImportPayload> {
    return async (job, ctx) => {
      const store = await this.d.db.referenceStores.get(job.accountId, job.storeId);
      return runItems(job, ctx, {
        // The id is chosen and saved before any work, so a re-run after a crash reuses it.
        prepare: (src) => {
          src.referenceId = newNumericId();
        },
        work: async (src) => {
          if (!store) throw new NotFoundError('The reference store was deleted.');
          if (await this.d.db.references.get(job.storeId, src.referenceId!)) return;
          await this.importOne(job, ctx, store.dataKey, src);
        },
      });
    };
  }

  private async importOne(job: JobRecord, ctx: JobContext<ReferenceImportPayload>, dataKey: string, src: ReferenceImportSource): Promise<void> {
    const id = src.referenceId!;
    const file = await this.sources.resolve(src.sourceFile, { accountId: job.accountId, roleArn: (job.payload as ReferenceImportPayload).roleArn });
    if (file.size > MAX_REFERENCE_BYTES) throw new ValidationError(`${file.name} is ${file.size} bytes; a reference file is at most 15 GB.`);
    const blobs = storeBlobs(this.d, dataKey);
    const keys = { source: blobKeys.referenceFile(job.storeId, id, 'source'), index: blobKeys.referenceFile(job.storeId, id, 'index') };
    await writeUnderLease(blobs, Object.values(keys), ctx, async (tees) => {
      const tee = teeIntoBlob(file.open(), blobs, keys.source);
      tees.push(tee);
      const info = await inspectFasta(tee.data, { fileName: file.name });
      const { size } = await tee.finish();
      const index = await blobs.put(keys.index, Readable.from([Buffer.from(info.fai)]));
      const now = this.d.now();
      const rec: ReferenceRecord = {
        id,
        referenceStoreId: job.storeId,
        accountId: job.accountId,
        status: 'ACTIVE',
        name: src.name,
        description: src.description ?? null,
        md5: info.fileMd5,
        creationJobId: job.id,
        files: { source: storedFile(keys.source, file.name, size), index: storedFile(keys.index, `${file.name}.fai`, index.size) },
        sequences: info.sequences.map((s) => ({ name: s.name, length: s.length, md5: s.md5 })),
        creationTime: now,
        updateTime: now,
      };
      await ctx.fenced(async (tx) => {
        await tx.references.insert(rec);
        if (src.tags) await tx.tags.put(referenceArn(this.d.partition, job.accountId, job.storeId, id), src.tags);
      });
    });
  }
}
