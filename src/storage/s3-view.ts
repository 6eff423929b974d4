import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { accessPointArn, parseArn, readSetArn } from '../core/arn.js';
import { NotFoundError, RangeNotSatisfiableError } from '../core/errors.js';
import type { SequenceStoreRecord } from './entities.js';
import type { ReadSetRecord, StoredFile } from './entities.js';
import type { DomainDeps } from './context.js';
import { storeBlobs } from './store-storage.js';
import { BlobNotFoundError } from '../blob/blob-store.js';
import { GenerationCache } from '../core/bounded-cache.js';

/**
 * The S3 view of read sets (spec §3): each sequence store is a read-only
 * bucket named by its access point alias (or access point name or ARN); each
 * file of an ACTIVE read set is the object
 * `<account>/sequenceStore/<store>/readSet/<readSet>/<file name>`.
 * Knows nothing of HTTP or XML; `api/s3/` speaks the protocol.
 */
export class NoSuchBucketError extends NotFoundError {}
export class NoSuchKeyError extends NotFoundError {}

export interface S3Object {
  key: string;
  size: number;
  lastModified: number;
  /** Bitwise-identity ETag of the stored bytes (not the semantic read set ETag): stable while the bytes are. */
  etag: string;
  storageClass: 'STANDARD';
  /** S3's full-object CRC32 of the bytes (base64), when it was recorded as they were stored. */
  crc32?: string;
}

export interface ObjectTarget {
  store: SequenceStoreRecord;
  readSet: ReadSetRecord;
  file: StoredFile;
  object: S3Object;
}

export interface ListRequest {
  prefix: string;
  delimiter?: string;
  /** Keys strictly after this one (start-after, marker, or a continuation token's key). */
  after?: string;
  maxKeys: number;
}

export interface ListResult {
  objects: S3Object[];
  commonPrefixes: string[];
  truncated: boolean;
  /** The last key or common prefix returned (the next page starts after it). */
  lastKey?: string;
}

/** Ranges up to this size are read into memory in one piece. */
const SMALL_READ = 1024 * 1024;

const KEY = /^(\d{12})\/sequenceStore\/(\d+)\/readSet\/(\d+)\/([^/]+)$/;

/**
 * The S3 object of each stored file, by the file's record: a read set row is loaded once per change to it
 * (GenerationCache), and its file records with it, so the object (its key and its ETag, an MD5) is made once per
 * version of the row rather than on every request (~2% of a small read's CPU). Frozen: callers share it. Only
 * cached rows' files are keys: a listing's rows die with the page, and short-lived WeakMap keys cost collections.
 */
const objectsOfFiles = new WeakMap<StoredFile, S3Object>();

export class S3ViewService {
  /** Every request names a bucket and most an object: their rows, kept while nothing changed (any process). */
  private readonly stores: GenerationCache<string, SequenceStoreRecord | undefined>;
  private readonly readSets: GenerationCache<string, ReadSetRecord | undefined>;
  private readonly readSetTags: GenerationCache<string, Record<string, string>>;

  constructor(private readonly d: DomainDeps) {
    const generation = () => d.db.generation();
    this.stores = new GenerationCache(generation);
    this.readSets = new GenerationCache(generation);
    this.readSetTags = new GenerationCache(generation);
  }

  /** A bucket name as S3 clients send it: the alias, the access point name, or the access point ARN. */
  async bucket(name: string): Promise<SequenceStoreRecord> {
    let lookup = name;
    if (name.startsWith('arn:')) {
      const p = parseArn(name);
      const m = p && p.service === 's3' ? /^accesspoint\/(.+)$/.exec(p.resource) : null;
      if (!m) throw new NoSuchBucketError(`The specified bucket does not exist: ${name}`);
      lookup = m[1]!;
    }
    const store = await this.stores.get(lookup, () => this.d.db.sequenceStores.getByAccessPoint(lookup));
    if (!store || store.status !== 'ACTIVE') throw new NoSuchBucketError(`The specified bucket does not exist: ${name}`);
    return store;
  }

  accessPointArn(store: SequenceStoreRecord): string {
    return accessPointArn(this.d.partition, store.accountId, store.accessPointName);
  }

  /** The ARN IAM policies name an object by: `<access point ARN>/object/<key>`. */
  objectArn(store: SequenceStoreRecord, key: string): string {
    return `${this.accessPointArn(store)}/object/${key}`;
  }

  prefixOf(store: SequenceStoreRecord): string {
    return `${store.accountId}/sequenceStore/${store.id}/`;
  }

  private object(store: SequenceStoreRecord, rs: ReadSetRecord, f: StoredFile): S3Object {
    const key = `${this.prefixOf(store)}readSet/${rs.id}/${f.name}`;
    // Multipart-style (`<hex>-1`), as the service's objects have: S3 tools must not take it for the
    // MD5 of the bytes (rclone verifies a plain 32-hex ETag as one). Stable while the stored bytes are.
    const etag = `${createHash('md5').update(`${f.blobKey}\n${f.contentLength}\n${rs.creationTime}`).digest('hex')}-1`;
    return Object.freeze({ key, size: f.contentLength, lastModified: rs.updateTime, etag, storageClass: 'STANDARD', ...(f.crc32 ? { crc32: f.crc32 } : {}) });
  }

  /** `object`, kept for a cached row's file (object reads); listings read rows of their own and do not keep them. */
  private cachedObject(store: SequenceStoreRecord, rs: ReadSetRecord, f: StoredFile): S3Object {
    let o = objectsOfFiles.get(f);
    if (!o) objectsOfFiles.set(f, (o = this.object(store, rs, f)));
    return o;
  }

  /**
   * The store's objects in key order, lazily: read sets are read from the
   * database in id order (the key order of `readSet/<id>/`), a batch at a
   * time, starting at the read set the prefix or the start-after key names,
   * so a page costs what it returns, not the size of the store.
   */
  private async *objects(store: SequenceStoreRecord, prefix: string, after: string | undefined): AsyncGenerator<S3Object> {
    const mine = this.prefixOf(store);
    if (!mine.startsWith(prefix) && !prefix.startsWith(mine)) return;
    const rsPart = `${mine}readSet/`;
    const idIn = (k: string | undefined) => (k && k.startsWith(rsPart) ? /^\d+/.exec(k.slice(rsPart.length))?.[0] : undefined);
    const prefixId = idIn(prefix);
    const afterId = after !== undefined && after >= rsPart ? idIn(after) : undefined;
    let from = [prefixId, afterId].filter((x): x is string => x !== undefined).sort().pop() ?? '';
    let seen: string | undefined;
    for (;;) {
      const batch = await this.d.db.readSets.listActiveFrom(store.id, from, 500);
      for (const rs of batch) {
        if (rs.id === seen) continue; // the batch boundary, read again (ids are unique)
        if (prefixId !== undefined && !rs.id.startsWith(prefixId)) return;
        const files = [rs.files.source1, rs.files.source2, rs.files.index].filter((f): f is StoredFile => f !== undefined);
        const objs = files.map((f) => this.object(store, rs, f)).sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
        for (const o of objs) if (o.key.startsWith(prefix) && (after === undefined || o.key > after)) yield o;
      }
      if (batch.length < 500) return;
      seen = from = batch[batch.length - 1]!.id;
    }
  }

  async list(store: SequenceStoreRecord, req: ListRequest): Promise<ListResult> {
    const objects: S3Object[] = [];
    const commonPrefixes: string[] = [];
    let count = 0;
    let truncated = false;
    let lastKey: string | undefined;
    for await (const o of this.objects(store, req.prefix, req.after)) {
      let entry: string | S3Object = o;
      if (req.delimiter) {
        const i = o.key.indexOf(req.delimiter, req.prefix.length);
        if (i >= 0) {
          const cp = o.key.slice(0, i + req.delimiter.length);
          if (commonPrefixes[commonPrefixes.length - 1] === cp) continue;
          if (req.after !== undefined && cp <= req.after) continue;
          entry = cp;
        }
      }
      if (count === req.maxKeys) {
        truncated = true;
        break;
      }
      if (typeof entry === 'string') commonPrefixes.push(entry);
      else objects.push(entry);
      lastKey = typeof entry === 'string' ? entry : entry.key;
      count++;
      // Every key of the store is under `<prefix of the store>readSet/`: a common prefix that covers it covers the rest.
      if (typeof entry === 'string' && `${this.prefixOf(store)}readSet/`.startsWith(entry)) break;
    }
    return { objects, commonPrefixes, truncated, ...(lastKey !== undefined ? { lastKey } : {}) };
  }

  /** The read set file a key names, if it is visible (ACTIVE). */
  async target(store: SequenceStoreRecord, key: string): Promise<ObjectTarget> {
    const m = KEY.exec(key);
    const missing = () => new NoSuchKeyError('The specified key does not exist.');
    if (!m || m[1] !== store.accountId || m[2] !== store.id) throw missing();
    const rs = await this.readSets.get(`${store.id}/${m[3]!}`, () => this.d.db.readSets.get(store.id, m[3]!));
    if (!rs || rs.status !== 'ACTIVE') throw missing();
    const file = [rs.files.source1, rs.files.source2, rs.files.index].find((f) => f?.name === m[4]);
    if (!file) throw missing();
    return { store, readSet: rs, file, object: this.cachedObject(store, rs, file) };
  }

  /** Object tags: the system tags and the read set's tags whose keys the store propagates (spec §2.9). */
  async tags(t: ObjectTarget): Promise<Record<string, string>> {
    const arn = readSetArn(this.d.partition, t.store.accountId, t.store.id, t.readSet.id);
    const own = await this.readSetTags.get(arn, () => this.d.db.tags.list(arn));
    const out: Record<string, string> = {
      'omics:subjectId': t.readSet.subjectId,
      'omics:sampleId': t.readSet.sampleId,
      'omics:readSetStatus': t.readSet.status,
    };
    for (const k of t.store.propagatedSetLevelTags) if (own[k] !== undefined) out[k] = own[k]!;
    return out;
  }

  /**
   * The bytes (or an inclusive range) of an object; counts as an access to the
   * read set. A small range comes as one buffer (no stream machinery), anything
   * else as a stream.
   */
  async open(t: ObjectTarget, range?: { start: number; end: number }): Promise<Readable | Buffer> {
    const now = this.d.now();
    if (now - t.readSet.lastAccessTime > 60_000) {
      await this.d.db.readSets.update(t.store.id, t.readSet.id, { lastAccessTime: now, updateTime: t.readSet.updateTime });
    }
    const blobs = storeBlobs(this.d, t.store.dataKey);
    try {
      if (range && range.end - range.start < SMALL_READ) return await blobs.read(t.file.blobKey, range);
      return await blobs.get(t.file.blobKey, range, { lend: true }); // served by the S3 edge, which gives buffers back
    } catch (e) {
      // Deleted or archived between the lookup and the read.
      if (e instanceof BlobNotFoundError) throw new NoSuchKeyError('The specified key does not exist.');
      throw e;
    }
  }
}

/**
 * An HTTP Range header against an object of `size` bytes: undefined for the
 * whole object (absent, or a form S3 ignores), the inclusive range, or
 * RangeNotSatisfiable.
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // multiple or malformed ranges: S3 sends the whole object
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw new RangeNotSatisfiableError('The requested range is not satisfiable');
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw new RangeNotSatisfiableError('The requested range is not satisfiable');
  return { start, end };
}

