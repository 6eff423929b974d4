import type { VOffset } from './bam.js';

/**
 * BAI index builder (SAM/BAM spec §5.2), following htslib's hts_idx_push /
 * hts_idx_finish step for step so that the index holds the same bins,
 * chunks, linear offsets and per-reference counts as `samtools index`:
 * records are pushed in file order with their start/end virtual offsets;
 * small bins are folded into their parents (< 64 KiB of compressed span),
 * adjacent chunks in the same BGZF block are merged, and the pseudo-bin
 * 37450 carries the reference's offset range and mapped/unmapped counts.
 * Bins are written in ascending order (htslib writes hash order; readers
 * do not care).
 */
const MIN_SHIFT = 14;
const N_LVLS = 5;
const N_BINS = ((1 << (3 * N_LVLS + 3)) - 1) / 7; // 37449
const META_BIN = N_BINS + 1; // 37450
const MIN_MARKER_DIST = 0x10000;
const UNSET = -1n;

type Chunk = { u: bigint; v: bigint };

export function voffsetToBigInt(v: VOffset): bigint {
  return (BigInt(v.c) << 16n) | BigInt(v.u);
}

/** htslib hts_reg2bin for BAI parameters; [beg, end) zero-based. */
export function reg2bin(beg: number, end: number): number {
  end -= 1;
  if (beg >> 14 === end >> 14) return ((1 << 15) - 1) / 7 + (beg >> 14);
  if (beg >> 17 === end >> 17) return ((1 << 12) - 1) / 7 + (beg >> 17);
  if (beg >> 20 === end >> 20) return ((1 << 9) - 1) / 7 + (beg >> 20);
  if (beg >> 23 === end >> 23) return ((1 << 6) - 1) / 7 + (beg >> 23);
  if (beg >> 26 === end >> 26) return ((1 << 3) - 1) / 7 + (beg >> 26);
  return 0;
}

const binParent = (bin: number) => (bin - 1) >> 3;
const binFirst = (l: number) => ((1 << (3 * l)) - 1) / 7;

export class UnsortedError extends Error {}

export class BaiBuilder {
  private readonly bins: (Map<number, Chunk[]> | undefined)[];
  private readonly linear: bigint[][];
  private nNoCoor = 0n;
  private z = {
    lastBin: -1,
    saveBin: -1,
    lastCoor: -1,
    lastTid: -1,
    saveTid: -1,
    lastOff: 0n,
    saveOff: 0n,
    offBeg: 0n,
    offEnd: 0n,
    nMapped: 0n,
    nUnmapped: 0n,
  };
  private finished = false;

  /** `offset0`: the virtual offset just after the BAM header. */
  constructor(
    private readonly nRef: number,
    offset0: VOffset,
  ) {
    this.bins = new Array(nRef).fill(undefined);
    this.linear = Array.from({ length: nRef }, () => []);
    const o = voffsetToBigInt(offset0);
    this.z.saveOff = this.z.lastOff = this.z.offBeg = this.z.offEnd = o;
    this.z.lastCoor = 0xffffffff;
  }

  private insertBin(tid: number, bin: number, u: bigint, v: bigint): void {
    let m = this.bins[tid];
    if (!m) m = this.bins[tid] = new Map();
    const list = m.get(bin);
    if (list) list.push({ u, v });
    else m.set(bin, [{ u, v }]);
  }

  /**
   * One record, in file order. `beg`/`end` as htslib's bam_endpos gives them;
   * `vEnd` is the virtual offset after the record.
   */
  push(tid: number, beg: number, end: number, vEnd: VOffset, isMapped: boolean): void {
    const z = this.z;
    if (tid < 0) {
      beg = -1;
      end = 0;
    }
    if (z.lastTid !== tid || (z.lastTid >= 0 && tid < 0)) {
      if (tid >= 0 && this.nNoCoor > 0n) throw new UnsortedError('reads without coordinates are not all at the end of the file');
      if (tid >= 0 && this.bins[tid] !== undefined) throw new UnsortedError(`the records of reference ${tid} are not contiguous (the file is not coordinate-sorted)`);
      z.lastTid = tid;
      z.lastBin = -1;
    } else if (tid >= 0 && z.lastCoor > beg) {
      throw new UnsortedError(`unsorted positions on reference ${tid}: ${z.lastCoor + 1} followed by ${beg + 1}`);
    }
    if (tid >= 0) {
      if (!this.bins[tid]) this.bins[tid] = new Map();
      if (beg < 0) beg = 0;
      if (end <= 0) end = 1;
      const l = this.linear[tid]!;
      const b = beg >> MIN_SHIFT;
      const e = (end - 1) >> MIN_SHIFT;
      while (l.length < e + 1) l.push(UNSET);
      for (let i = b; i <= e; i++) if (l[i] === UNSET) l[i] = z.lastOff;
    } else this.nNoCoor++;
    const bin = tid < 0 ? 4680 : reg2bin(beg, end);
    if (z.lastBin !== bin) {
      if (z.saveBin !== -1) this.insertBin(z.saveTid, z.saveBin, z.saveOff, z.lastOff);
      if (z.lastBin === -1 && z.saveBin !== -1) {
        z.offEnd = z.lastOff;
        this.insertBin(z.saveTid, META_BIN, z.offBeg, z.offEnd);
        this.insertBin(z.saveTid, META_BIN, z.nMapped, z.nUnmapped);
        z.nMapped = z.nUnmapped = 0n;
        z.offBeg = z.offEnd;
      }
      z.saveOff = z.lastOff;
      z.saveBin = z.lastBin = bin;
      z.saveTid = tid;
    }
    if (isMapped) z.nMapped++;
    else z.nUnmapped++;
    z.lastOff = voffsetToBigInt(vEnd);
    z.lastCoor = beg;
  }

  /** Completes the index; `finalOffset` is the virtual offset at the end of the records. */
  finish(finalOffset: VOffset): void {
    if (this.finished) return;
    this.finished = true;
    const fin = voffsetToBigInt(finalOffset);
    const z = this.z;
    if (z.saveTid >= 0) {
      this.insertBin(z.saveTid, z.saveBin, z.saveOff, fin);
      this.insertBin(z.saveTid, META_BIN, z.offBeg, fin);
      this.insertBin(z.saveTid, META_BIN, z.nMapped, z.nUnmapped);
    }
    for (let i = 0; i < this.nRef; i++) {
      const l = this.linear[i]!;
      for (let j = l.length - 2; j >= 0; j--) if (l[j] === UNSET) l[j] = l[j + 1]!;
      this.compress(i);
    }
  }

  private compress(tid: number): void {
    const m = this.bins[tid];
    if (!m) return;
    const byU = (a: Chunk, b: Chunk) => (a.u < b.u ? -1 : a.u > b.u ? 1 : 0);
    for (let l = N_LVLS; l > 0; l--) {
      const first = binFirst(l);
      const last = binFirst(l + 1);
      for (const bin of [...m.keys()]) {
        if (bin >= N_BINS || bin < first || bin >= last) continue;
        const p = m.get(bin)!;
        if (l < N_LVLS && p.length > 1) p.sort(byU);
        if ((p[p.length - 1]!.v >> 16n) - (p[0]!.u >> 16n) < BigInt(MIN_MARKER_DIST)) {
          const q = m.get(binParent(bin));
          if (!q) continue;
          q.push(...p);
          m.delete(bin);
        }
      }
    }
    const root = m.get(0);
    if (root) root.sort(byU);
    for (const [bin, p] of m) {
      if (bin >= N_BINS) continue;
      let k = 0;
      for (let j = 1; j < p.length; j++) {
        if (p[k]!.v >> 16n >= p[j]!.u >> 16n) {
          if (p[k]!.v < p[j]!.v) p[k]!.v = p[j]!.v;
        } else p[++k] = p[j]!;
      }
      p.length = k + 1;
    }
  }

  /** The .bai bytes. */
  serialize(): Buffer {
    if (!this.finished) throw new Error('finish() the index before serialising it');
    const parts: Buffer[] = [];
    const head = Buffer.alloc(8);
    head.write('BAI\x01', 0, 'latin1');
    head.writeInt32LE(this.nRef, 4);
    parts.push(head);
    for (let i = 0; i < this.nRef; i++) {
      const m = this.bins[i];
      const bins = m ? [...m.keys()].sort((a, b) => a - b) : [];
      const nb = Buffer.alloc(4);
      nb.writeInt32LE(bins.length);
      parts.push(nb);
      for (const bin of bins) {
        const chunks = m!.get(bin)!;
        const b = Buffer.alloc(8 + 16 * chunks.length);
        b.writeUInt32LE(bin, 0);
        b.writeInt32LE(chunks.length, 4);
        chunks.forEach((c, j) => {
          b.writeBigUInt64LE(c.u, 8 + 16 * j);
          b.writeBigUInt64LE(c.v, 16 + 16 * j);
        });
        parts.push(b);
      }
      const l = this.linear[i]!;
      const lb = Buffer.alloc(4 + 8 * l.length);
      lb.writeInt32LE(l.length, 0);
      l.forEach((o, j) => lb.writeBigUInt64LE(o, 4 + 8 * j));
      parts.push(lb);
    }
    const tail = Buffer.alloc(8);
    tail.writeBigUInt64LE(this.nNoCoor);
    parts.push(tail);
    return Buffer.concat(parts);
  }
}

/** Parses a .bai into a canonical structure (bins sorted), for comparisons and queries. */
export function parseBai(buf: Buffer): { refs: { bins: Map<number, Chunk[]>; linear: bigint[] }[]; nNoCoor: bigint | undefined } {
  if (buf.toString('latin1', 0, 4) !== 'BAI\x01') throw new Error('not a BAI file');
  let p = 4;
  const nRef = buf.readInt32LE(p);
  p += 4;
  const refs = [];
  for (let i = 0; i < nRef; i++) {
    const nBin = buf.readInt32LE(p);
    p += 4;
    const bins = new Map<number, Chunk[]>();
    for (let j = 0; j < nBin; j++) {
      const bin = buf.readUInt32LE(p);
      const n = buf.readInt32LE(p + 4);
      p += 8;
      const chunks: Chunk[] = [];
      for (let k = 0; k < n; k++) {
        chunks.push({ u: buf.readBigUInt64LE(p), v: buf.readBigUInt64LE(p + 8) });
        p += 16;
      }
      bins.set(bin, chunks);
    }
    const nIntv = buf.readInt32LE(p);
    p += 4;
    const linear: bigint[] = [];
    for (let j = 0; j < nIntv; j++) {
      linear.push(buf.readBigUInt64LE(p));
      p += 8;
    }
    refs.push({ bins: new Map([...bins.entries()].sort((a, b) => a[0] - b[0])), linear });
  }
  const nNoCoor = p + 8 <= buf.length ? buf.readBigUInt64LE(p) : undefined;
  return { refs, nNoCoor };
}

