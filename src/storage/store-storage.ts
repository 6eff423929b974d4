import type { Readable } from 'node:stream';
import type { DataKey } from '../keys/key-provider.js';
import type { BlobStore, ByteRange, BlobReadOptions } from '../blob/blob-store.js';
import { EncryptedBlobStore } from '../blob/encrypted-blob-store.js';
import type { DomainDeps } from './context.js';
import type { EncryptionType } from './entities.js';

export interface SseConfigInput {
  type: EncryptionType;
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
  /** Variant and annotation stores (analytics/): one folder per import job under it. */
  analytics: (storeId: string) => `var/${storeId}/`,
};

/** Removes every blob under a store's prefix (after the store's rows are gone). */
export async function deleteStoreBlobs(d: DomainDeps, prefix: string): Promise<void> {
  for await (const b of d.blobs.list(prefix)) await d.blobs.delete(b.key);
}

/** Blob keys of a store's data; one function per kind so the layout is written down once. */
export const blobKeys = {
  uploadPart: (storeId: string, uploadId: string, source: string, partNumber: number) =>
    `${storePrefix.sequence(storeId)}uploads/${uploadId}/${source.toLowerCase()}/${partNumber}`,
  readSetFile: (storeId: string, readSetId: string, file: 'source1' | 'source2' | 'index') => `${storePrefix.sequence(storeId)}readsets/${readSetId}/${file}`,
  referenceFile: (storeId: string, referenceId: string, file: 'source' | 'index') => `${storePrefix.reference(storeId)}references/${referenceId}/${file}`,
};

const views = new WeakMap<DomainDeps, Map<string, BlobStore>>();

/**
 * The blob store as one store sees it: every byte encrypted with the store's
 * data key (unwrapped once per process and kept in memory, with the view).
 */
export function storeBlobs(d: DomainDeps, wrappedDataKey: string): BlobStore {
  let cache = views.get(d);
  if (!cache) views.set(d, (cache = new Map()));
  let view = cache.get(wrappedDataKey);
  if (!view) {
    const key = d.keys.unwrap(wrappedDataKey);
    key.catch(() => cache.delete(wrappedDataKey)); // a failed unwrap is retried next time
    view = new LazyEncryptedBlobStore(d.blobs, key);
    cache.set(wrappedDataKey, view);
  }
  return view;
}

/** EncryptedBlobStore whose data key arrives asynchronously (the first unwrap may call KMS). */
class LazyEncryptedBlobStore implements BlobStore {
  private inner?: EncryptedBlobStore;
  constructor(
    private readonly blobs: BlobStore,
    private readonly key: Promise<Buffer>,
  ) {}
  private async store(): Promise<EncryptedBlobStore> {
    return (this.inner ??= new EncryptedBlobStore(this.blobs, await this.key));
  }
  async put(key: string, body: Readable) {
    let s: EncryptedBlobStore;
    try {
      s = await this.store();
    } catch (e) {
      body.destroy();
      throw e;
    }
    return s.put(key, body);
  }
  async get(key: string, range?: ByteRange, opts?: BlobReadOptions) {
    return (await this.store()).get(key, range, opts);
  }
  async read(key: string, range: ByteRange) {
    return (await this.store()).read(key, range);
  }
  async head(key: string) {
    return (await this.store()).head(key);
  }
  async delete(key: string) {
    return this.blobs.delete(key);
  }
  async *list(prefix: string) {
    yield* (await this.store()).list(prefix);
  }
  async sweepIncomplete(olderThanMs: number) {
    return (await this.store()).sweepIncomplete(olderThanMs);
  }

  async compose(key: string, sources: string[]) {
    return (await this.store()).compose(key, sources);
  }
}
