import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, QuotaExceededError, ValidationError } from '../core/errors.js';
import { everyItem, type Page } from '../core/pagination.js';
import type { AnnotationStoreQuery } from '../db/annotation-store-records.js';
import type { PageRequest } from '../db/query.js';
import type { DomainDeps } from '../storage/context.js';
import type { ReferenceService } from '../storage/references.js';
import { deleteStoreBlobs, newStoreDataKey, storePrefix, type SseConfigInput } from '../storage/store-storage.js';
import { checkNewTags } from '../storage/tags.js';
import { checkTsvOptions, coordinateColumns, GFF_COLUMNS, tsvColumns } from './annotation-rows.js';
import type { AnalyticsFileRecord, AnnotationStoreRecord, AnnotationStoreVersionRecord, StoreFormat, TsvOptions } from './entities.js';
import { ANNOTATION_IMPORT_JOB, unfinishedImports } from './import-jobs.js';
import { VARIANT_COLUMNS } from './vcf-rows.js';

export { ANNOTATION_IMPORT_JOB };

export interface CreateAnnotationStoreInput {
  name?: string;
  description?: string;
  referenceArn?: string;
  storeFormat: StoreFormat;
  tsvStoreOptions?: TsvOptions;
  versionName?: string;
  sseConfig?: SseConfigInput;
  tags?: Record<string, string>;
}

export interface AnnotationStoreView extends AnnotationStoreRecord {
  arn: string;
  sizeBytes: number;
  numVersions: number;
}

export interface AnnotationStoreVersionView extends AnnotationStoreVersionRecord {
  arn: string;
  name: string;
}

const newId = () => randomBytes(6).toString('hex');

/**
 * Annotation stores and their versions (spec analytics §2.3, §2.4, §4.1, §4.3): GFF3, TSV/CSV (with a typed
 * schema and an annotation type that says which columns are coordinates) or VCF annotation databases, each with
 * versions (releases) that import jobs fill (annotation-imports.ts). Creating a store creates its first version.
 */
export class AnnotationStoreService {
  constructor(
    private readonly d: DomainDeps,
    private readonly references: ReferenceService,
  ) {}

  private arn(accountId: string, name: string, versionName?: string): string {
    const p = this.d.partition;
    return `arn:${p.partition}:omics:${p.region}:${accountId}:annotationStore/${name}${versionName !== undefined ? `/version/${versionName}` : ''}`;
  }

  private async view(r: AnnotationStoreRecord): Promise<AnnotationStoreView> {
    const versions = await this.allVersions(r.id);
    return { ...r, arn: this.arn(r.accountId, r.name), sizeBytes: versions.reduce((a, v) => a + v.sizeBytes, 0), numVersions: versions.length };
  }

  private versionView(store: AnnotationStoreRecord, v: AnnotationStoreVersionRecord): AnnotationStoreVersionView {
    return { ...v, arn: this.arn(store.accountId, store.name, v.versionName), name: store.name };
  }

  async create(accountId: string, input: CreateAnnotationStoreInput): Promise<AnnotationStoreView & { versionName: string }> {
    checkNewTags(input.tags, this.d.quotas.maxTagsPerResource);
    if (input.referenceArn) await this.references.sequencesOf(accountId, input.referenceArn);
    if (input.storeFormat === 'TSV') {
      if (!input.tsvStoreOptions) throw new ValidationError('A TSV annotation store needs storeOptions.tsvStoreOptions (schema, annotationType, formatToHeader).');
      checkTsvOptions(input.tsvStoreOptions);
    } else if (input.tsvStoreOptions) throw new ValidationError(`storeOptions.tsvStoreOptions is for TSV stores, not ${input.storeFormat}.`);
    const id = newId();
    const name = input.name ?? `annotations_${id}`;
    if ((await this.d.db.annotationStores.get(accountId, name)) || (await this.d.db.variantStores.get(accountId, name))) throw new ConflictError(`A store named ${name} already exists.`);
    if ((await this.d.db.annotationStores.count(accountId)) >= this.d.quotas.maxAnnotationStores) {
      throw new QuotaExceededError(`The account already has the maximum of ${this.d.quotas.maxAnnotationStores} annotation store(s) in this region.`);
    }
    const dataKey = await newStoreDataKey(this.d, input.sseConfig);
    const now = this.d.now();
    const versionName = input.versionName ?? 'v1';
    const store: AnnotationStoreRecord = {
      accountId,
      id,
      name,
      description: input.description ?? null,
      referenceArn: input.referenceArn ?? null,
      storeFormat: input.storeFormat,
      storeOptions: input.tsvStoreOptions ?? null,
      status: 'ACTIVE',
      statusMessage: null,
      sseType: 'KMS',
      sseKeyArn: dataKey.keyArn,
      dataKey: dataKey.wrapped,
      creationTime: now,
      updateTime: now,
    };
    const version: AnnotationStoreVersionRecord = { storeId: id, versionName, id: newId(), description: null, versionOptions: input.tsvStoreOptions ?? null, status: 'ACTIVE', statusMessage: null, sizeBytes: 0, creationTime: now, updateTime: now };
    await this.d.db.atomically(async (tx) => {
      await tx.annotationStores.insert(store, version);
      if (input.tags) await tx.tags.put(this.arn(accountId, name), input.tags);
    });
    return { ...(await this.view(store)), versionName };
  }

  async record(accountId: string, name: string): Promise<AnnotationStoreRecord> {
    const r = await this.d.db.annotationStores.get(accountId, name);
    if (!r) throw new NotFoundError(`Annotation store ${name} not found.`);
    return r;
  }

  async get(accountId: string, name: string): Promise<AnnotationStoreView> {
    return this.view(await this.record(accountId, name));
  }

  async update(accountId: string, name: string, description: string | undefined): Promise<AnnotationStoreView> {
    await this.record(accountId, name);
    await this.d.db.annotationStores.update(accountId, name, { ...(description !== undefined ? { description } : {}), updateTime: this.d.now() });
    return this.get(accountId, name);
  }

  /** Deletes the store with its last version's rows and its tags; more than one version is a conflict (§4.1). */
  async delete(accountId: string, name: string, force: boolean): Promise<void> {
    const store = await this.get(accountId, name);
    if (store.numVersions > 1) throw new ConflictError(`Annotation store ${name} has ${store.numVersions} versions; delete all but one first.`);
    const running = await unfinishedImports(this.d, ANNOTATION_IMPORT_JOB, accountId, store.id);
    if (running.length && !force) throw new ConflictError(`Annotation store ${name} has an import in progress; cancel it or delete with force.`);
    for (const j of running) await this.d.db.jobs.cancel(j.id, this.d.now());
    await this.d.db.atomically(async (tx) => {
      await tx.analyticsFiles.delete(store.id);
      await tx.annotationStores.delete(accountId, name);
      await tx.tags.deleteAll(store.arn);
    });
    for (const share of await this.d.db.shares.ofResource(store.arn)) await this.d.db.shares.delete(share.id);
    await deleteStoreBlobs(this.d, storePrefix.analytics(store.id));
  }

  async list(accountId: string, q: AnnotationStoreQuery, page: PageRequest): Promise<Page<AnnotationStoreView>> {
    const res = await this.d.db.annotationStores.list(accountId, q, page);
    return { items: await Promise.all(res.items.map((r) => this.view(r))), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  async createVersion(accountId: string, name: string, input: { versionName: string; description?: string; tsvVersionOptions?: TsvOptions; tags?: Record<string, string> }): Promise<AnnotationStoreVersionView> {
    const store = await this.record(accountId, name);
    checkNewTags(input.tags, this.d.quotas.maxTagsPerResource);
    if (input.tsvVersionOptions) {
      if (store.storeFormat !== 'TSV') throw new ValidationError(`versionOptions.tsvVersionOptions is for TSV stores, not ${store.storeFormat}.`);
      checkTsvOptions(input.tsvVersionOptions);
    }
    if (await this.d.db.annotationStores.getVersion(store.id, input.versionName)) throw new ConflictError(`Version ${input.versionName} of annotation store ${name} already exists.`);
    if ((await this.d.db.annotationStores.countVersions(store.id)) >= this.d.quotas.maxAnnotationStoreVersions) {
      throw new QuotaExceededError(`Annotation store ${name} already has the maximum of ${this.d.quotas.maxAnnotationStoreVersions} versions.`);
    }
    const now = this.d.now();
    const v: AnnotationStoreVersionRecord = {
      storeId: store.id,
      versionName: input.versionName,
      id: newId(),
      description: input.description ?? null,
      versionOptions: input.tsvVersionOptions ?? store.storeOptions,
      status: 'ACTIVE',
      statusMessage: null,
      sizeBytes: 0,
      creationTime: now,
      updateTime: now,
    };
    await this.d.db.atomically(async (tx) => {
      await tx.annotationStores.insertVersion(v);
      if (input.tags) await tx.tags.put(this.arn(accountId, name, input.versionName), input.tags);
    });
    return this.versionView(store, v);
  }

  async version(accountId: string, name: string, versionName: string): Promise<AnnotationStoreVersionView> {
    const store = await this.record(accountId, name);
    const v = await this.d.db.annotationStores.getVersion(store.id, versionName);
    if (!v) throw new NotFoundError(`Version ${versionName} of annotation store ${name} not found.`);
    return this.versionView(store, v);
  }

  async updateVersion(accountId: string, name: string, versionName: string, description: string | undefined): Promise<AnnotationStoreVersionView> {
    const v = await this.version(accountId, name, versionName);
    await this.d.db.annotationStores.updateVersion(v.storeId, versionName, { ...(description !== undefined ? { description } : {}), updateTime: this.d.now() });
    return this.version(accountId, name, versionName);
  }

  async listVersions(accountId: string, name: string, status: string | undefined, page: PageRequest): Promise<Page<AnnotationStoreVersionView>> {
    const store = await this.record(accountId, name);
    const res = await this.d.db.annotationStores.listVersions(store.id, status, page);
    return { items: res.items.map((v) => this.versionView(store, v)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  /** Deletes versions one by one; what cannot be deleted is reported per version (§2.4), not as an error. */
  async deleteVersions(accountId: string, name: string, versionNames: string[], force: boolean): Promise<{ versionName: string; message: string }[]> {
    const store = await this.record(accountId, name);
    const errors: { versionName: string; message: string }[] = [];
    const running = await unfinishedImports(this.d, ANNOTATION_IMPORT_JOB, accountId, store.id);
    for (const versionName of versionNames) {
      const v = await this.d.db.annotationStores.getVersion(store.id, versionName);
      if (!v) {
        errors.push({ versionName, message: `Version with versionName: ${versionName} was not found.` });
        continue;
      }
      const jobs = running.filter((j) => j.payload.versionName === versionName);
      if (jobs.length && !force) {
        errors.push({ versionName, message: 'version has an inflight import running' });
        continue;
      }
      for (const j of jobs) await this.d.db.jobs.cancel(j.id, this.d.now());
      const files = await this.d.db.analyticsFiles.list(store.id, versionName);
      await this.d.db.atomically(async (tx) => {
        await tx.analyticsFiles.delete(store.id, versionName);
        await tx.annotationStores.deleteVersion(store.id, versionName);
        await tx.tags.deleteAll(this.arn(accountId, name, versionName));
      });
      for (const f of files) await this.d.blobs.delete(f.blobKey);
    }
    return errors;
  }

  /** The store's first version (imports without a versionName go there). */
  async defaultVersion(storeId: string): Promise<AnnotationStoreVersionRecord | undefined> {
    return (await this.allVersions(storeId))[0];
  }

  async allVersions(storeId: string): Promise<AnnotationStoreVersionRecord[]> {
    const out: AnnotationStoreVersionRecord[] = [];
    for await (const v of everyItem((token) => this.d.db.annotationStores.listVersions(storeId, undefined, { maxResults: 100, ...(token ? { nextToken: token } : {}) }))) out.push(v);
    return out;
  }

  files(store: AnnotationStoreRecord, versionName: string): Promise<AnalyticsFileRecord[]> {
    return this.d.db.analyticsFiles.list(store.id, versionName);
  }

  /** The columns of the store's table (before the `versionname` column queries add). */
  columns(store: AnnotationStoreRecord): [string, string][] {
    if (store.storeFormat === 'GFF') return GFF_COLUMNS;
    if (store.storeFormat === 'VCF') return VARIANT_COLUMNS.filter(([n]) => !SAMPLE_COLUMNS.has(n));
    const options = store.storeOptions ?? {};
    const coords = coordinateColumns(options.annotationType);
    const replaced = new Set(coords.map(([n]) => n));
    return [...coords, ...tsvColumns(options).filter(([n]) => !replaced.has(n))];
  }
}

/** The sample columns of the variant table, absent from VCF annotation tables. */
const SAMPLE_COLUMNS = new Set(['phased', 'calls', 'genotypelikelihoods', 'phredlikelihoods', 'alleledepths', 'conditionalquality', 'spl', 'depth', 'ps', 'sampleid', 'information']);
