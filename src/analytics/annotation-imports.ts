import { ValidationError } from '../core/errors.js';
import type { Page } from '../core/pagination.js';
import type { JobRecord } from '../db/job-records.js';
import type { PageRequest } from '../db/query.js';
import type { GiveUpHandler, JobHandler } from '../jobs/runner.js';
import type { DomainDeps } from '../storage/context.js';
import type { DataLocations } from '../storage/locations.js';
import type { ReferenceService } from '../storage/references.js';
import { gffToParquet, hasAlleles, tsvToParquet, type ReadOptions } from './annotation-rows.js';
import { ANNOTATION_IMPORT_JOB, type AnnotationStoreService } from './annotation-stores.js';
import { AnalyticsImportJobs, type ImportPayload } from './import-jobs.js';
import { vcfToParquet } from './vcf-rows.js';

export interface AnnotationFormatOptions {
  tsvOptions?: { readOptions?: ReadOptions };
  vcfOptions?: { ignoreQualField?: boolean; ignoreFilterField?: boolean };
}

export interface AnnotationImportPayload extends ImportPayload {
  formatOptions: AnnotationFormatOptions;
}

export interface StartAnnotationImportInput {
  destinationName: string;
  roleArn: string;
  items: { source: string }[];
  versionName?: string;
  formatOptions?: AnnotationFormatOptions;
  runLeftNormalization?: boolean;
  annotationFields?: Record<string, string>;
}

/**
 * Annotation import jobs (spec analytics §2.5, §4.3): one file per job (a fixed quota) into one version of an
 * annotation store — TSV/CSV read with the job's readOptions and typed by the version's schema, coordinates
 * normalised by its annotation type; GFF3; or VCF (sites only, `vcfOptions` may drop QUAL and FILTER, VEP parsed
 * on request). The job machinery is import-jobs.ts.
 */
export class AnnotationImportService {
  private readonly jobs: AnalyticsImportJobs<AnnotationImportPayload>;

  constructor(
    private readonly d: DomainDeps,
    private readonly stores: AnnotationStoreService,
    private readonly references: ReferenceService,
    locations: DataLocations,
    kick: () => void,
  ) {
    this.jobs = new AnalyticsImportJobs<AnnotationImportPayload>(
      d,
      locations,
      {
        kind: ANNOTATION_IMPORT_JOB,
        label: 'Annotation import job',
        target: async (job) => {
          const store = await this.d.db.annotationStores.getById(job.storeId);
          const version = store && (await this.d.db.annotationStores.getVersion(store.id, job.payload.versionName));
          return store && version ? { storeId: store.id, versionName: version.versionName, dataKey: store.dataKey } : undefined;
        },
        convert: async (job, item, file, dir, signal) => {
          const store = (await this.d.db.annotationStores.getById(job.storeId))!;
          const version = (await this.d.db.annotationStores.getVersion(store.id, job.payload.versionName))!;
          if (store.storeFormat === 'GFF') return gffToParquet({ file, source: item.source, workDir: dir });
          const reference = job.payload.runLeftNormalization && store.referenceArn ? await this.references.decryptedFasta(job.accountId, store.referenceArn) : undefined;
          try {
            if (store.storeFormat === 'TSV') {
              const options = version.versionOptions ?? store.storeOptions ?? {};
              return await tsvToParquet({ file, source: item.source, options, read: job.payload.formatOptions.tsvOptions?.readOptions ?? {}, workDir: dir, normalizeAgainst: reference?.path, signal });
            }
            const contigs = store.referenceArn ? new Set((await this.references.sequencesOf(job.accountId, store.referenceArn)).map((s) => s.name)) : undefined;
            const vcf = job.payload.formatOptions.vcfOptions ?? {};
            return await vcfToParquet({
              vcf: file,
              source: item.source,
              contigs,
              normalizeAgainst: reference?.path,
              vepField: job.payload.annotationFields?.['VEP'],
              sitesOnly: true,
              ignoreQual: vcf.ignoreQualField ?? false,
              ignoreFilter: vcf.ignoreFilterField ?? false,
              workDir: dir,
              signal,
            });
          } finally {
            await reference?.remove();
          }
        },
        addSize: (tx, target, bytes) => tx.annotationStores.addSize(target.storeId, target.versionName, bytes),
        itemMessagesInJob: true,
      },
      kick,
    );
  }

  async start(accountId: string, input: StartAnnotationImportInput): Promise<string> {
    const store = await this.stores.record(accountId, input.destinationName);
    const version = input.versionName ? (await this.stores.version(accountId, store.name, input.versionName)) : await this.stores.defaultVersion(store.id);
    if (!version) throw new ValidationError(`Annotation store ${store.name} has no version to import into.`);
    const f = input.formatOptions ?? {};
    if (f.tsvOptions && store.storeFormat !== 'TSV') throw new ValidationError(`formatOptions.tsvOptions is for TSV stores; ${store.name} is ${store.storeFormat}.`);
    if (f.vcfOptions && store.storeFormat !== 'VCF') throw new ValidationError(`formatOptions.vcfOptions is for VCF stores; ${store.name} is ${store.storeFormat}.`);
    if (input.runLeftNormalization && store.storeFormat === 'GFF') throw new ValidationError('runLeftNormalization applies to VCF and TSV annotation stores; GFF features have no alleles.');
    if (input.runLeftNormalization && store.storeFormat === 'TSV' && !hasAlleles((version.versionOptions ?? store.storeOptions)?.annotationType)) {
      throw new ValidationError(`runLeftNormalization needs REF and ALT columns; annotation store ${store.name} is ${(version.versionOptions ?? store.storeOptions)?.annotationType ?? 'GENERIC'}.`);
    }
    if (input.runLeftNormalization && !store.referenceArn) throw new ValidationError(`runLeftNormalization needs a reference; annotation store ${store.name} has none.`);
    const other = Object.keys(input.annotationFields ?? {}).filter((k) => k !== 'VEP');
    if (other.length) throw new ValidationError(`annotationFields: only VEP annotations are parsed, not ${other.join(', ')}.`);
    if (input.annotationFields && store.storeFormat !== 'VCF') throw new ValidationError('annotationFields apply to VCF annotation stores.');
    return this.jobs.submit(
      accountId,
      store.id,
      {
        storeName: store.name,
        versionName: version.versionName,
        roleArn: input.roleArn,
        runLeftNormalization: input.runLeftNormalization ?? false,
        annotationFields: input.annotationFields ?? null,
        formatOptions: f,
        items: input.items.map((i) => ({ source: i.source, status: 'NOT_STARTED' })),
      },
      1,
    );
  }

  get(accountId: string, jobId: string): Promise<JobRecord<AnnotationImportPayload>> {
    return this.jobs.get(accountId, jobId);
  }

  async list(accountId: string, q: { ids?: string[]; status?: string; storeName?: string }, page: PageRequest): Promise<Page<JobRecord<AnnotationImportPayload>>> {
    const storeId = q.storeName === undefined ? undefined : ((await this.d.db.annotationStores.get(accountId, q.storeName))?.id ?? null);
    return this.jobs.list(accountId, { ids: q.ids, status: q.status, storeId }, page);
  }

  cancel(accountId: string, jobId: string): Promise<void> {
    return this.jobs.cancel(accountId, jobId);
  }

  handler(): JobHandler<AnnotationImportPayload> {
    return this.jobs.handler();
  }

  giveUp(): GiveUpHandler<AnnotationImportPayload> {
    return this.jobs.giveUp();
  }
}
