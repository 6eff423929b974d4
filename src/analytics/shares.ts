import { randomBytes } from 'node:crypto';
import { parseArn } from '../core/arn.js';
import { ConflictError, NotFoundError, NotImplementedError, QuotaExceededError, ValidationError } from '../core/errors.js';
import type { ShareQuery } from '../db/share-records.js';
import type { DomainDeps } from '../storage/context.js';
import type { ShareRecord, ShareResourceType } from './entities.js';

/** Shares per store (spec analytics §5). */
const MAX_SHARES_PER_STORE = 10;

/**
 * Sharing analytics stores with other accounts (spec analytics §2.6, §4.5): the owner creates a share for one
 * subscriber account (PENDING), the subscriber accepts it (ACTIVE) and can then query the store — it is a table
 * of the subscriber's query database — but not change or delete it. Either side deletes the share: the owner
 * revokes it, the subscriber gives it up. Sharing workflows is not built.
 */
export class ShareService {
  constructor(private readonly d: DomainDeps) {}

  /** The store a share ARN names, in the caller's account. */
  private async resource(accountId: string, arn: string): Promise<{ type: ShareResourceType; id: string; name: string }> {
    const p = parseArn(arn);
    const parts = p?.resource.split('/') ?? [];
    if (!p || p.service !== 'omics' || parts.length !== 2) throw new ValidationError(`${arn} is not the ARN of a variant or annotation store.`);
    if (parts[0] === 'workflow') throw new NotImplementedError('Sharing workflows is not implemented yet; variant and annotation stores can be shared.');
    const notFound = () => new NotFoundError(`Resource ${arn} not found.`);
    if (p.account !== accountId || p.region !== this.d.partition.region) throw notFound();
    if (parts[0] === 'variantStore') {
      const s = await this.d.db.variantStores.get(accountId, parts[1]!);
      if (s) return { type: 'VARIANT_STORE', id: s.id, name: s.name };
    } else if (parts[0] === 'annotationStore') {
      const s = await this.d.db.annotationStores.get(accountId, parts[1]!);
      if (s) return { type: 'ANNOTATION_STORE', id: s.id, name: s.name };
    } else throw new ValidationError(`${arn} is not the ARN of a variant or annotation store.`);
    throw notFound();
  }

  async create(accountId: string, input: { resourceArn: string; principalSubscriber: string; shareName?: string }): Promise<ShareRecord> {
    if (!/^\d{12}$/.test(input.principalSubscriber)) throw new ValidationError('principalSubscriber must be a 12-digit account id.');
    if (input.principalSubscriber === accountId) throw new ValidationError('A store cannot be shared with its own account.');
    const r = await this.resource(accountId, input.resourceArn);
    const existing = (await this.d.db.shares.ofResource(input.resourceArn)).filter((s) => s.status !== 'DELETED');
    if (existing.some((s) => s.subscriberId === input.principalSubscriber)) throw new ConflictError(`${input.resourceArn} is already shared with ${input.principalSubscriber}.`);
    if (existing.length >= MAX_SHARES_PER_STORE) throw new QuotaExceededError(`A store can have at most ${MAX_SHARES_PER_STORE} shares.`);
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

  async accept(accountId: string, id: string): Promise<ShareRecord> {
    const s = await this.get(accountId, id);
    if (s.subscriberId !== accountId) throw new ValidationError(`Share ${id} is offered to ${s.subscriberId}; only that account can accept it.`);
    if (s.status !== 'PENDING' && s.status !== 'ACTIVE') throw new ConflictError(`Share ${id} is ${s.status}.`);
    await this.d.db.shares.update(id, { status: 'ACTIVE', updateTime: this.d.now() });
    return this.get(accountId, id);
  }

  /** The owner revokes, the subscriber gives up: the share is gone either way. */
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

  /** A store's shares end with it. */
  async removeFor(resourceArn: string): Promise<void> {
    for (const s of await this.d.db.shares.ofResource(resourceArn)) await this.d.db.shares.delete(s.id);
  }
}
