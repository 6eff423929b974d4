import { createCipheriv, createDecipheriv } from 'node:crypto';
import { lazyAddon } from '../core/native-addon.js';

/**
 * The chunk format of encrypted blobs (see encrypted-blob-store.ts), with no
 * stream or thread code: AES-256-GCM per chunk, nonce = 8-byte blob prefix |
 * chunk index (u32 BE), AAD = index (u64 BE) | final flag. Shared by the
 * stream that decrypts inline and the worker that decrypts large reads.
 */
export const TAG = 16;

export class CorruptBlobError extends Error {}

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

/** Seals one plaintext chunk: ciphertext followed by its tag. */
export function sealChunk(key: Buffer, prefix: Buffer, index: number, final: boolean, plain: Buffer): Buffer {
  const parts: Buffer[] = [];
  sealChunkInto(parts, key, prefix, index, final, plain);
  return Buffer.concat(parts);
}

/** Seals one plaintext chunk, appending its ciphertext and tag to `out` (a run of chunks is joined once). */
export function sealChunkInto(out: Buffer[], key: Buffer, prefix: Buffer, index: number, final: boolean, plain: Buffer): void {
  const c = createCipheriv('aes-256-gcm', key, nonce(prefix, index));
  c.setAAD(aad(index, final));
  out.push(c.update(plain), c.final(), c.getAuthTag());
}

export interface ChunkRun {
  key: Buffer;
  prefix: Buffer;
  chunkSize: number;
  /** Index of the first sealed chunk in `sealed`. */
  firstIndex: number;
  /** Index of the blob's last chunk (the one flagged final). */
  lastIndexOfBlob: number;
}

/** native/sealed_chunks_binding.c: the same opening with OpenSSL's EVP, in place, without allocations. */
export interface SealedChunksAddon {
  open(key: Buffer, prefix: Buffer, chunkSize: number, firstIndex: number, lastIndexOfBlob: number, sealed: Buffer): number;
  /** On a libuv thread-pool thread; `sealed` must not be touched until the promise settles. */
  openAsync(key: Buffer, prefix: Buffer, chunkSize: number, firstIndex: number, lastIndexOfBlob: number, sealed: Buffer): Promise<number>;
}

/** The addon, unless it was not built or native.crypto = node (OPENOMICS_NATIVE_CRYPTO=0) asks for node:crypto. */
export const sealedChunksAddon = lazyAddon<SealedChunksAddon>('openomics_crypto', (c) => (c.crypto === 'node' ? 'crypto: node' : undefined));

/**
 * Opens consecutive sealed chunks (every one full-size but possibly the
 * blob's last) in place: each chunk's plaintext is written over the front of
 * `sealed` (it lands at or before its ciphertext) and a view of it is
 * returned. A chunk that fails authentication (tampered, truncated,
 * reordered, wrong key) throws.
 */
export function openChunks(run: ChunkRun, sealed: Buffer): Buffer {
  const addon = sealedChunksAddon();
  if (!addon) return openChunksWithNodeCrypto(run, sealed);
  try {
    return sealed.subarray(0, addon.open(run.key, run.prefix, run.chunkSize, run.firstIndex, run.lastIndexOfBlob, sealed));
  } catch (e) {
    throw new CorruptBlobError((e as Error).message);
  }
}

/** As openChunks, off the calling thread: with the addon on the libuv thread pool, undefined without it. */
export function openChunksAsync(run: ChunkRun, sealed: Buffer): Promise<Buffer> | undefined {
  return sealedChunksAddon()
    ?.openAsync(run.key, run.prefix, run.chunkSize, run.firstIndex, run.lastIndexOfBlob, sealed)
    .then(
      (n) => sealed.subarray(0, n),
      (e: Error) => {
        throw new CorruptBlobError(e.message);
      },
    );
}

/** openChunks with node:crypto (no addon; also the reference the addon is tested against). */
export function openChunksWithNodeCrypto(run: ChunkRun, sealed: Buffer): Buffer {
  const sealedSize = run.chunkSize + TAG;
  const count = Math.ceil(sealed.length / sealedSize);
  let written = 0;
  for (let i = 0, off = 0; i < count; i++, off += sealedSize) {
    const index = run.firstIndex + i;
    const piece = sealed.subarray(off, Math.min(sealed.length, off + sealedSize));
    if (piece.length < TAG) throw new CorruptBlobError(`chunk ${index} is truncated`);
    const d = createDecipheriv('aes-256-gcm', run.key, nonce(run.prefix, index));
    d.setAAD(aad(index, index === run.lastIndexOfBlob));
    d.setAuthTag(piece.subarray(piece.length - TAG));
    try {
      const plain = d.update(piece.subarray(0, piece.length - TAG));
      d.final(); // GCM: checks the tag, yields no bytes
      written += plain.copy(sealed, written);
    } catch {
      throw new CorruptBlobError(`chunk ${index} failed authentication`);
    }
  }
  return sealed.subarray(0, written);
}
