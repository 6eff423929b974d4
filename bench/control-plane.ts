// Control-plane benchmark, one run: signed GetSequenceStore and ListSequenceStores requests per second, and the
// same server's unauthenticated readiness endpoint, against nginx serving a small static JSON file (the client's
// ceiling). The load generator is wrk (native, 1 thread); the SigV4 headers are made once and replayed (valid for
// the 15-minute skew window). Ours runs as one server process, then as the default group (one per core).
// Medians of REPS runs of BENCH_SECONDS with min–max, p50/p99 latency.
// npm run bench     (REPS=3 BENCH_SECONDS=5 BENCH_CONNECTIONS=32 BENCH_PROCESSES=1,2)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { OmicsClient, CreateSequenceStoreCommand, ListSequenceStoresCommand } from '@aws-sdk/client-omics';
import { type SpawnedServer } from '../test/helpers/server.js';
import { spawnBenchServer } from './server.js';
import { startNginx } from './nginx.js';
import { requireWrk, wrkRuns, type WrkResult } from './wrk.js';
import { median, spread } from './stats.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const REPS = Number(process.env['REPS'] ?? 3);
const PROCESSES = (process.env['BENCH_PROCESSES'] ?? `1,${availableParallelism()}`).split(',').map(Number);

async function signedHeaders(url: string, creds: { accessKeyId: string; secretAccessKey: string }, method: string, path: string, body?: string) {
  const host = new URL(url).host;
  const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 'omics', sha256: Sha256 });
  const signed = await signer.sign({
    method,
    protocol: 'http:',
    hostname: host,
    path,
    query: {},
    headers: { host, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  // wrk sends Host itself, from the URL (the same value).
  return Object.fromEntries(Object.entries(signed.headers as Record<string, string>).filter(([k]) => k.toLowerCase() !== 'host'));
}

requireWrk();
const work = mkdtempSync(join(tmpdir(), 'openomics-cpbench-'));
const post = join(work, 'post.lua');
writeFileSync(post, `wrk.method = "POST"\nwrk.body = "{}"\n`);
const nginx = await startNginx(work);
let server: SpawnedServer = await spawnBenchServer({ keepLogs: false, env: { OPENOMICS_MAX_SEQUENCE_STORES: '100', OPENOMICS_PROCESSES: String(PROCESSES[0]) } });
try {
  const creds = { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey };
  const omics = new OmicsClient({ endpoint: server.url, region: 'us-east-1', credentials: creds, disableHostPrefix: true });
  const { id } = await omics.send(new CreateSequenceStoreCommand({ name: 'bench' }));
  for (let i = 0; i < 20; i++) await omics.send(new CreateSequenceStoreCommand({ name: `bench-${i}` }));
  // The ceiling answers with a body of the same size as ListSequenceStores'.
  writeFileSync(join(work, 'stores.json'), JSON.stringify(await omics.send(new ListSequenceStoresCommand({})), null, 0));

  const opts = { connections: CONNECTIONS, seconds: SECONDS };
  const measure = async (s: SpawnedServer) => ({
    ready: wrkRuns(`${s.url}/_openomics/ready`, opts, REPS),
    get: wrkRuns(`${s.url}/sequencestore/${id}`, { ...opts, headers: await signedHeaders(s.url, creds, 'GET', `/sequencestore/${id}`) }, REPS),
    list: wrkRuns(`${s.url}/sequencestores`, { ...opts, script: post, headers: await signedHeaders(s.url, creds, 'POST', '/sequencestores', '{}') }, REPS),
  });
  const ours: Awaited<ReturnType<typeof measure>>[] = [];
  for (const [i, n] of PROCESSES.entries()) {
    if (i > 0) {
      await server.kill(); // the data stays: the next group serves the same stores
      server = await spawnBenchServer({ keepLogs: false, dataDir: server.dataDir, env: { OPENOMICS_MAX_SEQUENCE_STORES: '100', OPENOMICS_PROCESSES: String(n) } });
    }
    ours.push(await measure(server));
  }
  const ceiling = wrkRuns(`${nginx.url}/stores.json`, opts, REPS);
  const rps = (x: WrkResult[]) => x.map((y) => y.requestsPerSecond);
  const names = PROCESSES.map((n) => `ours, ${n} process${n > 1 ? 'es' : ''}`);
  console.log(`\ncontrol plane: wrk 1 thread, ${CONNECTIONS} connections, ${SECONDS} s runs, medians of ${REPS} (min–max); SQLite`);
  console.log(`| request | ${names.map((n) => `${n} req/s | p50 / p99 ms`).join(' | ')} | ${names.map((n) => `${n} / nginx`).join(' | ')} |`);
  console.log(`|---|${'---|---|'.repeat(PROCESSES.length)}${'---|'.repeat(PROCESSES.length)}`);
  const row = (label: string, pick: (m: (typeof ours)[number]) => WrkResult[]) =>
    `| ${label} | ${ours.map((m) => `${spread(rps(pick(m)), 0)} | ${median(pick(m).map((r) => r.p50Ms)).toFixed(2)} / ${median(pick(m).map((r) => r.p99Ms)).toFixed(2)}`).join(' | ')} | ${ours.map((m) => (median(rps(pick(m))) / median(rps(ceiling))).toFixed(2)).join(' | ')} |`;
  console.log(row('readiness (unauthenticated)', (m) => m.ready));
  console.log(row('GetSequenceStore (SigV4)', (m) => m.get));
  console.log(row('ListSequenceStores (SigV4, 21 items)', (m) => m.list));
  console.log(`| nginx, 1 worker: the same-size JSON file (the client's ceiling) | ${spread(rps(ceiling), 0)} | ${median(ceiling.map((r) => r.p50Ms)).toFixed(2)} / ${median(ceiling.map((r) => r.p99Ms)).toFixed(2)} |`);
} finally {
  nginx.stop();
  await server.stop();
  rmSync(server.dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
