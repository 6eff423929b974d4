import { EXIT } from './exit-codes.js';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Command } from 'commander';
import {
  OmicsClient,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  ListMultipartReadSetUploadsCommand,
  ListReadSetUploadPartsCommand,
  CompleteMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  GetReadSetCommand,
  type FileType,
  type ReadSetPartSource,
} from '@aws-sdk/client-omics';
import { fromIni } from '@aws-sdk/credential-providers';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';

/**
 * `openomics upload` / `openomics download`: the transfer manager. Talks to any
 * OpenOmics (or HealthOmics) endpoint over the public API with the AWS SDK,
 * resolving endpoint, profile and region the way the AWS CLI does.
 * Exit codes (cli/exit-codes.ts): 0 done, 1 bad arguments, an API error or an interrupted transfer (run the
 * same command again to resume it), 2 the read set failed (UPLOAD_FAILED).
 */
export { EXIT } from './exit-codes.js';
const MIB = 1024 * 1024;

interface Conn {
  endpointUrl?: string;
  profile?: string;
  region?: string;
}

/**
 * Endpoint and credentials as the AWS CLI resolves them (flags, then AWS_* variables and the shared files);
 * with none configured, a local server's own files: `<data dir>/credentials` (profile `openomics`; data dir from
 * OPENOMICS_DATA_DIR or ./openomics-data) and http://127.0.0.1:8080.
 */
export function omicsFromOptions(o: Conn, opts: { maxAttempts?: number } = {}): OmicsClient {
  const c = connectionSettings(o);
  return new OmicsClient({
    ...c,
    disableHostPrefix: c.endpoint !== undefined,
    // The SDK's standard retries (exponential backoff with jitter); the part transfers retry themselves instead
    // (a part's body must be read again), with the SDK's retries off (maxAttempts 1), so attempts do not multiply.
    retryMode: 'standard',
    maxAttempts: opts.maxAttempts ?? 3,
  });
}

/** Region, endpoint and credentials of omicsFromOptions, for any AWS SDK client of the same server. */
export function connectionSettings(o: Conn): { region: string; endpoint?: string; credentials?: ReturnType<typeof fromIni> } {
  const local = join(process.env['OPENOMICS_DATA_DIR'] ?? 'openomics-data', 'credentials');
  const configured =
    o.profile !== undefined || process.env['AWS_PROFILE'] || process.env['AWS_ACCESS_KEY_ID'] || process.env['AWS_SHARED_CREDENTIALS_FILE'] ||
    existsSync(join(homedir(), '.aws', 'credentials'));
  const useLocal = !configured && existsSync(local);
  const endpoint = o.endpointUrl ?? process.env['AWS_ENDPOINT_URL_OMICS'] ?? process.env['AWS_ENDPOINT_URL'] ?? (useLocal ? 'http://127.0.0.1:8080' : undefined);
  const profile = o.profile ?? process.env['AWS_PROFILE'];
  return {
    region: o.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? profileRegion(useLocal ? undefined : profile) ?? 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    ...(useLocal ? { credentials: fromIni({ profile: 'openomics', filepath: local }) } : profile ? { credentials: fromIni({ profile }) } : {}),
  };
}

/**
 * The region of `profile` (or `default`) in the shared config file, as the AWS CLI reads it: `~/.aws/config`
 * or AWS_CONFIG_FILE, sections `[default]` and `[profile name]`.
 */
export function profileRegion(profile = 'default'): string | undefined {
  const file = process.env['AWS_CONFIG_FILE'] ?? join(homedir(), '.aws', 'config');
  if (!existsSync(file)) return undefined;
  const want = profile === 'default' ? ['default', 'profile default'] : [`profile ${profile}`];
  let inSection = false;
  for (const raw of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    const section = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (section) inSection = want.includes(section[1]!);
    else if (inSection) {
      const kv = /^region\s*=\s*(\S+)/.exec(line);
      if (kv) return kv[1];
    }
  }
  return undefined;
}

/** "100MiB", "64KiB", "1048576" -> bytes. */
export function parseSize(v: string): number {
  const m = /^(\d+)(B|KiB|MiB|GiB|KB|MB|GB)?$/i.exec(v.trim());
  if (!m) throw new Error(`${v} is not a size like 100MiB`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const mult = { b: 1, kib: 1024, mib: MIB, gib: 1024 * MIB, kb: 1e3, mb: 1e6, gb: 1e9 }[unit]!;
  return Number(m[1]) * mult;
}

/** Progress on stderr: a bar on a terminal, a plain line per second otherwise (parseable: `progress <done> <total> <MB/s> <eta s>`). */
class Progress {
  private done = 0;
  private readonly started = Date.now();
  private lastLine = 0;
  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly tty = Boolean(process.stderr.isTTY),
  ) {}
  add(n: number): void {
    this.done += n;
    this.render(false);
  }
  render(final: boolean): void {
    const now = Date.now();
    if (!final && now - this.lastLine < (this.tty ? 100 : 1000)) return;
    this.lastLine = now;
    const secs = Math.max(0.001, (now - this.started) / 1000);
    const rate = this.done / secs / 1e6;
    const eta = rate > 0 ? Math.max(0, (this.total - this.done) / 1e6 / rate) : 0;
    const pct = this.total ? Math.floor((100 * this.done) / this.total) : 100;
    if (this.tty) {
      const width = 30;
      const fill = Math.round((width * pct) / 100);
      process.stderr.write(`\r${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${(this.done / 1e6).toFixed(1)}/${(this.total / 1e6).toFixed(1)} MB ${rate.toFixed(1)} MB/s ETA ${eta.toFixed(0)}s${final ? '\n' : ''}`);
    } else {
      process.stderr.write(`progress ${this.done} ${this.total} ${rate.toFixed(1)} ${eta.toFixed(0)}\n`);
    }
  }
}

/**
 * Retries a part transfer whose body must be produced again for each attempt (a file range to read, a
 * response to stream to disk): up to `attempts` tries in all, full-jitter exponential backoff, client errors
 * (4xx but 429) not retried. The client used inside has the SDK's own retries off. The error thrown names the
 * part and keeps the last one as its `cause`, with its `$metadata` (request id, status).
 */
async function withRetries<T>(what: string, fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const err = e as Error & { $metadata?: { httpStatusCode?: number } };
      const status = err.$metadata?.httpStatusCode ?? 0;
      if (i >= attempts || (status >= 400 && status < 500 && status !== 429)) {
        throw Object.assign(new Error(`${what}: ${err.name}: ${err.message}`, { cause: err }), { $metadata: err.$metadata });
      }
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(20_000, 250 * 2 ** i)));
    }
  }
}

async function sha256Range(file: string, start: number, end: number): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file, { start, end: end - 1, highWaterMark: MIB })) h.update(c as Buffer);
  return h.digest('hex');
}

interface UploadOptions extends Conn {
  sequenceStoreId: string;
  fileType: string;
  subjectId: string;
  sampleId: string;
  name: string;
  referenceArn?: string;
  generatedFrom?: string;
  description?: string;
  tag?: string[];
  partSize: string;
  concurrency: string;
  wait: boolean;
}

export async function upload(sources: string[], o: UploadOptions): Promise<number> {
  const omics = omicsFromOptions(o);
  const partClient = omicsFromOptions(o, { maxAttempts: 1 }); // withRetries retries parts

  const partSize = parseSize(o.partSize);
  if (partSize < 1 || partSize > 100 * MIB) throw new Error('--part-size must be between 1 byte and 100MiB (the service limit)');
  const concurrency = Math.max(1, Number(o.concurrency));
  if (sources.length === 2 && o.fileType !== 'FASTQ') throw new Error('a second source file is only for paired FASTQ');
  const files = sources.map((f, i) => ({ path: f, size: statSync(f).size, source: (i === 0 ? 'SOURCE1' : 'SOURCE2') as ReadSetPartSource }));
  const tags = Object.fromEntries((o.tag ?? []).map((t) => {
    const i = t.indexOf('=');
    if (i < 1) throw new Error(`--tag ${t} is not key=value`);
    return [t.slice(0, i), t.slice(i + 1)];
  }));

  // Resume: an open upload of the same store, name, subject, sample and type is continued.
  let uploadId: string | undefined;
  let nextToken: string | undefined;
  do {
    const page = await omics.send(new ListMultipartReadSetUploadsCommand({ sequenceStoreId: o.sequenceStoreId, nextToken }));
    const same = page.uploads?.find((u) => u.name === o.name && u.subjectId === o.subjectId && u.sampleId === o.sampleId && u.sourceFileType === o.fileType);
    if (same) uploadId = same.uploadId;
    nextToken = page.nextToken;
  } while (!uploadId && nextToken);
  const resumed = Boolean(uploadId);
  if (!uploadId) {
    const created = await omics.send(
      new CreateMultipartReadSetUploadCommand({
        sequenceStoreId: o.sequenceStoreId,
        sourceFileType: o.fileType as FileType,
        subjectId: o.subjectId,
        sampleId: o.sampleId,
        name: o.name,
        ...(o.referenceArn ? { referenceArn: o.referenceArn } : {}),
        ...(o.generatedFrom ? { generatedFrom: o.generatedFrom } : {}),
        ...(o.description ? { description: o.description } : {}),
        ...(Object.keys(tags).length ? { tags } : {}),
      }),
    );
    uploadId = created.uploadId!;
  }
  process.stderr.write(`${resumed ? 'resuming' : 'started'} upload ${uploadId}\n`);

  const plan: { source: ReadSetPartSource; partNumber: number; path: string; start: number; end: number }[] = [];
  for (const f of files) {
    const n = Math.max(1, Math.ceil(f.size / partSize));
    if (n > 10_000) throw new Error(`${f.path} needs ${n} parts; raise --part-size (at most 10,000 parts)`);
    for (let i = 0; i < n; i++) plan.push({ source: f.source, partNumber: i + 1, path: f.path, start: i * partSize, end: Math.min(f.size, (i + 1) * partSize) });
  }
  // Parts already on the server with the same bytes are kept.
  const have = new Map<string, string>();
  for (const f of files) {
    let token: string | undefined;
    do {
      const page = await omics.send(new ListReadSetUploadPartsCommand({ sequenceStoreId: o.sequenceStoreId, uploadId, partSource: f.source, nextToken: token }));
      for (const p of page.parts ?? []) have.set(`${p.partSource}/${p.partNumber}/${p.partSize}`, p.checksum!);
      token = page.nextToken;
    } while (token);
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  const progress = new Progress(total, basename(files[0]!.path));
  const done: { partNumber: number; partSource: ReadSetPartSource; checksum: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < plan.length) {
        const p = plan[next++]!;
        const existing = have.get(`${p.source}/${p.partNumber}/${p.end - p.start}`);
        if (existing && existing === (await sha256Range(p.path, p.start, p.end))) {
          done.push({ partNumber: p.partNumber, partSource: p.source, checksum: existing });
          progress.add(p.end - p.start);
          continue;
        }
        const r = await withRetries(`part ${p.partNumber} of ${p.source}`, () =>
          partClient.send(
            new UploadReadSetPartCommand({
              sequenceStoreId: o.sequenceStoreId,
              uploadId,
              partSource: p.source,
              partNumber: p.partNumber,
              payload: createReadStream(p.path, { start: p.start, end: p.end - 1 }),
            }),
          ),
        );
        done.push({ partNumber: p.partNumber, partSource: p.source, checksum: r.checksum! });
        progress.add(p.end - p.start);
      }
    }),
  );
  progress.render(true);
  const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: o.sequenceStoreId, uploadId, parts: done }));
  if (!o.wait) {
    process.stdout.write(JSON.stringify({ readSetId, uploadId, status: 'PROCESSING_UPLOAD' }) + '\n');
    return EXIT.ok;
  }
  for (;;) {
    const m = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: o.sequenceStoreId, id: readSetId }));
    if (m.status !== 'PROCESSING_UPLOAD') {
      process.stdout.write(
        JSON.stringify({ readSetId, uploadId, status: m.status, statusMessage: m.statusMessage, sequenceInformation: m.sequenceInformation, etag: m.etag }) + '\n',
      );
      return m.status === 'ACTIVE' ? EXIT.ok : EXIT.readSetFailed;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface DownloadOptions extends Conn {
  sequenceStoreId: string;
  id: string;
  file: string;
  to?: string;
  concurrency: string;
  via: string;
  verify: boolean;
}

/** A stretch of the file fetched by one request: a GetReadSet part, or a range of the S3 view's object. */
interface Piece {
  n: number;
  start: number;
  length: number;
}

/** Pieces of the S3 view's object: small enough to keep many requests in flight, large enough to be cheap. */
const RANGE_PIECE = 8 * MIB;

/**
 * The S3 view's ranged GETs for the file, if this caller may read it there (the store's S3 access policy and
 * its identity policy decide; a one-byte GET asks). Undefined, with the reason on stderr, otherwise.
 */
async function s3Pieces(o: DownloadOptions, s3Uri: string | undefined, required: boolean): Promise<((p: Piece) => Promise<Readable>) | undefined> {
  const m = s3Uri ? /^s3:\/\/([^/]+)\/(.+)$/.exec(s3Uri) : null;
  if (!m) {
    if (required) throw new Error('the read set file has no S3 URI');
    return undefined;
  }
  const [, bucket, key] = m as unknown as [string, string, string];
  const c = connectionSettings(o);
  const endpoint = process.env['AWS_ENDPOINT_URL_S3'] ?? c.endpoint;
  const s3 = new S3Client({ ...c, ...(endpoint ? { endpoint, forcePathStyle: true } : {}), maxAttempts: 1 });
  const get = async (range: string) => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }))).Body as Readable;
  try {
    (await get('bytes=0-0')).resume();
  } catch (e) {
    if (required) throw new Error(`the S3 view refused the read: ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
    process.stderr.write(`the S3 view is not readable here (${(e as Error).name}): downloading GetReadSet parts\n`);
    return undefined;
  }
  return (p) => get(`bytes=${p.start}-${p.start + p.length - 1}`);
}

export async function download(o: DownloadOptions): Promise<number> {
  const omics = omicsFromOptions(o);
  const partClient = omicsFromOptions(o, { maxAttempts: 1 }); // withRetries retries parts
  const m = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: o.sequenceStoreId, id: o.id }));
  const key = o.file === 'SOURCE2' ? 'source2' : o.file === 'INDEX' ? 'index' : 'source1';
  const info = m.files?.[key];
  if (!info) throw new Error(`read set ${o.id} has no ${o.file} file${m.status !== 'ACTIVE' ? ` (it is ${m.status})` : ''}`);
  if (!['auto', 's3', 'parts'].includes(o.via)) throw new Error('--via is auto, s3 or parts');
  const size = info.contentLength!;
  const name = o.to ?? basename(info.s3Access?.s3Uri ?? `${o.id}.${key}`);
  const progress = new Progress(size, name);
  // Through the S3 view (ranged GETs, as many in flight as asked) where the caller may read it, else by parts.
  const ranged = o.via === 'parts' ? undefined : await s3Pieces(o, info.s3Access?.s3Uri, o.via === 's3');
  const pieceSize = ranged ? RANGE_PIECE : info.partSize!;
  const count = Math.max(1, Math.ceil(size / pieceSize));
  const piece = (n: number): Piece => ({ n, start: (n - 1) * pieceSize, length: Math.min(pieceSize, size - (n - 1) * pieceSize) });
  const fetchPiece =
    ranged ??
    (async (p: Piece) => (await partClient.send(new GetReadSetCommand({ sequenceStoreId: o.sequenceStoreId, id: o.id, file: o.file as 'SOURCE1', partNumber: p.n }))).payload as unknown as Readable);
  const window = Math.max(1, Number(o.concurrency));
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
  } else {
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
    const record = () => writeFileSync(stateFile, JSON.stringify({ identity, parts: [...donePieces] }));
    record();
    let next = 1;
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (next <= count) {
          const p = piece(next++);
          if (donePieces.has(p.n)) {
            progress.add(p.length);
            continue;
          }
          await withRetries(`piece ${p.n}`, async () => {
            const body = await fetchPiece(p);
            body.on('data', (c: Buffer) => progress.add(c.length));
            await pipeline(body, createWriteStream(name, { flags: 'r+', start: p.start }));
          });
          donePieces.add(p.n);
          record();
        }
      }),
    );
    if (statSync(name).size !== size) throw new Error(`${name} is ${statSync(name).size} bytes; the read set file has ${size}`);
    rmSync(stateFile, { force: true });
  }
  progress.render(true);
  let verified: string | undefined;
  if (name !== '-' && o.verify && key !== 'index' && m.etag?.algorithm && /^(FASTQ|BAM)_/.test(m.etag.algorithm)) {
    // The read set's ETag is the hash of the file's content (decision 20): recompute it from the downloaded bytes.
    const family = m.etag.algorithm.split('_')[1] as 'MD5up';
    const expected = key === 'source2' ? m.etag.source2 : m.etag.source1;
    const data = createReadStream(name, { highWaterMark: MIB });
    const got = m.etag.algorithm.startsWith('FASTQ')
      ? (await (await import('../formats/fastq.js')).inspectFastq(data, { etagFamily: family, fileName: name })).etag
      : (await (await import('../formats/bam-inspect.js')).inspectBam(data, { etagFamily: family, buildIndex: false, fileName: name })).etag;
    if (got !== expected) throw new Error(`${name}: the downloaded content does not match the read set's ETag (${got} != ${expected})`);
    verified = m.etag.algorithm;
  }
  if (name !== '-') process.stdout.write(JSON.stringify({ file: name, bytes: size, via: ranged ? 's3' : 'parts', pieces: count, ...(verified ? { verified } : {}) }) + '\n');
  return EXIT.ok;
}

export const conn = (c: Command) =>
  c
    .option('--endpoint-url <url>', 'the OpenOmics endpoint (default: AWS_ENDPOINT_URL)')
    .option('--profile <name>', 'credentials profile (default: AWS_PROFILE)')
    .option('--region <region>', 'region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)');

export function transferCommands(): Command[] {
  const up = conn(new Command('upload'))
    .description(
      [
        'upload a FASTQ (one file or a pair), BAM, uBAM or CRAM as a read set: parallel parts, retries, progress, resume',
        '(running the same command again continues an interrupted upload, sending only the missing parts)',
        '  e.g. openomics upload --sequence-store-id 1234567890 --file-type FASTQ --subject-id s1 --sample-id m1 \\',
        '         --name run7 reads_R1.fastq.gz reads_R2.fastq.gz',
        'exit status: 0 ACTIVE, 1 error, 2 the read set failed (UPLOAD_FAILED, reason printed)',
      ].join('\n'),
    )
    .argument('<source1>')
    .argument('[source2]')
    .requiredOption('--sequence-store-id <id>', 'the sequence store')
    .requiredOption('--file-type <type>', 'FASTQ, BAM, UBAM or CRAM')
    .requiredOption('--subject-id <id>', 'subject id')
    .requiredOption('--sample-id <id>', 'sample id')
    .requiredOption('--name <name>', 'read set name')
    .option('--reference-arn <arn>', 'the linked reference (BAM, CRAM)')
    .option('--generated-from <text>', 'where the reads come from')
    .option('--description <text>', 'description')
    .option('--tag <key=value...>', 'read set tags')
    .option('--part-size <size>', 'part size, at most 100MiB', '100MiB')
    .option('--concurrency <n>', 'parts in flight', '4')
    .option('--no-wait', 'do not wait for the read set to become ACTIVE');
  up.action(async (s1: string, s2: string | undefined, o: UploadOptions) => {
    process.exitCode = await upload(s2 ? [s1, s2] : [s1], o);
  });
  const down = conn(new Command('download'))
    .description(
      'download a read set file with parallel requests: ranged GETs of its S3 view object where the caller may read it\n' +
        '(the store\'s S3 access policy), else GetReadSet parts\n  e.g. openomics download --sequence-store-id 1234567890 --id 9876543210 --file SOURCE1 --to reads.fastq.gz\n  --to - writes to stdout',
    )
    .requiredOption('--sequence-store-id <id>', 'the sequence store')
    .requiredOption('--id <id>', 'the read set')
    .option('--file <file>', 'SOURCE1, SOURCE2 or INDEX', 'SOURCE1')
    .option('--to <path>', 'output file (default: the file name; - for stdout)')
    .option('--concurrency <n>', 'requests in flight', '8')
    .option('--via <how>', 'auto (the S3 view if readable, else parts), s3 or parts', 'auto')
    .option('--no-verify', "skip recomputing the read set's ETag (FASTQ, BAM, uBAM) from the downloaded file");
  down.action(async (o: DownloadOptions) => {
    process.exitCode = await download(o);
  });
  return [up, down];
}
