// Many samples through a run batch: RUNS one-task CWL runs (a task in a Podman container that sleeps a second and
// prints its sample) submitted with StartRunBatch, against the same cwltool command run RUNS times directly with
// the same concurrency (OPENOMICS_CONCURRENT_RUNS, default 2 here); then the batch again with a run cache
// (CACHE_ALWAYS: the first pass writes the entries) and once more, every task a cache hit. Each measured REPS times
// (default 3; each repetition a new cache), medians with min–max, both sides in one run.
// npm run build && node dist/bench/workflow-batch.js
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateRunCacheCommand, CreateWorkflowCommand, GetBatchCommand, GetWorkflowCommand, StartRunBatchCommand, type OmicsClient } from '@aws-sdk/client-omics';
import { CLI } from '../test/helpers/server.js';
import { spawnBenchServer } from './server.js';
import { omicsClient, until } from '../test/helpers/omics.js';
import { MOTO_CREDENTIALS, startMoto } from '../test/helpers/moto.js';
import { workflowImage } from '../test/helpers/workflow-image.js';
import { mapLimit } from '../src/core/concurrency.js';
import { median } from './stats.js';

const RUNS = Number(process.env['RUNS'] ?? 50);
const REPS = Number(process.env['REPS'] ?? 3);
const CONCURRENCY = Number(process.env['OPENOMICS_CONCURRENT_RUNS'] ?? 2);
const ROLE = 'arn:aws:iam::123456789012:role/Bench';

const img = workflowImage();
const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "${img.image}"}
baseCommand: [sh, -c, "sleep 1; echo sample $0"]
arguments: [$(inputs.n)]
inputs:
  n: int
stdout: out.txt
outputs:
  out: {type: stdout}
`;
const work = mkdtempSync(join(tmpdir(), 'openomics-bench-batch-'));
writeFileSync(join(work, 'main.cwl'), tool);
mkdirSync(join(work, 'bin'));
const podman = execFileSync('sh', ['-c', 'command -v podman'], { encoding: 'utf8' }).trim();
writeFileSync(join(work, 'bin', 'podman'), `#!/bin/sh\nfor a in "$@"; do [ "$a" = "--userns=keep-id" ] || set -- "$@" "$a"; shift; done\nexec ${podman} "$@"\n`, { mode: 0o755 });

// The reference: the same engine command, RUNS times, CONCURRENCY at a time.
const directRuns: number[] = [];
for (let rep = 0; rep < REPS; rep++) {
const t0 = performance.now();
await mapLimit(
  Array.from({ length: RUNS }, (_, i) => i),
  CONCURRENCY,
  async (i) => {
    writeFileSync(join(work, `in-${i}.json`), JSON.stringify({ n: i }));
    await new Promise<void>((resolve, reject) => {
      const p = spawn('cwltool', ['--podman', '--strict-memory-limit', '--strict-cpu-limit', '--disable-pull', '--outdir', join(work, `out-${rep}-${i}`), join(work, 'main.cwl'), join(work, `in-${i}.json`)], {
        env: { ...process.env, PATH: `${join(work, 'bin')}:${process.env['PATH']}`, CONTAINERS_CONF: img.containersConf },
        stdio: 'ignore',
      });
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`cwltool exited ${code}`))));
    });
  },
);
directRuns.push((performance.now() - t0) / 1000);
}
const direct = median(directRuns);

const moto = await startMoto();
const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
await s3.send(new CreateBucketCommand({ Bucket: 'bench-cache' }));
const s = await spawnBenchServer({ env: { OPENOMICS_CONTAINERS_CONF: img.containersConf, OPENOMICS_EXPORT_ROOTS: work, OPENOMICS_CONCURRENT_RUNS: String(CONCURRENCY) }, keepLogs: false });
const passes = new Map<string, { seconds: number[]; completed: number[] }>();
try {
  execFileSync(process.execPath, [CLI, 'admin', 'connection', 'add', 'cache', '--bucket', 'bench-cache', '--region', 'us-east-1', '--endpoint', moto.endpoint, '--access-key-id', 'testing', '--secret-access-key', 'testing'], { env: s.env });
  const omics = omicsClient(s);
  const wf = await omics.send(new CreateWorkflowCommand({ name: 'bench-batch', definitionZip: zipSync({ 'main.cwl': strToU8(tool) }), requestId: 'bench-batch' }));
  await until('ACTIVE', () => omics.send(new GetWorkflowCommand({ id: wf.id })), (w) => w.status === 'ACTIVE', 60_000, 100);
  const pass = async (name: string, rep: number, omics: OmicsClient, cacheId?: string) => {
    const started = performance.now();
    const b = await omics.send(
      new StartRunBatchCommand({
        requestId: `${name} ${rep}`,
        batchName: `${name} ${rep}`,
        defaultRunSetting: { workflowId: wf.id!, roleArn: ROLE, outputUri: `file://${work}/runs`, ...(cacheId ? { cacheId } : {}) },
        batchRunSettings: { inlineSettings: Array.from({ length: RUNS }, (_, i) => ({ runSettingId: `s${i}`, parameters: { n: i } })) },
      }),
    );
    const done = await until('batch', () => omics.send(new GetBatchCommand({ batchId: b.id })), (x) => ['PROCESSED', 'FAILED', 'CANCELLED'].includes(x.status!), 3_600_000, 500);
    const p = passes.get(name) ?? { seconds: [], completed: [] };
    p.seconds.push((performance.now() - started) / 1000);
    p.completed.push(done.runSummary?.completedRunCount ?? 0);
    passes.set(name, p);
  };
  for (let rep = 0; rep < REPS; rep++) {
    // A new cache each repetition: its first pass always writes, its second always hits.
    const cache = await omics.send(new CreateRunCacheCommand({ cacheS3Location: `s3://bench-cache/entries-${rep}`, cacheBehavior: 'CACHE_ALWAYS', requestId: `bench-cache-${rep}` }));
    await pass('no cache', rep, omics);
    await pass('cache, first pass (writes entries)', rep, omics, cache.id);
    await pass('cache, second pass (every task a hit)', rep, omics, cache.id);
  }
} finally {
  await s.stop();
  await moto.stop();
  rmSync(work, { recursive: true, force: true });
}

const perMinute = (n: number, sec: number) => ((n / sec) * 60).toFixed(1);
const range = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
console.log(`${RUNS} one-task CWL runs (sleep 1 s in a Podman container), ${CONCURRENCY} at a time, 2 cores; medians of ${REPS} (min–max):`);
console.log(`  cwltool --podman directly:  ${direct.toFixed(1)} s (${range(directRuns)})  ${perMinute(RUNS, direct)} runs/min`);
for (const [name, p] of passes) {
  const sec = median(p.seconds);
  console.log(`  batch, ${name.padEnd(38)} ${sec.toFixed(1)} s (${range(p.seconds)})  ${perMinute(median(p.completed), sec)} runs/min  (COMPLETED: ${p.completed.join(', ')}; ratio to direct ${(sec / direct).toFixed(2)})`);
}
const plain = passes.get('no cache');
const hits = passes.get('cache, second pass (every task a hit)');
if (plain && hits) console.log(`  time saved by the cache: ${(median(plain.seconds) - median(hits.seconds)).toFixed(1)} s (${((1 - median(hits.seconds) / median(plain.seconds)) * 100).toFixed(0)}%)`);
