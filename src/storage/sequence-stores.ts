import { accessPointArn, sequenceStoreArn } from '../core/arn.js';
import { ConflictError, NotFoundError, QuotaExceededError, ValidationError } from '../core/errors.js';
import { newNumericId, randomLowerAlnum } from '../core/ids.js';
import type { PageRequest } from '../db/query.js';
import type { SequenceStoreQuery } from '../db/sequence-store-records.js';
import type { ETagAlgorithmFamily, SequenceStoreRecord } from './entities.js';
import type { Page } from '../core/pagination.js';
import type { DomainDeps } from './context.js';
import { idempotent } from './idempotency.js';
import { checkNewTags } from './tags.js';
import { deleteStoreBlobs, newStoreDataKey, storePrefix, type SseConfigInput } from './store-storage.js';

export interface CreateSequenceStoreInput {
  name: string;
  description?: string;
  sseConfig?: SseConfigInput;
  tags?: Record<string, string>;
  clientToken?: string;
  fallbackLocation?: string;
  eTagAlgorithmFamily?: ETagAlgorithmFamily;
  propagatedSetLevelTags?: string[];
  s3AccessConfig?: { accessLogLocation?: string };
}

export interface UpdateSequenceStoreInput {
  name?: string;
  description?: string;
  clientToken?: string;
  fallbackLocation?: string;
  propagatedSetLevelTags?: string[];
  s3AccessConfig?: { accessLogLocation?: string };
}

/** A sequence store with the derived facts callers see (ARN, S3 access). */
export interface SequenceStoreView extends SequenceStoreRecord {
  arn: string;
  s3Uri: string;
  s3AccessPointArn: string;
}

export class SequenceStoreService {
  constructor(private readonly d: DomainDeps) {}

  view(r: SequenceStoreRecord): SequenceStoreView {
    return {
      ...r,
      arn: sequenceStoreArn(this.d.partition, r.accountId, r.id),
      s3Uri: `s3://${r.accessPointAlias}/${r.accountId}/sequenceStore/${r.id}/`,
      s3AccessPointArn: accessPointArn(this.d.partition, r.accountId, r.accessPointName),
    };
  }

  private checkPropagated(keys: string[] | undefined): void {
    if (keys && keys.length > this.d.quotas.maxPropagatedSetLevelTags) {
      throw new ValidationError(
        `propagatedSetLevelTags has ${keys.length} keys; a sequence store propagates at most ${this.d.quotas.maxPropagatedSetLevelTags}.`,
      );
    }
    if (keys && new Set(keys).size !== keys.length) throw new ValidationError('propagatedSetLevelTags has duplicate keys.');
  }

  async create(accountId: string, input: CreateSequenceStoreInput): Promise<SequenceStoreView> {
    checkNewTags(input.tags, this.d.quotas.maxTagsPerResource);
    this.checkPropagated(input.propagatedSetLevelTags);
    const now = this.d.now();
    const { resourceId } = await idempotent(this.d.db, accountId, 'CreateSequenceStore', input.clientToken, { ...input }, now, async () => {
      if ((await this.d.db.sequenceStores.count(accountId)) >= this.d.quotas.maxSequenceStores) {
        throw new QuotaExceededError(`The account already has the maximum of ${this.d.quotas.maxSequenceStores} sequence stores.`);
      }
      const dataKey = await newStoreDataKey(this.d, input.sseConfig);
      const id = newNumericId();
      const rec: SequenceStoreRecord = {
        id,
        accountId,
        name: input.name,
        description: input.description ?? null,
        sseType: input.sseConfig?.type ?? 'KMS',
        sseKeyArn: dataKey.keyArn,
        dataKey: dataKey.wrapped,
        fallbackLocation: input.fallbackLocation || null,
        eTagAlgorithmFamily: input.eTagAlgorithmFamily ?? 'MD5up',
        status: 'ACTIVE',
        statusMessage: null,
        propagatedSetLevelTags: input.propagatedSetLevelTags ?? [],
        accessLogLocation: input.s3AccessConfig?.accessLogLocation || null,
        accessPointName: `${accountId}-${id}`,
        accessPointAlias: `${accountId}-${id}-${randomLowerAlnum(10)}-s3alias`,
        creationTime: now,
        updateTime: now,
        s3AccessPolicy: null, // the default policy (s3-access-policy.ts)
        s3AccessPolicyTime: now,
      };
      await this.d.db.sequenceStores.insert(rec);
      if (input.tags) await this.d.db.tags.put(sequenceStoreArn(this.d.partition, accountId, id), input.tags);
      return id;
    });
    return this.get(accountId, resourceId);
  }

  async get(accountId: string, id: string): Promise<SequenceStoreView> {
    const r = await this.d.db.sequenceStores.get(accountId, id);
    if (!r) throw new NotFoundError(`Sequence store ${id} not found.`);
    return this.view(r);
  }

  async update(accountId: string, id: string, input: UpdateSequenceStoreInput): Promise<SequenceStoreView> {
    this.checkPropagated(input.propagatedSetLevelTags);
    const current = await this.get(accountId, id);
    if (current.status !== 'ACTIVE') throw new ConflictError(`Sequence store ${id} is ${current.status} and cannot be updated now.`);
    const now = Math.max(this.d.now(), current.updateTime + 1);
    const { resourceId } = await idempotent(this.d.db, accountId, `UpdateSequenceStore:${id}`, input.clientToken, { ...input }, now, async () => {
      await this.d.db.sequenceStores.update(accountId, id, {
        updateTime: now,
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.fallbackLocation !== undefined ? { fallbackLocation: input.fallbackLocation || null } : {}),
        ...(input.propagatedSetLevelTags !== undefined ? { propagatedSetLevelTags: input.propagatedSetLevelTags } : {}),
        ...(input.s3AccessConfig !== undefined ? { accessLogLocation: input.s3AccessConfig.accessLogLocation || null } : {}),
      });
      return id;
    });
    return this.get(accountId, resourceId);
  }

  async delete(accountId: string, id: string): Promise<void> {
    const store = await this.get(accountId, id);
    const readSets = await this.d.db.readSets.count(id);
    if (readSets > 0) {
      throw new ConflictError(`Sequence store ${id} still holds ${readSets} read set(s); delete them before deleting the store.`);
    }
    await this.d.db.sequenceStores.delete(accountId, id);
    await this.d.db.tags.deleteAll(store.arn);
    await deleteStoreBlobs(this.d, storePrefix.sequence(id));
  }

  async list(accountId: string, q: SequenceStoreQuery, page: PageRequest): Promise<Page<SequenceStoreView>> {
    const res = await this.d.db.sequenceStores.list(accountId, q, page);
    return { items: res.items.map((r) => this.view(r)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }
}
