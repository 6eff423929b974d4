// Control-plane benchmark: signed GetSequenceStore and ListSequenceStores requests per second on loopback,
// with the same server's unauthenticated readiness endpoint as the yardstick, in one run.
// The server runs in its own process (one core); the load generator (autocannon) in this one.
import autocannon from 'autocannon';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { OmicsClient, CreateSequenceStoreCommand } from '@aws-sdk/client-omics';
import { spawnServer } from '../test/helpers/server.js';

const DURATION = Number(process.env['BENCH_SECONDS'] ?? 8);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);

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
  return signed.headers as Record<string, string>;
}

async function load(title: string, url: string, opts: { method?: string; headers?: Record<string, string>; body?: string }) {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    method: (opts.method ?? 'GET') as 'GET',
    ...(opts.headers ? { headers: opts.headers } : {}),
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  const ok = result['2xx'];
  const bad = result.non2xx + result.errors;
  if (bad > 0) throw new Error(`${title}: ${bad} failed requests (non-2xx ${result.non2xx}, errors ${result.errors})`);
  return { title, rps: ok / DURATION, p50: result.latency.p50, p99: result.latency.p99 };
}

const server = await spawnServer({ keepLogs: false, env: { OPENOMICS_LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'info', OPENOMICS_MAX_SEQUENCE_STORES: '100' } });
try {
  const creds = { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey };
  const omics = new OmicsClient({ endpoint: server.url, region: 'us-east-1', credentials: creds, disableHostPrefix: true });
  const { id } = await omics.send(new CreateSequenceStoreCommand({ name: 'bench' }));
  for (let i = 0; i < 20; i++) await omics.send(new CreateSequenceStoreCommand({ name: `bench-${i}` }));

  // Warm up the JIT and the server's caches.
  await autocannon({ url: `${server.url}/_openomics/ready`, connections: 8, duration: 2 });

  const results = [];
  results.push(await load('readiness (unauthenticated)', `${server.url}/_openomics/ready`, {}));
  results.push(await load('GetSequenceStore (SigV4)', `${server.url}/sequencestore/${id}`, { headers: await signedHeaders(server.url, creds, 'GET', `/sequencestore/${id}`) }));
  const body = '{}';
  results.push(
    await load('ListSequenceStores (SigV4, 21 items)', `${server.url}/sequencestores`, {
      method: 'POST',
      headers: await signedHeaders(server.url, creds, 'POST', '/sequencestores', body),
      body,
    }),
  );
  const base = results[0]!.rps;
  console.log(`\ncontrol plane, ${DURATION}s each, ${CONNECTIONS} connections, server = 1 Node process (SQLite)`);
  console.log('| request | req/s | p50 ms | p99 ms | ratio to readiness |');
  console.log('|---|---|---|---|---|');
  for (const r of results) console.log(`| ${r.title} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${(r.rps / base).toFixed(2)} |`);
} finally {
  await server.stop();
}
