import { ValidationError } from '../core/errors.js';
import type { Page } from '../core/pagination.js';
import type { JobRecord } from '../db/job-records.js';
import type { PageRequest } from '../db/query.js';
import type { GiveUpHandler, JobHandler } from '../jobs/runner.js';
import type { DomainDeps } from '../storage/context.js';
import type { DataLocations } from '../storage/locations.js';
import type { ReferenceService } from '../storage/references.js';
import { AnalyticsImportJobs, VARIANT_IMPORT_JOB, type ImportPayload } from './import-jobs.js';
import { vcfToParquet } from './vcf-rows.js';
import type { VariantStoreService } from './variant-stores.js';

export { VARIANT_IMPORT_JOB };

/** Files per variant import job (spec analytics §5). */
const MAX_ITEMS = 1000;

export type VariantImportPayload = ImportPayload;

export interface StartVariantImportInput {
  destinationName: string;
  roleArn: string;
  items: { source: string }[];
  runLeftNormalization?: boolean;
  annotationFields?: Record<string, string>;
}

/**
 * Variant import jobs (spec analytics §2.5, §4.2): VCF and bgzipped VCF files become the store's rows
 * (vcf-rows.ts), checked against the store's reference and, on request, left-normalised against it; VEP output
 * is parsed when `annotationFields` names its INFO field. The job machinery is import-jobs.ts.
 */
export class VariantImportService {
  private readonly jobs: AnalyticsImportJobs<VariantImportPayload>;

  constructor(
    private readonly d: DomainDeps,
    private readonly stores: VariantStoreService,
    private readonly references: ReferenceService,
    locations: DataLocations,
    kick: () => void,
  ) {
    this.jobs = new AnalyticsImportJobs<VariantImportPayload>(
      d,
      locations,
      {
        kind: VARIANT_IMPORT_JOB,
        label: 'Variant import job',
        target: async (job) => {
          const store = await this.d.db.variantStores.getById(job.storeId);
          return store && { storeId: store.id, versionName: '', dataKey: store.dataKey };
        },
        convert: async (job, item, file, dir, signal) => {
          const store = (await this.d.db.variantStores.getById(job.storeId))!;
          const contigs = new Set((await this.references.sequencesOf(job.accountId, store.referenceArn)).map((s) => s.name));
          const reference = job.payload.runLeftNormalization ? await this.references.decryptedFasta(job.accountId, store.referenceArn) : undefined;
          try {
            return await vcfToParquet({ vcf: file, source: item.source, contigs, normalizeAgainst: reference?.path, vepField: job.payload.annotationFields?.['VEP'], workDir: dir, signal });
          } finally {
            await reference?.remove();
          }
        },
        addSize: (tx, target, bytes) => tx.variantStores.addSize(target.storeId, bytes),
      },
      kick,
    );
  }

  async start(accountId: string, input: StartVariantImportInput): Promise<string> {
    const store = await this.stores.get(accountId, input.destinationName);
    if (store.status !== 'ACTIVE') throw new ValidationError(`Variant store ${store.name} is ${store.status}, not ACTIVE.`);
    const other = Object.keys(input.annotationFields ?? {}).filter((k) => k !== 'VEP');
    if (other.length) throw new ValidationError(`annotationFields: only VEP annotations are parsed, not ${other.join(', ')}.`);
    return this.jobs.submit(
      accountId,
      store.id,
      {
        storeName: store.name,
        versionName: '',
        roleArn: input.roleArn,
        runLeftNormalization: input.runLeftNormalization ?? false,
        annotationFields: input.annotationFields ?? null,
        items: input.items.map((i) => ({ source: i.source, status: 'NOT_STARTED' })),
      },
      MAX_ITEMS,
    );
  }

  get(accountId: string, jobId: string): Promise<JobRecord<VariantImportPayload>> {
    return this.jobs.get(accountId, jobId);
  }

  async list(accountId: string, q: { ids?: string[]; status?: string; storeName?: string }, page: PageRequest): Promise<Page<JobRecord<VariantImportPayload>>> {
    const storeId = q.storeName === undefined ? undefined : ((await this.d.db.variantStores.get(accountId, q.storeName))?.id ?? null);
    return this.jobs.list(accountId, { ids: q.ids, status: q.status, storeId }, page);
  }

  cancel(accountId: string, jobId: string): Promise<void> {
    return this.jobs.cancel(accountId, jobId);
  }

  handler(): JobHandler<VariantImportPayload> {
    return this.jobs.handler();
  }

  giveUp(): GiveUpHandler<VariantImportPayload> {
    return this.jobs.giveUp();
  }
}
