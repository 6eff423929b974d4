import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { FormatError, malformed, truncated } from './errors.js';
import { familyHash, type EtagFamily } from './hashing.js';

/**
 * FASTQ inspection: gzip (single or multi-member, BGZF included) or plain
 * text, detected by magic. One streaming pass validates the 4-line records
 * (`@` header, sequence of IUPAC letters / `.` / `*`... , `+` line, quality of
 * the same length in `!`..`~`), counts reads and bases, and hashes the
 * uncompressed text (the FASTQ_*up ETag). Paired files are read in lockstep:
 * same number of records, and read names that pair once `/1` `/2` and
 * comments are set aside.
 */
export interface FastqInfo {
  readCount: number;
  baseCount: number;
  etag: string;
  compressed: boolean;
}

interface FastqRecordName {
  name: string;
  index: number;
}

const SEQ_OK = new Uint8Array(256);
for (const c of 'ACGTUNRYKMSWBDHVacgtunrykmswbdhv.-*=') SEQ_OK[c.charCodeAt(0)] = 1;

/** Decompresses if gzip, passes plain text through; hashes the uncompressed bytes. */
async function* uncompressed(source: AsyncIterable<Buffer>, onFirst: (gzip: boolean) => void): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) {
    onFirst(false);
    return;
  }
  const head = first.value as Buffer;
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  onFirst(gzip);
  const rest = (async function* () {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
  })();
  if (!gzip) {
    yield* rest;
    return;
  }
  const gunzip = createGunzip();
  const input = Readable.from(rest);
  input.on('error', (e) => gunzip.destroy(e));
  input.pipe(gunzip);
  try {
    for await (const c of gunzip) yield c as Buffer;
  } catch (e) {
    if (e instanceof FormatError) throw e;
    const msg = (e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' ? 'the gzip stream is truncated' : `the gzip data is corrupt: ${(e as Error).message}`;
    throw (e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' ? truncated(msg) : malformed(msg);
  }
}

export function pairName(header: string): string {
  let name = header.slice(1);
  const ws = name.search(/[ \t]/);
  if (ws >= 0) name = name.slice(0, ws);
  if (name.endsWith('/1') || name.endsWith('/2')) name = name.slice(0, -2);
  return name;
}

/** Parses and validates records; yields each record's pairing name. */
export async function* fastqRecords(
  source: AsyncIterable<Buffer>,
  family: EtagFamily,
  fileName: string | undefined,
  result: Partial<FastqInfo>,
): AsyncGenerator<FastqRecordName> {
  const hash = familyHash(family);
  let readCount = 0, baseCount = 0;
  let carry = '';
  let lines: string[] = [];
  let lineNo = 0;
  let sawData = false;
  const where = () => ({ ...(fileName ? { file: fileName } : {}), record: readCount + 1 });
  const check = (h: string, seq: string, plus: string, qual: string): void => {
    if (h.charCodeAt(0) !== 64) throw malformed(`line ${lineNo - 3} should start a record with '@' but starts with ${JSON.stringify(h.slice(0, 10))}`, where());
    if (plus.charCodeAt(0) !== 43) throw malformed(`line ${lineNo - 1} should be the '+' separator`, where());
    if (seq.length !== qual.length) throw malformed(`sequence has ${seq.length} bases but quality has ${qual.length} characters`, where());
    for (let i = 0; i < seq.length; i++) if (!SEQ_OK[seq.charCodeAt(i)]) throw malformed(`invalid base ${JSON.stringify(seq[i])} in the sequence`, where());
    for (let i = 0; i < qual.length; i++) {
      const q = qual.charCodeAt(i);
      if (q < 33 || q > 126) throw malformed(`invalid quality character code ${q}`, where());
    }
  };
  for await (const chunk of uncompressed(source, (gz) => (result.compressed = gz))) {
    sawData = true;
    hash.update(chunk);
    const text = carry + chunk.toString('latin1');
    const parts = text.split('\n');
    carry = parts.pop()!;
    for (let raw of parts) {
      if (raw.endsWith('\r')) raw = raw.slice(0, -1);
      lineNo++;
      lines.push(raw);
      if (lines.length === 1 && raw.charCodeAt(0) !== 64) {
        throw malformed(`line ${lineNo} should start a record with '@' but starts with ${JSON.stringify(raw.slice(0, 10))}`, where());
      }
      if (lines.length === 4) {
        check(lines[0]!, lines[1]!, lines[2]!, lines[3]!);
        readCount++;
        baseCount += lines[1]!.length;
        yield { name: pairName(lines[0]!), index: readCount };
        lines = [];
      }
    }
  }
  if (carry.length > 0) {
    lineNo++;
    lines.push(carry.endsWith('\r') ? carry.slice(0, -1) : carry);
    if (lines.length === 4) {
      check(lines[0]!, lines[1]!, lines[2]!, lines[3]!);
      readCount++;
      baseCount += lines[1]!.length;
      yield { name: pairName(lines[0]!), index: readCount };
      lines = [];
    }
  }
  if (lines.length > 0 && !(lines.length === 1 && lines[0] === '')) {
    throw truncated(`the last record has ${lines.length} of its 4 lines`, where());
  }
  if (!sawData || readCount === 0) throw malformed('the file holds no FASTQ records', fileName ? { file: fileName } : {});
  result.readCount = readCount;
  result.baseCount = baseCount;
  result.etag = hash.digest('hex');
}

export async function inspectFastq(source: AsyncIterable<Buffer>, opts: { etagFamily?: EtagFamily; fileName?: string } = {}): Promise<FastqInfo> {
  const result: Partial<FastqInfo> = {};
  for await (const _ of fastqRecords(source, opts.etagFamily ?? 'MD5up', opts.fileName, result)) {
    // records are validated as they stream by
  }
  return result as FastqInfo;
}

/** Paired FASTQ: both files validated in lockstep, names paired record by record. */
export async function inspectFastqPair(
  source1: AsyncIterable<Buffer>,
  source2: AsyncIterable<Buffer>,
  opts: { etagFamily?: EtagFamily; fileNames?: [string, string] } = {},
): Promise<[FastqInfo, FastqInfo]> {
  const family = opts.etagFamily ?? 'MD5up';
  const [n1, n2] = opts.fileNames ?? ['source1', 'source2'];
  const r1: Partial<FastqInfo> = {}, r2: Partial<FastqInfo> = {};
  const a = fastqRecords(source1, family, n1, r1);
  const b = fastqRecords(source2, family, n2, r2);
  for (;;) {
    const [x, y] = await Promise.all([a.next(), b.next()]);
    if (x.done && y.done) break;
    if (x.done || y.done) {
      const shorter = x.done ? n1 : n2;
      const longer = x.done ? n2 : n1;
      const at = (x.done ? y.value : x.value) as FastqRecordName;
      // Drain the longer file so its own count is known for the message.
      let count = at.index;
      for await (const rec of x.done ? b : a) count = rec.index;
      throw new FormatError('MismatchedPair', `${shorter} has ${at.index - 1} records but ${longer} has ${count}`, { record: at.index });
    }
    if (x.value.name !== y.value.name) {
      throw new FormatError('MismatchedPair', `read names do not pair: ${JSON.stringify(x.value.name)} in ${n1} and ${JSON.stringify(y.value.name)} in ${n2}`, {
        record: x.value.index,
      });
    }
  }
  return [r1 as FastqInfo, r2 as FastqInfo];
}
