import { randomBytes } from 'node:crypto';
import { parseArn } from '../core/arn.js';
import { AccessDeniedError, ConflictError, NotFoundError, QuotaExceededError, ValidationError } from '../core/errors.js';
import type { ShareQuery } from '../db/share-records.js';
import type { DomainDeps } from '../storage/context.js';
import type { ShareRecord, ShareResourceType } from './entities.js';

/** What can be shared, by the resource type of its ARN: its share type, how many shares it may have, how it is found. */
interface Shareable {
  type: ShareResourceType;
  /** Shares per resource (spec analytics §5: 10 per store; spec workflows §5.1: 100 per workflow). */
  maxShares: number;
  find(d: DomainDeps, accountId: string, id: string): Promise<{ id: string; name: string } | undefined>;
}

const SHAREABLE: Record<string, Shareable> = {
  variantStore: {
    type: 'VARIANT_STORE',
    maxShares: 10,
    find: async (d, accountId, name) => d.db.variantStores.get(accountId, name),
  },
  annotationStore: {
    type: 'ANNOTATION_STORE',
    maxShares: 10,
    find: async (d, accountId, name) => d.db.annotationStores.get(accountId, name),
  },
  workflow: {
    type: 'WORKFLOW',
    maxShares: 100,
    find: async (d, accountId, id) => {
      const w = await d.db.workflows.get(accountId, id, '');
      return w && { id: w.id, name: w.name ?? w.id };
    },
  },
};

/** Shares that hold the resource: it cannot be deleted while one is offered or accepted. */
export const HOLDING = ['PENDING', 'ACTIVATING', 'ACTIVE'];

/**
 * Sharing a resource with another account of this server: variant and annotation stores (spec analytics §2.6,
 * §4.5) and workflows (spec workflows §4.15). The owner creates a share for one subscriber account (PENDING), the
 * subscriber accepts it (ACTIVATING, then ACTIVE) and can then use the resource — query a store as a table of its
 * own query database, run a workflow in its own account — but never change, tag, delete, export or re-share it.
 * Either side deletes the share: the owner revokes it, the subscriber gives it up. One share per subscriber and
 * resource; a resource in any share cannot be deleted by its owner (or, for stores, ends its shares with it).
 */
export class ShareService {
  constructor(private readonly d: DomainDeps) {}

  /** The resource a share ARN names, in the caller's account. */
  private async resource(accountId: string, arn: string): Promise<{ type: ShareResourceType; id: string; name: string; maxShares: number }> {
    const p = parseArn(arn);
    const parts = p?.resource.split('/') ?? [];
    const kind = p?.service === 'omics' && parts.length === 2 ? SHAREABLE[parts[0]!] : undefined;
    if (!p || !kind) throw new ValidationError(`${arn} is not the ARN of a workflow, variant store or annotation store.`);
    if (p.region !== this.d.partition.region) throw new NotFoundError(`Resource ${arn} not found.`);
    if (p.account !== accountId) {
      if (await this.grants(accountId, arn)) throw new AccessDeniedError(`${arn} is shared with account ${accountId}; a subscriber cannot share it again.`);
      throw new NotFoundError(`Resource ${arn} not found.`);
    }
    const found = await kind.find(this.d, accountId, parts[1]!);
    if (!found) throw new NotFoundError(`Resource ${arn} not found.`);
    return { type: kind.type, id: found.id, name: found.name, maxShares: kind.maxShares };
  }

  async create(accountId: string, input: { resourceArn: string; principalSubscriber: string; shareName?: string }): Promise<ShareRecord> {
    if (!/^\d{12}$/.test(input.principalSubscriber)) throw new ValidationError('principalSubscriber must be a 12-digit account id.');
    if (input.principalSubscriber === accountId) throw new ValidationError('A resource cannot be shared with its own account.');
    const r = await this.resource(accountId, input.resourceArn);
    const existing = (await this.d.db.shares.ofResource(input.resourceArn)).filter((s) => s.status !== 'DELETED');
    if (existing.some((s) => s.subscriberId === input.principalSubscriber)) throw new ConflictError(`${input.resourceArn} is already shared with ${input.principalSubscriber}.`);
    if (existing.length >= r.maxShares) throw new QuotaExceededError(`A ${r.type === 'WORKFLOW' ? 'workflow' : 'store'} can have at most ${r.maxShares} shares.`);
    const now = this.d.now();
    const rec: ShareRecord = {
      id: `${randomBytes(16).toString('hex')}-${randomBytes(16).toString('hex')}`,
      ownerId: accountId,
      subscriberId: input.principalSubscriber,
      resourceArn: input.resourceArn,
      resourceType: r.type,
      resourceId: r.id,
      resourceName: r.name,
      name: input.shareName ?? null,
      status: 'PENDING',
      statusMessage: null,
      creationTime: now,
      updateTime: now,
    };
    await this.d.db.shares.insert(rec);
    return rec;
  }

  /** A share the caller owns or is offered (anyone else: not found). */
  async get(accountId: string, id: string): Promise<ShareRecord> {
    const s = await this.d.db.shares.get(id);
    if (!s || (s.ownerId !== accountId && s.subscriberId !== accountId)) throw new NotFoundError(`Share ${id} not found.`);
    return s;
  }

  /** The subscriber accepts: ACTIVATING, then ACTIVE (nothing needs copying here, so at once). */
  async accept(accountId: string, id: string): Promise<ShareRecord> {
    const s = await this.get(accountId, id);
    if (s.subscriberId !== accountId) throw new ValidationError(`Share ${id} is offered to ${s.subscriberId}; only that account can accept it.`);
    if (s.status === 'ACTIVE') return s;
    if (s.status !== 'PENDING') throw new ConflictError(`Share ${id} is ${s.status}.`);
    for (const status of ['ACTIVATING', 'ACTIVE'] as const) await this.d.db.shares.update(id, { status, updateTime: this.d.now() });
    return this.get(accountId, id);
  }

  /** The owner revokes, the subscriber gives up: the share is gone either way (its event says DELETED). */
  async delete(accountId: string, id: string): Promise<void> {
    await this.get(accountId, id);
    await this.d.db.shares.delete(id);
  }

  list(accountId: string, owner: 'SELF' | 'OTHER', q: ShareQuery): Promise<ShareRecord[]> {
    return this.d.db.shares.list(owner === 'SELF' ? 'owner' : 'subscriber', accountId, q);
  }

  /** Stores shared with the account and accepted: what its queries may read besides its own. */
  async accepted(accountId: string): Promise<ShareRecord[]> {
    return this.d.db.shares.list('subscriber', accountId, { statuses: ['ACTIVE'] });
  }

  /** Whether `resourceArn` (another account's) is shared with the account and accepted. */
  async grants(accountId: string, resourceArn: string): Promise<boolean> {
    return this.d.db.shares.grants(accountId, resourceArn);
  }

  /** Shares that hold a resource (offered or accepted): its owner may not delete it while there are any. */
  async holding(resourceArn: string): Promise<ShareRecord[]> {
    return (await this.d.db.shares.ofResource(resourceArn)).filter((s) => HOLDING.includes(s.status));
  }

  /** A store's shares end with it. */
  async removeFor(resourceArn: string): Promise<void> {
    for (const s of await this.d.db.shares.ofResource(resourceArn)) await this.d.db.shares.delete(s.id);
  }
}
