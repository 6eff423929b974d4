import type { DataKey } from '../keys/key-provider.js';
import type { DomainDeps } from './context.js';

export interface SseConfigInput {
  type: string;
  keyArn?: string;
}

/**
 * A new store's data key, wrapped by the caller's key (checked to exist and be
 * usable) or the server's default key. Every blob of the store is encrypted with it.
 */
export async function newStoreDataKey(d: DomainDeps, sse: SseConfigInput | undefined): Promise<DataKey> {
  const keyArn = sse?.keyArn ?? d.keys.defaultKeyArn();
  if (sse?.keyArn) await d.keys.describeKey(keyArn);
  return d.keys.generateDataKey(keyArn);
}

/** Blob key prefixes: one folder per store. */
export const storePrefix = {
  sequence: (storeId: string) => `seq/${storeId}/`,
  reference: (storeId: string) => `ref/${storeId}/`,
};

/** Removes every blob under a store's prefix (after the store's rows are gone). */
export async function deleteStoreBlobs(d: DomainDeps, prefix: string): Promise<void> {
  for await (const b of d.blobs.list(prefix)) await d.blobs.delete(b.key);
}
