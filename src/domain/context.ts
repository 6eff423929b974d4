import type { Partition } from '../core/arn.js';
import type { MetadataStore } from '../db/metadata-store.js';
import type { KeyProvider } from '../keys/key-provider.js';
import type { BlobStore } from '../blob/blob-store.js';

export interface Quotas {
  maxSequenceStores: number;
  maxReferenceStores: number;
  maxPropagatedSetLevelTags: number;
  maxTagsPerResource: number;
}

export const DEFAULT_QUOTAS: Quotas = {
  maxSequenceStores: 20,
  maxReferenceStores: 1,
  maxPropagatedSetLevelTags: 5,
  maxTagsPerResource: 50,
};

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
