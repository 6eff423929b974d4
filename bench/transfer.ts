// Transfer-manager benchmark, one run, the same large BAM:
//   `openomics upload` (parallel parts, SigV4, through the Omics API, until ACTIVE and until the parts are in) and the
//     web console's upload in headless Chromium (16 MiB parts, 4 in flight, SHA-256 in the page; until the parts are
//     in and the upload completed) against `aws s3 cp` of the file into moto_server;
//   `openomics download` (ranged GETs of the S3 view, and GetReadSet parts) against `curl` of the file from nginx,
//   downloads timed REPS times (median, min–max), the check of the file included (CRC32 by the S3 view, ETag by parts).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateSequenceStoreCommand, GetReadSetMetadataCommand } from '@aws-sdk/client-omics';
import { CLI } from '../test/helpers/server.js';
import { spawnBenchServer } from './server.js';
import { startMoto, MOTO_CREDENTIALS } from '../test/helpers/moto.js';
import { omicsClient, until } from '../test/helpers/omics.js';
import { benchCorpus } from './corpus.js';
import { startNginx } from './nginx.js';
import { median, spread } from './stats.js';
import { launchChromium, signedInTab, skipChromium } from '../test/helpers/chromium.js';

const PART = process.env['BENCH_PART'] ?? '16MiB';
const CONCURRENCY = process.env['BENCH_CONCURRENCY'] ?? '4';
const DOWNLOAD_CONCURRENCY = process.env['BENCH_DOWNLOAD_CONCURRENCY'] ?? '8';
const REPS = Number(process.env['REPS'] ?? 3);
const file = process.env['BENCH_FILE'] ?? join(benchCorpus(), 'sample.unaligned.bam');
const mb = statSync(file).size / 1e6;
const work = mkdtempSync(join(tmpdir(), 'openomics-transfer-'));
copyFileSync(file, join(work, 'x.bam'));
// nginx first: if it is missing, nothing else has been started (and left running).
const nginx = await startNginx(work);
const s = await spawnBenchServer({ keepLogs: false });
const moto = await startMoto();
const timed = (cmd: string, args: string[], env: NodeJS.ProcessEnv) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, cwd: work, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, stdout: r.stdout, stderr: r.stderr };
};
try {
  const storeId = (await omicsClient(s).send(new CreateSequenceStoreCommand({ name: 'bench' }))).id!;
  const env = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    AWS_ENDPOINT_URL: s.url,
    AWS_ACCESS_KEY_ID: s.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
  };
  const reps = <T>(f: (i: number) => T) => Array.from({ length: REPS }, (_, i) => f(i));
  const upload = (name: string, wait: boolean) =>
    timed(process.execPath, [CLI, 'upload', '--sequence-store-id', storeId, '--file-type', 'UBAM', '--subject-id', 's', '--sample-id', 'm',
      '--name', name, '--part-size', PART, '--concurrency', CONCURRENCY, ...(wait ? [] : ['--no-wait']), file], env);
  // Each --no-wait upload's ingest is let finish (untimed) before the next measurement starts.
  const upNoWait: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const r = upload(`bench-a${i}`, false);
    upNoWait.push(r.seconds);
    const id = JSON.parse(r.stdout.trim().split('\n').pop()!).readSetId as string;
    await until('ingest', () => omicsClient(s).send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id })), (m) => m.status !== 'PROCESSING_UPLOAD', 600_000);
  }
  const ups = reps((i) => upload(`bench-b${i}`, true));
  // The console's upload: timed from the click to "processing on the server" (every part in, Complete answered).
  const consoleUps: number[] = [];
  if (!skipChromium()) {
    const browser = await launchChromium();
    try {
      const { tab } = await signedInTab(browser, s.url, s, `#/stores/${storeId}/upload`);
      for (let i = 0; i < REPS; i++) {
        await tab.getByLabel('choose files').setInputFiles(file);
        await tab.getByLabel('File type').selectOption('UBAM');
        await tab.getByLabel('Read set name').fill(`bench-c${i}`);
        await tab.getByLabel('Subject ID').fill('s');
        await tab.getByLabel('Sample ID').fill('m');
        const t0 = process.hrtime.bigint();
        await tab.getByRole('button', { name: 'Upload', exact: true }).click();
        const item = tab.getByRole('listitem', { name: `Upload bench-c${i}` });
        await item.getByText(/processing on the server/).waitFor({ timeout: 600_000 });
        consoleUps.push(Number(process.hrtime.bigint() - t0) / 1e9);
        await item.getByRole('status').filter({ hasText: 'ACTIVE' }).waitFor({ timeout: 600_000 }); // ingest let finish, untimed
      }
    } finally {
      await browser.close();
    }
  }
  const readSetId = JSON.parse(ups[0]!.stdout.trim()).readSetId as string;
  const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
  const awsCps = reps(
    () =>
      timed('aws', ['s3', 'cp', file, 's3://bench/x.bam', '--endpoint-url', moto.endpoint, '--quiet'], {
        ...env, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_DEFAULT_REGION: 'us-east-1', AWS_ENDPOINT_URL: moto.endpoint,
      }).seconds,
  );
  const up = ups.map((u) => u.seconds);
  const download = (via: string, verify = true) => () => {
    const r = timed(process.execPath, [CLI, 'download', '--sequence-store-id', storeId, '--id', readSetId, '--to', join(work, `down-${via}.bam`), '--concurrency', DOWNLOAD_CONCURRENCY, '--via', via, ...(verify ? [] : ['--no-verify'])], env);
    rmSync(join(work, `down-${via}.bam`));
    return r.seconds;
  };
  const downS3 = reps(download('s3'));
  const downParts = reps(download('parts'));
  const downS3Unverified = reps(download('s3', false));
  const curls = reps(() => timed('curl', ['-sS', '-o', join(work, 'curl.bam'), `${nginx.url}/x.bam`], env).seconds);
  const curl = { seconds: median(curls) };
  const row = (label: string, sec: number, ref: number, all?: number[]) => `| ${label} | ${all ? spread(all, 2) : sec.toFixed(2)} | ${(mb / sec).toFixed(0)} | ${(ref / sec).toFixed(2)} |`;
  console.log(`\ntransfer of ${file} (${mb.toFixed(0)} MB), parts of ${PART}, ${CONCURRENCY} in parallel (CLI start-up included), medians of ${REPS} (min–max)`);
  console.log('| path | s | MB/s | speed vs reference |');
  console.log('|---|---|---|---|');
  const awsCp = median(awsCps);
  console.log(row('openomics upload --no-wait (parts in, read set created)', median(upNoWait), awsCp, upNoWait));
  console.log(row('openomics upload (until ACTIVE: ingest included)', median(up), awsCp, up));
  if (consoleUps.length) console.log(row('web console upload in Chromium (parts in, read set created)', median(consoleUps), awsCp, consoleUps));
  else console.log(`| web console upload in Chromium | not run: ${String(skipChromium())} | | |`);
  console.log(row('aws s3 cp into moto_server (reference)', awsCp, awsCp, awsCps));
  console.log(`downloads: ${DOWNLOAD_CONCURRENCY} requests in flight, medians of ${REPS} (min–max), CLI start-up and the file's check included`);
  console.log(row("openomics download --via s3 (8 MiB ranges of the S3 view, the stored CRC32 checked as the bytes arrive)", median(downS3), curl.seconds, downS3));
  console.log(row("openomics download --via parts (100 MiB GetReadSet parts, the read set's ETag recomputed)", median(downParts), curl.seconds, downParts));
  console.log(row('openomics download --via s3 --no-verify (the transfer alone)', median(downS3Unverified), curl.seconds, downS3Unverified));
  console.log(row('curl from nginx (reference)', curl.seconds, curl.seconds, curls));
} finally {
  nginx.stop();
  await s.stop();
  await moto.stop();
  rmSync(work, { recursive: true, force: true });
}
