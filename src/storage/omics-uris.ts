import type { Readable } from 'node:stream';
import type { DomainDeps } from './context.js';
import { storeBlobs } from './store-storage.js';
import type { StoredFile } from './entities.js';

/**
 * Read set and reference files named by HealthOmics storage URIs, as workflow runs take them as inputs
 * (spec workflows §4.5): `omics://<account>.storage.<region>.amazonaws.com/<sequenceStoreId>/readSet/<id>[/source1|/source2|/index]`
 * and `.../<referenceStoreId>/reference/<id>[/source|/index]`; the short forms mean SOURCE1 and SOURCE.
 */
export interface OmicsStorageFile {
  uri: string;
  /** The file's name (as the S3 view shows it). */
  name: string;
  /** ACTIVE, or why it cannot be read (ARCHIVED, a status still in progress). */
  status: string;
  /** `etag:<value>` of what the file holds (read set ETag, reference MD5), when there is one. */
  digest: string | null;
  size: number;
  open(): Promise<Readable>;
}

const URI = /^omics:\/\/(\d{12})\.storage\.([a-z0-9-]+)\.amazonaws\.com\/(\d+)\/(readSet|reference)\/(\d+)(?:\/(source1|source2|source|index))?\/?$/;

export const isOmicsUri = (uri: string): boolean => uri.startsWith('omics://');

export class OmicsStorageUris {
  constructor(private readonly d: DomainDeps) {}

  /** The file, or undefined if no such file exists for this account; a malformed URI throws a TypeError. */
  async resolve(accountId: string, uri: string): Promise<OmicsStorageFile | undefined> {
    const m = URI.exec(uri);
    if (!m) throw new TypeError(`${uri} is not a HealthOmics storage URI (omics://<account>.storage.<region>.amazonaws.com/<storeId>/readSet|reference/<id>[/file]).`);
    const [, account, region, storeId, kind, id, which] = m as unknown as [string, string, string, string, string, string, string | undefined];
    if (account !== accountId || region !== this.d.partition.region) return undefined;
    if (kind === 'readSet') {
      const store = await this.d.db.sequenceStores.get(accountId, storeId);
      const rs = store && (await this.d.db.readSets.get(storeId, id));
      if (!store || !rs || rs.accountId !== accountId) return undefined;
      const file = which === 'source2' ? 'source2' : which === 'index' ? 'index' : which === 'source1' || !which ? 'source1' : undefined;
      const f = file && rs.files[file];
      if (!f) return undefined;
      const etag = file === 'source1' ? rs.etag?.source1 : file === 'source2' ? rs.etag?.source2 : undefined;
      return this.file(uri, f, rs.status, etag ? `etag:${etag}` : null, store.dataKey);
    }
    const store = await this.d.db.referenceStores.get(accountId, storeId);
    const ref = store && (await this.d.db.references.get(storeId, id));
    if (!store || !ref || ref.accountId !== accountId) return undefined;
    const file = which === 'index' ? 'index' : which === 'source' || !which ? 'source' : undefined;
    const f = file && ref.files[file];
    if (!f) return undefined;
    return this.file(uri, f, ref.status, file === 'source' ? `etag:${ref.md5}` : null, store.dataKey);
  }

  private file(uri: string, f: StoredFile, status: string, digest: string | null, dataKey: string): OmicsStorageFile {
    return { uri, name: f.name, status, digest, size: f.contentLength, open: () => storeBlobs(this.d, dataKey).get(f.blobKey) };
  }
}
