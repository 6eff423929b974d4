// Storage benchmark, one run, same files:
//  1. Upload of a large BAM through the Omics API (multipart, parallel parts, signed with SigV4 by
//     @aws-sdk/client-omics) against `aws s3 cp` of the same file into moto_server and a raw disk copy (`cp`).
//     Reported twice: bytes accepted (upload phase) and until the read set is ACTIVE (ingest included).
//  2. ListReadSets latency (pages of 100) in a store holding BENCH_READ_SETS (default 100,000) read sets, on
//     SQLite and PostgreSQL: first page, deep pages by token, and a sampleId filter. p50/p99 in ms.
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { spawnServer, type SpawnedServer } from '../test/helpers/server.js';
import { startMoto, MOTO_CREDENTIALS } from '../test/helpers/moto.js';
import { openMetadataStore } from '../src/db/open.js';
import { readSetRecord } from '../test/helpers/records.js';
import { PG_URL } from '../test/helpers/server.js';
import { benchCorpus } from './corpus.js';

const PART = Number(process.env['BENCH_PART_MB'] ?? 16) * 1024 * 1024;
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 4);
const N_READ_SETS = Number(process.env['BENCH_READ_SETS'] ?? 100_000);

function client(s: SpawnedServer) {
  return new OmicsClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, disableHostPrefix: true });
}
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

async function uploadBench(file: string): Promise<string[]> {
  const size = statSync(file).size;
  const mb = size / 1e6;
  const s = await spawnServer({ keepLogs: false });
  const moto = await startMoto();
  const dir = mkdtempSync(join(tmpdir(), 'openomics-bench-'));
  try {
    const omics = client(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'bench' }))).id!;
    // The run's unaligned BAM (an aligned one would need a reference imported first).
    const t0 = process.hrtime.bigint();
    const { uploadId } = await omics.send(
      new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'UBAM', subjectId: 's', sampleId: 'm', name: 'bench' }),
    );
    const nParts = Math.ceil(size / PART);
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
    const active = seconds(t0);

    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
    let t = process.hrtime.bigint();
    const r = spawnSync('aws', ['s3', 'cp', file, 's3://bench/x.bam', '--endpoint-url', moto.endpoint, '--quiet'], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null' },
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('aws s3 cp failed');
    const awsCp = seconds(t);
    t = process.hrtime.bigint();
    execFileSync('cp', [file, join(dir, 'copy.bam')]);
    execFileSync('sync');
    const cp = seconds(t);
    const row = (label: string, sec: number) => `| ${label} | ${sec.toFixed(2)} | ${(mb / sec).toFixed(1)} | ${(sec / uploaded).toFixed(2)} |`;
    return [
      `upload of ${file} (${mb.toFixed(0)} MB), ${nParts} parts of ${PART >> 20} MiB, ${CONCURRENCY} in parallel`,
      '| path | s | MB/s | time / API upload time |',
      '|---|---|---|---|',
      row('Omics API: parts accepted (streamed, hashed, encrypted)', uploaded),
      row('Omics API: until ACTIVE (+ one-pass ingest: concat, validate, ETag, store)', active),
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

async function listBench(backend: 'sqlite' | 'postgres'): Promise<string[]> {
  const s = await spawnServer({ backend, keepLogs: false });
  try {
    const omics = client(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'many' }))).id!;
    const db = await openMetadataStore(
      backend === 'sqlite' ? { kind: 'sqlite', file: join(s.dataDir, 'metadata.sqlite') } : { kind: 'postgres', url: PG_URL, schema: s.env['OPENOMICS_DATABASE_SCHEMA']! },
    );
    const t0 = process.hrtime.bigint();
    const base = Date.now() - N_READ_SETS;
    for (let i = 0; i < N_READ_SETS; i += 1000) {
      await db.atomically(async (tx) => {
        for (let j = i; j < Math.min(N_READ_SETS, i + 1000); j++) {
          await tx.readSets.insert(
            readSetRecord({ id: String(1_000_000_000 + j), sequenceStoreId: storeId, accountId: '123456789012', sampleId: `sample-${j % 1000}`, creationTime: base + j }),
          );
        }
      });
    }
    const loaded = seconds(t0);
    await db.close();
    const time = async (fn: () => Promise<unknown>) => {
      const t = process.hrtime.bigint();
      await fn();
      return seconds(t) * 1000;
    };
    const first: number[] = [];
    const deep: number[] = [];
    const filtered: number[] = [];
    for (let i = 0; i < 100; i++) first.push(await time(() => omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, maxResults: 100 }))));
    let token: string | undefined;
    for (let i = 0; i < 300; i++) {
      deep.push(
        await time(async () => {
          const r = await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, maxResults: 100, nextToken: token }));
          token = r.nextToken;
        }),
      );
    }
    for (let i = 0; i < 100; i++) {
      filtered.push(await time(() => omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, maxResults: 100, filter: { sampleId: `sample-${i}` } }))));
    }
    const row = (label: string, xs: number[]) => `| ${backend} | ${label} | ${pct(xs, 50).toFixed(1)} | ${pct(xs, 99).toFixed(1)} |`;
    return [
      `${backend}: ${N_READ_SETS} read sets loaded in ${loaded.toFixed(1)} s`,
      row('first page (100)', first),
      row('next pages by token (300 pages in a row)', deep),
      row('filter sampleId (100 matches of 100k)', filtered),
    ];
  } finally {
    await s.stop();
  }
}

const corpus = benchCorpus();
const out: string[] = [];
out.push(...(await uploadBench(process.env['BENCH_UPLOAD_FILE'] ?? join(corpus, 'sample.unaligned.bam'))));
out.push('', `ListReadSets latency, ms`, '| backend | request | p50 | p99 |', '|---|---|---|---|');
for (const b of ['sqlite', 'postgres'] as const) {
  const rows = await listBench(b);
  out.push(...rows.slice(1));
  console.log(rows[0]);
}
console.log('\n' + out.join('\n'));
