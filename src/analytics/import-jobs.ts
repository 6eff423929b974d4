import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, QuotaExceededError, ValidationError } from '../core/errors.js';
import type { Page } from '../core/pagination.js';
import { submittedJob, type JobRecord, type JobStatus } from '../db/job-records.js';
import type { DataTransaction } from '../db/metadata-store.js';
import type { PageRequest } from '../db/query.js';
import type { GiveUpHandler, JobHandler } from '../jobs/runner.js';
import type { DomainDeps } from '../storage/context.js';
import type { DataLocations } from '../storage/locations.js';
import { deleteStoreBlobs, storeBlobs, storePrefix } from '../storage/store-storage.js';
import { giveUpItems, jobStatusOf, runItems, type JobItem } from '../storage/storage-jobs.js';
import type { AnalyticsFileRecord } from './entities.js';
import type { SampleRows } from './parquet.js';

/** Bytes per import file (spec analytics §5). */
const MAX_FILE_BYTES = 20 * 1000 ** 3;

export const VARIANT_IMPORT_JOB = 'VariantImport';
export const ANNOTATION_IMPORT_JOB = 'AnnotationImport';
/** Import job kinds that count against the concurrent analytics import quota (spec analytics §5). */
export const ANALYTICS_IMPORT_KINDS = [VARIANT_IMPORT_JOB, ANNOTATION_IMPORT_JOB];

export interface ImportItem extends JobItem {
  source: string;
  /** The Parquet files this item made (written, not yet visible). */
  files?: Omit<AnalyticsFileRecord, 'creationTime'>[];
}

export interface ImportPayload {
  storeName: string;
  /** The annotation store version imported into ('' for variant stores). */
  versionName: string;
  roleArn: string;
  runLeftNormalization: boolean;
  annotationFields: Record<string, string> | null;
  items: ImportItem[];
}

/** Where an import job's rows go. */
export interface ImportTarget {
  storeId: string;
  versionName: string;
  dataKey: string;
}

/** An item's status in the API's words. */
export function itemStatus(i: ImportItem): Exclude<JobStatus, 'CANCELLING'> {
  return i.status === 'NOT_STARTED' ? 'SUBMITTED' : i.status === 'FINISHED' ? 'COMPLETED' : i.status;
}

export function importBlobPrefix(storeId: string, jobId: string): string {
  return `${storePrefix.analytics(storeId)}${jobId}/`;
}

/** A store's import jobs that have not ended (deleting the store or a version cancels them, or refuses). */
export async function unfinishedImports(d: DomainDeps, kind: string, accountId: string, storeId: string): Promise<JobRecord<ImportPayload>[]> {
  const out: JobRecord[] = [];
  for (const status of ['SUBMITTED', 'IN_PROGRESS']) out.push(...(await d.db.jobs.listForAccount(kind, accountId, { storeId, status }, { maxResults: 1000 })).items);
  return out as JobRecord<ImportPayload>[];
}

/** What one kind of import does: where its rows go, how one file becomes rows, how a store's size grows. */
export interface ImportKind<P extends ImportPayload> {
  kind: string;
  /** "Variant import job" */
  label: string;
  /** The job's target, or undefined if the store (or version) is gone. */
  target(job: JobRecord<P>): Promise<ImportTarget | undefined>;
  /** One local file as Parquet files in `dir` (throws a content error for a bad file). */
  convert(job: JobRecord<P>, item: ImportItem, file: string, dir: string, signal: AbortSignal): Promise<SampleRows[]>;
  /** Adds published bytes to the store's (or version's) size, in the publishing transaction. */
  addSize(tx: DataTransaction, target: ImportTarget, bytes: number): Promise<void>;
  /** The API shows no per-item message (annotation import items are `{source, jobStatus}`): the job's says why items failed. */
  itemMessagesInJob?: boolean;
}

/**
 * Import jobs of analytics stores (spec analytics §2.5): submitted with their items, each item's file staged
 * from `s3://` (through a connection, with the job's role) or `file:///` and converted on its own; the Parquet
 * files are written encrypted under the job's folder and become visible together, in one transaction under the
 * job's lease, when the job ends — a job that fails or is cancelled leaves no rows, a query never sees half an
 * import, and an attempt that published before dying is not published twice.
 */
export class AnalyticsImportJobs<P extends ImportPayload> {
  constructor(
    private readonly d: DomainDeps,
    private readonly locations: DataLocations,
    private readonly k: ImportKind<P>,
    private readonly kick: () => void,
  ) {}

  async submit(accountId: string, storeId: string, payload: P, maxItems: number): Promise<string> {
    if (payload.items.length > maxItems) throw new QuotaExceededError(`A ${this.k.label.toLowerCase()} takes at most ${maxItems} file(s); this one has ${payload.items.length}.`);
    let active = 0;
    for (const kind of ANALYTICS_IMPORT_KINDS) active += await this.d.db.jobs.countActive(kind, accountId);
    if (active >= this.d.quotas.maxConcurrentAnalyticsImports) {
      throw new QuotaExceededError(`The account already has ${active} variant or annotation import job(s) running, the maximum of ${this.d.quotas.maxConcurrentAnalyticsImports}.`);
    }
    const id = randomUUID();
    await this.d.db.jobs.insert(submittedJob(id, this.k.kind, accountId, storeId, payload, this.d.now()));
    this.kick();
    return id;
  }

  async get(accountId: string, jobId: string): Promise<JobRecord<P>> {
    const j = await this.d.db.jobs.getById(jobId);
    if (!j || j.kind !== this.k.kind || j.accountId !== accountId) throw new NotFoundError(`${this.k.label} ${jobId} not found.`);
    return j as JobRecord<P>;
  }

  async list(accountId: string, q: { ids?: string[]; status?: string; storeId?: string | null }, page: PageRequest): Promise<Page<JobRecord<P>>> {
    if (q.storeId === null) return { items: [] };
    const res = await this.d.db.jobs.listForAccount(this.k.kind, accountId, { ids: q.ids, status: q.status, storeId: q.storeId }, page);
    return res as Page<JobRecord<P>>;
  }

  /** CANCELLED at once; the worker running it stops at its next write and removes what it wrote. */
  async cancel(accountId: string, jobId: string): Promise<void> {
    const j = await this.get(accountId, jobId);
    if (!(await this.d.db.jobs.cancel(j.id, this.d.now()))) throw new ValidationError(`${this.k.label} ${jobId} is ${j.status}: only a job in progress can be cancelled.`);
  }

  handler(): JobHandler<P> {
    return async (job, ctx) => {
      const target = await this.k.target(job);
      if (!target) {
        const items = job.payload.items.map((i) => ({ ...i, status: 'FAILED' as const, statusMessage: 'The store was deleted.' }));
        return { status: 'FAILED', statusMessage: 'The store was deleted.', payload: { ...job.payload, items } };
      }
      if (await this.d.db.analyticsFiles.published(target.storeId, job.id)) return { ...jobStatusOf(job.payload.items), payload: job.payload };
      const blobs = storeBlobs(this.d, target.dataKey);
      const prefix = importBlobPrefix(target.storeId, job.id);
      try {
        const outcome = await runItems(job, ctx, {
          work: async (item) => {
            const dir = await mkdtemp(join(this.d.scratchDir, 'import-'));
            try {
              const src = await this.locations.resolve(item.source, { accountId: job.accountId, roleArn: job.payload.roleArn });
              if (src.size > MAX_FILE_BYTES) throw new ValidationError(`${item.source} is ${src.size} bytes; an import file may be at most ${MAX_FILE_BYTES}.`);
              const local = join(dir, item.source.endsWith('.gz') ? 'input.gz' : 'input');
              await pipeline(src.open(), createWriteStream(local, { mode: 0o600 }));
              const made = await this.k.convert(job, item, local, dir, ctx.signal);
              const n = job.payload.items.indexOf(item);
              item.files = [];
              for (const [k, f] of made.entries()) {
                const blobKey = `${prefix}${n}-${k}.parquet`;
                const { size } = await blobs.put(blobKey, createReadStream(f.path));
                item.files.push({ storeId: target.storeId, versionName: target.versionName, blobKey, samples: f.samples, jobId: job.id, rows: f.rows, sizeBytes: size });
              }
            } finally {
              await rm(dir, { recursive: true, force: true });
            }
          },
        });
        // Every finished item's files become visible at once, under the lease: a cancelled job (whose lease is
        // gone) publishes nothing.
        const now = this.d.now();
        const files = outcome.payload.items.flatMap((i) => (i.status === 'FINISHED' ? (i.files ?? []) : [])).map((f) => ({ ...f, creationTime: now }));
        await ctx.fenced(async (tx) => {
          await tx.analyticsFiles.add(files);
          await this.k.addSize(tx, target, files.reduce((a, f) => a + f.sizeBytes, 0));
        });
        for (const i of outcome.payload.items) if (i.status === 'FAILED') await this.removeFiles(i);
        const failed = outcome.payload.items.filter((i) => i.status === 'FAILED');
        if (this.k.itemMessagesInJob && failed.length) return { ...outcome, statusMessage: failed.map((i) => i.statusMessage ?? `${i.source} failed`).join(' ').slice(0, 1000) };
        return outcome;
      } catch (e) {
        if ((await this.d.db.jobs.getById(job.id))?.status === 'CANCELLED') await deleteStoreBlobs(this.d, prefix);
        throw e;
      }
    };
  }

  giveUp(): GiveUpHandler<P> {
    return async (job, reason) => {
      const target = await this.k.target(job);
      if (target && (await this.d.db.analyticsFiles.published(target.storeId, job.id))) return { ...jobStatusOf(job.payload.items), payload: job.payload };
      if (target) await deleteStoreBlobs(this.d, importBlobPrefix(target.storeId, job.id));
      const outcome = await giveUpItems(job, reason);
      for (const i of outcome.payload.items) delete i.files;
      return outcome;
    };
  }

  private async removeFiles(item: ImportItem): Promise<void> {
    for (const f of item.files ?? []) await this.d.blobs.delete(f.blobKey);
    delete item.files;
  }
}
