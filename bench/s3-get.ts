// S3-view read benchmark, one run, the same large BAM behind three servers:
//   ours (S3 edge: SigV4 presigned URL, AES-GCM decryption of the stored blob),
//   nginx (Debian) serving the plaintext file, moto_server serving it as an S3 object.
// Full-object GET throughput (MB/s) and 64 KiB random-range GETs per second, at 1 and 16 connections.
// The load generator (autocannon, or fetch for whole objects) runs in this process; each server in its own.
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  CreateSequenceStoreCommand,
  GetSequenceStoreCommand,
  StartReadSetImportJobCommand,
  GetReadSetImportJobCommand,
  GetReadSetMetadataCommand,
} from '@aws-sdk/client-omics';
import { spawnServer } from '../test/helpers/server.js';
import { startMoto, MOTO_CREDENTIALS } from '../test/helpers/moto.js';
import { omicsClient, until, jobFinished } from '../test/helpers/omics.js';
import { benchCorpus } from './corpus.js';
import { startNginx } from './nginx.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const RANGE = 64 * 1024;

async function wholeObject(url: string, connections: number, size: number): Promise<number> {
  const rounds = Math.max(4, connections);
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next++ < rounds) {
        const r = await fetch(url);
        if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
        let n = 0;
        for await (const c of r.body as unknown as AsyncIterable<Uint8Array>) n += c.length;
        if (n !== size) throw new Error(`short body ${n} of ${size}`);
      }
    }),
  );
  return (rounds * size) / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function ranges(url: string, connections: number, size: number): Promise<number> {
  const result = await autocannon({
    url,
    connections,
    duration: SECONDS,
    requests: [
      {
        setupRequest: (req: autocannon.Request) => {
          const start = Math.floor(Math.random() * (size - RANGE));
          return { ...req, headers: { ...(req.headers ?? {}), range: `bytes=${start}-${start + RANGE - 1}` } };
        },
      },
    ],
  });
  if (result.non2xx + result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result['2xx'] / SECONDS;
}

const corpus = benchCorpus();
const file = process.env['BENCH_FILE'] ?? join(corpus, 'sample.unaligned.bam');
const size = statSync(file).size;
const work = mkdtempSync(join(tmpdir(), 'openomics-s3bench-'));
copyFileSync(file, join(work, 'sample.bam'));
// nginx first: if it is missing, nothing else has been started (and left running).
const nginx = await startNginx(work);
const s = await spawnServer({ keepLogs: false, env: { OPENOMICS_IMPORT_ROOTS: work } });
const moto = await startMoto();
try {
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
  const ours = new S3Client({ endpoint: s.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } });
  const oursUrl = await getSignedUrl(ours, new GetObjectCommand({ Bucket: alias, Key: key }), { expiresIn: 3600 });
  const m3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
  await m3.send(new CreateBucketCommand({ Bucket: 'bench' }));
  await m3.send(new PutObjectCommand({ Bucket: 'bench', Key: 'sample.bam', Body: readFileSync(file) }));
  const motoUrl = await getSignedUrl(m3, new GetObjectCommand({ Bucket: 'bench', Key: 'sample.bam' }), { expiresIn: 3600 });
  const nginxUrl = `${nginx.url}/sample.bam`;

  // One untimed pass over each server first (JIT, thread pools, page cache), as for every measurement after it.
  for (const url of [oursUrl, nginxUrl, motoUrl]) await wholeObject(url, 1, size);
  for (const url of [oursUrl, nginxUrl]) await fetch(url, { headers: { range: 'bytes=0-65535' } }).then((r) => r.arrayBuffer());

  const rows: string[] = [];
  // moto_server answers a range of a large object slowly enough to complete none in the window at 1 connection.
  const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '—');
  for (const c of [1, 16]) {
    const full = { ours: await wholeObject(oursUrl, c, size), nginx: await wholeObject(nginxUrl, c, size), moto: await wholeObject(motoUrl, c, size) };
    rows.push(`| full GET MB/s, ${c} conn | ${full.ours.toFixed(0)} | ${full.nginx.toFixed(0)} | ${full.moto.toFixed(0)} | ${ratio(full.ours, full.nginx)} | ${ratio(full.ours, full.moto)} |`);
    const rr = { ours: await ranges(oursUrl, c, size), nginx: await ranges(nginxUrl, c, size), moto: await ranges(motoUrl, c, size) };
    rows.push(`| 64 KiB range GETs/s, ${c} conn | ${rr.ours.toFixed(0)} | ${rr.nginx.toFixed(0)} | ${rr.moto.toFixed(1)} | ${ratio(rr.ours, rr.nginx)} | ${ratio(rr.ours, rr.moto)} |`);
  }
  console.log(`\nS3 view reads of ${file} (${(size / 1e6).toFixed(0)} MB)`);
  console.log('| measure | ours | nginx | moto_server | ours/nginx | ours/moto |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
} finally {
  nginx.stop();
  await s.stop();
  await moto.stop();
  rmSync(work, { recursive: true, force: true });
}
