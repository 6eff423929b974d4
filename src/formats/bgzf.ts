import { crc32, inflateRawInto } from './deflate.js';
import { malformed, truncated } from './errors.js';
import { sharedInflatePool, type BlockSpan } from './inflate-pool.js';
import { nativeChoices } from '../core/native-addon.js';

/**
 * BGZF (blocked gzip, SAM/BAM spec §4.1): a series of gzip members of at most
 * 64 KiB, each with a `BC` extra field giving the block size, ending with a
 * 28-byte empty EOF block. Yields each block's compressed offset and
 * inflated, CRC-checked data. A missing EOF block or a partial block is an error.
 */
export interface BgzfBlock {
  /** Offset of the block in the compressed file. */
  coffset: number;
  /** Compressed size of the whole block. */
  csize: number;
  data: Buffer;
}

export function isBgzfHeader(b: Buffer): boolean {
  return b.length >= 18 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 8 && (b[3]! & 4) !== 0 && b[12] === 66 && b[13] === 67;
}

function blockSize(buf: Buffer, at: number, coffset: number): number | undefined {
  if (buf.length - at < 18) return undefined;
  if (buf[at] !== 0x1f || buf[at + 1] !== 0x8b || buf[at + 2] !== 8 || (buf[at + 3]! & 4) === 0) {
    throw malformed('not a BGZF block (bad gzip magic or no extra field)', { byte: coffset });
  }
  const xlen = buf.readUInt16LE(at + 10);
  if (buf.length - at < 12 + xlen) return undefined;
  let p = at + 12;
  const end = at + 12 + xlen;
  while (p + 4 <= end) {
    const si1 = buf[p]!, si2 = buf[p + 1]!, slen = buf.readUInt16LE(p + 2);
    if (si1 === 66 && si2 === 67 && slen === 2) return buf.readUInt16LE(p + 4) + 1;
    p += 4 + slen;
  }
  throw malformed('gzip member without the BGZF BC extra field', { byte: coffset });
}

/** A block inside a group: where it lies in the group's bytes, and in the file. */
export type { BlockSpan } from './inflate-pool.js';

/** The inflated size a complete block declares (its ISIZE trailer). */
function declaredSize(block: Buffer): number {
  return block.readUInt32LE(block.length - 4);
}

/** Inflates and checks consecutive blocks of `region`; their data, back to back, in one buffer of its own. */
export function inflateGroup(region: Buffer, blocks: BlockSpan[]): Buffer {
  let total = 0;
  for (const b of blocks) total += declaredSize(region.subarray(b.at, b.at + b.size));
  const out = Buffer.allocUnsafeSlow(total);
  let filled = 0;
  for (const b of blocks) {
    const block = region.subarray(b.at, b.at + b.size);
    filled += inflateBlock(block, b.coffset, out.subarray(filled, filled + declaredSize(block))).length;
  }
  return out;
}

/** Inflates and checks one complete block, into `out` (room for its ISIZE bytes) or a new buffer. */
export function inflateBlock(block: Buffer, coffset: number, out?: Buffer): Buffer {
  const xlen = block.readUInt16LE(10);
  const cdata = block.subarray(12 + xlen, block.length - 8);
  const crc = block.readUInt32LE(block.length - 8);
  const isize = declaredSize(block);
  const data = out ?? Buffer.allocUnsafe(isize);
  let made: number;
  try {
    made = isize === 0 ? 0 : inflateRawInto(cdata, data);
  } catch (e) {
    throw malformed(`BGZF block does not inflate: ${(e as Error).message}`, { byte: coffset });
  }
  if (made !== isize) throw malformed(`BGZF block inflates to ${made} bytes, its header says ${isize}`, { byte: coffset });
  if (crc32(data) !== crc) throw malformed('BGZF block CRC32 mismatch (corrupted data)', { byte: coffset });
  return data;
}

/**
 * Splits a compressed byte stream into BGZF blocks and inflates them in order.
 * With `parallel` (the default) blocks are inflated on worker threads in groups
 * of 16, at most `window` groups ahead of the consumer.
 */
export async function* bgzfBlocks(
  source: AsyncIterable<Buffer>,
  opts: { requireEof?: boolean; parallel?: boolean; window?: number } = {},
): AsyncGenerator<BgzfBlock> {
  const pool = (opts.parallel ?? nativeChoices().inflateThreads) ? sharedInflatePool() : undefined;
  const window = opts.window ?? 4;
  const groupBlocks = 16;
  // Groups of consecutive blocks in flight on the pool, oldest first.
  const inflight: { blocks: BlockSpan[]; isizes: number[]; data: Promise<Buffer> }[] = [];
  let buf: Buffer = Buffer.alloc(0);
  let at = 0;
  let coffset = 0;
  let lastWasEof = false;
  /** The oldest group's blocks, each with its share of the group's data (views, no copies). */
  const settle = async function* (): AsyncGenerator<BgzfBlock> {
    const head = inflight.shift()!;
    let data: Buffer;
    try {
      data = await head.data;
    } catch (e) {
      // The worker names the failing block's offset.
      throw malformed((e as Error).message, { byte: (e as { byte?: number }).byte ?? head.blocks[0]!.coffset });
    }
    let off = 0;
    for (const [i, b] of head.blocks.entries()) {
      const len = head.isizes[i]!;
      const part = data.subarray(off, off + len);
      off += len;
      lastWasEof = part.length === 0;
      yield { coffset: b.coffset, csize: b.size, data: part };
    }
  };
  for await (const chunk of source) {
    buf = at < buf.length ? Buffer.concat([buf.subarray(at), chunk]) : chunk;
    at = 0;
    let group: BlockSpan[] = [];
    let groupStart = 0;
    const dispatch = () => {
      if (group.length === 0) return;
      const last = group[group.length - 1]!;
      const region = buf.subarray(groupStart, last.at + last.size);
      const blocks = group.map((b) => ({ ...b, at: b.at - groupStart }));
      // Each block's ISIZE, read now: the region's copy moves to the worker.
      const isizes = group.map((b) => declaredSize(buf.subarray(b.at, b.at + b.size)));
      const data = pool!.inflateGroup(region, blocks);
      data.catch(() => {}); // observed when settled, in order
      inflight.push({ blocks, isizes, data });
      group = [];
    };
    for (;;) {
      const size = blockSize(buf, at, coffset);
      if (size === undefined || buf.length - at < size) break;
      const here = coffset;
      if (pool) {
        if (group.length === 0) groupStart = at;
        group.push({ at, size, coffset: here });
        if (group.length === groupBlocks) dispatch();
        while (inflight.length >= window) yield* settle();
      } else {
        const data = inflateBlock(buf.subarray(at, at + size), here);
        lastWasEof = data.length === 0;
        yield { coffset: here, csize: size, data };
      }
      coffset += size;
      at += size;
    }
    if (pool) dispatch();
  }
  while (inflight.length) yield* settle();
  if (at < buf.length) throw truncated(`the file ends inside a BGZF block (${buf.length - at} bytes of a partial block)`, { byte: coffset });
  if ((opts.requireEof ?? true) && !lastWasEof) throw truncated('the BGZF end-of-file marker is missing: the file is truncated', { byte: coffset });
}
