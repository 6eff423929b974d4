import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { FormatError, malformed, truncated } from './errors.js';
import { ThreadedHash, type EtagFamily } from './hashing.js';

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
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  const input = Readable.from(rest);
  // An error of the source (a storage or network fault) is passed on as it is: only
  // what zlib says of the bytes makes the file malformed.
  let sourceError: Error | undefined;
  input.on('error', (e) => {
    sourceError = e;
    gunzip.destroy(e);
  });
  input.pipe(gunzip);
  try {
    for await (const c of gunzip) yield c as Buffer;
  } catch (e) {
    if (sourceError) throw sourceError;
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

const QUAL_OK = new Uint8Array(256);
for (let c = 33; c <= 126; c++) QUAL_OK[c] = 1;

/**
 * Parses and validates records, working on bytes (no per-line strings);
 * yields each record's pairing name when `names` is set, else only counts.
 */
export async function* fastqRecords(
  source: AsyncIterable<Buffer>,
  family: EtagFamily,
  fileName: string | undefined,
  result: Partial<FastqInfo>,
  names = true,
): AsyncGenerator<FastqRecordName> {
  const hash = new ThreadedHash(family);
  let readCount = 0, baseCount = 0;
  let lineNo = 0;
  let sawData = false;
  // The current record's 4 lines as [start, end) into `buf` (end excludes \n and \r).
  const ls = [0, 0, 0, 0, 0, 0, 0, 0];
  let nLines = 0;
  let buf: Buffer = Buffer.alloc(0);
  const where = () => ({ ...(fileName ? { file: fileName } : {}), record: readCount + 1 });
  const show = (a: number, b: number) => JSON.stringify(buf.toString('latin1', a, Math.min(b, a + 10)));
  const checkRecord = (): void => {
    const [, , s0, s1, p0, , q0, q1] = ls as [number, number, number, number, number, number, number, number];
    if (buf[p0] !== 43) throw malformed(`line ${lineNo - 1} should be the '+' separator`, where());
    const n = s1 - s0;
    if (n !== q1 - q0) throw malformed(`sequence has ${n} bases but quality has ${q1 - q0} characters`, where());
    for (let i = s0; i < s1; i++) if (!SEQ_OK[buf[i]!]) throw malformed(`invalid base ${show(i, i + 1)} in the sequence`, where());
    for (let i = q0; i < q1; i++) if (!QUAL_OK[buf[i]!]) throw malformed(`invalid quality character code ${buf[i]}`, where());
    readCount++;
    baseCount += n;
  };
  /** Scans whole lines of `buf`; returns where the unfinished record (if any) starts. */
  function* scan(): Generator<FastqRecordName, number> {
    let pos = 0;
    let recordStart = 0;
    for (let nl = buf.indexOf(10, pos); nl >= 0; nl = buf.indexOf(10, pos)) {
      const end = nl > pos && buf[nl - 1] === 13 ? nl - 1 : nl;
      lineNo++;
      if (nLines === 0) {
        recordStart = pos;
        if (buf[pos] !== 64) throw malformed(`line ${lineNo} should start a record with '@' but starts with ${show(pos, end)}`, where());
      }
      ls[2 * nLines] = pos;
      ls[2 * nLines + 1] = end;
      nLines++;
      pos = nl + 1;
      if (nLines === 4) {
        checkRecord();
        nLines = 0;
        if (names) yield { name: pairName(buf.toString('latin1', ls[0]!, ls[1]!)), index: readCount };
      }
    }
    return nLines > 0 ? recordStart : pos;
  }
  try {
    let carry: Buffer = Buffer.alloc(0);
    for await (const chunk of uncompressed(source, (gz) => (result.compressed = gz))) {
      sawData = true;
      hash.update(chunk);
      await hash.below(8); // bounded memory when hashing falls behind parsing
      buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const keepFrom = yield* scan();
      // Keep the unfinished record (its completed lines and the partial one) and re-scan it with the next chunk.
      carry = Buffer.from(buf.subarray(keepFrom));
      lineNo -= nLines;
      nLines = 0;
      if (carry.length > 64 << 20) throw malformed('a FASTQ record longer than 64 MiB', where());
    }
    if (carry.length > 0) {
      buf = carry[carry.length - 1] === 10 ? carry : Buffer.concat([carry, Buffer.from('\n')]);
      yield* scan();
      if (nLines > 0) throw truncated(`the last record has ${nLines} of its 4 lines`, where());
    }
    if (!sawData || readCount === 0) throw malformed('the file holds no FASTQ records', fileName ? { file: fileName } : {});
    result.readCount = readCount;
    result.baseCount = baseCount;
    result.etag = await hash.digest();
  } finally {
    if (result.etag === undefined) await hash.abort();
  }
}

export async function inspectFastq(source: AsyncIterable<Buffer>, opts: { etagFamily?: EtagFamily; fileName?: string } = {}): Promise<FastqInfo> {
  const result: Partial<FastqInfo> = {};
  for await (const _ of fastqRecords(source, opts.etagFamily ?? 'MD5up', opts.fileName, result, false)) {
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
  try {
    await pairUp(a, b, n1, n2);
  } finally {
    await Promise.all([a.return(undefined), b.return(undefined)]); // stops and cleans up a reader left mid-file
  }
  return [r1 as FastqInfo, r2 as FastqInfo];
}

async function pairUp(a: AsyncGenerator<FastqRecordName>, b: AsyncGenerator<FastqRecordName>, n1: string, n2: string): Promise<void> {
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
}
