import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { BlobNotFoundError, concatBlobs, type BlobInfo, type BlobStore, type ByteRange } from './blob-store.js';

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
export const CHUNK_SIZE = 64 * 1024;
const HEADER = 16;
const TAG = 16;
const MAGIC = Buffer.from('OOE1');

function aad(index: number, final: boolean): Buffer {
  const b = Buffer.alloc(9);
  b.writeBigUInt64BE(BigInt(index));
  b[8] = final ? 1 : 0;
  return b;
}

function nonce(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 8);
  n.writeUInt32BE(index, 8);
  return n;
}

export function plaintextSize(storedSize: number, chunkSize = CHUNK_SIZE): number {
  const body = storedSize - HEADER;
  const chunks = Math.ceil(body / (chunkSize + TAG));
  return body - chunks * TAG;
}

export class CorruptBlobError extends Error {}

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

  private seal(plain: Buffer, final: boolean): void {
    const c = createCipheriv('aes-256-gcm', this.key, nonce(this.prefix, this.index));
    c.setAAD(aad(this.index, final));
    this.push(Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]));
    this.index++;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf.push(chunk);
    this.bufLen += chunk.length;
    if (this.bufLen > this.chunkSize) {
      let all = Buffer.concat(this.buf, this.bufLen);
      // Emit full chunks while more bytes follow them (the last one is held back to be flagged final).
      while (all.length > this.chunkSize) {
        this.seal(all.subarray(0, this.chunkSize), false);
        all = all.subarray(this.chunkSize);
      }
      this.buf = [all];
      this.bufLen = all.length;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.seal(Buffer.concat(this.buf, this.bufLen), true);
    cb();
  }
}

class DecryptStream extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private index: number;
  private emitted = 0;

  constructor(
    private readonly key: Buffer,
    private readonly prefix: Buffer,
    private readonly chunkSize: number,
    firstIndex: number,
    private readonly lastIndexOfBlob: number,
    private readonly skip: number, // plaintext bytes to drop from the first chunk
    private readonly want: number, // plaintext bytes to emit in all
  ) {
    super();
    this.index = firstIndex;
  }

  private open(sealed: Buffer): void {
    const final = this.index === this.lastIndexOfBlob;
    const d = createDecipheriv('aes-256-gcm', this.key, nonce(this.prefix, this.index));
    d.setAAD(aad(this.index, final));
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    let plain: Buffer;
    try {
      plain = d.update(sealed.subarray(0, sealed.length - TAG));
      d.final(); // GCM: checks the tag, yields no bytes
    } catch {
      throw new CorruptBlobError(`chunk ${this.index} failed authentication`);
    }
    const from = this.emitted === 0 ? this.skip : 0;
    const slice = plain.subarray(from, Math.min(plain.length, from + (this.want - this.emitted)));
    this.emitted += slice.length;
    if (slice.length > 0) this.push(slice);
    this.index++;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      const sealedSize = this.chunkSize + TAG;
      let off = 0;
      if (this.pending.length > 0) {
        // Complete the carried-over sealed chunk with just the bytes it lacks (no copy of the whole input).
        const need = sealedSize - this.pending.length;
        if (chunk.length < need) {
          this.pending = Buffer.concat([this.pending, chunk]);
          cb();
          return;
        }
        this.open(Buffer.concat([this.pending, chunk.subarray(0, need)]));
        off = need;
        this.pending = Buffer.alloc(0);
      }
      while (chunk.length - off >= sealedSize && this.emitted < this.want) {
        this.open(chunk.subarray(off, off + sealedSize));
        off += sealedSize;
      }
      if (off < chunk.length) this.pending = Buffer.from(chunk.subarray(off));
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (this.pending.length > 0 && this.emitted < this.want) this.open(this.pending);
      if (this.emitted !== this.want) throw new CorruptBlobError(`blob is truncated: ${this.emitted} of ${this.want} bytes`);
      cb();
    } catch (e) {
      cb(e as Error);
    }
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
    if (this.headers.size >= 10_000) this.headers.delete(this.headers.keys().next().value!);
    this.headers.set(key, { size: storedSize, ...h });
    return h;
  }

  private async header(key: string): Promise<{ prefix: Buffer; chunkSize: number }> {
    const stream = await this.inner.get(key, { start: 0, end: HEADER - 1 });
    const parts: Buffer[] = [];
    for await (const c of stream) parts.push(c as Buffer);
    const h = Buffer.concat(parts);
    if (h.length !== HEADER || !h.subarray(0, 4).equals(MAGIC)) throw new CorruptBlobError(`${key} is not an encrypted blob`);
    return { chunkSize: h.readUInt32BE(4), prefix: h.subarray(8, 16) };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
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
    const cStart = HEADER + first * sealed;
    const cEnd = Math.min(info.size - 1, HEADER + (last + 1) * sealed - 1);
    const src = await this.inner.get(key, { start: cStart, end: cEnd });
    const dec = new DecryptStream(this.dataKey, prefix, chunkSize, first, chunks - 1, start - first * chunkSize, want);
    return pipeline(src, dec, (err) => {
      if (err) this.headers.delete(key);
    });
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

  async compose(key: string, sources: string[]): Promise<{ size: number }> {
    return this.put(key, concatBlobs(this, sources));
  }
}
