import { parseArn } from '../core/arn.js';
import { AccessDeniedError, NotFoundError, QuotaExceededError, ValidationError } from '../core/errors.js';
import type { DomainDeps } from './context.js';

/** Checks tags given at creation: at most the per-resource limit, no reserved keys. */
export function checkNewTags(tags: Record<string, string> | undefined, max: number): void {
  if (!tags) return;
  const n = Object.keys(tags).length;
  if (n > max) throw new ValidationError(`A resource can have at most ${max} tags; ${n} were given.`);
  checkReservedKeys(tags);
}

/** AWS's tag character set: letters, numbers, spaces and _ . : / = + - @ (no control characters). */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

function checkReservedKeys(tags: Record<string, string>): void {
  for (const [k, v] of Object.entries(tags)) {
    if (k.toLowerCase().startsWith('aws:')) throw new ValidationError(`Tag keys starting with "aws:" are reserved: ${k}`);
    if (!TAG_TEXT.test(k)) throw new ValidationError(`Tag key ${JSON.stringify(k)} has characters tags may not hold (letters, numbers, spaces and _ . : / = + - @ only).`);
    if (!TAG_TEXT.test(v)) throw new ValidationError(`The value of tag ${JSON.stringify(k)} has characters tags may not hold (letters, numbers, spaces and _ . : / = + - @ only).`);
  }
}

/**
 * Tags on any taggable resource of the caller's account. The resource must
 * exist; which ARNs are taggable grows as resources are added.
 */
export class TagService {
  constructor(private readonly d: DomainDeps) {}

  private async checkResource(accountId: string, arn: string): Promise<void> {
    const p = parseArn(arn);
    const notFound = () => new NotFoundError(`Resource ${arn} not found.`);
    if (!p || p.service !== 'omics' || p.partition !== this.d.partition.partition || p.region !== this.d.partition.region) throw notFound();
    if (p.account !== accountId) {
      // A workflow another account shared with this one is used, never tagged (spec workflows §4.15).
      if (await this.d.db.shares.grants(accountId, arn)) throw new AccessDeniedError(`${arn} is shared with account ${accountId} by its owner; a subscriber cannot tag it.`);
      throw notFound();
    }
    const parts = p.resource.split('/');
    if (parts.length === 2 && parts[0] === 'sequenceStore') {
      if (await this.d.db.sequenceStores.get(accountId, parts[1]!)) return;
    } else if (parts.length === 2 && parts[0] === 'referenceStore') {
      if (await this.d.db.referenceStores.get(accountId, parts[1]!)) return;
    } else if (parts.length === 4 && parts[0] === 'sequenceStore' && parts[2] === 'readSet') {
      const rs = await this.d.db.readSets.get(parts[1]!, parts[3]!);
      if (rs && rs.accountId === accountId) return;
    } else if (parts.length === 4 && parts[0] === 'referenceStore' && parts[2] === 'reference') {
      const ref = await this.d.db.references.get(parts[1]!, parts[3]!);
      if (ref && ref.accountId === accountId) return;
    } else if (parts[0] === 'workflow' && (parts.length === 2 || (parts.length === 4 && parts[2] === 'version'))) {
      if (await this.d.db.workflows.get(accountId, parts[1]!, parts[3] ?? '')) return;
    } else if (parts.length === 2 && parts[0] === 'run') {
      if (await this.d.db.runs.get(accountId, parts[1]!)) return;
    } else if (parts.length === 2 && parts[0] === 'runGroup') {
      if (await this.d.db.runGroups.get(accountId, parts[1]!)) return;
    } else if (parts.length === 2 && parts[0] === 'runCache') {
      if (await this.d.db.runCaches.get(accountId, parts[1]!)) return;
    } else if (parts.length === 2 && parts[0] === 'runBatch') {
      if (await this.d.db.runBatches.get(accountId, parts[1]!)) return;
    } else if (parts.length === 2 && parts[0] === 'configuration') {
      if (await this.d.db.configurations.get(accountId, parts[1]!)) return;
    } else if (parts.length === 2 && parts[0] === 'variantStore') {
      if (await this.d.db.variantStores.get(accountId, parts[1]!)) return;
    } else if (parts[0] === 'annotationStore' && (parts.length === 2 || (parts.length === 4 && parts[2] === 'version'))) {
      const store = await this.d.db.annotationStores.get(accountId, parts[1]!);
      if (store && (parts.length === 2 || (await this.d.db.annotationStores.getVersion(store.id, parts[3]!)))) return;
    }
    throw notFound();
  }

  async tag(accountId: string, arn: string, tags: Record<string, string>): Promise<void> {
    await this.checkResource(accountId, arn);
    checkReservedKeys(tags);
    const current = await this.d.db.tags.list(arn);
    const total = new Set([...Object.keys(current), ...Object.keys(tags)]).size;
    if (total > this.d.quotas.maxTagsPerResource) {
      throw new QuotaExceededError(`A resource can have at most ${this.d.quotas.maxTagsPerResource} tags; this request would make ${total}.`);
    }
    await this.d.db.tags.put(arn, tags);
  }

  async untag(accountId: string, arn: string, keys: string[]): Promise<void> {
    await this.checkResource(accountId, arn);
    await this.d.db.tags.remove(arn, keys);
  }

  async list(accountId: string, arn: string): Promise<Record<string, string>> {
    await this.checkResource(accountId, arn);
    return this.d.db.tags.list(arn);
  }
}
