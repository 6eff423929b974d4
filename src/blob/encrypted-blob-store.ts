import { randomBytes } from 'node:crypto';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { BlobNotFoundError, concatBlobs, type BlobInfo, type BlobStore, type ByteRange, type BlobReadOptions } from './blob-store.js';
import { CorruptBlobError, openChunks, sealChunkInto, TAG, type ChunkRun } from './sealed-chunks.js';
import { sharedDecryptPool, type DecryptPool } from './decrypt-pool.js';
import { ioBuffers } from '../core/buffer-recycler.js';
import { addBounded } from '../core/bounded-cache.js';

/**
 * Authenticated encryption at rest, as a decorator over any BlobStore.
 *
 * Layout of a stored blob:
 *   header (16 B): magic "OOE1" | chunk size (u32 BE) | nonce prefix (8 random bytes)
 *   then chunks: AES-256-GCM(plaintext chunk) | tag (16 B)
 * Every chunk but the last holds exactly `chunkSize` plaintext bytes; the
 * last holds 0..chunkSize and is flagged final in its AAD, so truncation and
 * reordering are detected. The nonce is prefix | chunk index (u32 BE).
 * A ranged read fetches and decrypts only the chunks it covers.
 */
export const CHUNK_SIZE = 16 * 1024;
/** The largest chunk size a blob header may declare (blobs are written with CHUNK_SIZE). */
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const HEADER = 16;
const MAGIC = Buffer.from('OOE1');
/** Plaintext opened together: one job off the main thread, or one inline call (whole chunks, at least one). */
const RUN_BYTES = 1024 * 1024;
const runChunks = (chunkSize: number) => Math.max(1, Math.floor(RUN_BYTES / chunkSize));
/** Reads longer than this decrypt off the main thread; shorter ones inline (the round trip costs more). */
const POOL_THRESHOLD = 4 * RUN_BYTES;
/**
 * Runs in flight per read on the pool, and runs of plaintext buffered ahead of the consumer. Two keep the
 * thread pool busy at one connection (more measured no faster) and halve the memory per stream at sixteen,
 * where they measured faster.
 */
const RUNS_IN_FLIGHT = 2;

export { CorruptBlobError };

export function plaintextSize(storedSize: number, chunkSize = CHUNK_SIZE): number {
  const body = storedSize - HEADER;
  const chunks = Math.ceil(body / (chunkSize + TAG));
  return body - chunks * TAG;
}

class EncryptStream extends Transform {
  private buf: Buffer[] = [];
  private bufLen = 0;
  private index = 0;
  private readonly prefix = randomBytes(8);

  constructor(
    private readonly key: Buffer,
    private readonly chunkSize: number,
  ) {
    super();
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header, 0);
    header.writeUInt32BE(chunkSize, 4);
    this.prefix.copy(header, 8);
    this.push(header);
  }

  /** Seals plaintext chunks into one buffer pushed at once: a push per 16 KiB chunk doubled the cost of a put. */
  private seal(chunks: Buffer[], finalLast: boolean): void {
    const out: Buffer[] = [];
    chunks.forEach((plain, i) => sealChunkInto(out, this.key, this.prefix, this.index++, finalLast && i === chunks.length - 1, plain));
    this.push(Buffer.concat(out));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf.push(chunk);
    this.bufLen += chunk.length;
    if (this.bufLen > this.chunkSize) {
      let all = Buffer.concat(this.buf, this.bufLen);
      // Seal full chunks while more bytes follow them (the last one is held back to be flagged final).
      const full: Buffer[] = [];
      while (all.length > this.chunkSize) {
        full.push(all.subarray(0, this.chunkSize));
        all = all.subarray(this.chunkSize);
      }
      this.seal(full, false);
      this.buf = [all];
      this.bufLen = all.length;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.seal([Buffer.concat(this.buf, this.bufLen)], true);
    cb();
  }
}

/** A Buffer that is the whole of its own ArrayBuffer (not a slice of Node's pool), so it can be moved to a worker. */
function isStandalone(b: Buffer): boolean {
  return b.byteOffset === 0 && b.buffer.byteLength === b.length && b.buffer instanceof ArrayBuffer;
}

interface Opening {
  promise: Promise<Buffer>;
  plain?: Buffer;
}

/**
 * Ciphertext in, plaintext out: sealed bytes are gathered into runs of
 * RUN_BYTES of chunks, each opened inline or, for a large read, off the main
 * thread (decrypt-pool.ts) with a few runs in flight (emitted in order).
 */
class DecryptStream extends Transform {
  private run: Buffer | undefined;
  private filled = 0;
  private nextIndex: number;
  private emitted = 0;
  private skip: number;
  private readonly inFlight: Opening[] = [];
  private readonly runBytes: number;

  constructor(
    private readonly chunks: ChunkRun,
    skip: number, // plaintext bytes to drop from the first chunk
    private readonly want: number, // plaintext bytes to emit in all
    private sealedLeft: number, // sealed bytes the source will deliver
    private readonly pool: DecryptPool | undefined,
    private readonly lend: boolean,
  ) {
    // Room for the runs in flight on the readable side, so delivering one never stalls the next.
    super({ readableHighWaterMark: RUNS_IN_FLIGHT * runChunks(chunks.chunkSize) * chunks.chunkSize });
    this.nextIndex = chunks.firstIndex;
    this.skip = skip;
    this.runBytes = runChunks(chunks.chunkSize) * (chunks.chunkSize + TAG);
  }

  private deliver(plain: Buffer): void {
    const from = Math.min(this.skip, plain.length);
    this.skip -= from;
    const slice = plain.subarray(from, from + Math.max(0, this.want - this.emitted));
    this.emitted += slice.length;
    if (slice.length > 0) this.push(slice);
    else ioBuffers.give(plain);
  }

  /**
   * Hands the gathered run to be opened. Opened runs are delivered as soon as
   * they and every run before them are done; while too many are in flight,
   * this waits for the oldest (backpressure on the source).
   */
  private async submit(): Promise<void> {
    const run: ChunkRun = { ...this.chunks, firstIndex: this.nextIndex };
    this.nextIndex += Math.ceil(this.filled / (this.chunks.chunkSize + TAG));
    const sealed = this.run!;
    const length = this.filled;
    this.run = undefined;
    this.filled = 0;
    if (!this.pool) {
      this.deliver(openChunks(run, sealed.subarray(0, length)));
      return;
    }
    const entry: Opening = { promise: this.pool.open(run, sealed.subarray(0, length)) }; // opened in place
    entry.promise.then(
      (plain) => {
        entry.plain = plain;
        this.deliverDone();
      },
      () => {}, // rethrown when its turn comes
    );
    this.inFlight.push(entry);
    while (this.inFlight.length >= RUNS_IN_FLIGHT) {
      await this.inFlight[0]!.promise;
      this.deliverDone();
    }
  }

  private deliverDone(): void {
    while (this.inFlight[0]?.plain) this.deliver(this.inFlight.shift()!.plain!);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    (async () => {
      // A source chunk that is whole runs is handed over as it is (the inner store was asked for chunks of
      // a run's size): no copy. A pool that moves memory to another thread needs it in memory of its own.
      const wholeRuns = chunk.length === this.runBytes || chunk.length === this.sealedLeft;
      if (this.pool && this.filled === 0 && wholeRuns && (!this.pool.movesMemory || isStandalone(chunk))) {
        this.run = chunk;
        this.filled = chunk.length;
        this.sealedLeft -= chunk.length;
        await this.submit();
        return;
      }
      for (let off = 0; off < chunk.length; ) {
        // Memory of its own (from the recycler), so a run can move to a worker.
        this.run ??= (this.lend ? ioBuffers.take(this.runBytes) : Buffer.allocUnsafeSlow(this.runBytes)).subarray(0, Math.max(1, Math.min(this.runBytes, this.sealedLeft)));
        const n = chunk.copy(this.run, this.filled, off);
        this.filled += n;
        this.sealedLeft -= n;
        off += n;
        if (this.filled === this.run.length) await this.submit();
      }
      ioBuffers.give(chunk); // copied: this stream was its last holder
    })().then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    (async () => {
      if (this.filled > 0) await this.submit();
      while (this.inFlight.length > 0) {
        await this.inFlight[0]!.promise;
        this.deliverDone();
      }
      if (this.emitted !== this.want) throw new CorruptBlobError(`blob is truncated: ${this.emitted} of ${this.want} bytes`);
    })().then(() => cb(), cb);
  }
}

/** A BlobStore view that encrypts with one data key (a store's). Sizes and ranges are in plaintext bytes. */
export class EncryptedBlobStore implements BlobStore {
  constructor(
    private readonly inner: BlobStore,
    private readonly dataKey: Buffer,
    private readonly chunkSize = CHUNK_SIZE,
  ) {
    if (dataKey.length !== 32) throw new Error('data key must be 32 bytes');
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    this.headers.delete(key);
    const enc = new EncryptStream(this.dataKey, this.chunkSize);
    // pipeline() destroys `enc` with the source's error, which fails the inner put.
    const { size } = await this.inner.put(key, pipeline(body, enc, () => {}));
    return { size: plaintextSize(size, this.chunkSize) };
  }

  /**
   * Blob headers already read, by key and stored size: a ranged read then costs one read, not two.
   * A blob replaced under the same key with the same size would fail authentication (never return
   * wrong bytes); the entry is dropped on any decryption error.
   */
  private readonly headers = new Map<string, { size: number; prefix: Buffer; chunkSize: number }>();

  private async cachedHeader(key: string, storedSize: number): Promise<{ prefix: Buffer; chunkSize: number }> {
    const hit = this.headers.get(key);
    if (hit && hit.size === storedSize) return hit;
    const h = await this.header(key);
    addBounded(this.headers, key, { size: storedSize, ...h }, 10_000);
    return h;
  }

  private async header(key: string): Promise<{ prefix: Buffer; chunkSize: number }> {
    const stream = await this.inner.get(key, { start: 0, end: HEADER - 1 });
    const parts: Buffer[] = [];
    for await (const c of stream) parts.push(c as Buffer);
    const h = Buffer.concat(parts);
    if (h.length !== HEADER || !h.subarray(0, 4).equals(MAGIC)) throw new CorruptBlobError(`${key} is not an encrypted blob`);
    const chunkSize = h.readUInt32BE(4);
    // Not authenticated itself (a wrong size fails every chunk), but it sizes buffers: bounded before use.
    if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) throw new CorruptBlobError(`${key} has a damaged header (chunk size ${chunkSize})`);
    return { chunkSize, prefix: h.subarray(8, 16) };
  }

  /** Where the sealed chunks covering a plaintext range lie in the stored blob. */
  private async locate(key: string, range: ByteRange | undefined) {
    // A known blob needs no stat: its stored size came with its header (a replaced blob fails authentication).
    const known = this.headers.get(key);
    const info = known ? { size: known.size } : await this.inner.head(key);
    if (!info) throw new BlobNotFoundError(key);
    const { prefix, chunkSize } = known ?? (await this.cachedHeader(key, info.size));
    const size = plaintextSize(info.size, chunkSize);
    const chunks = Math.max(1, Math.ceil(size / chunkSize));
    const start = range ? range.start : 0;
    const end = range ? Math.min(range.end, size - 1) : size - 1;
    const want = Math.max(0, end - start + 1);
    const first = size === 0 ? 0 : Math.floor(start / chunkSize);
    const last = size === 0 ? 0 : Math.floor(Math.max(end, start) / chunkSize);
    const sealed = chunkSize + TAG;
    return {
      run: { key: this.dataKey, prefix, chunkSize, firstIndex: first, lastIndexOfBlob: chunks - 1 } satisfies ChunkRun,
      skip: start - first * chunkSize,
      want,
      stored: { start: HEADER + first * sealed, end: Math.min(info.size - 1, HEADER + (last + 1) * sealed - 1) },
      runBytes: runChunks(chunkSize) * sealed,
    };
  }

  async get(key: string, range?: ByteRange, opts: BlobReadOptions = {}): Promise<Readable> {
    const at = await this.locate(key, range);
    const lend = opts.lend ?? false;
    const src = await this.inner.get(key, at.stored, { readSize: at.runBytes, lend });
    const pool = at.want > POOL_THRESHOLD ? sharedDecryptPool() : undefined;
    const dec = new DecryptStream(at.run, at.skip, at.want, at.stored.end - at.stored.start + 1, pool, lend);
    return pipeline(src, dec, (err) => {
      if (err) this.headers.delete(key);
    });
  }

  async read(key: string, range: ByteRange): Promise<Buffer> {
    const at = await this.locate(key, range);
    if (at.want === 0) return Buffer.alloc(0);
    const sealed = await this.inner.read(key, at.stored);
    try {
      if (sealed.length !== at.stored.end - at.stored.start + 1) throw new CorruptBlobError(`blob is truncated: ${key}`);
      return openChunks(at.run, sealed).subarray(at.skip, at.skip + at.want);
    } catch (e) {
      this.headers.delete(key);
      throw e;
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    const info = await this.inner.head(key);
    return info && { key, size: plaintextSize(info.size, this.chunkSize) };
  }

  delete(key: string): Promise<void> {
    this.headers.delete(key);
    return this.inner.delete(key);
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    for await (const b of this.inner.list(prefix)) yield { key: b.key, size: plaintextSize(b.size, this.chunkSize) };
  }

  sweepIncomplete(olderThanMs: number): Promise<number> {
    return this.inner.sweepIncomplete(olderThanMs);
  }

  async compose(key: string, sources: string[]): Promise<{ size: number }> {
    return this.put(key, concatBlobs(this, sources));
  }
}
