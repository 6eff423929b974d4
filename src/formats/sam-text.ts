import type { BamHeader } from './bam.js';
import { malformed } from './errors.js';

/**
 * Renders a BAM record as the SAM line `samtools view` prints (htslib's
 * sam_format1), without the trailing newline: the 11 mandatory fields, then
 * the aux fields in stored order. Floats use C's %g. A CIGAR stored in a CG
 * tag (more than 65535 operations) is restored as htslib does on reading.
 */
const CIGAR_OPS = 'MIDNSHP=X';
const SEQ_CODES = '=ACMGRSVTWYHKDBN';

/** C printf("%g") for a double. */
export function formatG(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v < 0 ? '-inf' : 'inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const P = 6;
  const exp = v.toExponential(P - 1); // d.ddddde±X, correctly rounded
  const e = Number(exp.slice(exp.indexOf('e') + 1));
  if (e < -4 || e >= P) {
    let mant = exp.slice(0, exp.indexOf('e'));
    if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const sign = e < 0 ? '-' : '+';
    const abs = Math.abs(e);
    return `${mant}e${sign}${abs < 10 ? '0' : ''}${abs}`;
  }
  let fixed = v.toFixed(Math.max(0, P - 1 - e));
  if (fixed.includes('.')) fixed = fixed.replace(/0+$/, '').replace(/\.$/, '');
  return fixed;
}

/** Reference length covered by the record's CIGAR (M, D, N, =, X); o = start + 4. */
export function refSpan(buf: Buffer, o: number): number {
  const lName = buf[o + 8]!;
  const nCigar = buf.readUInt16LE(o + 12);
  let span = 0;
  const c0 = o + 32 + lName;
  for (let i = 0; i < nCigar; i++) {
    const v = buf.readUInt32LE(c0 + 4 * i);
    const op = v & 15;
    if (op === 0 || op === 2 || op === 3 || op === 7 || op === 8) span += v >>> 4;
  }
  return span;
}

function cigarFromCG(buf: Buffer, auxStart: number, end: number): { cigar: string; cgStart: number; cgEnd: number } | undefined {
  let p = auxStart;
  while (p + 3 <= end) {
    const tag0 = buf[p]!, tag1 = buf[p + 1]!, type = String.fromCharCode(buf[p + 2]!);
    const size = auxSize(buf, p + 3, type, end);
    if (tag0 === 67 && tag1 === 71 && type === 'B' && buf[p + 3] === 73) {
      const n = buf.readUInt32LE(p + 4);
      let s = '';
      for (let i = 0; i < n; i++) {
        const v = buf.readUInt32LE(p + 8 + 4 * i);
        s += (v >>> 4) + CIGAR_OPS[v & 15]!;
      }
      return { cigar: s, cgStart: p, cgEnd: p + 3 + size };
    }
    p += 3 + size;
  }
  return undefined;
}

function auxSize(buf: Buffer, p: number, type: string, end: number): number {
  switch (type) {
    case 'A': case 'c': case 'C': return 1;
    case 's': case 'S': return 2;
    case 'i': case 'I': case 'f': return 4;
    case 'd': return 8;
    case 'Z': case 'H': {
      const z = buf.indexOf(0, p);
      if (z < 0 || z >= end) throw malformed('unterminated Z/H aux field');
      return z - p + 1;
    }
    case 'B': {
      const sub = String.fromCharCode(buf[p]!);
      const n = buf.readUInt32LE(p + 1);
      const w = sub === 'c' || sub === 'C' ? 1 : sub === 's' || sub === 'S' ? 2 : sub === 'i' || sub === 'I' || sub === 'f' ? 4 : 0;
      if (w === 0) throw malformed(`unknown B array subtype '${sub}'`);
      return 5 + n * w;
    }
    default:
      throw malformed(`unknown aux type '${type}'`);
  }
}

/**
 * An output buffer the renderer writes SAM bytes into; `sink` receives full
 * buffers (e.g. a hash update). Rendering to bytes, not strings, keeps the
 * garbage collector out of the hot loop.
 */
export class SamOut {
  buf: Buffer;
  pos = 0;
  /** With `handOver`, the sink keeps each flushed buffer and a fresh one is allocated. */
  constructor(
    private readonly sink: (bytes: Buffer) => void,
    size = 1 << 22,
    private readonly handOver = false,
  ) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafeSlow(n * 2);
  }
  flush(): void {
    // Without handOver the sink must consume (or copy) the bytes before returning: the buffer is reused.
    if (this.pos > 0) {
      if (this.handOver) {
        const full = this.buf;
        this.buf = Buffer.allocUnsafeSlow(full.length);
        this.sink(full.subarray(0, this.pos));
      } else this.sink(this.buf.subarray(0, this.pos));
    }
    this.pos = 0;
  }
  byte(c: number): void {
    this.buf[this.pos++] = c;
  }
  /** Copies src[from, to) — by hand for short runs, where Buffer.copy's call overhead dominates. */
  copy(src: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n > 48) {
      this.pos += src.copy(this.buf, this.pos, from, to);
      return;
    }
    const b = this.buf;
    let q = this.pos;
    for (let i = from; i < to; i++) b[q++] = src[i]!;
    this.pos = q;
  }
  /** "i:" / "f:" style type prefixes. */
  pair(a: number, b: number): void {
    this.buf[this.pos++] = a;
    this.buf[this.pos++] = b;
  }
  ascii(s: string): void {
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }
  /** Decimal digits of an integer, two at a time from a table (hot: several per record). */
  int(n: number): void {
    const b = this.buf;
    if (n < 0) {
      b[this.pos++] = 45;
      n = -n;
    }
    if (n < 10) {
      b[this.pos++] = 48 + n;
      return;
    }
    if (n < 100) {
      b[this.pos++] = DIGIT_PAIRS[2 * n]!;
      b[this.pos++] = DIGIT_PAIRS[2 * n + 1]!;
      return;
    }
    const len = n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : n < 1e10 ? 10 : String(n).length;
    let p = this.pos + len;
    this.pos = p;
    while (n >= 100) {
      const r = n % 100;
      n = (n - r) / 100;
      b[--p] = DIGIT_PAIRS[2 * r + 1]!;
      b[--p] = DIGIT_PAIRS[2 * r]!;
    }
    if (n >= 10) {
      b[--p] = DIGIT_PAIRS[2 * n + 1]!;
      b[--p] = DIGIT_PAIRS[2 * n]!;
    } else b[--p] = 48 + n;
  }
}

const DIGIT_PAIRS = new Uint8Array(200); // "00".."99"
for (let i = 0; i < 100; i++) {
  DIGIT_PAIRS[2 * i] = 48 + Math.floor(i / 10);
  DIGIT_PAIRS[2 * i + 1] = 48 + (i % 10);
}
const PAIR_BYTES = new Uint16Array(256); // two ASCII bases per packed byte, little-endian
for (let i = 0; i < 256; i++) PAIR_BYTES[i] = SEQ_CODES.charCodeAt(i >> 4) | (SEQ_CODES.charCodeAt(i & 15) << 8);
const CIGAR_CODES = Array.from(CIGAR_OPS, (c) => c.charCodeAt(0));
const refNameCache = new WeakMap<BamHeader, Buffer[]>();
function refNames(h: BamHeader): Buffer[] {
  let names = refNameCache.get(h);
  if (!names) {
    names = h.references.map((r) => Buffer.from(r.name, 'latin1'));
    refNameCache.set(h, names);
  }
  return names;
}

/** Appends the record's SAM line and a newline to `out`. */
export function writeSam(buf: Buffer, start: number, end: number, header: BamHeader, out: SamOut): void {
  const o = start + 4;
  const refId = buf.readInt32LE(o);
  const pos = buf.readInt32LE(o + 4);
  const lName = buf[o + 8]!;
  const mapq = buf[o + 9]!;
  const nCigar = buf.readUInt16LE(o + 12);
  const flag = buf.readUInt16LE(o + 14);
  const lSeq = buf.readInt32LE(o + 16);
  const nextRefId = buf.readInt32LE(o + 20);
  const nextPos = buf.readInt32LE(o + 24);
  const tlen = buf.readInt32LE(o + 28);
  const names = refNames(header);

  // Upper bound of the line: every byte of the record rendered as at most a few characters.
  out.ensure(4 * (end - start) + 256 + (refId >= 0 ? names[refId]!.length : 0) + (nextRefId >= 0 ? names[nextRefId]!.length : 0));
  const TAB = 9;
  let p = o + 32;
  out.copy(buf, p, p + lName - 1);
  p += lName;
  out.byte(TAB);
  out.int(flag);
  out.byte(TAB);
  if (refId < 0) out.byte(42);
  else out.copy(names[refId]!, 0, names[refId]!.length);
  out.byte(TAB);
  out.int(pos + 1);
  out.byte(TAB);
  out.int(mapq);
  out.byte(TAB);

  const cigarStart = p;
  p += 4 * nCigar;
  const seqStart = p;
  p += (lSeq + 1) >> 1;
  const qualStart = p;
  p += lSeq;
  const auxStart = p;

  let cg: ReturnType<typeof cigarFromCG>;
  if (nCigar === 2 && (buf.readUInt32LE(cigarStart) & 15) === 4 && buf.readUInt32LE(cigarStart) >>> 4 === lSeq && (buf.readUInt32LE(cigarStart + 4) & 15) === 3) {
    cg = cigarFromCG(buf, auxStart, end);
  }
  if (cg) {
    out.ensure(cg.cigar.length + 16);
    out.ascii(cg.cigar);
  } else if (nCigar === 0) out.byte(42);
  else {
    for (let i = 0; i < nCigar; i++) {
      const v = buf.readUInt32LE(cigarStart + 4 * i);
      out.int(v >>> 4);
      out.byte(CIGAR_CODES[v & 15]!);
    }
  }
  out.byte(TAB);
  if (nextRefId < 0) out.byte(42);
  else if (nextRefId === refId) out.byte(61);
  else out.copy(names[nextRefId]!, 0, names[nextRefId]!.length);
  out.byte(TAB);
  out.int(nextPos + 1);
  out.byte(TAB);
  out.int(tlen);
  out.byte(TAB);

  if (lSeq === 0) out.byte(42);
  else {
    const full = lSeq >> 1;
    const ob = out.buf;
    let q = out.pos;
    for (let i = 0; i < full; i++) {
      const two = PAIR_BYTES[buf[seqStart + i]!]!;
      ob[q++] = two & 0xff;
      ob[q++] = two >> 8;
    }
    if (lSeq & 1) ob[q++] = SEQ_CODES.charCodeAt(buf[seqStart + full]! >> 4);
    out.pos = q;
  }
  out.byte(TAB);
  if (lSeq === 0 || buf[qualStart] === 0xff) out.byte(42);
  else {
    const ob = out.buf;
    let q = out.pos;
    // As htslib: qual + 33 stored in a char (wraps past 255).
    for (let i = 0; i < lSeq; i++) ob[q++] = (buf[qualStart + i]! + 33) & 0xff;
    out.pos = q;
  }

  p = auxStart;
  while (p < end) {
    if (cg && p === cg.cgStart) {
      p = cg.cgEnd;
      continue;
    }
    if (p + 3 > end) throw malformed('truncated aux field');
    const t0 = buf[p]!, t1 = buf[p + 1]!, type = buf[p + 2]!;
    p += 3;
    out.byte(TAB);
    out.byte(t0);
    out.byte(t1);
    out.byte(58);
    switch (type) {
      case 65: /* A */ out.byte(65); out.byte(58); out.byte(buf[p]!); p += 1; break;
      case 99: /* c */ out.pair(105, 58); out.int(buf.readInt8(p)); p += 1; break;
      case 67: /* C */ out.pair(105, 58); out.int(buf[p]!); p += 1; break;
      case 115: /* s */ out.pair(105, 58); out.int(buf.readInt16LE(p)); p += 2; break;
      case 83: /* S */ out.pair(105, 58); out.int(buf.readUInt16LE(p)); p += 2; break;
      case 105: /* i */ out.pair(105, 58); out.int(buf.readInt32LE(p)); p += 4; break;
      case 73: /* I */ out.pair(105, 58); out.int(buf.readUInt32LE(p)); p += 4; break;
      case 102: /* f */ out.pair(102, 58); out.ascii(formatG(buf.readFloatLE(p))); p += 4; break;
      case 100: /* d */ out.pair(100, 58); out.ascii(formatG(buf.readDoubleLE(p))); p += 8; break;
      case 90: /* Z */
      case 72: /* H */ {
        const z = buf.indexOf(0, p);
        if (z < 0 || z >= end) throw malformed(`unterminated ${String.fromCharCode(type)} aux field ${String.fromCharCode(t0, t1)}`);
        out.byte(type);
        out.byte(58);
        out.copy(buf, p, z);
        p = z + 1;
        break;
      }
      case 66: /* B */ {
        const sub = String.fromCharCode(buf[p]!);
        const n = buf.readUInt32LE(p + 1);
        const size = auxSize(buf, p, 'B', end) - 5;
        p += 5;
        if (p + size > end) throw malformed(`B array ${String.fromCharCode(t0, t1)} runs past the record`);
        out.ensure(n * 16 + 16);
        out.ascii('B:' + sub);
        for (let i = 0; i < n; i++) {
          out.byte(44);
          switch (sub) {
            case 'c': out.int(buf.readInt8(p)); p += 1; break;
            case 'C': out.int(buf[p]!); p += 1; break;
            case 's': out.int(buf.readInt16LE(p)); p += 2; break;
            case 'S': out.int(buf.readUInt16LE(p)); p += 2; break;
            case 'i': out.int(buf.readInt32LE(p)); p += 4; break;
            case 'I': out.int(buf.readUInt32LE(p)); p += 4; break;
            case 'f': out.ascii(formatG(buf.readFloatLE(p))); p += 4; break;
          }
        }
        break;
      }
      default:
        throw malformed(`unknown aux type '${String.fromCharCode(type)}' in tag ${String.fromCharCode(t0, t1)}`);
    }
  }
  if (p !== end) throw malformed('aux data runs past the end of the record');
  out.byte(10);
}

/** The record's SAM line as a string, without the newline (for tests and tools). */
export function renderSam(buf: Buffer, start: number, end: number, header: BamHeader): string {
  const parts: Buffer[] = [];
  const out = new SamOut((b) => parts.push(Buffer.from(b)), 1 << 12);
  writeSam(buf, start, end, header, out);
  out.flush();
  return Buffer.concat(parts).toString('latin1').slice(0, -1);
}
