import type { Readable } from 'node:stream';
import { blobErrors } from '../core/metrics.js';
import type { BlobInfo, BlobReadOptions, BlobStore, ByteRange } from './blob-store.js';

/**
 * A blob store whose failures are counted (openomics_blob_errors_total{tier, operation}), including streams
 * that fail after they were handed out. Decorates the hot and cold tiers in app.ts.
 */
export class CountedBlobStore implements BlobStore {
  constructor(
    private readonly inner: BlobStore,
    private readonly tier: string,
  ) {}

  private async count<T>(operation: string, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      blobErrors.inc({ tier: this.tier, operation });
      throw e;
    }
  }

  put(key: string, body: Readable) {
    return this.count('put', this.inner.put(key, body));
  }
  async get(key: string, range?: ByteRange, opts?: BlobReadOptions) {
    const stream = await this.count('get', this.inner.get(key, range, opts));
    stream.once('error', () => blobErrors.inc({ tier: this.tier, operation: 'read' }));
    return stream;
  }
  read(key: string, range: ByteRange) {
    return this.count('read', this.inner.read(key, range));
  }
  head(key: string): Promise<BlobInfo | undefined> {
    return this.count('head', this.inner.head(key));
  }
  delete(key: string) {
    return this.count('delete', this.inner.delete(key));
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  compose(key: string, sources: string[]) {
    return this.count('compose', this.inner.compose(key, sources));
  }
  sweepIncomplete(olderThanMs: number) {
    return this.count('sweep', this.inner.sweepIncomplete(olderThanMs));
  }
}
