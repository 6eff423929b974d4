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

/**
 * A run of complete records, contiguous in `buf`: record i spans
 * [starts[i], starts[i+1]) and the last ends at `end`. `vc`/`vu` hold the
 * virtual offset of each record start; `vEnd` is the offset after the last.
 */
export interface BamRecordRun {
  buf: Buffer;
  starts: number[];
  end: number;
  vc: number[];
  vu: number[];
  vEnd: VOffset;
  /** 1-based number of the first record of the run. */
  firstIndex: number;
}

export type BamRunEvent = { kind: 'header'; header: BamHeader } | { kind: 'records'; run: BamRecordRun };

/** `b` starts where `a` ends, in the same memory (consecutive blocks of one inflated group). */
function follows(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset + a.length === b.byteOffset;
}

function widen(a: Buffer, by: number): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.length + by);
}

/** Header, then runs of records (one per inflated block or so): few allocations per record. */
export async function* readBamRuns(source: AsyncIterable<Buffer>, fileName?: string): AsyncGenerator<BamRunEvent> {
  let pending: Buffer = Buffer.alloc(0);
  let pos = 0;
  let segs: Segment[] = [];
  let header: BamHeader | undefined;
  let index = 0;
  let nextBlockCoffset = 0;

  for await (const block of bgzfBlocks(source)) {
    nextBlockCoffset = block.coffset + block.csize;
    if (block.data.length === 0) continue;
    if (pos > 0) {
      pending = pending.subarray(pos);
      for (const s of segs) s.base -= pos;
      segs = segs.filter((s) => s.base + s.length > 0);
      pos = 0;
    }
    segs.push({ coffset: block.coffset, base: pending.length, length: block.data.length });
    pending = pending.length === 0 ? block.data : follows(pending, block.data) ? widen(pending, block.data.length) : Buffer.concat([pending, block.data]);

    if (!header) {
      const h = parseHeader(pending, fileName);
      if (!h) continue;
      header = h.header;
      pos = h.size;
      yield { kind: 'header', header };
    }
    const starts: number[] = [];
    const vc: number[] = [];
    const vu: number[] = [];
    let seg = 0;
    const firstIndex = index + 1;
    while (pending.length - pos >= 4) {
      const size = pending.readInt32LE(pos);
      if (size < 32) throw malformed(`alignment record with block_size ${size} (minimum 32)`, { file: fileName, record: index + 1 });
      if (pending.length - pos < 4 + size) break;
      index++;
      while (seg < segs.length && pos >= segs[seg]!.base + segs[seg]!.length) seg++;
      const sg = segs[seg];
      if (sg) {
        vc.push(sg.coffset);
        vu.push(pos - sg.base);
      } else {
        vc.push(nextBlockCoffset);
        vu.push(0);
      }
      starts.push(pos);
      checkRecord(pending, pos, pos + 4 + size, header, index, fileName);
      pos += 4 + size;
    }
    if (starts.length > 0) {
      while (seg < segs.length && pos >= segs[seg]!.base + segs[seg]!.length) seg++;
      const sg = segs[seg];
      const vEnd = sg ? { c: sg.coffset, u: pos - sg.base } : { c: nextBlockCoffset, u: 0 };
      yield { kind: 'records', run: { buf: pending, starts, end: pos, vc, vu, vEnd, firstIndex } };
    }
  }
  if (!header) throw truncated('the file ends before the end of the BAM header', { file: fileName });
  if (pending.length - pos > 0) throw truncated(`the file ends inside alignment record ${index + 1}`, { file: fileName, record: index + 1 });
}

/** Record by record (convenient for tools and tests; the ingest path uses readBamRuns). */
export async function* readBam(source: AsyncIterable<Buffer>, fileName?: string): AsyncGenerator<BamEvent> {
  for await (const ev of readBamRuns(source, fileName)) {
    if (ev.kind === 'header') {
      yield ev;
      continue;
    }
    const r = ev.run;
    for (let i = 0; i < r.starts.length; i++) {
      const end = i + 1 < r.starts.length ? r.starts[i + 1]! : r.end;
      const vEnd = i + 1 < r.starts.length ? { c: r.vc[i + 1]!, u: r.vu[i + 1]! } : r.vEnd;
      yield { kind: 'record', record: { buf: r.buf, start: r.starts[i]!, end, vStart: { c: r.vc[i]!, u: r.vu[i]! }, vEnd, index: r.firstIndex + i } };
    }
  }
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
function checkRecord(b: Buffer, start: number, end: number, h: BamHeader, index: number, fileName?: string): void {
  const o = start + 4;
  const where = { file: fileName, record: index };
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
  if (need > end - o) throw malformed(`record fields need ${need} bytes but block_size is ${end - o}`, where);
  if (b[o + 32 + lName - 1] !== 0) throw malformed('read name is not NUL-terminated', where);
}
