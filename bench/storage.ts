// Storage benchmark, one run, same files:
//  1. Upload of a large BAM through the Omics API (multipart, parallel parts, signed with SigV4 by
//     @aws-sdk/client-omics) against `aws s3 cp` of the same file into moto_server and a raw disk copy (`cp`).
//     Reported twice: bytes accepted (upload phase) and until the read set is ACTIVE (ingest included); medians
//     of REPS (3) with min–max.
//  2. Metadata at scale, in a store holding BENCH_READ_SETS (default 1,000,000) read sets, on SQLite and
//     PostgreSQL: ListReadSets (first page, deep pages by token, every kind of filter), GetReadSetMetadata, and
//     store creation and upload completion before and after the store filled. p50/p99 in ms (BENCH_LIST_ONLY=1:
//     this part alone).
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import {
  OmicsClient,
  CreateSequenceStoreCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  CompleteMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  ListReadSetsCommand,
} from '@aws-sdk/client-omics';
import { type SpawnedServer } from '../test/helpers/server.js';
import { spawnBenchServer } from './server.js';
import { startMoto, MOTO_CREDENTIALS } from '../test/helpers/moto.js';
import { openMetadataStore } from '../src/db/open.js';
import { readSetRecord } from '../test/helpers/records.js';
import { PG_URL } from '../test/helpers/server.js';
import { benchCorpus } from './corpus.js';
import { median, spread } from './stats.js';

const PART = Number(process.env['BENCH_PART_MB'] ?? 16) * 1024 * 1024;
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 4);
const REPS = Number(process.env['REPS'] ?? 3);
const N_READ_SETS = Number(process.env['BENCH_READ_SETS'] ?? 1_000_000);

function client(s: SpawnedServer) {
  return new OmicsClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, disableHostPrefix: true });
}
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

async function uploadBench(file: string): Promise<string[]> {
  const size = statSync(file).size;
  const mb = size / 1e6;
  const s = await spawnBenchServer({ keepLogs: false });
  const moto = await startMoto();
  const dir = mkdtempSync(join(tmpdir(), 'openomics-bench-'));
  try {
    const omics = client(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'bench' }))).id!;
    const nParts = Math.ceil(size / PART);
    // One upload through the API: seconds until the parts are in and the read set exists, and until it is ACTIVE.
    const apiUpload = async (name: string) => {
      const t0 = process.hrtime.bigint();
      // The run's unaligned BAM (an aligned one would need a reference imported first).
      const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'UBAM', subjectId: 's', sampleId: 'm', name }));
      const parts: { partNumber: number; partSource: 'SOURCE1'; checksum: string }[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < nParts) {
            const i = next++;
            const start = i * PART;
            const end = Math.min(size, start + PART) - 1;
            const { checksum } = await omics.send(
              new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: i + 1, payload: createReadStream(file, { start, end }) }),
            );
            parts.push({ partNumber: i + 1, partSource: 'SOURCE1', checksum: checksum! });
          }
        }),
      );
      const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts }));
      const uploaded = seconds(t0);
      for (;;) {
        const m = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId }));
        if (m.status !== 'PROCESSING_UPLOAD') {
          if (m.status !== 'ACTIVE') throw new Error(`upload failed: ${m.statusMessage}`);
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      return { uploaded, active: seconds(t0) };
    };
    const api: { uploaded: number; active: number }[] = [];
    for (let i = 0; i < REPS; i++) api.push(await apiUpload(`bench-${i}`));

    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
    const awsCp: number[] = [];
    const cp: number[] = [];
    for (let i = 0; i < REPS; i++) {
      let t = process.hrtime.bigint();
      const r = spawnSync('aws', ['s3', 'cp', file, 's3://bench/x.bam', '--endpoint-url', moto.endpoint, '--quiet'], {
        env: { ...process.env, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null' },
        stdio: 'inherit',
      });
      if (r.status !== 0) throw new Error('aws s3 cp failed');
      awsCp.push(seconds(t));
      t = process.hrtime.bigint();
      execFileSync('cp', [file, join(dir, 'copy.bam')]);
      execFileSync('sync');
      cp.push(seconds(t));
    }
    const uploaded = median(api.map((a) => a.uploaded));
    const row = (label: string, xs: number[]) => `| ${label} | ${spread(xs, 2)} | ${(mb / median(xs)).toFixed(1)} | ${(median(xs) / uploaded).toFixed(2)} |`;
    return [
      `upload of ${file} (${mb.toFixed(0)} MB), ${nParts} parts of ${PART >> 20} MiB, ${CONCURRENCY} in parallel, medians of ${REPS} (min–max)`,
      '| path | s | MB/s | time / API upload time |',
      '|---|---|---|---|',
      row('Omics API: parts accepted (streamed, hashed, encrypted)', api.map((a) => a.uploaded)),
      row('Omics API: until ACTIVE (+ one-pass ingest: concat, validate, ETag, store)', api.map((a) => a.active)),
      row('aws s3 cp into moto_server', awsCp),
      row('cp to local disk + sync', cp),
    ];
  } finally {
    await s.stop();
    await moto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function pct(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A tiny gzipped FASTQ for upload-completion timings (what is timed is the metadata work, not the bytes). */
const TINY_FASTQ = gzipSync('@r1\nACGTACGTAC\n+\nIIIIIIIIII\n');

/** Create-upload, one part, complete: the latency of making a read set, until CompleteMultipartReadSetUpload answers. */
async function uploadCompletion(omics: OmicsClient, storeId: string, i: number): Promise<number> {
  const t = process.hrtime.bigint();
  const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: `tiny-${i}` }));
  const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: TINY_FASTQ }));
  await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum }] }));
  return seconds(t) * 1000;
}

async function listBench(backend: 'sqlite' | 'postgres'): Promise<string[]> {
  const s = await spawnBenchServer({ backend, keepLogs: false, env: { OPENOMICS_MAX_SEQUENCE_STORES: '200' } });
  try {
    const omics = client(s);
    const time = async (fn: () => Promise<unknown>) => {
      const t = process.hrtime.bigint();
      await fn();
      return seconds(t) * 1000;
    };
    const repeat = async (n: number, fn: (i: number) => Promise<number>) => {
      await fn(n); // untimed: the first request of a kind (JIT, a cold page cache after the bulk load)
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push(await fn(i));
      return out;
    };
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'many' }))).id!;
    // Before the store fills: the same store-creation and upload-completion timings, for comparison (after an
    // untimed warm-up: the JIT, connections and the caches of a server that has served requests).
    for (let i = 0; i < 10; i++) await omics.send(new CreateSequenceStoreCommand({ name: `warm-${i}` }));
    for (let i = 0; i < 10; i++) await uploadCompletion(omics, storeId, 1000 + i);
    const emptyCreate = await repeat(10, (i) => time(() => omics.send(new CreateSequenceStoreCommand({ name: `empty-${i}` }))));
    const emptyUpload = await repeat(20, (i) => uploadCompletion(omics, storeId, i));
    const db = await openMetadataStore(
      backend === 'sqlite' ? { kind: 'sqlite', file: join(s.dataDir, 'metadata.sqlite') } : { kind: 'postgres', url: PG_URL, schema: s.env['OPENOMICS_DATABASE_SCHEMA']! },
    );
    const t0 = process.hrtime.bigint();
    const base = Date.now() - N_READ_SETS;
    // 1 in 100 UPLOAD_FAILED, subjects of 100 read sets, samples of 1,000, names unique; 4 loaders (PostgreSQL takes them in parallel).
    let nextBatch = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = nextBatch; i < N_READ_SETS; i = nextBatch) {
          nextBatch += 1000;
          await db.atomically(async (tx) => {
            for (let j = i; j < Math.min(N_READ_SETS, i + 1000); j++) {
              await tx.readSets.insert(
                readSetRecord({
                  id: String(1_000_000_000 + j),
                  sequenceStoreId: storeId,
                  accountId: '123456789012',
                  name: `rs-${j}`,
                  status: j % 100 === 0 ? 'UPLOAD_FAILED' : 'ACTIVE',
                  subjectId: `subject-${j % 10_000}`,
                  sampleId: `sample-${j % 1000}`,
                  creationTime: base + j,
                }),
              );
            }
          });
        }
      }),
    );
    const loaded = seconds(t0);
    await db.close();
    const first = await repeat(100, () => time(() => omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, maxResults: 100 }))));
    let token: string | undefined;
    const deep = await repeat(300, () =>
      time(async () => {
        const r = await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, maxResults: 100, nextToken: token }));
        token = r.nextToken;
      }),
    );
    const pick = (i: number) => Math.floor(((i * 7919) % 1000) / 1000 * N_READ_SETS);
    const list = (filter: object) => omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, maxResults: 100, filter }));
    const bySample = await repeat(100, (i) => time(() => list({ sampleId: `sample-${i}` })));
    const bySubject = await repeat(100, (i) => time(() => list({ subjectId: `subject-${i}` })));
    const byName = await repeat(100, (i) => time(() => list({ name: `rs-${pick(i)}` })));
    const byStatus = await repeat(100, () => time(() => list({ status: 'UPLOAD_FAILED' })));
    const byTime = await repeat(100, (i) => time(() => list({ createdAfter: new Date(base + pick(i)), createdBefore: new Date(base + pick(i) + 1000) })));
    const metadata = await repeat(300, (i) => time(() => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: String(1_000_000_000 + pick(i)) }))));
    const fullCreate = await repeat(10, (i) => time(() => omics.send(new CreateSequenceStoreCommand({ name: `full-${i}` }))));
    const fullUpload = await repeat(20, (i) => uploadCompletion(omics, storeId, 100 + i));
    const row = (label: string, xs: number[]) => `| ${backend} | ${label} | ${pct(xs, 50).toFixed(1)} | ${pct(xs, 99).toFixed(1)} |`;
    const n = N_READ_SETS.toLocaleString('en-US');
    return [
      `${backend}: ${n} read sets loaded in ${loaded.toFixed(1)} s`,
      row('ListReadSets first page (100)', first),
      row('ListReadSets next pages by token (300 pages in a row)', deep),
      row(`ListReadSets filter sampleId (${N_READ_SETS / 1000} matches)`, bySample),
      row(`ListReadSets filter subjectId (${N_READ_SETS / 10_000} matches)`, bySubject),
      row('ListReadSets filter name (1 match)', byName),
      row(`ListReadSets filter status UPLOAD_FAILED (${N_READ_SETS / 100} matches)`, byStatus),
      row('ListReadSets filter createdAfter/createdBefore (1,000 in the window)', byTime),
      row('GetReadSetMetadata (random read sets)', metadata),
      row('CreateSequenceStore, store empty → after', emptyCreate) + ` → ${pct(fullCreate, 50).toFixed(1)} | ${pct(fullCreate, 99).toFixed(1)} |`,
      row('upload completion (create, part, complete), store empty → after', emptyUpload) + ` → ${pct(fullUpload, 50).toFixed(1)} | ${pct(fullUpload, 99).toFixed(1)} |`,
    ];
  } finally {
    await s.stop();
  }
}

const corpus = benchCorpus();
const out: string[] = [];
if (process.env['BENCH_LIST_ONLY'] !== '1') out.push(...(await uploadBench(process.env['BENCH_UPLOAD_FILE'] ?? join(corpus, 'sample.unaligned.bam'))));
out.push('', `Metadata latency with ${N_READ_SETS.toLocaleString('en-US')} read sets in one store, ms`, '| backend | request | p50 | p99 |', '|---|---|---|---|');
for (const b of ['sqlite', 'postgres'] as const) {
  const rows = await listBench(b);
  out.push(...rows.slice(1));
  console.log(rows[0]);
}
console.log('\n' + out.join('\n'));
