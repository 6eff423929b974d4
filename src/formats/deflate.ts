import { crc32 as zlibCrc32, inflateRawSync } from 'node:zlib';
import { addonPath, lazyAddon } from '../core/native-addon.js';

/**
 * Raw DEFLATE and CRC32 for BGZF blocks: libdeflate (what samtools uses, faster
 * than zlib) through the small addon in native/, built by `npm ci` when Debian's
 * libdeflate-dev is installed; node:zlib otherwise.
 */
export const DEFLATE_ADDON = addonPath('openomics_deflate');

interface Addon {
  inflateRaw(input: Uint8Array, output: Uint8Array): number;
  crc32(data: Uint8Array): number;
}

// native.inflate = zlib (OPENOMICS_INFLATE=zlib) forces the node:zlib path (diagnosis, and so that CI runs the fallback too).
const deflateAddon = lazyAddon<Addon>('openomics_deflate', (c) => (c.inflate === 'zlib' ? 'inflate: zlib' : undefined));
/** Whether the libdeflate addon loaded (not merely whether its file exists). */
export const hasDeflateAddon = () => deflateAddon() !== undefined;

/**
 * Inflates raw DEFLATE data into `out`, which has room for exactly what it
 * should make; returns how many bytes it made (callers check the count: more
 * than `out` holds is an error from libdeflate, a larger count from zlib).
 */
export function inflateRawInto(cdata: Buffer, out: Buffer): number {
  const addon = deflateAddon();
  if (addon) return addon.inflateRaw(cdata, out);
  const made = inflateRawSync(cdata);
  made.copy(out);
  return made.length;
}

export function crc32(data: Buffer): number {
  const addon = deflateAddon();
  return (addon ? addon.crc32(data) : zlibCrc32(data)) >>> 0;
}
