import { existsSync } from 'node:fs';
import { crc32 as zlibCrc32, inflateRawSync } from 'node:zlib';
import { addonPath, loadAddon } from '../core/native-addon.js';

/**
 * Raw DEFLATE and CRC32 for BGZF blocks: libdeflate (what samtools uses, faster
 * than zlib) through the small addon in native/, built by `npm ci` when Debian's
 * libdeflate-dev is installed; node:zlib otherwise.
 */
export const DEFLATE_ADDON = addonPath('openomics_deflate');
export const hasDeflateAddon = () => existsSync(DEFLATE_ADDON);

interface Addon {
  inflateRaw(input: Uint8Array, output: Uint8Array): number;
  crc32(data: Uint8Array): number;
}

const addon = loadAddon<Addon>('openomics_deflate');

/**
 * Inflates raw DEFLATE data into `out`, which has room for exactly what it
 * should make; returns how many bytes it made (callers check the count: more
 * than `out` holds is an error from libdeflate, a larger count from zlib).
 */
export function inflateRawInto(cdata: Buffer, out: Buffer): number {
  if (addon) return addon.inflateRaw(cdata, out);
  const made = inflateRawSync(cdata);
  made.copy(out);
  return made.length;
}

export function crc32(data: Buffer): number {
  return (addon ? addon.crc32(data) : zlibCrc32(data)) >>> 0;
}
