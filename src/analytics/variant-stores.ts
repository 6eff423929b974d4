import { randomBytes } from 'node:crypto';
import { variantStoreArn } from '../core/arn.js';
import { ConflictError, NotFoundError, QuotaExceededError } from '../core/errors.js';
import type { Page } from '../core/pagination.js';
import type { PageRequest } from '../db/query.js';
import type { VariantStoreQuery } from '../db/variant-store-records.js';
import type { DomainDeps } from '../storage/context.js';
import type { ReferenceService } from '../storage/references.js';
import { deleteStoreBlobs, newStoreDataKey, storePrefix, type SseConfigInput } from '../storage/store-storage.js';
import { unfinishedImports, VARIANT_IMPORT_JOB } from './import-jobs.js';
import { checkNewTags } from '../storage/tags.js';
import type { AnalyticsFileRecord, VariantStoreRecord } from './entities.js';


export interface CreateVariantStoreInput {
  name?: string;
  description?: string;
  referenceArn: string;
  sseConfig?: SseConfigInput;
  tags?: Record<string, string>;
}

export interface VariantStoreView extends VariantStoreRecord {
  arn: string;
}

/**
 * Variant stores (spec analytics §2.2, §4.1): named per account, linked to a reference of the account's
 * reference stores (checked to exist and be ACTIVE), with their own data key; their rows are Parquet files
 * written by import jobs (variant-imports.ts).
 */
export class VariantStoreService {
  constructor(
    private readonly d: DomainDeps,
    private readonly references: ReferenceService,
  ) {}

  view(r: VariantStoreRecord): VariantStoreView {
    return { ...r, arn: variantStoreArn(this.d.partition, r.accountId, r.name) };
  }

  async create(accountId: string, input: CreateVariantStoreInput): Promise<VariantStoreView> {
    checkNewTags(input.tags, this.d.quotas.maxTagsPerResource);
    await this.references.sequencesOf(accountId, input.referenceArn);
    const id = randomBytes(6).toString('hex');
    const name = input.name ?? `variants_${id}`;
    if ((await this.d.db.variantStores.get(accountId, name)) || (await this.d.db.annotationStores.get(accountId, name))) throw new ConflictError(`A store named ${name} already exists.`);
    if ((await this.d.db.variantStores.count(accountId)) >= this.d.quotas.maxVariantStores) {
      throw new QuotaExceededError(`The account already has the maximum of ${this.d.quotas.maxVariantStores} variant store(s) in this region.`);
    }
    const dataKey = await newStoreDataKey(this.d, input.sseConfig);
    const now = this.d.now();
    const rec: VariantStoreRecord = {
      accountId,
      id,
      name,
      description: input.description ?? null,
      referenceArn: input.referenceArn,
      status: 'ACTIVE',
      statusMessage: null,
      sseType: 'KMS',
      sseKeyArn: dataKey.keyArn,
      dataKey: dataKey.wrapped,
      sizeBytes: 0,
      creationTime: now,
      updateTime: now,
    };
    try {
      await this.d.db.variantStores.insert(rec);
    } catch (e) {
      if ((await this.d.db.variantStores.get(accountId, name)) || (await this.d.db.annotationStores.get(accountId, name))) throw new ConflictError(`A store named ${name} already exists.`);
      throw e;
    }
    if (input.tags) await this.d.db.tags.put(variantStoreArn(this.d.partition, accountId, name), input.tags);
    return this.view(rec);
  }

  async get(accountId: string, name: string): Promise<VariantStoreView> {
    const r = await this.d.db.variantStores.get(accountId, name);
    if (!r) throw new NotFoundError(`Variant store ${name} not found.`);
    return this.view(r);
  }

  async update(accountId: string, name: string, description: string | undefined): Promise<VariantStoreView> {
    await this.get(accountId, name);
    await this.d.db.variantStores.update(accountId, name, { ...(description !== undefined ? { description } : {}), updateTime: this.d.now() });
    return this.get(accountId, name);
  }

  /**
   * Deletes the store, its rows and its tags (§4.1). An import still running makes it a conflict unless
   * `force`, which cancels it first.
   */
  async delete(accountId: string, name: string, force: boolean): Promise<void> {
    const store = await this.get(accountId, name);
    const running = await unfinishedImports(this.d, VARIANT_IMPORT_JOB, accountId, store.id);
    if (running.length && !force) throw new ConflictError(`Variant store ${name} has ${running.length} import job(s) in progress; cancel them or delete with force.`);
    for (const j of running) await this.d.db.jobs.cancel(j.id, this.d.now());
    await this.d.db.variantStores.update(accountId, name, { status: 'DELETING', updateTime: this.d.now() });
    await this.d.db.atomically(async (tx) => {
      await tx.analyticsFiles.delete(store.id);
      await tx.variantStores.delete(accountId, name);
      await tx.tags.deleteAll(store.arn);
    });
    for (const share of await this.d.db.shares.ofResource(store.arn)) await this.d.db.shares.delete(share.id);
    await deleteStoreBlobs(this.d, storePrefix.analytics(store.id));
  }

  async list(accountId: string, q: VariantStoreQuery, page: PageRequest): Promise<Page<VariantStoreView>> {
    const res = await this.d.db.variantStores.list(accountId, q, page);
    return { items: res.items.map((r) => this.view(r)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  /** The store's visible files (imports that completed). */
  files(store: VariantStoreRecord): Promise<AnalyticsFileRecord[]> {
    return this.d.db.analyticsFiles.list(store.id);
  }
}
