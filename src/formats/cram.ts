import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants as fsConstants, createWriteStream, openSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { FormatError, malformed, truncated, unsupported } from './errors.js';
import { createHash, type Hash } from 'node:crypto';
import { hasNativeSam, nativeScanSam } from './sam-native.js';
import { hashAlgorithm, type EtagFamily } from './hashing.js';

/**
 * CRAM through htslib (the `samtools` binary), never fetching a reference from
 * the network (REF_PATH/REF_CACHE point nowhere; the linked reference is
 * passed with -T). Why not a JavaScript decoder: @gmod/cram decoded our
 * corpus 3.6x slower than samtools with memory growing with the file, and the
 * ETag is by definition what `samtools view -T ref` prints (docs/decisions.md).
 *
 * The file is spooled to a private scratch file (CRAI generation needs random
 * access), then `samtools view` (records -> ETag, counts, header) and
 * `samtools index` run on it in parallel. The scratch file is removed at once.
 */
export interface CramInspection {
  headerText: string;
  readCount: number;
  baseCount: number;
  mappedCount: number;
  alignment: 'ALIGNED' | 'UNALIGNED';
  sortOrder: string;
  etag: string;
  crai: Buffer;
}

/** The 38-byte EOF container of CRAM 3.x; its absence means the file was cut short. */
const CRAM3_EOF = Buffer.from('0f000000ffffffff0fe0454f46000000000100' + '05bdd94f0001000606010001000100ee63014b', 'hex');

let samtoolsChecked: boolean | undefined;
function haveSamtools(): boolean {
  samtoolsChecked ??= spawnSync('samtools', ['--version'], { stdio: 'ignore' }).status === 0;
  return samtoolsChecked;
}

const NO_NETWORK_ENV = { ...process.env, REF_PATH: '/nonexistent/%s', REF_CACHE: '/nonexistent/%s' };

/** Extra decoding threads samtools may use for one file (`-@`): the cores, up to 4 (as the BGZF inflate pool). */
const SAMTOOLS_THREADS = String(Math.max(1, Math.min(4, availableParallelism())));

function run(args: string[], onStdout?: (chunk: Buffer) => void): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('samtools', args, { env: NO_NETWORK_ENV, stdio: ['ignore', onStdout ? 'pipe' : 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    child.stdout?.on('data', (c: Buffer) => onStdout!(c));
    child.once('error', reject);
    // Killed (out of memory, a stopping worker) says nothing of the file: not a format error, the job retries.
    child.once('close', (code, signal) => (signal ? reject(new Error(`samtools ${args[0]} was ended by ${signal}`)) : resolve({ code: code ?? -1, stderr })));
  });
}

/** Turns htslib's complaint into the format error a user can act on. */
function cramError(stderr: string, fileName: string | undefined): FormatError {
  const where = fileName ? { file: fileName } : {};
  const line = stderr.split('\n').find((l) => l.includes('[E::')) ?? stderr.split('\n').find((l) => l.trim()) ?? 'samtools could not decode the file';
  const detail = line.replace(/^\[E::[^\]]+\]\s*/, '').trim();
  if (/md5|reference|fetch|refs?\b/i.test(stderr)) {
    return new FormatError('ReferenceMismatch', `the CRAM does not decode against the linked reference: ${detail}`, where);
  }
  return malformed(`the CRAM could not be decoded: ${detail}`, where);
}

/** Counts and hashes `samtools view -h` output as it streams: header lines first, then one record per line. */
class SamLineScanner {
  header: Buffer[] = [];
  readCount = 0;
  baseCount = 0;
  mappedCount = 0;
  private inHeader = true;
  private rest: Buffer = Buffer.alloc(0);
  constructor(private readonly hasher: Hash) {}

  push(chunk: Buffer): void {
    if (this.rest.length > 0) {
      // Complete the carried-over line with the head of this chunk (a short copy), then go on in place.
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        this.rest = Buffer.concat([this.rest, chunk]);
        return;
      }
      const line = Buffer.concat([this.rest, chunk.subarray(0, nl + 1)]);
      this.rest = Buffer.alloc(0);
      this.lines(line);
      chunk = chunk.subarray(nl + 1);
    }
    this.lines(chunk);
  }

  /** Whole lines of `buf`; a partial last line is kept (copied) for the next chunk. */
  private lines(buf: Buffer): void {
    let start = 0;
    if (this.inHeader) {
      while (start < buf.length && buf[start] === 0x40) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0) break;
        this.header.push(Buffer.from(buf.subarray(start, nl + 1)));
        start = nl + 1;
      }
      if (start < buf.length && buf[start] !== 0x40) this.inHeader = false;
      if (this.inHeader) {
        this.rest = Buffer.from(buf.subarray(start));
        return;
      }
    }
    const lastNl = buf.lastIndexOf(0x0a);
    if (lastNl < start) {
      this.rest = Buffer.from(buf.subarray(start));
      return;
    }
    this.hasher.update(buf.subarray(start, lastNl + 1));
    for (let i = start; i <= lastNl; ) {
      const nl = buf.indexOf(0x0a, i);
      this.record(buf, i, nl);
      i = nl + 1;
    }
    if (lastNl + 1 < buf.length) this.rest = Buffer.from(buf.subarray(lastNl + 1));
  }

  /** FLAG is field 2, SEQ field 10 (counting as decision 19: primary records, their SEQ lengths). Tabs found natively. */
  private record(buf: Buffer, from: number, to: number): void {
    const t1 = buf.indexOf(0x09, from);
    let flag = 0;
    let p = t1 + 1;
    for (let c = buf[p]!; c >= 0x30 && c <= 0x39; c = buf[++p]!) flag = flag * 10 + (c - 0x30);
    // p is at the tab after FLAG (field 2); SEQ starts after 7 more tabs.
    for (let k = 0; k < 7; k++) p = buf.indexOf(0x09, p + 1);
    const seqStart = p + 1;
    let seqEnd = buf.indexOf(0x09, seqStart);
    if (t1 < 0 || p < 0 || seqEnd < 0 || seqEnd > to) {
      if (t1 < 0 || p < 0 || p >= to) throw malformed('samtools printed a record with fewer than 11 fields');
      seqEnd = to;
    }
    if ((flag & 0x4) === 0) this.mappedCount++;
    if ((flag & 0x900) === 0) {
      this.readCount++;
      const len = seqEnd - seqStart;
      if (!(len === 1 && buf[seqStart] === 0x2a)) this.baseCount += len;
    }
  }

  end(): void {
    if (this.rest.length) throw malformed('samtools output ended inside a record');
  }
}

type ScanResult = { headerText: string; readCount: number; baseCount: number; mappedCount: number; digest: string };

/**
 * `samtools view` with its output hashed and counted: by the addon reading a
 * FIFO on its own thread when built (the SAM text never goes through the
 * event loop, which costs more than decoding it), else by SamLineScanner on
 * samtools' stdout. `view` settles when samtools has exited and the scan is
 * over; `result()` is the scan's outcome, asked for only if samtools succeeded.
 */
function viewAndScan(args: string[], dir: string, algorithm: 'md5' | 'sha256' | 'sha512'): { view: Promise<{ code: number; stderr: string }>; result: () => Promise<ScanResult> } {
  const fifo = join(dir, 'sam.fifo');
  if (hasNativeSam() && spawnSync('mkfifo', ['-m', '600', fifo]).status === 0) {
    const scan = nativeScanSam(fifo, algorithm)!;
    let scanned = false;
    const settled = scan.then(
      () => (scanned = true),
      () => (scanned = true),
    );
    const view = run([args[0]!, '-o', fifo, ...args.slice(1)]).then(async (r) => {
      // If samtools never opened the FIFO (it failed first), the reader still waits in open(): be its writer once.
      while (!scanned) {
        try {
          closeSync(openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
        } catch {
          // ENXIO: the reader has not opened it yet, or has finished
        }
        await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 5))]);
      }
      return r;
    });
    return { view, result: () => scan.catch((e: Error) => Promise.reject(malformed(e.message))) };
  }
  const hasher = createHash(algorithm);
  const scanner = new SamLineScanner(hasher);
  let scanError: unknown;
  const view = run(args, (c) => {
    try {
      if (!scanError) scanner.push(c);
    } catch (e) {
      scanError = e;
    }
  });
  const result = async () => {
    if (scanError) throw scanError;
    scanner.end();
    return {
      headerText: Buffer.concat(scanner.header).toString('latin1'),
      readCount: scanner.readCount,
      baseCount: scanner.baseCount,
      mappedCount: scanner.mappedCount,
      digest: hasher.digest('hex'),
    };
  };
  return { view, result };
}

export async function inspectCram(
  source: AsyncIterable<Buffer>,
  opts: { referenceFasta: string; scratchDir: string; etagFamily?: EtagFamily; fileName?: string },
): Promise<CramInspection> {
  const where = opts.fileName ? { file: opts.fileName } : {};
  if (!haveSamtools()) throw unsupported('CRAM read sets need samtools (htslib) on the server; the operator installs the samtools package', where);
  const dir = await mkdtemp(join(opts.scratchDir, 'cram-'));
  try {
    const file = join(dir, 'in.cram');
    await pipeline(source, createWriteStream(file, { mode: 0o600 }));
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const tail = Buffer.alloc(CRAM3_EOF.length);
      if (size >= tail.length) await fh.read(tail, 0, tail.length, size - tail.length);
      const head = Buffer.alloc(6);
      await fh.read(head, 0, 6, 0);
      if (head[4]! < 3) throw unsupported(`CRAM version ${head[4]}.${head[5]} is not supported (3.0 and 3.1 are)`, where);
      if (!tail.equals(CRAM3_EOF)) throw truncated('the CRAM EOF container is missing: the file is truncated', { ...where, byte: size });
    } finally {
      await fh.close();
    }
    const algorithm = hashAlgorithm(opts.etagFamily ?? 'MD5up');
    const viewArgs = ['view', '-@', SAMTOOLS_THREADS, '-h', '--no-PG', '-T', opts.referenceFasta, file];
    const scan = viewAndScan(viewArgs, dir, algorithm);
    const [view, index] = await Promise.all([scan.view, run(['index', '-@', SAMTOOLS_THREADS, '-c', file, join(dir, 'in.cram.crai')])]);
    if (view.code !== 0) throw cramError(view.stderr, opts.fileName);
    if (/\[E::|\[W::.*(md5|MD5|truncat|EOF)/.test(view.stderr)) throw cramError(view.stderr, opts.fileName);
    if (index.code !== 0) throw cramError(index.stderr, opts.fileName);
    const { headerText, readCount, baseCount, mappedCount, digest } = await scan.result();
    const sortOrder = /^@HD\t.*\bSO:(\S+)/m.exec(headerText)?.[1] ?? 'unknown';
    return {
      headerText,
      readCount,
      baseCount,
      mappedCount,
      alignment: mappedCount > 0 ? 'ALIGNED' : 'UNALIGNED',
      sortOrder,
      etag: digest,
      crai: await readFile(join(dir, 'in.cram.crai')),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
