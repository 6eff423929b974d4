import { createReadStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { Command } from 'commander';
import { EXIT } from './exit-codes.js';
import { checksumHeaderValue } from '../core/checksums.js';
import { MIB, Progress, conn, connectionTarget, withRetries, type Conn } from './transfer-common.js';
import { SignedHttp, resolveCredentials } from './signed-http.js';

/**
 * `openomics download`: a read set file with parallel requests — ranged GETs of its S3 view object where the caller
 * may read it there, else GetReadSet parts — resumable, then verified. It talks to the public API with signed
 * requests of its own (cli/signed-http.ts: the AWS SDK's signer, no SDK client), so it starts in a tenth of a
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
): Promise<{ fetch: (p: Piece) => Promise<Readable>; crc32?: string } | undefined> {
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
    fetch: (p) => http.send('s3', 'GET', url, { range: `bytes=${p.start}-${p.start + p.length - 1}` }),
    ...(typeof checksum === 'string' && head.headers['x-amz-checksum-type'] !== 'COMPOSITE' ? { crc32: checksum } : {}),
  };
}

/** Bytes gathered before a write: a few system calls per piece, not one per network read (~64 KiB). */
const WRITE_BATCH = MIB;

/** A piece's body written at its offset of the file, in batches of WRITE_BATCH (memory: a batch per piece in flight). */
async function writeAt(file: FileHandle, body: Readable, start: number, progress: (n: number) => void): Promise<void> {
  let at = start;
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async () => {
    for (let written = 0; written < batched; ) {
      const { bytesWritten } = await file.writev(written === 0 ? batch : [Buffer.concat(batch).subarray(written)], at + written);
      written += bytesWritten;
    }
    at += batched;
    batch = [];
    batched = 0;
  };
  for await (const c of body) {
    const chunk = c as Buffer;
    batch.push(chunk);
    batched += chunk.length;
    progress(chunk.length);
    if (batched >= WRITE_BATCH) await flush();
  }
  await flush();
}

/** S3's CRC32 of a file (base64 of the big-endian value), read back from disk into one reused buffer. */
async function fileCrc32(path: string): Promise<string> {
  let c = 0;
  const file = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * MIB); // fresh buffers per read cost a page fault per 4 KiB: 5x slower here
    for (let at = 0; ; ) {
      const { bytesRead } = await file.read(buf, 0, buf.length, at);
      if (bytesRead === 0) break;
      c = crc32(buf.subarray(0, bytesRead), c);
      at += bytesRead;
    }
  } finally {
    await file.close();
  }
  return checksumHeaderValue(c);
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
    let next = 1;
    try {
      await Promise.all(
        Array.from({ length: window }, async () => {
          while (next <= count) {
            const p = piece(next++);
            if (donePieces.has(p.n)) {
              progress.add(p.length);
              continue;
            }
            await withRetries(`piece ${p.n}`, async () => writeAt(out, await fetchPiece(p), p.start, (n) => progress.add(n)));
            donePieces.add(p.n);
            record();
          }
        }),
      );
    } finally {
      await out.close();
    }
    if (statSync(name).size !== size) throw new Error(`${name} is ${statSync(name).size} bytes; the read set file has ${size}`);
    rmSync(stateFile, { force: true }); // a file that then fails its check is fetched whole by the next run
    progress.render(true);
    const verified = o.verify ? await verify(name, key, m, ranged?.crc32) : undefined;
    process.stdout.write(JSON.stringify({ file: name, bytes: size, via: ranged ? 's3' : 'parts', pieces: count, ...(verified ? { verified } : {}) }) + '\n');
    return EXIT.ok;
  } finally {
    http.close();
  }
}

/**
 * The file as written on disk against what the server recorded: the CRC32 it took as it stored the file (the
 * S3 view's checksum, read back here at disk speed), else the read set's ETag recomputed from the content
 * (FASTQ, BAM, uBAM; decision 20). What was checked is returned; nothing to check against returns undefined.
 */
async function verify(name: string, key: string, m: ReadSetMetadata, expectedCrc: string | undefined): Promise<string | undefined> {
  if (expectedCrc) {
    const got = await fileCrc32(name);
    if (got !== expectedCrc) throw new Error(`${name}: the downloaded bytes do not match the read set file's CRC32 (${got} != ${expectedCrc}); run the command again`);
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
