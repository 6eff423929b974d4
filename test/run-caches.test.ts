// Call caching through @aws-sdk/client-omics: run caches in a (moto) bucket, a three-task CWL workflow run by
// cwltool with tasks in Podman; a rerun hits every task (no container started, outputs byte-identical), a changed
// input misses only the tasks it reaches, the entry manifests in the bucket, the cache log stream, behaviors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateRunCacheCommand,
  DeleteRunCacheCommand,
  GetRunCacheCommand,
  GetRunCommand,
  ListRunCachesCommand,
  ListRunTasksCommand,
  StartRunCommand,
  UpdateRunCacheCommand,
  type GetRunCommandOutput,
  type OmicsClient,
} from '@aws-sdk/client-omics';
import { expectServiceError, omicsClient, until } from './helpers/omics.js';
import { BACKENDS, spawnServer, type SpawnedServer } from './helpers/server.js';
import { MOTO_CREDENTIALS, addMotoConnection, startMoto, type Moto } from './helpers/moto.js';
import { activeWorkflow, workflowImage, type WorkflowImage } from './helpers/workflow-image.js';

const ROLE = 'arn:aws:iam::123456789012:role/OmicsWorkflow';

/** A one-step CWL tool: `sh -c SCRIPT <path of input>`, stdout to `<name>.txt`. */
function shellTool(image: string, name: string, script: string, input: string): string {
  return `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "${image}"}
baseCommand: [sh, -c]
arguments: [${JSON.stringify(script)}, $(inputs.${input}.path)]
inputs:
  ${input}: File
stdout: ${name}.txt
outputs:
  out: {type: stdout}
`;
}

/** count (lines of a) → report (of the count); other (bytes of b) apart. */
function threeTasks(image: string): Uint8Array {
  const tool = (name: string, script: string, input: string) => shellTool(image, name, script, input);
  const main = `cwlVersion: v1.2
class: Workflow
inputs:
  a: File
  b: File
outputs:
  report: {type: File, outputSource: report/out}
  bytes: {type: File, outputSource: other/out}
steps:
  count:
    run: count.cwl
    in: {a: a}
    out: [out]
  report:
    run: report.cwl
    in: {c: count/out}
    out: [out]
  other:
    run: other.cwl
    in: {b: b}
    out: [out]
`;
  return zipSync({
    'main.cwl': strToU8(main),
    'count.cwl': strToU8(tool('count', 'wc -l < "$0"', 'a')),
    'report.cwl': strToU8(tool('report', 'printf "lines: "; cat "$0"', 'c')),
    'other.cwl': strToU8(tool('bytes', 'wc -c < "$0"', 'b')),
  });
}

let img: WorkflowImage;
before(() => {
  img = workflowImage();
});

for (const backend of BACKENDS) {
  describe(`run caches on ${backend}`, () => {
    let s: SpawnedServer;
    let omics: OmicsClient;
    let s3: S3Client;
    let moto: Moto;
    let root: string;
    let workflowId: string;
    const run = async (cacheId: string | undefined, a: string, extra: Record<string, unknown> = {}): Promise<GetRunCommandOutput> => {
      const started = await omics.send(
        new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: `file://${root}/out`, parameters: { a: `file://${root}/in/${a}`, b: `file://${root}/in/b.txt` }, requestId: `r-${Math.random()}`, ...(cacheId ? { cacheId } : {}), ...extra }),
      );
      return until('run', () => omics.send(new GetRunCommand({ id: started.id })), (r) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.status!), 180_000, 300);
    };
    const tasksOf = async (id: string) => Object.fromEntries(((await omics.send(new ListRunTasksCommand({ id }))).items ?? []).map((t) => [t.name!, t]));
    const output = (r: GetRunCommandOutput, name: string) => readFileSync(join(root, 'out', r.id!, r.uuid!, 'out', name));
    const containersOf = (r: GetRunCommandOutput) =>
      execFileSync('podman', ['events', '--stream=false', '--since', r.creationTime!.toISOString(), '--filter', 'event=create', '--filter', `label=openomics.run=${r.uuid}`, '--format', '{{.ID}}'], {
        env: { ...process.env, CONTAINERS_CONF: img.containersConf },
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean);

    before(async () => {
      moto = await startMoto();
      s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
      await s3.send(new CreateBucketCommand({ Bucket: 'run-cache' }));
      root = mkdtempSync(join(tmpdir(), 'openomics-cache-'));
      execFileSync('mkdir', ['-p', join(root, 'in'), join(root, 'out')]);
      writeFileSync(join(root, 'in', 'a.txt'), 'one\ntwo\nthree\n');
      writeFileSync(join(root, 'in', 'a2.txt'), 'one\ntwo\nthree\nfour\n');
      writeFileSync(join(root, 'in', 'b.txt'), 'bytes of b\n');
      s = await spawnServer({ backend, env: { OPENOMICS_CONTAINERS_CONF: img.containersConf, OPENOMICS_IMPORT_ROOTS: join(root, 'in'), OPENOMICS_EXPORT_ROOTS: join(root, 'out') } });
      addMotoConnection(s.env, 'cache', 'run-cache', moto);
      omics = omicsClient(s);
      workflowId = await activeWorkflow(omics, 'three', threeTasks(img.image));
    });
    after(async () => {
      await s?.stop();
      await moto?.stop();
      rmSync(root, { recursive: true, force: true });
    });

    it('creates, reads, updates and lists run caches; the location must be reachable', async () => {
      const c = await omics.send(new CreateRunCacheCommand({ cacheS3Location: 's3://run-cache/lab', name: 'lab', requestId: 'c0', tags: { t: '1' } }));
      assert.equal(c.status, 'ACTIVE');
      assert.match(c.arn!, /:runCache\/\d+$/);
      const got = await omics.send(new GetRunCacheCommand({ id: c.id }));
      assert.deepEqual([got.cacheBehavior, got.cacheS3Uri, got.cacheBucketOwnerId, got.name], ['CACHE_ON_FAILURE', 's3://run-cache/lab', '123456789012', 'lab']);
      await omics.send(new UpdateRunCacheCommand({ id: c.id, cacheBehavior: 'CACHE_ALWAYS', description: 'd' }));
      assert.equal((await omics.send(new GetRunCacheCommand({ id: c.id }))).cacheBehavior, 'CACHE_ALWAYS');
      assert.ok((await omics.send(new ListRunCachesCommand({}))).items!.some((i) => i.id === c.id));
      await expectServiceError(omics.send(new CreateRunCacheCommand({ cacheS3Location: 's3://no-connection-bucket/x', requestId: 'c1' })), 'ValidationException', /cannot be written/);
      await expectServiceError(omics.send(new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: `file://${root}/out`, cacheId: '1234567', requestId: 'nocache' })), 'ResourceNotFoundException');
      await omics.send(new DeleteRunCacheCommand({ id: c.id }));
    });

    it('a rerun hits every task: no container started, outputs byte-identical; a changed input misses only what it reaches', async () => {
      const cache = await omics.send(new CreateRunCacheCommand({ cacheS3Location: 's3://run-cache/entries', cacheBehavior: 'CACHE_ALWAYS', requestId: 'c2' }));
      const first = await run(cache.id, 'a.txt');
      assert.equal(first.status, 'COMPLETED', first.statusMessage);
      assert.equal(first.cacheId, cache.id);
      assert.equal(first.cacheBehavior, 'CACHE_ALWAYS');
      const t1 = await tasksOf(first.id!);
      assert.ok(Object.values(t1).every((t) => t.cacheHit === false));
      assert.equal(containersOf(first).length, 3);
      // The entries in the bucket: <location>/<cache uuid>/<runId>/<taskId>/<entry uuid>/ with <entry uuid>.json.
      const got = await omics.send(new GetRunCacheCommand({ id: cache.id }));
      const uuid = (await s3.send(new ListObjectsV2Command({ Bucket: 'run-cache', Prefix: 'entries/' }))).Contents![0]!.Key!.split('/')[1]!;
      const keys = (await s3.send(new ListObjectsV2Command({ Bucket: 'run-cache', Prefix: `entries/${uuid}/${first.id}/` }))).Contents!.map((o) => o.Key!);
      const manifests = keys.filter((k) => /\/([0-9a-f-]{36})\/\1\.json$/.test(k));
      assert.equal(manifests.length, 3, keys.join('\n'));
      const m = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: 'run-cache', Key: manifests[0]! }))).Body!.transformToString());
      const [, , , taskId, entryUuid] = manifests[0]!.split('/');
      assert.equal(m.arn, `${got.arn}/cacheEntry/${entryUuid}`);
      assert.equal(m.s3uri, `s3://run-cache/entries/${uuid}/${first.id}/${taskId}/${entryUuid}`);
      assert.equal(m.taskArn, `arn:aws:omics:us-east-1:123456789012:task/${taskId}`);
      assert.equal(m.version, 2);
      assert.deepEqual(m.nextflowContext, {});
      assert.ok(typeof m.workDir === 'string');
      for (const f of m.files) {
        assert.ok(keys.includes(`entries/${uuid}/${first.id}/${taskId}/${entryUuid}/${f.path}`), f.path);
        assert.match(f.etag, /^[0-9a-f]{32}$/);
      }
      // The same run again: every task from the cache, nothing run.
      const second = await run(cache.id, 'a.txt');
      assert.equal(second.status, 'COMPLETED', second.statusMessage);
      const t2 = await tasksOf(second.id!);
      assert.equal(Object.keys(t2).length, 3);
      for (const t of Object.values(t2)) {
        assert.equal(t.cacheHit, true, t.name);
        assert.match(t.cacheS3Uri!, new RegExp(`^s3://run-cache/entries/${uuid}/${first.id}/\\d+/[0-9a-f-]{36}$`));
      }
      assert.deepEqual(containersOf(second), []);
      assert.deepEqual(output(second, 'report.txt'), output(first, 'report.txt'));
      assert.deepEqual(output(second, 'bytes.txt'), output(first, 'bytes.txt'));
      assert.equal(output(second, 'report.txt').toString(), 'lines: 3\n');
      // A changed input: the task reading it and the one after it run again, the other does not.
      const third = await run(cache.id, 'a2.txt');
      assert.equal(third.status, 'COMPLETED', third.statusMessage);
      const t3 = Object.values(await tasksOf(third.id!));
      const hits = t3.filter((t) => t.cacheHit).length;
      assert.equal(hits, 1, JSON.stringify(t3.map((t) => [t.name, t.cacheHit])));
      assert.equal(containersOf(third).length, 2);
      assert.equal(output(third, 'report.txt').toString(), 'lines: 4\n');
      assert.deepEqual(output(third, 'bytes.txt'), output(first, 'bytes.txt'));
      // The cache log stream says what happened.
      const logs = new CloudWatchLogsClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } });
      const events = (await logs.send(new GetLogEventsCommand({ logGroupName: '/aws/omics/WorkflowLog', logStreamName: `runCache/${cache.id}/${uuid}`, startFromHead: true }))).events!.map((e) => e.message!);
      const count = (what: string, runId: string) => events.filter((e) => e.startsWith(what) && e.includes(`run: ${runId},`)).length;
      assert.deepEqual([count('CACHE_MISS', first.id!), count('CACHE_ENTRY_CREATED', first.id!)], [3, 3]);
      assert.deepEqual([count('CACHE_HIT', second.id!), count('CACHE_MISS', second.id!), count('CACHE_ENTRY_CREATED', second.id!)], [3, 0, 0]);
      assert.deepEqual([count('CACHE_HIT', third.id!), count('CACHE_MISS', third.id!), count('CACHE_ENTRY_CREATED', third.id!)], [1, 2, 2]);
      // Deleted entries are misses, not failures.
      for (const k of (await s3.send(new ListObjectsV2Command({ Bucket: 'run-cache', Prefix: `entries/${uuid}/` }))).Contents!.map((o) => o.Key!)) {
        await s3.send(new DeleteObjectCommand({ Bucket: 'run-cache', Key: k }));
      }
      const fourth = await run(cache.id, 'a.txt');
      assert.equal(fourth.status, 'COMPLETED', fourth.statusMessage);
      assert.ok(Object.values(await tasksOf(fourth.id!)).every((t) => !t.cacheHit));
    });

    it('CACHE_ON_FAILURE keeps what a failed run completed: the rerun takes it from the cache and runs only what failed', async () => {
      const failing = zipSync({
        'main.cwl': strToU8(`cwlVersion: v1.2
class: Workflow
inputs:
  a: File
outputs:
  out: {type: File, outputSource: bad/out}
steps:
  ok:
    run: ok.cwl
    in: {a: a}
    out: [out]
  bad:
    run: bad.cwl
    in: {c: ok/out}
    out: [out]
`),
        'ok.cwl': strToU8(shellTool(img.image, 'lines', 'wc -l < "$0"', 'a')),
        'bad.cwl': strToU8(shellTool(img.image, 'never', 'cat "$0"; exit 3', 'c')),
      });
      const failingId = await activeWorkflow(omics, 'failing', failing);
      const cache = await omics.send(new CreateRunCacheCommand({ cacheS3Location: 's3://run-cache/failures', requestId: 'c-fail' }));
      const start = async (requestId: string) => {
        const r = await omics.send(new StartRunCommand({ workflowId: failingId, roleArn: ROLE, outputUri: `file://${root}/out`, parameters: { a: `file://${root}/in/a.txt` }, cacheId: cache.id, requestId }));
        return until('run', () => omics.send(new GetRunCommand({ id: r.id })), (x) => ['COMPLETED', 'FAILED'].includes(x.status!), 180_000, 300);
      };
      const first = await start('fail-1');
      assert.equal(first.status, 'FAILED');
      assert.equal(first.failureReason, 'RUN_TASK_FAILED');
      const manifests = ((await s3.send(new ListObjectsV2Command({ Bucket: 'run-cache', Prefix: 'failures/' }))).Contents ?? []).filter((o) => o.Key!.endsWith('.json'));
      assert.equal(manifests.length, 1, 'the task that completed is cached; the one that failed is not');
      const second = await start('fail-2');
      assert.equal(second.status, 'FAILED');
      const tasks = (await omics.send(new ListRunTasksCommand({ id: second.id }))).items!;
      assert.deepEqual(tasks.map((t) => [t.status, t.cacheHit]).sort(), [['COMPLETED', true], ['FAILED', false]]);
    });

    it('CACHE_ON_FAILURE writes nothing for a run that completes', async () => {
      const cache = await omics.send(new CreateRunCacheCommand({ cacheS3Location: 's3://run-cache/on-failure', requestId: 'c3' }));
      const r = await run(cache.id, 'a.txt');
      assert.equal(r.status, 'COMPLETED', r.statusMessage);
      assert.equal(r.cacheBehavior, 'CACHE_ON_FAILURE');
      assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'run-cache', Prefix: 'on-failure/' }))).KeyCount, 0);
      // The run's own cacheBehavior wins over the cache's.
      const always = await run(cache.id, 'a.txt', { cacheBehavior: 'CACHE_ALWAYS' });
      assert.equal(always.cacheBehavior, 'CACHE_ALWAYS');
      assert.ok(((await s3.send(new ListObjectsV2Command({ Bucket: 'run-cache', Prefix: 'on-failure/' }))).KeyCount ?? 0) > 0);
    });
  });
}
