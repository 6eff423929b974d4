import { createCipheriv, createDecipheriv } from 'node:crypto';

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
  const c = createCipheriv('aes-256-gcm', key, nonce(prefix, index));
  c.setAAD(aad(index, final));
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
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

/**
 * Opens consecutive sealed chunks (every one full-size but possibly the
 * blob's last) and returns their plaintext, concatenated; a chunk that fails
 * authentication (tampered, truncated, reordered, wrong key) throws.
 * With `inPlace`, the plaintext is written over the front of `sealed` itself
 * (each chunk's plaintext lands at or before its ciphertext) and a view of it
 * is returned: no allocation beyond the cipher's own.
 */
export function openChunks(run: ChunkRun, sealed: Buffer, inPlace = false): Buffer {
  const sealedSize = run.chunkSize + TAG;
  const count = Math.ceil(sealed.length / sealedSize);
  const plainLength = Math.max(0, sealed.length - count * TAG);
  const out = inPlace ? sealed : Buffer.allocUnsafeSlow(plainLength);
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
      written += plain.copy(out, written);
    } catch {
      throw new CorruptBlobError(`chunk ${index} failed authentication`);
    }
  }
  return inPlace ? out.subarray(0, written) : out;
}
