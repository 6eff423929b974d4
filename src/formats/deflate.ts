import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crc32 as zlibCrc32, inflateRawSync } from 'node:zlib';

/**
 * Raw DEFLATE and CRC32 for BGZF blocks: libdeflate (what samtools uses, faster
 * than zlib) through the small addon in native/, built by `npm ci` when Debian's
 * libdeflate-dev is installed; node:zlib otherwise.
 */
export const DEFLATE_ADDON = fileURLToPath(new URL('../../../build/Release/openomics_deflate.node', import.meta.url));
export const hasDeflateAddon = () => existsSync(DEFLATE_ADDON);

interface Addon {
  inflateRaw(input: Uint8Array, output: Uint8Array): number;
  crc32(data: Uint8Array): number;
}

let addon: Addon | undefined;
try {
  if (hasDeflateAddon()) addon = createRequire(import.meta.url)(DEFLATE_ADDON) as Addon;
} catch {
  addon = undefined; // a stale or foreign build: fall back to zlib
}

/** Inflates raw DEFLATE data that should make `size` bytes (returns what it made; callers check the size). */
export function inflateRaw(cdata: Buffer, size: number): Buffer {
  if (!addon) return inflateRawSync(cdata);
  const out = Buffer.allocUnsafe(size);
  const n = addon.inflateRaw(cdata, out);
  return n === size ? out : out.subarray(0, n);
}

export function crc32(data: Buffer): number {
  return (addon ? addon.crc32(data) : zlibCrc32(data)) >>> 0;
}
