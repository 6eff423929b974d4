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
const PAIR_CODES: string[] = [];
for (let i = 0; i < 256; i++) PAIR_CODES.push(SEQ_CODES[i >> 4]! + SEQ_CODES[i & 15]!);
const QUAL_CHARS: string[] = [];
for (let i = 0; i < 256; i++) QUAL_CHARS.push(String.fromCharCode(Math.min(i + 33, 255)));

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

export interface RecordFields {
  refId: number;
  pos: number;
  mapq: number;
  flag: number;
  lSeq: number;
  nextRefId: number;
  nextPos: number;
  tlen: number;
  /** Reference span (0 when no reference-consuming CIGAR op). */
  refSpan: number;
}

/** Reads the fixed fields of the record at buf[o..] (o = start + 4, after block_size). */
export function fields(buf: Buffer, o: number): RecordFields {
  const lName = buf[o + 8]!;
  const nCigar = buf.readUInt16LE(o + 12);
  let span = 0;
  const c0 = o + 32 + lName;
  for (let i = 0; i < nCigar; i++) {
    const v = buf.readUInt32LE(c0 + 4 * i);
    const op = v & 15;
    if (op === 0 || op === 2 || op === 3 || op === 7 || op === 8) span += v >>> 4;
  }
  return {
    refId: buf.readInt32LE(o),
    pos: buf.readInt32LE(o + 4),
    mapq: buf[o + 9]!,
    flag: buf.readUInt16LE(o + 14),
    lSeq: buf.readInt32LE(o + 16),
    nextRefId: buf.readInt32LE(o + 20),
    nextPos: buf.readInt32LE(o + 24),
    tlen: buf.readInt32LE(o + 28),
    refSpan: span,
  };
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

export function renderSam(buf: Buffer, start: number, end: number, header: BamHeader): string {
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
  const refs = header.references;

  let p = o + 32;
  let line = buf.toString('latin1', p, p + lName - 1);
  p += lName;
  line += '\t' + flag + '\t' + (refId < 0 ? '*' : refs[refId]!.name) + '\t' + (pos + 1) + '\t' + mapq + '\t';

  const cigarStart = p;
  p += 4 * nCigar;
  const seqStart = p;
  p += (lSeq + 1) >> 1;
  const qualStart = p;
  p += lSeq;
  const auxStart = p;

  // CG tag: a placeholder CIGAR kSmN stands for the real one in CG:B,I.
  let cg: ReturnType<typeof cigarFromCG>;
  if (nCigar === 2 && (buf.readUInt32LE(cigarStart) & 15) === 4 && buf.readUInt32LE(cigarStart) >>> 4 === lSeq && (buf.readUInt32LE(cigarStart + 4) & 15) === 3) {
    cg = cigarFromCG(buf, auxStart, o + (end - o));
  }
  if (cg) line += cg.cigar;
  else if (nCigar === 0) line += '*';
  else {
    for (let i = 0; i < nCigar; i++) {
      const v = buf.readUInt32LE(cigarStart + 4 * i);
      line += (v >>> 4) + CIGAR_OPS[v & 15]!;
    }
  }

  line += '\t' + (nextRefId < 0 ? '*' : nextRefId === refId ? '=' : refs[nextRefId]!.name) + '\t' + (nextPos + 1) + '\t' + tlen + '\t';

  if (lSeq === 0) line += '*';
  else {
    let s = '';
    const full = lSeq >> 1;
    for (let i = 0; i < full; i++) s += PAIR_CODES[buf[seqStart + i]!];
    if (lSeq & 1) s += SEQ_CODES[buf[seqStart + full]! >> 4];
    line += s;
  }
  line += '\t';
  if (lSeq === 0 || buf[qualStart] === 0xff) line += '*';
  else {
    let q = '';
    for (let i = 0; i < lSeq; i++) q += QUAL_CHARS[buf[qualStart + i]!];
    line += q;
  }

  p = auxStart;
  while (p < end) {
    if (cg && p === cg.cgStart) {
      p = cg.cgEnd;
      continue;
    }
    if (p + 3 > end) throw malformed('truncated aux field');
    const tag = String.fromCharCode(buf[p]!, buf[p + 1]!);
    const type = String.fromCharCode(buf[p + 2]!);
    p += 3;
    line += '\t' + tag + ':';
    switch (type) {
      case 'A': line += 'A:' + String.fromCharCode(buf[p]!); p += 1; break;
      case 'c': line += 'i:' + buf.readInt8(p); p += 1; break;
      case 'C': line += 'i:' + buf[p]; p += 1; break;
      case 's': line += 'i:' + buf.readInt16LE(p); p += 2; break;
      case 'S': line += 'i:' + buf.readUInt16LE(p); p += 2; break;
      case 'i': line += 'i:' + buf.readInt32LE(p); p += 4; break;
      case 'I': line += 'i:' + buf.readUInt32LE(p); p += 4; break;
      case 'f': line += 'f:' + formatG(buf.readFloatLE(p)); p += 4; break;
      case 'd': line += 'd:' + formatG(buf.readDoubleLE(p)); p += 8; break;
      case 'Z':
      case 'H': {
        const z = buf.indexOf(0, p);
        if (z < 0 || z >= end) throw malformed(`unterminated ${type} aux field ${tag}`);
        line += type + ':' + buf.toString('latin1', p, z);
        p = z + 1;
        break;
      }
      case 'B': {
        const sub = String.fromCharCode(buf[p]!);
        const n = buf.readUInt32LE(p + 1);
        p += 5;
        line += 'B:' + sub;
        const size = auxSize(buf, p - 5, 'B', end) - 5;
        if (p + size > end) throw malformed(`B array ${tag} runs past the record`);
        for (let i = 0; i < n; i++) {
          switch (sub) {
            case 'c': line += ',' + buf.readInt8(p); p += 1; break;
            case 'C': line += ',' + buf[p]; p += 1; break;
            case 's': line += ',' + buf.readInt16LE(p); p += 2; break;
            case 'S': line += ',' + buf.readUInt16LE(p); p += 2; break;
            case 'i': line += ',' + buf.readInt32LE(p); p += 4; break;
            case 'I': line += ',' + buf.readUInt32LE(p); p += 4; break;
            case 'f': line += ',' + formatG(buf.readFloatLE(p)); p += 4; break;
          }
        }
        break;
      }
      default:
        throw malformed(`unknown aux type '${type}' in tag ${tag}`);
    }
  }
  if (p !== end) throw malformed('aux data runs past the end of the record');
  return line;
}
