import { createHash } from 'node:crypto';
import { bgzfBlocks, isBgzfHeader } from './bgzf.js';
import { malformed, unsupported } from './errors.js';

/**
 * FASTA references, plain or bgzip-compressed: one pass validates the layout
 * samtools faidx requires (every line of a sequence but its last has the same
 * length), and produces the `.fai` (identical to `samtools faidx`), a `.gzi`
 * for bgzip input, the MD5 of the whole file as stored, and per sequence its
 * length and the M5 digest CRAM uses (MD5 of the uppercase bases, no whitespace),
 * as `samtools dict` computes it.
 */
export interface FastaSequence {
  name: string;
  length: number;
  offset: number;
  lineBases: number;
  lineWidth: number;
  md5: string;
}

export interface FastaInfo {
  sequences: FastaSequence[];
  fai: string;
  gzi?: Buffer;
  fileMd5: string;
  bgzip: boolean;
}

async function* plainBytes(source: AsyncIterable<Buffer>, onKind: (bgzf: boolean, blocks: [number, number][]) => void, fileMd5: ReturnType<typeof createHash>) {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head = first.value as Buffer;
  const all = (async function* () {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
  })();
  const hashing = (async function* () {
    for await (const c of all) {
      fileMd5.update(c);
      yield c;
    }
  })();
  if (head[0] === 0x1f && head[1] === 0x8b) {
    if (!isBgzfHeader(head)) throw unsupported('gzip-compressed FASTA must be bgzip-compressed (BGZF) so it can be indexed; recompress it with `bgzip`');
    const blocks: [number, number][] = [];
    onKind(true, blocks);
    let uoffset = 0;
    for await (const b of bgzfBlocks(hashing)) {
      if (b.coffset > 0 && b.data.length > 0) blocks.push([b.coffset, uoffset]);
      uoffset += b.data.length;
      if (b.data.length) yield b.data;
    }
    return;
  }
  onKind(false, []);
  yield* hashing;
}

export async function inspectFasta(source: AsyncIterable<Buffer>, opts: { fileName?: string } = {}): Promise<FastaInfo> {
  const fileMd5 = createHash('md5');
  let bgzip = false;
  let blocks: [number, number][] = [];
  const sequences: FastaSequence[] = [];
  let cur: (FastaSequence & { hash: ReturnType<typeof createHash>; lastLineShort: boolean; lines: number }) | undefined;
  let offset = 0; // uncompressed byte offset of the start of the current line
  let carry = '';
  let lineNo = 0;
  const where = () => ({ ...(opts.fileName ? { file: opts.fileName } : {}) });

  const closeSeq = () => {
    if (!cur) return;
    const { hash, lastLineShort: _s, lines: _l, ...rest } = cur;
    sequences.push({ ...rest, md5: hash.digest('hex') });
    cur = undefined;
  };
  const line = (raw: string, width: number) => {
    lineNo++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.startsWith('>')) {
      closeSeq();
      // As htslib: leading white space skipped, the name ends at the next white space (it may be empty).
      const name = text.slice(1).replace(/^\s+/, '').split(/\s/, 1)[0]!;
      if (sequences.some((s) => s.name === name)) throw malformed(`line ${lineNo}: duplicate sequence name ${name}`, where());
      cur = { name, length: 0, offset: offset + width, lineBases: 0, lineWidth: 0, md5: '', hash: createHash('md5'), lastLineShort: false, lines: 0 };
    } else if (text.length > 0) {
      if (!cur) throw malformed(`line ${lineNo}: sequence data before the first '>' header`, where());
      if (/[^A-Za-z*\-.]/.test(text)) throw malformed(`line ${lineNo}: invalid character in sequence ${cur.name}`, where());
      if (cur.lines === 0) {
        cur.lineBases = text.length;
        cur.lineWidth = width;
      } else if (cur.lastLineShort || text.length > cur.lineBases || width - text.length !== cur.lineWidth - cur.lineBases) {
        throw malformed(`line ${lineNo}: different line length in sequence ${cur.name} (samtools faidx needs equal lines)`, where());
      }
      if (text.length < cur.lineBases) cur.lastLineShort = true;
      cur.lines++;
      cur.length += text.length;
      cur.hash.update(text.toUpperCase(), 'latin1');
    } else if (cur && cur.lines > 0) {
      cur.lastLineShort = true; // a blank line ends the sequence's lines
    }
    offset += width;
  };

  for await (const chunk of plainBytes(source, (b, bl) => ((bgzip = b), (blocks = bl)), fileMd5)) {
    const text = carry + chunk.toString('latin1');
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      line(text.slice(start, nl), nl - start + 1);
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  if (carry.length) line(carry, carry.length);
  closeSeq();
  if (sequences.length === 0) throw malformed('no FASTA sequences found', where());
  const fai = sequences.map((s) => `${s.name}\t${s.length}\t${s.offset}\t${s.lineBases}\t${s.lineWidth}\n`).join('');
  let gzi: Buffer | undefined;
  if (bgzip) {
    gzi = Buffer.alloc(8 + 16 * blocks.length);
    gzi.writeBigUInt64LE(BigInt(blocks.length), 0);
    blocks.forEach(([c, u], i) => {
      gzi!.writeBigUInt64LE(BigInt(c), 8 + 16 * i);
      gzi!.writeBigUInt64LE(BigInt(u), 16 + 16 * i);
    });
  }
  return { sequences, fai, ...(gzi ? { gzi } : {}), fileMd5: fileMd5.digest('hex'), bgzip };
}
