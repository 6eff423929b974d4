import type { Partition } from '../core/arn.js';
import type { MetadataStore } from '../db/metadata-store.js';
import type { KeyProvider } from '../keys/key-provider.js';
import type { BlobStore } from '../blob/blob-store.js';

import type { Quotas } from '../core/quotas.js';

export { DEFAULT_QUOTAS, type Quotas } from '../core/quotas.js';

/** What every domain service is built from (assembled once in main.ts). */
export interface DomainDeps {
  db: MetadataStore;
  keys: KeyProvider;
  blobs: BlobStore;
  /** The cold tier archived read sets move to. */
  coldBlobs: BlobStore;
  /** A private folder for short-lived plaintext (CRAM decoding) and the reference cache. */
  scratchDir: string;
  partition: Partition;
  quotas: Quotas;
  now: () => number;
}
