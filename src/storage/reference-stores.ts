import { referenceStoreArn } from '../core/arn.js';
import { ConflictError, NotFoundError, QuotaExceededError } from '../core/errors.js';
import { newNumericId } from '../core/ids.js';
import type { Page } from '../core/pagination.js';
import type { PageRequest } from '../db/query.js';
import type { ReferenceStoreQuery } from '../db/reference-store-records.js';
import type { ReferenceStoreRecord } from './entities.js';
import type { DomainDeps } from './context.js';
import { idempotent } from './idempotency.js';
import { checkNewTags } from './tags.js';
import { deleteStoreBlobs, newStoreDataKey, storePrefix, type SseConfigInput } from './store-storage.js';

export interface CreateReferenceStoreInput {
  name: string;
  description?: string;
  sseConfig?: SseConfigInput;
  tags?: Record<string, string>;
  clientToken?: string;
}

export interface ReferenceStoreView extends ReferenceStoreRecord {
  arn: string;
}

export class ReferenceStoreService {
  constructor(private readonly d: DomainDeps) {}

  view(r: ReferenceStoreRecord): ReferenceStoreView {
    return { ...r, arn: referenceStoreArn(this.d.partition, r.accountId, r.id) };
  }

  async create(accountId: string, input: CreateReferenceStoreInput): Promise<ReferenceStoreView> {
    checkNewTags(input.tags, this.d.quotas.maxTagsPerResource);
    const now = this.d.now();
    const { resourceId } = await idempotent(this.d.db, accountId, 'CreateReferenceStore', input.clientToken, { ...input }, now, async () => {
      if ((await this.d.db.referenceStores.count(accountId)) >= this.d.quotas.maxReferenceStores) {
        throw new QuotaExceededError(
          `The account already has the maximum of ${this.d.quotas.maxReferenceStores} reference store(s) in this region.`,
        );
      }
      const dataKey = await newStoreDataKey(this.d, input.sseConfig);
      const id = newNumericId();
      await this.d.db.referenceStores.insert({
        id,
        accountId,
        name: input.name,
        description: input.description ?? null,
        sseType: input.sseConfig?.type ?? 'KMS',
        sseKeyArn: dataKey.keyArn,
        dataKey: dataKey.wrapped,
        creationTime: now,
      });
      if (input.tags) await this.d.db.tags.put(referenceStoreArn(this.d.partition, accountId, id), input.tags);
      return id;
    });
    return this.get(accountId, resourceId);
  }

  async get(accountId: string, id: string): Promise<ReferenceStoreView> {
    const r = await this.d.db.referenceStores.get(accountId, id);
    if (!r) throw new NotFoundError(`Reference store ${id} not found.`);
    return this.view(r);
  }

  async delete(accountId: string, id: string): Promise<void> {
    const store = await this.get(accountId, id);
    const refs = await this.d.db.references.count(id);
    if (refs > 0) throw new ConflictError(`Reference store ${id} still holds ${refs} reference(s); delete them before deleting the store.`);
    await this.d.db.referenceStores.delete(accountId, id);
    await this.d.db.tags.deleteAll(store.arn);
    await deleteStoreBlobs(this.d, storePrefix.reference(id));
  }

  async list(accountId: string, q: ReferenceStoreQuery, page: PageRequest): Promise<Page<ReferenceStoreView>> {
    const res = await this.d.db.referenceStores.list(accountId, q, page);
    return { items: res.items.map((r) => this.view(r)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }
}
