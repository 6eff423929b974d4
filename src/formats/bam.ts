import { bgzfBlocks } from './bgzf.js';
import { malformed, truncated } from './errors.js';

/**
 * Streaming BAM reader (SAM/BAM spec §4.2) over BGZF blocks. Yields the header,
 * then every alignment record as a view into a buffer, with the BGZF virtual
 * offsets of its first byte and of the byte after it (for index building).
 */
export interface BamReference {
  name: string;
  length: number;
}

export interface BamHeader {
  text: string;
  references: BamReference[];
}

/** A virtual offset as (compressed block offset, offset inside the inflated block). */
export interface VOffset {
  c: number;
  u: number;
}

export interface BamRecord {
  /** Buffer holding the record; the record is buf[start, end) including its 4-byte block_size. */
  buf: Buffer;
  start: number;
  end: number;
  vStart: VOffset;
  vEnd: VOffset;
  /** 1-based record number. */
  index: number;
}

export type BamEvent = { kind: 'header'; header: BamHeader } | { kind: 'record'; record: BamRecord };

interface Segment {
  coffset: number;
  base: number; // position in `pending` where this block's data starts (may be negative once consumed)
  length: number;
}

export async function* readBam(source: AsyncIterable<Buffer>, fileName?: string): AsyncGenerator<BamEvent> {
  let pending: Buffer = Buffer.alloc(0);
  let pos = 0;
  let segs: Segment[] = [];
  let header: BamHeader | undefined;
  let index = 0;
  let nextBlockCoffset = 0;

  const voff = (p: number): VOffset => {
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      if (p < s.base + s.length) return { c: s.coffset, u: p - s.base };
    }
    // At the very end of the data seen so far: the start of the next block.
    return { c: nextBlockCoffset, u: 0 };
  };

  for await (const block of bgzfBlocks(source)) {
    nextBlockCoffset = block.coffset + block.csize;
    if (block.data.length === 0) continue;
    // Drop consumed bytes and segments that are fully consumed.
    if (pos > 0) {
      pending = pending.subarray(pos);
      segs = segs.map((s) => ({ ...s, base: s.base - pos })).filter((s) => s.base + s.length > 0);
      pos = 0;
    }
    segs.push({ coffset: block.coffset, base: pending.length, length: block.data.length });
    pending = pending.length === 0 ? block.data : Buffer.concat([pending, block.data]);

    if (!header) {
      const h = parseHeader(pending, fileName);
      if (!h) continue;
      header = h.header;
      pos = h.size;
      yield { kind: 'header', header };
    }
    while (pending.length - pos >= 4) {
      const size = pending.readInt32LE(pos);
      if (size < 32) throw malformed(`alignment record with block_size ${size} (minimum 32)`, { file: fileName, record: index + 1 });
      if (pending.length - pos < 4 + size) break;
      index++;
      const start = pos;
      const end = pos + 4 + size;
      const record: BamRecord = { buf: pending, start, end, vStart: voff(start), vEnd: voff(end), index };
      checkRecord(record, header, fileName);
      pos = end;
      yield { kind: 'record', record };
    }
  }
  if (!header) throw truncated('the file ends before the end of the BAM header', { file: fileName });
  if (pending.length - pos > 0) throw truncated(`the file ends inside alignment record ${index + 1}`, { file: fileName, record: index + 1 });
}

function parseHeader(b: Buffer, fileName?: string): { header: BamHeader; size: number } | undefined {
  if (b.length < 8) return undefined;
  if (b.readUInt32LE(0) !== 0x014d4142) throw malformed('not a BAM file (no BAM\\1 magic)', { file: fileName, byte: 0 });
  const lText = b.readInt32LE(4);
  if (lText < 0) throw malformed('negative header text length', { file: fileName });
  let p = 8 + lText;
  if (b.length < p + 4) return undefined;
  let text = b.toString('latin1', 8, 8 + lText);
  const nul = text.indexOf('\0');
  if (nul >= 0) text = text.slice(0, nul);
  const nRef = b.readInt32LE(p);
  if (nRef < 0) throw malformed('negative reference count in the BAM header', { file: fileName });
  p += 4;
  const references: BamReference[] = [];
  for (let i = 0; i < nRef; i++) {
    if (b.length < p + 4) return undefined;
    const lName = b.readInt32LE(p);
    if (lName < 1) throw malformed(`reference ${i} has an empty name`, { file: fileName });
    if (b.length < p + 4 + lName + 4) return undefined;
    const name = b.toString('latin1', p + 4, p + 4 + lName - 1);
    const length = b.readUInt32LE(p + 4 + lName);
    references.push({ name, length });
    p += 8 + lName;
  }
  return { header: { text, references }, size: p };
}

/** Structural checks of one record: every field fits inside block_size. */
function checkRecord(r: BamRecord, h: BamHeader, fileName?: string): void {
  const b = r.buf;
  const o = r.start + 4;
  const where = { file: fileName, record: r.index };
  const refId = b.readInt32LE(o);
  const nextRefId = b.readInt32LE(o + 20);
  const nRef = h.references.length;
  if (refId < -1 || refId >= nRef) throw malformed(`reference id ${refId} is outside the header's ${nRef} references`, where);
  if (nextRefId < -1 || nextRefId >= nRef) throw malformed(`mate reference id ${nextRefId} is outside the header's ${nRef} references`, where);
  const lName = b[o + 8]!;
  const nCigar = b.readUInt16LE(o + 12);
  const lSeq = b.readInt32LE(o + 16);
  if (lName < 1) throw malformed('empty read name field', where);
  if (lSeq < 0) throw malformed(`negative sequence length ${lSeq}`, where);
  const need = 32 + lName + 4 * nCigar + ((lSeq + 1) >> 1) + lSeq;
  if (need > r.end - o) throw malformed(`record fields need ${need} bytes but block_size is ${r.end - o}`, where);
  if (b[o + 32 + lName - 1] !== 0) throw malformed('read name is not NUL-terminated', where);
}
