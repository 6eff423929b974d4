import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, QuotaExceededError, ValidationError } from '../core/errors.js';
import type { Page } from '../core/pagination.js';
import { submittedJob, type JobRecord, type JobStatus } from '../db/job-records.js';
import type { PageRequest } from '../db/query.js';
import type { GiveUpHandler, JobHandler } from '../jobs/runner.js';
import type { DomainDeps } from '../storage/context.js';
import type { DataLocations } from '../storage/locations.js';
import type { ReferenceService } from '../storage/references.js';
import { giveUpItems, jobStatusOf, runItems, type JobItem } from '../storage/storage-jobs.js';
import type { VariantFileRecord } from './entities.js';
import { vcfToParquet } from './vcf-rows.js';
import { analyticsBlobKeys, ANALYTICS_IMPORT_KINDS, type VariantStoreService } from './variant-stores.js';

export const VARIANT_IMPORT_JOB = 'VariantImport';

/** Files per variant import job and bytes per file (spec analytics §5). */
const MAX_ITEMS = 1000;
const MAX_FILE_BYTES = 20 * 1000 ** 3;

export interface VariantImportItem extends JobItem {
  source: string;
  /** The Parquet files this item made (written, not yet visible). */
  files?: Omit<VariantFileRecord, 'creationTime'>[];
}

export interface VariantImportPayload {
  storeName: string;
  roleArn: string;
  runLeftNormalization: boolean;
  annotationFields: Record<string, string> | null;
  items: VariantImportItem[];
  /** When the job's files were made visible (set in the same transaction). */
  published?: boolean;
}

export interface StartVariantImportInput {
  destinationName: string;
  roleArn: string;
  items: { source: string }[];
  runLeftNormalization?: boolean;
  annotationFields?: Record<string, string>;
}

/** An item's status in the API's words. */
export function itemStatus(i: VariantImportItem): Exclude<JobStatus, 'CANCELLING'> {
  return i.status === 'NOT_STARTED' ? 'SUBMITTED' : i.status === 'FINISHED' ? 'COMPLETED' : i.status;
}

/**
 * Variant import jobs (spec analytics §2.5, §4.2): VCF and bgzipped VCF files from `s3://` (through a storage
 * connection, with the job's role) or `file:///` (under an import root) become the store's rows. Each item is
 * converted on its own (vcf-rows.ts) and its Parquet files are written encrypted under the job's folder; the
 * files of the items that succeeded become visible together, in one transaction, when the job ends — so a job
 * that fails or is cancelled leaves no rows, and a query never sees half an import.
 */
export class VariantImportService {
  constructor(
    private readonly d: DomainDeps,
    private readonly stores: VariantStoreService,
    private readonly references: ReferenceService,
    private readonly locations: DataLocations,
    private readonly kick: () => void,
  ) {}

  async start(accountId: string, input: StartVariantImportInput): Promise<string> {
    const store = await this.stores.get(accountId, input.destinationName);
    if (store.status !== 'ACTIVE') throw new ValidationError(`Variant store ${store.name} is ${store.status}, not ACTIVE.`);
    const other = Object.keys(input.annotationFields ?? {}).filter((k) => k !== 'VEP');
    if (other.length) throw new ValidationError(`annotationFields: only VEP annotations are parsed, not ${other.join(', ')}.`);
    if (input.items.length > MAX_ITEMS) throw new QuotaExceededError(`A variant import job takes at most ${MAX_ITEMS} files; this one has ${input.items.length}.`);
    let active = 0;
    for (const kind of ANALYTICS_IMPORT_KINDS) active += await this.d.db.jobs.countActive(kind, accountId);
    if (active >= this.d.quotas.maxConcurrentAnalyticsImports) {
      throw new QuotaExceededError(`The account already has ${active} variant or annotation import job(s) running, the maximum of ${this.d.quotas.maxConcurrentAnalyticsImports}.`);
    }
    const id = randomUUID();
    const payload: VariantImportPayload = {
      storeName: store.name,
      roleArn: input.roleArn,
      runLeftNormalization: input.runLeftNormalization ?? false,
      annotationFields: input.annotationFields ?? null,
      items: input.items.map((i) => ({ source: i.source, status: 'NOT_STARTED' })),
    };
    await this.d.db.jobs.insert(submittedJob(id, VARIANT_IMPORT_JOB, accountId, store.id, payload, this.d.now()));
    this.kick();
    return id;
  }

  async get(accountId: string, jobId: string): Promise<JobRecord<VariantImportPayload>> {
    const j = await this.d.db.jobs.getById(jobId);
    if (!j || j.kind !== VARIANT_IMPORT_JOB || j.accountId !== accountId) throw new NotFoundError(`Variant import job ${jobId} not found.`);
    return j as JobRecord<VariantImportPayload>;
  }

  async list(accountId: string, q: { ids?: string[]; status?: string; storeName?: string }, page: PageRequest): Promise<Page<JobRecord<VariantImportPayload>>> {
    let storeId: string | undefined;
    if (q.storeName !== undefined) {
      const store = await this.d.db.variantStores.get(accountId, q.storeName);
      if (!store) return { items: [] };
      storeId = store.id;
    }
    const res = await this.d.db.jobs.listForAccount(VARIANT_IMPORT_JOB, accountId, { ids: q.ids, status: q.status, storeId }, page);
    return res as Page<JobRecord<VariantImportPayload>>;
  }

  /** CANCELLED at once; the worker running it stops at its next write and removes what it wrote. */
  async cancel(accountId: string, jobId: string): Promise<void> {
    const j = await this.get(accountId, jobId);
    if (!(await this.d.db.jobs.cancel(j.id, this.d.now()))) throw new ValidationError(`Variant import job ${jobId} is ${j.status}: only a job in progress can be cancelled.`);
  }

  handler(): JobHandler<VariantImportPayload> {
    return async (job, ctx) => {
      const store = await this.d.db.variantStores.getById(job.storeId);
      if (!store) {
        const items = job.payload.items.map((i) => ({ ...i, status: 'FAILED' as const, statusMessage: 'The variant store was deleted.' }));
        return { status: 'FAILED', statusMessage: 'The variant store was deleted.', payload: { ...job.payload, items } };
      }
      const blobs = this.stores.blobs(store);
      const prefix = analyticsBlobKeys.variantImport(store.id, job.id);
      // An attempt that published and then died before ending the job: what it published stands.
      if (await this.published(store.id, job.id)) return { ...jobStatusOf(job.payload.items), payload: { ...job.payload, published: true } };
      try {
        const contigs = new Set((await this.references.sequencesOf(job.accountId, store.referenceArn)).map((s) => s.name));
        const outcome = await runItems(job, ctx, {
          work: async (item) => {
            const dir = await mkdtemp(join(this.d.scratchDir, 'vcf-'));
            const reference = job.payload.runLeftNormalization ? await this.references.decryptedFasta(job.accountId, store.referenceArn) : undefined;
            try {
              const src = await this.locations.resolve(item.source, { accountId: job.accountId, roleArn: job.payload.roleArn });
              if (src.size > MAX_FILE_BYTES) throw new ValidationError(`${item.source} is ${src.size} bytes; a variant import file may be at most ${MAX_FILE_BYTES}.`);
              const local = join(dir, item.source.endsWith('.gz') ? 'input.vcf.gz' : 'input.vcf');
              await pipeline(src.open(), createWriteStream(local, { mode: 0o600 }));
              const vepField = job.payload.annotationFields?.['VEP'];
              const samples = await vcfToParquet({ vcf: local, source: item.source, contigs, normalizeAgainst: reference?.path, vepField, workDir: dir, signal: ctx.signal });
              const n = job.payload.items.indexOf(item);
              item.files = [];
              for (const [k, f] of samples.entries()) {
                const blobKey = `${prefix}${n}-${k}.parquet`;
                const { size } = await blobs.put(blobKey, createReadStream(f.path));
                item.files.push({ storeId: store.id, blobKey, sampleId: f.sampleId, jobId: job.id, rows: f.rows, sizeBytes: size });
              }
            } finally {
              await reference?.remove();
              await rm(dir, { recursive: true, force: true });
            }
          },
        });
        // Every finished item's files become visible at once, under the lease: a cancelled job (whose lease is
        // gone) publishes nothing.
        const now = this.d.now();
        const files = outcome.payload.items.flatMap((i) => (i.status === 'FINISHED' ? (i.files ?? []) : [])).map((f) => ({ ...f, creationTime: now }));
        await ctx.fenced((tx) => tx.variantStores.addFiles(files));
        outcome.payload.published = true;
        for (const i of outcome.payload.items) if (i.status === 'FAILED') await this.removeFiles(i);
        return outcome;
      } catch (e) {
        const now = await this.d.db.jobs.getById(job.id);
        if (now?.status === 'CANCELLED') await this.removePrefix(prefix);
        throw e;
      }
    };
  }

  giveUp(): GiveUpHandler<VariantImportPayload> {
    return async (job, reason) => {
      const store = await this.d.db.variantStores.getById(job.storeId);
      if (store && (await this.published(store.id, job.id))) return { ...jobStatusOf(job.payload.items), payload: { ...job.payload, published: true } };
      if (store) await this.removePrefix(analyticsBlobKeys.variantImport(store.id, job.id));
      const outcome = await giveUpItems(job, reason);
      for (const i of outcome.payload.items) delete i.files;
      return outcome;
    };
  }

  private async published(storeId: string, jobId: string): Promise<boolean> {
    return (await this.d.db.variantStores.files(storeId)).some((f) => f.jobId === jobId);
  }

  private async removeFiles(item: VariantImportItem): Promise<void> {
    for (const f of item.files ?? []) await this.d.blobs.delete(f.blobKey);
    delete item.files;
  }

  private async removePrefix(prefix: string): Promise<void> {
    for await (const b of this.d.blobs.list(prefix)) await this.d.blobs.delete(b.key);
  }
}
