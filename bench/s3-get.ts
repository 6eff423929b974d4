// S3-view read benchmark, one run, the same large BAM behind two servers: ours (the S3 edge: SigV4 presigned
// URL, AES-GCM decryption of the stored blob) and nginx (Debian, 1 worker, sendfile) serving the plaintext file.
// The load generator is wrk (Debian, native, 1 thread), not this process: nginx's numbers are the client's
// ceiling in the same run. 64 KiB random ranges (a Lua script picks them) at 1 and 16 connections, with p99
// latency, and whole-object GETs at 1 connection; every figure the median of REPS runs of BENCH_SECONDS (min–max).
// Ours runs as one server process and as the default group (`--processes`, one per core), both up at once on the
// same data; the targets take turns within each repetition (ours, ours, nginx, then again), so a drift of the
// machine's speed over the minutes of the run falls on all of them alike.
// npm run bench:s3        (REPS=3 BENCH_SECONDS=5 BENCH_FILE=<an unaligned BAM> BENCH_PROCESSES=1,2)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  CreateSequenceStoreCommand,
  GetSequenceStoreCommand,
  StartReadSetImportJobCommand,
  GetReadSetImportJobCommand,
  GetReadSetMetadataCommand,
} from '@aws-sdk/client-omics';
import { spawnBenchServer } from './server.js';
import type { SpawnedServer } from '../test/helpers/server.js';
import { omicsClient, until, jobFinished } from '../test/helpers/omics.js';
import { benchCorpus } from './corpus.js';
import { startNginx } from './nginx.js';
import { requireWrk, wrk, type WrkResult } from './wrk.js';
import { median, spread } from './stats.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const REPS = Number(process.env['REPS'] ?? 3);
const RANGE = 64 * 1024;
const PROCESSES = (process.env['BENCH_PROCESSES'] ?? `1,${availableParallelism()}`).split(',').map(Number);

const corpus = benchCorpus();
const file = process.env['BENCH_FILE'] ?? join(corpus, 'sample.unaligned.bam');
const size = statSync(file).size;
const work = mkdtempSync(join(tmpdir(), 'openomics-s3bench-'));
copyFileSync(file, join(work, 'sample.bam'));
const script = join(work, 'ranges.lua');
writeFileSync(
  script,
  `math.randomseed(${Date.now() % 100000})
request = function()
  local start = math.random(0, ${size - RANGE - 1})
  return wrk.format(nil, nil, { ["Range"] = "bytes=" .. start .. "-" .. (start + ${RANGE - 1}) })
end
`,
);
requireWrk();
// nginx first: if it is missing, nothing else has been started (and left running).
const nginx = await startNginx(work);
const servers: SpawnedServer[] = [];
try {
  servers.push(await spawnBenchServer({ env: { OPENOMICS_IMPORT_ROOTS: work, OPENOMICS_PROCESSES: String(PROCESSES[0]) } }));
  const s = servers[0]!;
  const omics = omicsClient(s);
  const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'bench' }))).id!;
  // An unaligned BAM imports without a reference.
  const ubam = execFileSync('samtools', ['view', '-c', '-F', '4', file], { encoding: 'utf8' }).trim() === '0';
  if (!ubam) throw new Error('BENCH_FILE must be an unaligned BAM (the benchmark imports it without a reference)');
  const job = await omics.send(
    new StartReadSetImportJobCommand({
      sequenceStoreId: storeId,
      roleArn: 'arn:aws:iam::123456789012:role/bench',
      sources: [{ sourceFileType: 'UBAM', subjectId: 's', sampleId: 'm', name: 'bench', sourceFiles: { source1: `file://${work}/sample.bam` } }],
    }),
  );
  const done = await until('import', () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id })), jobFinished, 600_000);
  const meta = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: done.sources![0]!.readSetId }));
  const alias = /^s3:\/\/([^/]+)\//.exec((await omics.send(new GetSequenceStoreCommand({ id: storeId }))).s3Access!.s3Uri!)![1]!;
  const key = meta.files!.source1!.s3Access!.s3Uri!.replace(`s3://${alias}/`, '');
  // The other groups serve the same data (one database, one blob folder) at the same time.
  for (const n of PROCESSES.slice(1)) servers.push(await spawnBenchServer({ dataDir: s.dataDir, env: { OPENOMICS_IMPORT_ROOTS: work, OPENOMICS_PROCESSES: String(n) } }));
  const presign = async (server: SpawnedServer) => {
    const ours = new S3Client({ endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } });
    const url = await getSignedUrl(ours, new GetObjectCommand({ Bucket: alias, Key: key }), { expiresIn: 3600 });
    // The object is the file: a whole GET of ours has nginx's length.
    const head = await fetch(url, { headers: { range: 'bytes=0-0' } });
    if (head.headers.get('content-range') !== `bytes 0-0/${size}`) throw new Error(`ours serves ${head.headers.get('content-range')}, not ${size} bytes`);
    await head.arrayBuffer();
    return url;
  };
  const targets = [...(await Promise.all(servers.map(presign))), `${nginx.url}/sample.bam`];
  type Measures = Record<'c1' | 'c16' | 'whole', WrkResult[]>;
  const results: Measures[] = targets.map(() => ({ c1: [], c16: [], whole: [] }));
  const settings = {
    c1: { connections: 1, seconds: SECONDS, script },
    c16: { connections: 16, seconds: SECONDS, script },
    whole: { connections: 1, seconds: SECONDS },
  };
  for (const url of targets) wrk(url, { connections: 4, seconds: SECONDS, script }); // warm-up: JIT, thread pools, page cache
  for (let rep = 0; rep < REPS; rep++) {
    for (const m of ['c1', 'c16', 'whole'] as const) targets.forEach((url, i) => results[i]![m].push(wrk(url, settings[m])));
  }
  const ours = results.slice(0, -1);
  const reference = results[results.length - 1]!;
  const rps = (x: WrkResult[]) => x.map((y) => y.requestsPerSecond);
  const p99 = (x: WrkResult[]) => x.map((y) => y.p99Ms);
  const gbs = (x: WrkResult[]) => x.map((y) => y.bytesPerSecond / 1e9);
  const row = (what: string, m: keyof Measures, f: (x: WrkResult[]) => number[], digits: number) =>
    `| ${what} | ${ours.map((o) => spread(f(o[m]!), digits)).join(' | ')} | ${spread(f(reference[m]!), digits)} | ${ours.map((o) => (median(f(o[m]!)) / median(f(reference[m]!))).toFixed(2)).join(' | ')} |`;
  console.log(`\nS3 view reads of ${file} (${(size / 1e6).toFixed(0)} MB), wrk 1 thread, ${SECONDS} s runs, medians of ${REPS} (min–max)`);
  const names = PROCESSES.map((n) => `ours, ${n} process${n > 1 ? 'es' : ''}`);
  console.log(`| measure | ${names.join(' | ')} | nginx, 1 worker (the client ceiling) | ${names.map((n) => `${n} / nginx`).join(' | ')} |`);
  console.log(`|---|${'---|'.repeat(2 * PROCESSES.length + 1)}`);
  console.log(row('64 KiB random ranges, 1 conn (req/s)', 'c1', rps, 0));
  console.log(row('p99 latency, 1 conn (ms)', 'c1', p99, 2));
  console.log(row('64 KiB random ranges, 16 conn (req/s)', 'c16', rps, 0));
  console.log(row('p99 latency, 16 conn (ms)', 'c16', p99, 2));
  console.log(row('whole object, 1 conn (GB/s)', 'whole', gbs, 2));
} finally {
  nginx.stop();
  for (const server of servers.reverse()) await server.stop(); // the first owns the data folder: it goes last
  rmSync(work, { recursive: true, force: true });
}
