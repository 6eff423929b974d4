import { createReadStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { Command } from 'commander';
import { EXIT } from './exit-codes.js';
import { checksumHeaderValue, crc32Combine } from '../core/checksums.js';
import { MIB, Progress, conn, connectionTarget, withRetries, type Conn } from './transfer-common.js';
import { SignedHttp, errorFromAnswer, resolveCredentials } from './signed-http.js';
import { ReusedBufferHttp, UnsupportedResponseError } from './reused-buffer-get.js';

/**
 * `openomics download`: a read set file with parallel requests — ranged GETs of its S3 view object where the caller
 * may read it there, else GetReadSet parts — resumable, then verified. It talks to the public API with signed
 * requests of its own (cli/signed-http.ts: no SDK client, no SDK signer), so it starts in a tenth of a
 * second rather than half a second (decision 77).
 */

interface DownloadOptions extends Conn {
  sequenceStoreId: string;
  id: string;
  file: string;
  to?: string;
  concurrency: string;
  via: string;
  verify: boolean;
}

/** What is read of GetReadSetMetadata's answer. */
interface ReadSetMetadata {
  status?: string;
  files?: Record<string, { contentLength?: number; partSize?: number; s3Access?: { s3Uri?: string } } | undefined>;
  etag?: { algorithm?: string; source1?: string; source2?: string };
}

/** A stretch of the file fetched by one request: a GetReadSet part, or a range of the S3 view's object. */
interface Piece {
  n: number;
  start: number;
  length: number;
}

/** Pieces of the S3 view's object: small enough to keep many requests in flight, large enough to be cheap. */
const RANGE_PIECE = 8 * MIB;

/** Where each API is: the configured endpoint (OpenOmics, or an override), else the service's own hosts. */
function endpoints(t: { region: string; endpoint?: string }) {
  const base = t.endpoint?.replace(/\/+$/, '');
  const s3 = process.env['AWS_ENDPOINT_URL_S3']?.replace(/\/+$/, '') ?? base;
  const path = (key: string) => key.split('/').map(encodeURIComponent).join('/');
  return {
    control: base ?? `https://control-storage-omics.${t.region}.amazonaws.com`,
    storage: base ?? `https://storage-omics.${t.region}.amazonaws.com`,
    object: (bucket: string, key: string) => new URL(s3 ? `${s3}/${encodeURIComponent(bucket)}/${path(key)}` : `https://${bucket}.s3.${t.region}.amazonaws.com/${path(key)}`),
  };
}

/**
 * The S3 view's ranged GETs for the file, if this caller may read it there (the store's S3 access policy and its
 * identity policy decide; a HEAD asks, and brings the object's CRC32 when the server recorded one). Undefined,
 * with the reason on stderr, otherwise.
 */
async function s3Pieces(
  http: SignedHttp,
  object: (bucket: string, key: string) => URL,
  s3Uri: string | undefined,
  required: boolean,
): Promise<{ url: URL; fetch: (p: Piece) => Promise<Readable>; crc32?: string } | undefined> {
  const m = s3Uri ? /^s3:\/\/([^/]+)\/(.+)$/.exec(s3Uri) : null;
  if (!m) {
    if (required) throw new Error('the read set file has no S3 URI');
    return undefined;
  }
  const url = object(m[1]!, m[2]!);
  let head;
  try {
    head = await http.send('s3', 'HEAD', url, { 'x-amz-checksum-mode': 'ENABLED' });
    head.resume();
  } catch (e) {
    if (required) throw new Error(`the S3 view refused the read: ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
    process.stderr.write(`the S3 view is not readable here (${(e as Error).name}): downloading GetReadSet parts\n`);
    return undefined;
  }
  const checksum = head.headers['x-amz-checksum-crc32'];
  return {
    url,
    fetch: (p) => http.send('s3', 'GET', url, rangeHeader(p)),
    ...(typeof checksum === 'string' && head.headers['x-amz-checksum-type'] !== 'COMPOSITE' ? { crc32: checksum } : {}),
  };
}

const rangeHeader = (p: Piece) => ({ range: `bytes=${p.start}-${p.start + p.length - 1}` });

/** Bytes gathered before a write: a few system calls per piece, not one per network read (~64 KiB). */
const WRITE_BATCH = MIB;

/**
 * Where a piece's bytes go: written at their offset of the file, counted, and (for the check) run through CRC32 as
 * they pass — the bytes received are the bytes written, so the file needs no second read (decision 83).
 */
class PieceWriter {
  crc = 0;
  /** Bytes handed over so far (their place in the file is fixed when they are handed over). */
  written = 0;
  constructor(
    private readonly file: FileHandle,
    private readonly start: number,
    private readonly length: number,
    private readonly progress: (n: number) => void,
  ) {}

  /** Writes the buffers after everything handed over before; several writes may be in flight. */
  async write(...buffers: Buffer[]): Promise<void> {
    let bytes = 0;
    for (const b of buffers) bytes += b.length;
    // Never past the piece: an answer longer than the range asked for (a server ignoring Range) must not write
    // over other pieces, whose checksums were taken as they came.
    if (this.written + bytes > this.length) throw new Error(`more than the ${this.length} bytes asked for came`);
    for (const b of buffers) this.crc = crc32(b, this.crc);
    const at = this.start + this.written;
    this.written += bytes;
    for (let done = 0; done < bytes; ) {
      const { bytesWritten } = await this.file.writev(done === 0 ? buffers : [Buffer.concat(buffers).subarray(done)], at + done);
      done += bytesWritten;
    }
    this.progress(bytes);
  }
}

/** A piece's body (a node:http stream) written in batches of WRITE_BATCH (memory: a batch per piece in flight). */
async function writeStream(out: PieceWriter, body: Readable): Promise<void> {
  let batch: Buffer[] = [];
  let batched = 0;
  for await (const c of body) {
    batch.push(c as Buffer);
    batched += (c as Buffer).length;
    if (batched >= WRITE_BATCH) {
      await out.write(...batch);
      batch = [];
      batched = 0;
    }
  }
  if (batched > 0) await out.write(...batch);
}

/** The CRC32 of `length` bytes of an open file from `start`, read back into one reused buffer. */
async function rangeCrc32(file: FileHandle, start: number, length: number): Promise<number> {
  let c = 0;
  const buf = Buffer.allocUnsafe(Math.min(4 * MIB, Math.max(1, length))); // fresh buffers per read cost a page fault per 4 KiB: 5x slower here
  for (let at = start; at < start + length; ) {
    const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, start + length - at), at);
    if (bytesRead === 0) break;
    c = crc32(buf.subarray(0, bytesRead), c);
    at += bytesRead;
  }
  return c;
}

export async function download(o: DownloadOptions): Promise<number> {
  if (!['auto', 's3', 'parts'].includes(o.via)) throw new Error('--via is auto, s3 or parts');
  const t = connectionTarget(o);
  const at = endpoints(t);
  const window = Math.max(1, Number(o.concurrency));
  const http = new SignedHttp(t.region, await resolveCredentials(t), window);
  try {
    const sid = encodeURIComponent(o.sequenceStoreId);
    const rid = encodeURIComponent(o.id);
    const m = await withRetries('GetReadSetMetadata', () => http.json<ReadSetMetadata>('omics', new URL(`${at.control}/sequencestore/${sid}/readset/${rid}/metadata`)), 3);
    const key = o.file === 'SOURCE2' ? 'source2' : o.file === 'INDEX' ? 'index' : 'source1';
    const info = m.files?.[key];
    if (!info) throw new Error(`read set ${o.id} has no ${o.file} file${m.status !== 'ACTIVE' ? ` (it is ${m.status})` : ''}`);
    const size = info.contentLength!;
    const name = o.to ?? basename(info.s3Access?.s3Uri ?? `${o.id}.${key}`);
    const progress = new Progress(size, name);
    // Through the S3 view (ranged GETs, as many in flight as asked) where the caller may read it, else by parts.
    const ranged = o.via === 'parts' ? undefined : await s3Pieces(http, at.object, info.s3Access?.s3Uri, o.via === 's3');
    const pieceSize = ranged ? RANGE_PIECE : info.partSize!;
    const count = Math.max(1, Math.ceil(size / pieceSize));
    const piece = (n: number): Piece => ({ n, start: (n - 1) * pieceSize, length: Math.min(pieceSize, size - (n - 1) * pieceSize) });
    const fetchPiece =
      ranged?.fetch ??
      ((p: Piece) => http.send('omics', 'GET', new URL(`${at.storage}/sequencestore/${sid}/readset/${rid}?file=${encodeURIComponent(o.file)}&partNumber=${p.n}`)));
    if (name === '-') {
      // To stdout: pieces in order, a window of them in flight.
      const fetchWhole = (n: number) =>
        withRetries(`piece ${n}`, async () => {
          const parts: Buffer[] = [];
          for await (const c of await fetchPiece(piece(n))) parts.push(c as Buffer);
          return Buffer.concat(parts);
        });
      // Held in memory until written in order: at most 256 MiB of pieces.
      const ahead = Math.max(1, Math.min(window, Math.floor((256 * MIB) / pieceSize)));
      const inFlight = new Map<number, Promise<Buffer>>();
      for (let n = 1; n <= count; n++) {
        for (let k = n; k < n + ahead && k <= count; k++) if (!inFlight.has(k)) inFlight.set(k, fetchWhole(k));
        const b = await inFlight.get(n)!;
        inFlight.delete(n);
        if (!process.stdout.write(b)) await new Promise((r) => process.stdout.once('drain', r));
        progress.add(b.length);
      }
      progress.render(true);
      return EXIT.ok;
    }
    // Each piece streams to its place in the file: memory stays flat whatever the piece size. Finished pieces are
    // recorded in `<file>.openomics-download`, so running the same command again after an interruption
    // fetches only the missing ones; the record goes once the file is complete.
    const stateFile = `${name}.openomics-download`;
    const identity = `${o.sequenceStoreId}/${o.id}/${key}/${size}/${info.partSize}${ranged ? `/s3:${pieceSize}` : ''}`;
    let donePieces = new Set<number>();
    if (existsSync(stateFile) && existsSync(name)) {
      const st = JSON.parse(readFileSync(stateFile, 'utf8')) as { identity: string; parts: number[] };
      if (st.identity === identity) donePieces = new Set(st.parts);
    }
    if (donePieces.size === 0) await (await open(name, 'w')).close();
    else process.stderr.write(`resuming: ${donePieces.size} of ${count} pieces already here\n`);
    const out = await open(name, 'r+');
    const record = () => writeFileSync(stateFile, JSON.stringify({ identity, parts: [...donePieces] }));
    record();
    // The S3 view's ranges are read into reused buffers (cli/reused-buffer-get.ts), node:http otherwise or when the
    // answer is framed in a way that reader does not take.
    const direct = ranged ? new ReusedBufferHttp({ maxConnections: window, bodyBufferBytes: WRITE_BATCH }) : undefined;
    let directWorks = true;
    const fetchInto = async (p: Piece, w: PieceWriter) => {
      if (ranged && direct && directWorks) {
        const headers = await http.sign('s3', 'GET', ranged.url, rangeHeader(p));
        try {
          const r = await direct.get(ranged.url, headers, (chunk) => w.write(chunk));
          if (r.status >= 300) throw errorFromAnswer(r.status, r.headers, r.errorBody ?? Buffer.alloc(0));
          return;
        } catch (e) {
          if (!(e instanceof UnsupportedResponseError)) throw e;
          directWorks = false;
        }
      }
      await writeStream(w, await fetchPiece(p));
    };
    // The CRC32 of each piece as it came (pieces of an earlier run are read back for the check).
    const crcs = new Map<number, number>();
    let next = 1;
    let fileCrc: string | undefined;
    try {
      await Promise.all(
        Array.from({ length: window }, async () => {
          while (next <= count) {
            const p = piece(next++);
            if (donePieces.has(p.n)) {
              progress.add(p.length);
              continue;
            }
            await withRetries(`piece ${p.n}`, async () => {
              const w = new PieceWriter(out, p.start, p.length, (n) => progress.add(n));
              await fetchInto(p, w);
              if (w.written !== p.length) throw new Error(`${w.written} bytes came where ${p.length} were asked for`);
              crcs.set(p.n, w.crc);
            });
            donePieces.add(p.n);
            record();
          }
        }),
      );
      if (o.verify && ranged?.crc32) {
        let c = 0;
        for (let n = 1; n <= count; n++) {
          const p = piece(n);
          c = crc32Combine(c, crcs.get(n) ?? (await rangeCrc32(out, p.start, p.length)), p.length);
        }
        fileCrc = checksumHeaderValue(c);
      }
    } finally {
      direct?.close();
      await out.close();
    }
    if (statSync(name).size !== size) throw new Error(`${name} is ${statSync(name).size} bytes; the read set file has ${size}`);
    rmSync(stateFile, { force: true }); // a file that then fails its check is fetched whole by the next run
    progress.render(true);
    const verified = o.verify ? await verify(name, key, m, ranged?.crc32, fileCrc) : undefined;
    process.stdout.write(JSON.stringify({ file: name, bytes: size, via: ranged ? 's3' : 'parts', pieces: count, ...(verified ? { verified } : {}) }) + '\n');
    return EXIT.ok;
  } finally {
    http.close();
  }
}

/**
 * The file against what the server recorded: the CRC32 it took as it stored the file (the S3 view's checksum; `gotCrc`
 * is the file's, from the bytes as they were written and any piece of an earlier run read back), else the read
 * set's ETag recomputed from the file (FASTQ, BAM, uBAM; decision 20). What was checked is returned; nothing to
 * check against returns undefined.
 */
async function verify(name: string, key: string, m: ReadSetMetadata, expectedCrc: string | undefined, gotCrc: string | undefined): Promise<string | undefined> {
  if (expectedCrc && gotCrc) {
    if (gotCrc !== expectedCrc) throw new Error(`${name}: the downloaded bytes do not match the read set file's CRC32 (${gotCrc} != ${expectedCrc}); run the command again`);
    return 'CRC32';
  }
  if (key === 'index' || !m.etag?.algorithm || !/^(FASTQ|BAM)_/.test(m.etag.algorithm)) return undefined;
  const family = m.etag.algorithm.split('_')[1] as 'MD5up';
  const expected = key === 'source2' ? m.etag.source2 : m.etag.source1;
  const data = createReadStream(name, { highWaterMark: MIB });
  const got = m.etag.algorithm.startsWith('FASTQ')
    ? (await (await import('../formats/fastq.js')).inspectFastq(data, { etagFamily: family, fileName: name })).etag
    : (await (await import('../formats/bam-inspect.js')).inspectBam(data, { etagFamily: family, buildIndex: false, fileName: name })).etag;
  if (got !== expected) throw new Error(`${name}: the downloaded content does not match the read set's ETag (${got} != ${expected})`);
  return m.etag.algorithm;
}

export function downloadCommand(): Command {
  const down = conn(new Command('download'))
    .description(
      'download a read set file with parallel requests: ranged GETs of its S3 view object where the caller may read it\n' +
        "(the store's S3 access policy), else GetReadSet parts; then checked against the CRC32 the server took as it\n" +
        "stored the file (or, where the S3 view gives none, the read set's ETag recomputed)\n" +
        '  e.g. openomics download --sequence-store-id 1234567890 --id 9876543210 --file SOURCE1 --to reads.fastq.gz\n  --to - writes to stdout',
    )
    .requiredOption('--sequence-store-id <id>', 'the sequence store')
    .requiredOption('--id <id>', 'the read set')
    .option('--file <file>', 'SOURCE1, SOURCE2 or INDEX', 'SOURCE1')
    .option('--to <path>', 'output file (default: the file name; - for stdout)')
    .option('--concurrency <n>', 'requests in flight', '8')
    .option('--via <how>', 'auto (the S3 view if readable, else parts), s3 or parts', 'auto')
    .option('--no-verify', 'skip checking the downloaded file (CRC32, or the ETag recomputed)');
  down.action(async (o: DownloadOptions) => {
    process.exitCode = await download(o);
  });
  return down;
}
