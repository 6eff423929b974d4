import { createHash } from 'node:crypto';
import { ConflictError } from '../core/errors.js';
import type { MetadataStore } from '../db/metadata-store.js';

/** Stable hash of a request's parameters (clientToken excluded, keys sorted). */
export function requestHash(input: Record<string, unknown>): string {
  const canon = (v: unknown): unknown => {
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .filter((k) => k !== 'clientToken')
          .sort()
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canon(input))).digest('hex');
}

/**
 * Runs `create` once per (account, operation, clientToken): a retry with the
 * same token and parameters gets the first result's resource id back; the
 * same token with other parameters is a ConflictException.
 */
export async function idempotent(
  db: MetadataStore,
  accountId: string,
  operation: string,
  clientToken: string | undefined,
  input: Record<string, unknown>,
  now: number,
  create: () => Promise<string>,
): Promise<{ resourceId: string; replayed: boolean }> {
  if (!clientToken) return { resourceId: await create(), replayed: false };
  const hash = requestHash(input);
  const prior = await db.idempotency.find(accountId, operation, clientToken);
  if (prior) {
    if (prior.requestHash !== hash) {
      throw new ConflictError(`The clientToken ${clientToken} was already used with different parameters.`);
    }
    return { resourceId: prior.resourceId, replayed: true };
  }
  const resourceId = await create();
  await db.idempotency.record(accountId, operation, clientToken, { requestHash: hash, resourceId }, now);
  return { resourceId, replayed: false };
}
