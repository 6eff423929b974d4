import type { Readable } from 'node:stream';
import { lazyReadable } from '../core/streams.js';
import { ValidationError } from '../core/errors.js';

/** An inclusive byte range, as HTTP Range speaks of it. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobReadOptions {
  readSize?: number;
  lend?: boolean;
}

export interface BlobInfo {
  key: string;
  size: number;
}

/**
 * The narrow blob interface every storage backend implements. Keys are
 * slash-separated relative paths ("seq/123/readset/456/source1").
 * `test/blob-store.test.ts` is the conformance suite for every implementation.
 */
export interface BlobStore {
  /** Streams `body` into `key`; visible only once complete (atomic replace). */
  put(key: string, body: Readable): Promise<{ size: number }>;
  /**
   * Streams the blob or the inclusive `range` of it. `readSize` is a hint: the
   * chunk size the caller would like (a backend that reads in chunks of its
   * own choosing may ignore it). `lend`: the chunks may be buffers lent by the
   * I/O recycler (core/buffer-recycler.ts), for a consumer that gives each back
   * once it is its last holder (the HTTP edges' sendStream); others get
   * memory of their own.
   */
  get(key: string, range?: ByteRange, opts?: BlobReadOptions): Promise<Readable>;
  /**
   * The inclusive `range` of the blob, in memory: for small reads (an S3 range
   * GET), where a stream's machinery costs more than the bytes. Callers bound
   * the range (the S3 view reads at most 1 MiB this way); a range past the end is cut at the end.
   */
  read(key: string, range: ByteRange): Promise<Buffer>;
  head(key: string): Promise<BlobInfo | undefined>;
  delete(key: string): Promise<void>;
  list(prefix: string): AsyncIterable<BlobInfo>;
  /** Multipart assembly: `key` becomes the concatenation of `sources`, in order. */
  compose(key: string, sources: string[]): Promise<{ size: number }>;
  /**
   * Removes what interrupted writes left (a killed process's partial files, an object store's incomplete
   * multipart uploads): at once where the writer can be proven gone, else when older than `olderThanMs`.
   * Returns how many it removed.
   */
  sweepIncomplete(olderThanMs: number): Promise<number>;
}

/** Refuses keys that could escape a backend's namespace. */
export function checkBlobKey(key: string): void {
  if (
    key.length === 0 ||
    key.length > 1024 ||
    key.startsWith('/') ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')
  ) {
    throw new ValidationError(`invalid blob key: ${JSON.stringify(key)}`);
  }
}

/**
 * A stream that yields each source blob in turn, opening one at a time and
 * only once it is read; a failing blob fails the stream (see `lazyReadable`).
 */
export function concatBlobs(store: BlobStore, sources: string[]): Readable {
  return lazyReadable(async function* () {
    for (const src of sources) yield* (await store.get(src)) as AsyncIterable<Buffer>;
  });
}

export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`blob not found: ${key}`);
  }
}
