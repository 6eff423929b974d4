import { readSetArn } from '../core/arn.js';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { newNumericId } from '../core/ids.js';
import type { Page } from '../core/pagination.js';
import type { JobQuery, JobRecord } from '../db/job-records.js';
import type { PageRequest } from '../db/query.js';
import type { FileType, ReadSetRecord } from './entities.js';
import type { EtagFamily } from '../formats/hashing.js';
import type { DeclaredFileType } from '../formats/sniff.js';
import type { GiveUpHandler, JobHandler } from '../jobs/runner.js';
import type { DomainDeps } from './context.js';
import { indexName, storeAndInspect } from './ingest.js';
import { checkJobRole, type DataLocations, type SourceFile } from './locations.js';
import { safeFileName, storedFile } from './read-set-files.js';
import type { ReferenceService } from './references.js';
import type { SequenceStoreService } from './sequence-stores.js';
import { giveUpItems, JobBook, runItems, type ItemsPayload, type JobItem } from './storage-jobs.js';
import { blobKeys, storeBlobs } from './store-storage.js';
import { checkNewTags } from './tags.js';

export const READ_SET_IMPORT_JOB = 'ReadSetImport';
export const READ_SET_EXPORT_JOB = 'ReadSetExport';
/** Spec §2.3: a source file is at most 976 GB. */
export const MAX_IMPORT_SOURCE_BYTES = 976_000_000_000;

export interface ImportSourceItem extends JobItem {
  sourceFiles: { source1: string; source2?: string };
  sourceFileType: FileType;
  subjectId: string;
  sampleId: string;
  generatedFrom?: string;
  referenceArn?: string;
  name?: string;
  description?: string;
  tags?: Record<string, string>;
  readSetId?: string;
}

export interface ReadSetImportPayload extends ItemsPayload<ImportSourceItem> {
  roleArn: string;
}

export interface ExportItem extends JobItem {
  readSetId: string;
}

export interface ReadSetExportPayload extends ItemsPayload<ExportItem> {
  roleArn: string;
  destination: string;
}

/**
 * Imported files keep their names (spec §2.10); when both FASTQ sources have
 * the same name, `_source1`/`_source2` go before `.fastq.gz`/`.fq.gz`.
 */
export function importFileNames(name1: string, name2?: string): { source1: string; source2?: string } {
  const a = safeFileName(name1);
  if (name2 === undefined) return { source1: a };
  const b = safeFileName(name2);
  if (a !== b) return { source1: a, source2: b };
  const m = /^(.*?)(\.(?:fastq|fq)(?:\.gz)?)?$/i.exec(a)!;
  const stem = m[1]!;
  const ext = m[2] ?? '';
  return { source1: `${stem}_source1${ext}`, source2: `${stem}_source2${ext}` };
}

/** Read set import and export jobs (spec §1.5, §1.7, §2.3, §2.7). */
export class ReadSetJobService {
  private readonly imports: JobBook<ReadSetImportPayload>;
  private readonly exports: JobBook<ReadSetExportPayload>;

  constructor(
    private readonly d: DomainDeps,
    private readonly stores: SequenceStoreService,
    private readonly references: ReferenceService,
    private readonly locations: DataLocations,
    onJobSubmitted: () => void = () => {},
  ) {
    this.imports = new JobBook(d, READ_SET_IMPORT_JOB, 'Read set import job', onJobSubmitted);
    this.exports = new JobBook(d, READ_SET_EXPORT_JOB, 'Read set export job', onJobSubmitted);
  }

  // ---- import

  async startImport(
    accountId: string,
    storeId: string,
    input: { roleArn: string; clientToken?: string; sources: Omit<ImportSourceItem, 'status'>[] },
  ): Promise<JobRecord<ReadSetImportPayload>> {
    const store = await this.stores.get(accountId, storeId);
    if (store.status !== 'ACTIVE') throw new ConflictError(`Sequence store ${storeId} is ${store.status}.`);
    checkJobRole(input.roleArn, accountId);
    input.sources.forEach((src, i) => {
      this.locations.checkForm(src.sourceFiles.source1);
      if (src.sourceFiles.source2 !== undefined) {
        this.locations.checkForm(src.sourceFiles.source2);
        if (src.sourceFileType !== 'FASTQ') throw new ValidationError(`sources[${i}]: source2 is only for the second file of paired FASTQ.`);
      }
      if (src.sourceFileType === 'CRAM' && !src.referenceArn) throw new ValidationError(`sources[${i}]: a CRAM read set needs a referenceArn.`);
      checkNewTags(src.tags, this.d.quotas.maxTagsPerResource);
    });
    return this.imports.submit(accountId, storeId, input.clientToken, { ...input }, {
      roleArn: input.roleArn,
      items: input.sources.map((src) => ({ ...src, status: 'NOT_STARTED' as const })),
    });
  }

  async getImport(accountId: string, storeId: string, id: string): Promise<JobRecord<ReadSetImportPayload>> {
    await this.stores.get(accountId, storeId);
    return this.imports.get(accountId, storeId, id);
  }

  async listImports(accountId: string, storeId: string, q: JobQuery, page: PageRequest): Promise<Page<JobRecord<ReadSetImportPayload>>> {
    await this.stores.get(accountId, storeId);
    return this.imports.list(storeId, q, page);
  }

  /** Gives up an import: items not done fail with the reason (a read set already created counts as done). */
  importGiveUp(): GiveUpHandler<ReadSetImportPayload> {
    return (job, reason) => giveUpItems(job, reason, async (item) => !!item.readSetId && !!(await this.d.db.readSets.get(job.storeId, item.readSetId)));
  }

  exportGiveUp(): GiveUpHandler<ReadSetExportPayload> {
    return (job, reason) => giveUpItems(job, reason);
  }

  importHandler(): JobHandler<ReadSetImportPayload> {
    return async (job, ctx) => {
      const store = await this.d.db.sequenceStores.get(job.accountId, job.storeId);
      return runItems(job, ctx, {
        // The read set id is chosen and saved first: a re-run after a crash finishes the same read set.
        prepare: (item) => {
          item.readSetId = newNumericId();
        },
        work: async (item) => {
          if (!store) throw new NotFoundError('The sequence store was deleted.');
          if (await this.d.db.readSets.get(job.storeId, item.readSetId!)) return;
          const who = { accountId: job.accountId, roleArn: job.payload.roleArn };
          const files: SourceFile[] = [await this.locations.resolve(item.sourceFiles.source1, who)];
          if (item.sourceFiles.source2) files.push(await this.locations.resolve(item.sourceFiles.source2, who));
          for (const f of files) {
            if (f.size > MAX_IMPORT_SOURCE_BYTES) throw new ValidationError(`${f.name} is ${f.size} bytes; a source file is at most 976 GB.`);
          }
          const reference = item.referenceArn ? await this.references.sequencesOf(job.accountId, item.referenceArn) : undefined;
          const names = importFileNames(files[0]!.name, files[1]?.name);
          const id = item.readSetId!;
          const blobs = storeBlobs(this.d, store.dataKey);
          // A CRAM decodes against its reference, decrypted for this item only.
          const fasta = item.sourceFileType === 'CRAM' && item.referenceArn ? await this.references.decryptedFasta(job.accountId, item.referenceArn) : undefined;
          const { inspection, stored } = await storeAndInspect(
            blobs,
            job.storeId,
            id,
            item.sourceFileType as DeclaredFileType,
            {
              source1: { name: files[0]!.name, open: () => files[0]!.open() },
              ...(files[1] ? { source2: { name: files[1].name, open: () => files[1]!.open() } } : {}),
            },
            { etagFamily: store.eTagAlgorithmFamily as EtagFamily, ...(reference ? { reference } : {}), ...(fasta ? { cram: { referenceFasta: fasta.path, scratchDir: this.d.scratchDir } } : {}) },
            ctx,
          ).finally(() => fasta?.remove());
          const now = this.d.now();
          const rec: ReadSetRecord = {
            id,
            sequenceStoreId: job.storeId,
            accountId: job.accountId,
            status: 'ACTIVE',
            statusMessage: null,
            name: item.name ?? null,
            description: item.description ?? null,
            subjectId: item.subjectId,
            sampleId: item.sampleId,
            generatedFrom: item.generatedFrom ?? null,
            referenceArn: item.referenceArn ?? null,
            fileType: item.sourceFileType,
            creationType: 'IMPORT',
            creationJobId: job.id,
            sequenceInformation: { ...inspection.sequenceInformation, ...(item.generatedFrom ? { generatedFrom: item.generatedFrom } : {}) },
            etag: inspection.etag,
            files: {
              source1: storedFile(blobKeys.readSetFile(job.storeId, id, 'source1'), names.source1, stored.source1),
              ...(names.source2 && stored.source2 ? { source2: storedFile(blobKeys.readSetFile(job.storeId, id, 'source2'), names.source2, stored.source2) } : {}),
              ...(stored.index ? { index: storedFile(blobKeys.readSetFile(job.storeId, id, 'index'), indexName(names.source1, inspection), stored.index) } : {}),
            },
            creationTime: now,
            updateTime: now,
            lastAccessTime: now,
          };
          await ctx.fenced(async (tx) => {
            await tx.readSets.insert(rec);
            if (item.tags) await tx.tags.put(readSetArn(this.d.partition, job.accountId, job.storeId, id), item.tags);
          });
        },
      });
    };
  }

  // ---- export

  async startExport(
    accountId: string,
    storeId: string,
    input: { roleArn: string; destination: string; clientToken?: string; sources: { readSetId: string }[] },
  ): Promise<JobRecord<ReadSetExportPayload>> {
    await this.stores.get(accountId, storeId);
    checkJobRole(input.roleArn, accountId);
    await this.locations.target(input.destination, { accountId, roleArn: input.roleArn });
    return this.exports.submit(accountId, storeId, input.clientToken, { ...input }, {
      roleArn: input.roleArn,
      destination: input.destination,
      items: input.sources.map((s) => ({ readSetId: s.readSetId, status: 'NOT_STARTED' as const })),
    });
  }

  async getExport(accountId: string, storeId: string, id: string): Promise<JobRecord<ReadSetExportPayload>> {
    await this.stores.get(accountId, storeId);
    return this.exports.get(accountId, storeId, id);
  }

  async listExports(accountId: string, storeId: string, q: JobQuery, page: PageRequest): Promise<Page<JobRecord<ReadSetExportPayload>>> {
    await this.stores.get(accountId, storeId);
    return this.exports.list(storeId, q, page);
  }

  /** Writes each read set's files, byte for byte as stored, to `<destination>/<readSetId>/<file name>`. */
  exportHandler(): JobHandler<ReadSetExportPayload> {
    return async (job, ctx) => {
      const store = await this.d.db.sequenceStores.get(job.accountId, job.storeId);
      return runItems(job, ctx, {
        work: async (item) => {
          if (!store) throw new NotFoundError('The sequence store was deleted.');
          const rs = await this.d.db.readSets.get(job.storeId, item.readSetId);
          if (!rs || rs.accountId !== job.accountId) throw new NotFoundError(`Read set ${item.readSetId} not found.`);
          if (rs.status !== 'ACTIVE') throw new ValidationError(`Read set ${item.readSetId} is ${rs.status}; only ACTIVE read sets can be exported${rs.status === 'ARCHIVED' ? ' (activate it first)' : ''}.`);
          const target = await this.locations.target(job.payload.destination, { accountId: job.accountId, roleArn: job.payload.roleArn });
          const blobs = storeBlobs(this.d, store.dataKey);
          for (const f of Object.values(rs.files)) {
            if (f) await target.write(`${rs.id}/${f.name}`, await blobs.get(f.blobKey));
          }
          await this.d.db.readSets.update(job.storeId, rs.id, { lastAccessTime: this.d.now(), updateTime: rs.updateTime });
        },
      });
    };
  }
}
