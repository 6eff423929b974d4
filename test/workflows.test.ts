// The workflow service end to end: private CWL workflows registered and run by real engines (cwltool, Toil)
// with tasks in Podman containers, on read sets named by omics:// URIs, outputs to a moto bucket through a
// storage connection and under an export root, logs read back through the CloudWatch Logs subset — driven by
// the SDK, the AWS CLI and boto3, on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { GetObjectCommand, PutObjectCommand, S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import {
  CancelRunCommand,
  CreateReferenceStoreCommand,
  CreateSequenceStoreCommand,
  CreateWorkflowCommand,
  CreateWorkflowVersionCommand,
  DeleteRunCommand,
  DeleteWorkflowCommand,
  DeleteWorkflowVersionCommand,
  GetReadSetImportJobCommand,
  GetReadSetMetadataCommand,
  GetRunCommand,
  GetRunTaskCommand,
  GetWorkflowCommand,
  GetWorkflowVersionCommand,
  ListRunTasksCommand,
  ListRunsCommand,
  ListWorkflowVersionsCommand,
  ListWorkflowsCommand,
  StartReadSetImportJobCommand,
  StartRunCommand,
  UpdateWorkflowCommand,
  type GetRunCommandOutput,
  type OmicsClient,
} from '@aws-sdk/client-omics';
import { CloudWatchLogsClient, GetLogEventsCommand, DescribeLogStreamsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { expectServiceError, importReference, jobFinished, omicsClient, until } from './helpers/omics.js';
import { BACKENDS, CLI, spawnServer, type Backend, type SpawnedServer } from './helpers/server.js';
import { SAMTOOLS_ENV, tinyCorpus } from './helpers/corpus.js';
import { MOTO_CREDENTIALS, freePort, startMoto, type Moto } from './helpers/moto.js';
import { runContainers, workflowImage, type WorkflowImage } from './helpers/workflow-image.js';

const execFileP = promisify(execFile);
const ROLE = 'arn:aws:iam::123456789012:role/OmicsWorkflow';
const DAY = 24 * 3600 * 1000;
const RUN_ENDED = (r: { status?: string }) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.status!);

/** A CWL workflow: `samtools flagstat` of a BAM, and `samtools view -c` of a region through its index. */
function samtoolsWorkflow(image: string): Uint8Array {
  const main = `cwlVersion: v1.2
class: Workflow
inputs:
  bam: File
  bai:
    type: File
    label: The BAM's index
  region: string
  note:
    type: string?
  threads:
    type: int
    default: 1
outputs:
  flagstat_report:
    type: File
    outputSource: flagstat/out
  region_count:
    type: File
    outputSource: count/out
steps:
  flagstat:
    run: tools/flagstat.cwl
    in: {bam: bam}
    out: [out]
  count:
    run: tools/count.cwl
    in: {bam: bam, bai: bai, region: region}
    out: [out]
`;
  const flagstat = `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "${image}"}
  ResourceRequirement: {coresMin: 1, ramMin: 512}
baseCommand: [samtools, flagstat]
inputs:
  bam: {type: File, inputBinding: {position: 1}}
stdout: flagstat.txt
outputs:
  out: {type: stdout}
`;
  const count = `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "${image}"}
baseCommand: [samtools, view, -c, -X]
inputs:
  bam: {type: File, inputBinding: {position: 1}}
  bai: {type: File, inputBinding: {position: 2}}
  region: {type: string, inputBinding: {position: 3}}
stdout: count.txt
outputs:
  out: {type: stdout}
`;
  return zipSync({ 'main.cwl': strToU8(main), 'tools/flagstat.cwl': strToU8(flagstat), 'tools/count.cwl': strToU8(count), 'README.md': strToU8('# samtools QC\n') });
}

/** A one-step CWL workflow running `script` in the image with `ramMin` MiB. */
function shellWorkflow(image: string, script: string, ramMin = 1024): Uint8Array {
  const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "${image}"}
  ResourceRequirement: {coresMin: 1, ramMin: ${ramMin}}
baseCommand: [sh, -c]
arguments: [${JSON.stringify(script)}]
inputs: {}
stdout: out.txt
outputs:
  out: {type: stdout}
`;
  return zipSync({ 'main.cwl': strToU8(tool) });
}

/** A one-step CWL workflow: `sh -c SCRIPT <path of input "in">` (a File or Directory), stdout to out.txt. */
function oneInputWorkflow(image: string, type: 'File' | 'Directory', script: string): Uint8Array {
  const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "${image}"}
baseCommand: [sh, -c]
arguments: [${JSON.stringify(script)}, $(inputs.in.path)]
inputs:
  in: ${type}
stdout: out.txt
outputs:
  out: {type: stdout}
`;
  return zipSync({ 'main.cwl': strToU8(tool) });
}

async function registerWorkflow(omics: OmicsClient, zip: Uint8Array, name: string, extra: Record<string, unknown> = {}) {
  const created = await omics.send(new CreateWorkflowCommand({ name, definitionZip: zip, requestId: `${name}-${Date.now()}`, ...extra }));
  const done = await until('workflow checked', () => omics.send(new GetWorkflowCommand({ id: created.id })), (w) => w.status !== 'CREATING', 120_000, 250);
  return { created, workflow: done };
}

async function waitRun(omics: OmicsClient, id: string, ms = 180_000): Promise<GetRunCommandOutput> {
  return until('run ended', () => omics.send(new GetRunCommand({ id })), RUN_ENDED, ms, 500);
}

interface Fixture {
  s: SpawnedServer;
  omics: OmicsClient;
  root: string;
  exportRoot: string;
  clock: string;
  corpus: string;
  bamUri: string;
  baiUri: string;
  storeId: string;
  readSetId: string;
  region: string;
}

async function setUp(img: WorkflowImage, backend: Backend, env: Record<string, string> = {}): Promise<Fixture> {
  const corpus = tinyCorpus();
  const root = mkdtempSync(join(tmpdir(), 'openomics-wf-import-'));
  const exportRoot = mkdtempSync(join(tmpdir(), 'openomics-wf-export-'));
  const clock = join(root, 'clock');
  writeFileSync(clock, '0');
  const s = await spawnServer({
    backend,
    env: {
      OPENOMICS_CONTAINERS_CONF: img.containersConf,
      OPENOMICS_IMPORT_ROOTS: root,
      OPENOMICS_EXPORT_ROOTS: exportRoot,
      OPENOMICS_CLOCK_OFFSET_FILE: clock,
      OPENOMICS_ARCHIVE_SWEEP_SECONDS: '1',
      ...env,
    },
  });
  const omics = omicsClient(s);
  copyFileSync(join(corpus, 'ref.fa'), join(root, 'ref.fa'));
  copyFileSync(join(corpus, 'sample.bam'), join(root, 'sample.bam'));
  const refStoreId = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
  const referenceArn = await importReference(omics, refStoreId, `file://${root}/ref.fa`);
  const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'runs-in' }))).id!;
  const job = await omics.send(
    new StartReadSetImportJobCommand({
      sequenceStoreId: storeId,
      roleArn: ROLE,
      sources: [{ sourceFileType: 'BAM', subjectId: 'subj', sampleId: 'samp', name: 'sample', referenceArn, sourceFiles: { source1: `file://${root}/sample.bam` } }],
    }),
  );
  const done = await until('import', () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id })), jobFinished);
  assert.equal(done.status, 'COMPLETED', JSON.stringify(done.sources));
  const readSetId = done.sources![0]!.readSetId!;
  const base = `omics://123456789012.storage.us-east-1.amazonaws.com/${storeId}/readSet/${readSetId}`;
  const region = execFileSync('samtools', ['view', '-H', join(corpus, 'sample.bam')], { encoding: 'utf8', env: SAMTOOLS_ENV }).match(/@SQ\tSN:(\S+)/)![1]!;
  return { s, omics, root, exportRoot, clock, corpus, bamUri: `${base}/source1`, baiUri: `${base}/index`, storeId, readSetId, region };
}

async function tearDown(f: Fixture | undefined): Promise<void> {
  await f?.s.stop();
  if (f) {
    rmSync(f.root, { recursive: true, force: true });
    rmSync(f.exportRoot, { recursive: true, force: true });
  }
}

/** What samtools says of the corpus BAM directly: the values the run's outputs must equal. */
function samtoolsDirect(f: Fixture): { flagstat: string; count: string } {
  const dir = mkdtempSync(join(tmpdir(), 'openomics-wf-direct-'));
  try {
    copyFileSync(join(f.corpus, 'sample.bam'), join(dir, 'x.bam'));
    execFileSync('samtools', ['index', join(dir, 'x.bam')], { env: SAMTOOLS_ENV });
    return {
      flagstat: execFileSync('samtools', ['flagstat', join(dir, 'x.bam')], { encoding: 'utf8', env: SAMTOOLS_ENV }),
      count: execFileSync('samtools', ['view', '-c', '-X', join(dir, 'x.bam'), join(dir, 'x.bam.bai'), f.region], { encoding: 'utf8', env: SAMTOOLS_ENV }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let img: WorkflowImage;
before(() => {
  img = workflowImage();
});

for (const backend of BACKENDS) {
  describe(`workflows and runs on ${backend}`, () => {
    let f: Fixture;
    let moto: Moto;
    let s3: S3Client;
    let workflowId: string;
    before(async () => {
      moto = await startMoto();
      s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
      await s3.send(new CreateBucketCommand({ Bucket: 'run-outputs' }));
      f = await setUp(img, backend);
      const add = spawnSync(
        process.execPath,
        [CLI, 'admin', 'connection', 'add', 'outputs', '--bucket', 'run-outputs', '--region', 'us-east-1', '--endpoint', moto.endpoint, '--access-key-id', 'testing', '--secret-access-key', 'testing'],
        { env: f.s.env, encoding: 'utf8' },
      );
      assert.equal(add.status, 0, add.stderr);
    });
    after(async () => {
      await tearDown(f);
      await moto?.stop();
    });

    it('registers a CWL workflow: checked by cwltool, ACTIVE, digest of the zip, template read from the definition, versions', async () => {
      const zip = samtoolsWorkflow(img.image);
      const { created, workflow } = await registerWorkflow(f.omics, zip, 'samtools-qc', { tags: { team: 'qc' } });
      assert.equal(created.status, 'CREATING');
      assert.equal(workflow.status, 'ACTIVE', workflow.statusMessage);
      assert.equal(workflow.engine, 'CWL', 'detected from main.cwl');
      assert.equal(workflow.main, 'main.cwl', 'the one file named main');
      assert.equal(workflow.digest, `sha256:${(await import('node:crypto')).createHash('sha256').update(zip).digest('hex')}`);
      assert.deepEqual(workflow.parameterTemplate, {
        bam: { description: '', optional: false },
        bai: { description: "The BAM's index", optional: false },
        region: { description: '', optional: false },
        note: { description: '', optional: true },
        threads: { description: '', optional: true },
      });
      assert.deepEqual(workflow.tags, { team: 'qc' });
      assert.equal(workflow.readmePath, 'README.md');
      // The README and (export=DEFINITION) the definition through links that work without credentials, for a while.
      assert.ok(workflow.readme!.length <= 256, workflow.readme);
      assert.equal(await (await fetch(workflow.readme!)).text(), '# samtools QC\n');
      const exported = await f.omics.send(new GetWorkflowCommand({ id: workflow.id, export: ['DEFINITION'] }));
      assert.deepEqual(Buffer.from(await (await fetch(exported.definition!)).arrayBuffer()), Buffer.from(zip));
      const forged = workflow.readme!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
      assert.equal((await fetch(forged)).status, 403);
      workflowId = workflow.id!;
      // A version with an explicit template, and the workflow's own updates.
      const v = await f.omics.send(
        new CreateWorkflowVersionCommand({
          workflowId,
          versionName: 'v2.0',
          definitionZip: zip,
          parameterTemplate: { bam: { description: 'BAM', optional: false }, bai: { optional: false }, region: { optional: false } },
          requestId: 'v2',
        }),
      );
      assert.equal(v.arn, `arn:aws:omics:us-east-1:123456789012:workflow/${workflowId}/version/v2.0`);
      const version = await until('version', () => f.omics.send(new GetWorkflowVersionCommand({ workflowId, versionName: 'v2.0' })), (x) => x.status !== 'CREATING');
      assert.equal(version.status, 'ACTIVE');
      assert.deepEqual(Object.keys(version.parameterTemplate!).sort(), ['bai', 'bam', 'region'], 'the given template overrides discovery');
      assert.deepEqual((await f.omics.send(new ListWorkflowVersionsCommand({ workflowId }))).items!.map((i) => i.versionName), ['v2.0']);
      await expectServiceError(f.omics.send(new DeleteWorkflowCommand({ id: workflowId })), 'ConflictException', /versions/);
      await f.omics.send(new UpdateWorkflowCommand({ id: workflowId, description: 'flagstat and a region count', storageType: 'DYNAMIC' }));
      const updated = await f.omics.send(new GetWorkflowCommand({ id: workflowId }));
      assert.equal(updated.description, 'flagstat and a region count');
      assert.equal(updated.storageType, 'DYNAMIC');
      assert.equal(updated.storageCapacity, undefined);
      assert.ok((await f.omics.send(new ListWorkflowsCommand({}))).items!.some((w) => w.id === workflowId));
      // Same requestId, same request: the same workflow; a definition cwltool rejects: FAILED naming file and line.
      const again = await f.omics.send(new CreateWorkflowVersionCommand({ workflowId, versionName: 'v2.0', definitionZip: zip, parameterTemplate: version.parameterTemplate, requestId: 'v2' }));
      assert.equal(again.uuid, v.uuid);
      const broken = zipSync({ 'main.cwl': strToU8('cwlVersion: v1.2\nclass: CommandLineTool\ninputs:\n  x: {type: Nonsense}\noutputs: {}\nbaseCommand: echo\n') });
      const bad = await registerWorkflow(f.omics, broken, 'broken');
      assert.equal(bad.workflow.status, 'FAILED');
      assert.match(bad.workflow.statusMessage!, /main\.cwl:\d+:\d+/, bad.workflow.statusMessage);
      await expectServiceError(
        f.omics.send(new CreateWorkflowCommand({ name: 'two', definitionZip: zipSync({ 'a.cwl': strToU8('x'), 'b.cwl': strToU8('y') }), requestId: 'two' })),
        'ValidationException',
        /main/,
      );
      await f.omics.send(new DeleteWorkflowCommand({ id: bad.workflow.id }));
      await expectServiceError(f.omics.send(new GetWorkflowCommand({ id: bad.workflow.id })), 'ResourceNotFoundException');
    });

    it('runs samtools in containers on an omics:// BAM and its index: COMPLETED, outputs and outputs.json in the bucket and under an export root, equal to samtools run directly', async () => {
      const expected = samtoolsDirect(f);
      const params = { bam: f.bamUri, bai: f.baiUri, region: f.region };
      const toBucket = await f.omics.send(new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: 's3://run-outputs/qc', parameters: params, name: 'qc-1', requestId: 'qc-1' }));
      const toFolder = await f.omics.send(
        new StartRunCommand({ workflowId, workflowVersionName: 'v2.0', roleArn: ROLE, outputUri: `file://${f.exportRoot}/runs/`, parameters: params, requestId: 'qc-2' }),
      );
      assert.equal(toBucket.status, 'PENDING');
      assert.equal(toBucket.runOutputUri, `s3://run-outputs/qc/${toBucket.id}/${toBucket.uuid}`);
      const replay = await f.omics.send(new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: 's3://run-outputs/qc', parameters: params, name: 'qc-1', requestId: 'qc-1' }));
      assert.equal(replay.id, toBucket.id, 'the same requestId starts the run once');
      const run = await waitRun(f.omics, toBucket.id!);
      assert.equal(run.status, 'COMPLETED', `${run.failureReason}: ${run.statusMessage}`);
      assert.equal(run.startedBy, 'arn:aws:iam::123456789012:root');
      assert.match(run.engineVersion!, /^cwltool /);
      assert.equal(run.digest, (await f.omics.send(new GetWorkflowCommand({ id: workflowId }))).digest);
      const meta = await f.omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: f.storeId, id: f.readSetId }));
      assert.equal(run.resourceDigests![f.bamUri], `etag:${meta.etag!.source1}`);
      assert.ok(run.startTime && run.stopTime && run.stopTime >= run.startTime);
      const key = `qc/${run.id}/${run.uuid}`;
      const get = async (k: string) => (await s3.send(new GetObjectCommand({ Bucket: 'run-outputs', Key: `${key}/${k}` }))).Body!.transformToString();
      assert.equal(await get('out/flagstat.txt'), expected.flagstat);
      assert.equal(await get('out/count.txt'), expected.count);
      const summary = JSON.parse(await get('logs/outputs.json'));
      assert.deepEqual(summary.flagstat_report, { location: `s3://run-outputs/${key}/out/flagstat.txt`, basename: 'flagstat.txt', class: 'File', size: Buffer.byteLength(expected.flagstat) });
      assert.equal(summary.region_count.location, `s3://run-outputs/${key}/out/count.txt`);
      assert.ok((await get('logs/engine.log')).includes('[job count]'), 'the engine log is exported');
      // Tasks: one per step, in the declared image, with the resources rounded up to whole vCPUs and GiB.
      const tasks = (await f.omics.send(new ListRunTasksCommand({ id: run.id }))).items!;
      assert.deepEqual(tasks.map((t) => t.name).sort(), ['count', 'flagstat']);
      for (const t of tasks) {
        assert.equal(t.status, 'COMPLETED');
        assert.equal(t.cpus, 1);
        assert.equal(t.memory, 1, '512 MiB and the 256 MiB default round up to 1 GiB');
        const detail = await f.omics.send(new GetRunTaskCommand({ id: run.id, taskId: t.taskId }));
        assert.equal(detail.imageDetails!.image, img.image);
        assert.match(detail.imageDetails!.imageDigest!, /^sha256:[0-9a-f]{64}$/);
        assert.match(detail.logStream!, new RegExp(`log-stream:run/${run.id}/task/${t.taskId}$`));
      }
      assert.deepEqual(runContainers(img, run.uuid!), [], 'task containers are removed');
      // The run under an export root, by another version.
      const other = await waitRun(f.omics, toFolder.id!);
      assert.equal(other.status, 'COMPLETED', `${other.failureReason}: ${other.statusMessage}`);
      assert.equal(other.workflowVersionName, 'v2.0');
      const folder = join(f.exportRoot, 'runs', other.id!, other.uuid!);
      assert.equal(readFileSync(join(folder, 'out', 'count.txt'), 'utf8'), expected.count);
      assert.equal(JSON.parse(readFileSync(join(folder, 'logs', 'outputs.json'), 'utf8')).flagstat_report.location, `file://${f.exportRoot}/runs/${other.id}/${other.uuid}/out/flagstat.txt`);
      // Logs: the run stream and the manifest (a run record, then one per task with measured use).
      const logs = new CloudWatchLogsClient({ endpoint: f.s.url, region: 'us-east-1', credentials: { accessKeyId: f.s.accessKeyId, secretAccessKey: f.s.secretAccessKey }, maxAttempts: 1 });
      const streams = (await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/aws/omics/WorkflowLog', logStreamNamePrefix: `manifest/run/${run.id}` }))).logStreams!;
      assert.deepEqual(streams.map((x) => x.logStreamName), [`manifest/run/${run.id}/${run.uuid}`]);
      const manifest = (await logs.send(new GetLogEventsCommand({ logGroupName: '/aws/omics/WorkflowLog', logStreamName: streams[0]!.logStreamName, startFromHead: true }))).events!.map((e) => JSON.parse(e.message!));
      assert.equal(manifest[0].arn, run.arn);
      assert.equal(manifest[0].status, 'COMPLETED');
      assert.equal(manifest.length, 3);
      for (const t of manifest.slice(1)) {
        assert.equal(t.memoryReservedGiB, 1);
        assert.equal(typeof t.runningSeconds, 'number');
        assert.equal(typeof t.memoryMaximumGiB, 'number');
      }
      const runLog = (await logs.send(new GetLogEventsCommand({ logGroupName: '/aws/omics/WorkflowLog', logStreamName: `run/${run.id}`, startFromHead: true }))).events!.map((e) => e.message);
      assert.ok(runLog.some((m) => m!.includes('COMPLETED')), runLog.join('\n'));
      // Listing, and DeleteRun of an ended run (its outputs stay).
      const listed = (await f.omics.send(new ListRunsCommand({ name: 'qc-1' }))).items!;
      assert.deepEqual(listed.map((r) => r.id), [run.id]);
      await f.omics.send(new DeleteRunCommand({ id: other.id }));
      await expectServiceError(f.omics.send(new GetRunCommand({ id: other.id })), 'ResourceNotFoundException');
      assert.ok(existsSync(join(folder, 'out', 'count.txt')));
    });

    it('refuses bad StartRun input with a ValidationException naming the parameter', async () => {
      const start = (parameters: Record<string, string>, extra: Record<string, unknown> = {}) =>
        f.omics.send(new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: 's3://run-outputs/bad', parameters, requestId: `bad-${Math.random()}`, ...(extra as object) }));
      await expectServiceError(start({ bam: f.bamUri, bai: f.baiUri, region: f.region, colour: 'red' }), 'ValidationException', /"colour" is not in the workflow's parameter template/);
      await expectServiceError(start({ bam: f.bamUri, bai: f.baiUri }), 'ValidationException', /Missing required parameter "region"/);
      await expectServiceError(start({ bam: f.bamUri, bai: f.baiUri, region: 'x'.repeat(50_001) }), 'ValidationException', /50000/);
      await expectServiceError(start({ bam: f.bamUri, bai: f.baiUri, region: f.region }, { workflowVersionName: 'nope' }), 'ResourceNotFoundException');
      await expectServiceError(start({ bam: f.bamUri, bai: f.baiUri, region: f.region }, { roleArn: 'arn:aws:iam::999999999999:role/Other' }), 'AccessDeniedException');
      await expectServiceError(start({ bam: f.bamUri, bai: f.baiUri, region: f.region }, { outputUri: 'ftp://host/x' }), 'ValidationException');
      await expectServiceError(start({ bam: f.bamUri, bai: f.baiUri, region: f.region }, { cacheId: '1234567' }), 'ResourceNotFoundException', /Run cache 1234567/);
      await expectServiceError(start({ bam: f.bamUri, bai: f.baiUri, region: f.region }, { cacheBehavior: 'CACHE_ALWAYS' }), 'ValidationException', /cacheId/);
      await expectServiceError(start({ bam: f.bamUri, bai: f.baiUri, region: f.region }, { workflowType: 'READY2RUN' }), 'NotSupportedOperationException', /Ready2Run/);
    });

    it('StartRun needs iam:PassRole on its role as well as omics:StartRun (identity policies of IAM users)', async () => {
      const admin = (...args: string[]) => JSON.parse(execFileSync(process.execPath, [CLI, 'admin', ...args], { env: f.s.env, encoding: 'utf8' }));
      const policy = (doc: object) => execFileSync(process.execPath, [CLI, 'admin', 'policy', 'put', 'scientist', 'p', '-'], { env: f.s.env, input: JSON.stringify(doc) });
      admin('user', 'create', 'scientist');
      const key = admin('access-key', 'create', '--user', 'scientist');
      const omics = omicsClient({ url: f.s.url, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      policy({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'omics:*', Resource: '*' }] });
      const start = () => omics.send(new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: 's3://run-outputs/iam', parameters: { bam: f.bamUri }, requestId: `iam-${Math.random()}` }));
      await expectServiceError(start(), 'AccessDeniedException', /iam:PassRole/);
      policy({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'omics:*', Resource: '*' },
          { Effect: 'Allow', Action: 'iam:PassRole', Resource: ROLE },
        ],
      });
      // The server reads policies again within 5 s (its identity cache).
      const after = await until('the new policy applies', () => start().then(() => 'started', (e: Error) => `${e.name}: ${e.message}`), (m) => !m.startsWith('AccessDenied'), 15_000, 500);
      assert.match(after, /^ValidationException: Missing required parameter/);
      assert.ok((await omics.send(new GetWorkflowCommand({ id: workflowId }))).arn);
    });

    if (backend !== 'sqlite') return;

    it('fails a run whose task exceeds its memory with OUT_OF_MEMORY_ERROR', async () => {
      const { workflow } = await registerWorkflow(f.omics, shellWorkflow(img.image, 'head -c 1500000000 /dev/zero | sort > /dev/null'), 'memory-hog');
      const started = await f.omics.send(new StartRunCommand({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${f.exportRoot}/oom`, requestId: 'oom' }));
      const run = await waitRun(f.omics, started.id!);
      assert.equal(run.status, 'FAILED');
      assert.equal(run.failureReason, 'OUT_OF_MEMORY_ERROR', run.statusMessage);
      const [task] = (await f.omics.send(new ListRunTasksCommand({ id: run.id }))).items!;
      const detail = await f.omics.send(new GetRunTaskCommand({ id: run.id, taskId: task!.taskId }));
      assert.equal(detail.failureReason, 'OUT_OF_MEMORY_ERROR');
      assert.equal(detail.memory, 1);
      // The task's own cgroup parent (read after the container ended, so a kill before the first sample is seen) is gone.
      const parents = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
      assert.ok(parents.some((p) => existsSync(join(p, 'openomics-tasks'))), 'tasks ran under /openomics-tasks');
      for (const p of parents) assert.ok(!existsSync(join(p, 'openomics-tasks', task!.taskId!)), `${p}/openomics-tasks/${task!.taskId} is removed`);
    });

    it('fails a run whose task fails with RUN_TASK_FAILED; the task log reads back with aws logs get-log-events, the run with boto3', async () => {
      const { workflow } = await registerWorkflow(f.omics, shellWorkflow(img.image, 'echo "checking inputs"; echo "no such sample: NA12878" >&2; exit 3'), 'failing');
      const env = {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        AWS_ACCESS_KEY_ID: f.s.accessKeyId,
        AWS_SECRET_ACCESS_KEY: f.s.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_DISABLE_HOST_PREFIX_INJECTION: 'true',
        AWS_CONFIG_FILE: '/dev/null',
      };
      const input = join(f.root, 'start.json');
      writeFileSync(input, JSON.stringify({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${f.exportRoot}/failing`, requestId: 'failing' }));
      const { stdout } = await execFileP('aws', ['omics', 'start-run', '--endpoint-url', f.s.url, '--cli-input-json', `file://${input}`, '--output', 'json'], { env });
      const runId = JSON.parse(stdout).id as string;
      const run = await waitRun(f.omics, runId);
      assert.equal(run.status, 'FAILED');
      assert.equal(run.failureReason, 'RUN_TASK_FAILED', run.statusMessage);
      assert.equal(run.logLocation!.engineLogStream, `run/${runId}/engine`);
      const [task] = (await f.omics.send(new ListRunTasksCommand({ id: runId, status: 'FAILED' }))).items!;
      assert.ok(task);
      const events = JSON.parse(
        (
          await execFileP(
            'aws',
            ['logs', 'get-log-events', '--endpoint-url', f.s.url, '--log-group-name', '/aws/omics/WorkflowLog', '--log-stream-name', `run/${runId}/task/${task.taskId}`, '--start-from-head', '--output', 'json'],
            { env },
          )
        ).stdout,
      ).events.map((e: { message: string }) => e.message);
      // A stdout line and a stderr line: in either order (the two pipes are read apart).
      assert.deepEqual(events.sort(), ['checking inputs', 'no such sample: NA12878']);
      const cli = spawnSync(process.execPath, [CLI, 'logs', runId, '--task', task.taskId!, '--endpoint-url', f.s.url], { env, encoding: 'utf8' });
      assert.equal(cli.status, 0, cli.stderr);
      assert.deepEqual(cli.stdout.split('\n').filter(Boolean).map((l) => /^\S+Z (.*)$/.exec(l)?.[1]).sort(), ['checking inputs', 'no such sample: NA12878']);
      const manifest = spawnSync(process.execPath, [CLI, 'logs', runId, '--manifest', '--follow', '--endpoint-url', f.s.url], { env, encoding: 'utf8' });
      assert.equal(JSON.parse(manifest.stdout.split('\n')[0]!).status, 'FAILED', manifest.stderr);
      const py = `
import boto3, json
omics = boto3.client('omics', endpoint_url='${f.s.url}', region_name='us-east-1', config=boto3.session.Config(inject_host_prefix=False))
logs = boto3.client('logs', endpoint_url='${f.s.url}', region_name='us-east-1')
run = omics.get_run(id='${runId}')
engine = logs.get_log_events(logGroupName='/aws/omics/WorkflowLog', logStreamName=run['logLocation']['engineLogStream'], startFromHead=True)
print(json.dumps({'reason': run['failureReason'], 'engine': len(engine['events'])}))
`;
      const out = JSON.parse((await execFileP('python3', ['-c', py], { env })).stdout);
      assert.equal(out.reason, 'RUN_TASK_FAILED');
      assert.ok(out.engine > 0, 'the engine log of a failed run is in its stream');
    });

    it('CancelRun of a long run stops its containers and exports nothing', async () => {
      const { workflow } = await registerWorkflow(f.omics, shellWorkflow(img.image, 'echo started; sleep 600'), 'long');
      const started = await f.omics.send(new StartRunCommand({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${f.exportRoot}/long`, requestId: 'long' }));
      await until('task running', () => f.omics.send(new ListRunTasksCommand({ id: started.id })), (r) => r.items!.length > 0, 120_000, 250);
      await until('container up', async () => runContainers(img, started.uuid!), (c) => c.length === 1, 30_000, 250);
      await f.omics.send(new CancelRunCommand({ id: started.id }));
      const run = await f.omics.send(new GetRunCommand({ id: started.id }));
      assert.equal(run.status, 'CANCELLED');
      await until('containers stopped', async () => runContainers(img, started.uuid!), (c) => c.length === 0, 30_000, 250);
      await expectServiceError(f.omics.send(new CancelRunCommand({ id: started.id })), 'ConflictException');
      assert.equal(existsSync(join(f.exportRoot, 'long', started.id!)), false, 'a cancelled run exports nothing');
    });

    it('stages a folder input (an S3 prefix ending in /) with its layout, read-only', async () => {
      await s3.send(new PutObjectCommand({ Bucket: 'run-outputs', Key: 'inputs/batch/a.txt', Body: 'A\n' }));
      await s3.send(new PutObjectCommand({ Bucket: 'run-outputs', Key: 'inputs/batch/sub/b.txt', Body: 'B\n' }));
      const tool = oneInputWorkflow(img.image, 'Directory', 'cat "$0/a.txt" "$0/sub/b.txt"; touch "$0/x" 2>/dev/null && echo writable || echo read-only');
      const { workflow } = await registerWorkflow(f.omics, tool, 'folder');
      const started = await f.omics.send(
        new StartRunCommand({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${f.exportRoot}/folder`, parameters: { in: 's3://run-outputs/inputs/batch/' }, requestId: 'folder' }),
      );
      const run = await waitRun(f.omics, started.id!);
      assert.equal(run.status, 'COMPLETED', `${run.failureReason}: ${run.statusMessage}`);
      assert.equal(readFileSync(join(f.exportRoot, 'folder', run.id!, run.uuid!, 'out', 'out.txt'), 'utf8'), 'A\nB\nread-only\n');
      assert.match(run.resourceDigests!['s3://run-outputs/inputs/batch/']!, /^sha256:/);
    });

    it('an input changed while the run runs fails it with MODIFIED_INPUT_RESOURCE, nothing exported', async () => {
      await s3.send(new PutObjectCommand({ Bucket: 'run-outputs', Key: 'inputs/changing.txt', Body: 'v1\n' }));
      const { workflow } = await registerWorkflow(f.omics, oneInputWorkflow(img.image, 'File', 'sleep 4; cat "$0"'), 'changing');
      const started = await f.omics.send(
        new StartRunCommand({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${f.exportRoot}/changing`, parameters: { in: 's3://run-outputs/inputs/changing.txt' }, requestId: 'changing' }),
      );
      await until('task running', async () => runContainers(img, started.uuid!), (c) => c.length === 1, 60_000, 250);
      await s3.send(new PutObjectCommand({ Bucket: 'run-outputs', Key: 'inputs/changing.txt', Body: 'v2, changed\n' }));
      const run = await waitRun(f.omics, started.id!);
      assert.equal(run.status, 'FAILED');
      assert.equal(run.failureReason, 'MODIFIED_INPUT_RESOURCE', run.statusMessage);
      assert.match(run.statusMessage!, /s3:\/\/run-outputs\/inputs\/changing\.txt changed after the run started/);
      assert.ok(!existsSync(join(f.exportRoot, 'changing', run.id!, run.uuid!, 'out')), 'nothing exported');
    });

    it('a run on an ARCHIVED read set fails with INACTIVE_OMICS_STORAGE_RESOURCE', async () => {
      writeFileSync(f.clock, String(31 * DAY));
      await until('archived', () => f.omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: f.storeId, id: f.readSetId })), (m) => m.status === 'ARCHIVED', 30_000);
      const started = await f.omics.send(
        new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: `file://${f.exportRoot}/archived`, parameters: { bam: f.bamUri, bai: f.baiUri, region: f.region }, requestId: 'archived' }),
      );
      const run = await waitRun(f.omics, started.id!);
      assert.equal(run.status, 'FAILED');
      assert.equal(run.failureReason, 'INACTIVE_OMICS_STORAGE_RESOURCE', run.statusMessage);
      const missing = await f.omics.send(
        new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: `file://${f.exportRoot}/missing`, parameters: { bam: f.bamUri.replace(f.readSetId, '1111111111'), bai: f.baiUri, region: f.region }, requestId: 'missing' }),
      );
      assert.equal((await waitRun(f.omics, missing.id!)).failureReason, 'INPUT_URI_NOT_FOUND');
      await f.omics.send(new DeleteWorkflowVersionCommand({ workflowId, versionName: 'v2.0' }));
    });
  });
}

describe('workflows on Toil (toil-cwl-runner) and across a worker crash', () => {
  it('runs the samtools workflow through toil-cwl-runner with the same outputs', async () => {
    const f = await setUp(img, 'sqlite', { OPENOMICS_CWL_RUNNER: 'toil' });
    try {
      const expected = samtoolsDirect(f);
      const { workflow } = await registerWorkflow(f.omics, samtoolsWorkflow(img.image), 'toil-qc');
      assert.equal(workflow.status, 'ACTIVE', workflow.statusMessage);
      const started = await f.omics.send(
        new StartRunCommand({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${f.exportRoot}/toil`, parameters: { bam: f.bamUri, bai: f.baiUri, region: f.region }, requestId: 'toil' }),
      );
      const run = await waitRun(f.omics, started.id!, 300_000);
      assert.equal(run.status, 'COMPLETED', `${run.failureReason}: ${run.statusMessage}`);
      assert.match(run.engineVersion!, /^toil-cwl-runner /);
      const folder = join(f.exportRoot, 'toil', run.id!, run.uuid!, 'out');
      assert.equal(readFileSync(join(folder, 'flagstat.txt'), 'utf8'), expected.flagstat);
      assert.equal(readFileSync(join(folder, 'count.txt'), 'utf8'), expected.count);
      const tasks = (await f.omics.send(new ListRunTasksCommand({ id: run.id }))).items!;
      assert.equal(tasks.length, 2);
      assert.ok(tasks.every((t) => t.status === 'COMPLETED'));
    } finally {
      await tearDown(f);
    }
  });

  it('RUN_TIMED_OUT, EXPORT_FAILED, and the run quota: the oldest ended REMOVE run makes room, else ServiceQuotaExceededException', async () => {
    const f = await setUp(img, 'sqlite', { OPENOMICS_MAX_RUN_SECONDS: '4', OPENOMICS_MAX_RUNS: '3' });
    try {
      const quick = (await registerWorkflow(f.omics, shellWorkflow(img.image, 'echo quick'), 'quick')).workflow.id!;
      const slow = (await registerWorkflow(f.omics, shellWorkflow(img.image, 'sleep 60'), 'slow')).workflow.id!;
      const start = (workflowId: string, requestId: string, extra: Record<string, string> = {}) =>
        f.omics.send(new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: `file://${f.exportRoot}/q`, requestId, ...extra }));
      const removable = await start(quick, 'removable', { retentionMode: 'REMOVE' });
      assert.equal((await waitRun(f.omics, removable.id!)).status, 'COMPLETED');
      const timedOut = await waitRun(f.omics, (await start(slow, 'slow')).id!);
      assert.equal(timedOut.failureReason, 'RUN_TIMED_OUT', timedOut.statusMessage);
      assert.deepEqual(runContainers(img, timedOut.uuid!), []);
      const noExport = await waitRun(f.omics, (await start(quick, 'no-export', { outputUri: 's3://no-connection-bucket/out' })).id!);
      assert.equal(noExport.failureReason, 'EXPORT_FAILED', noExport.statusMessage);
      // Three runs kept, the quota: the REMOVE run goes to make room; then every kept run is RETAIN.
      const fourth = await start(quick, 'fourth');
      await expectServiceError(f.omics.send(new GetRunCommand({ id: removable.id })), 'ResourceNotFoundException');
      await waitRun(f.omics, fourth.id!);
      await expectServiceError(start(quick, 'fifth'), 'ServiceQuotaExceededException');
    } finally {
      await tearDown(f);
    }
  });

  it('images from a registry: pulled when OPENOMICS_IMAGE_PULL=missing (a loopback registry, Debian docker-registry), never pulled by default', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openomics-registry-'));
    const port = await freePort();
    writeFileSync(join(dir, 'registry.yml'), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\nlog:\n  level: error\n`);
    writeFileSync(join(dir, 'registries.conf'), `[[registry]]\nlocation = "127.0.0.1:${port}"\ninsecure = true\n`);
    const registry = spawn('docker-registry', ['serve', join(dir, 'registry.yml')], { stdio: 'ignore' });
    const podmanEnv = { ...process.env, CONTAINERS_CONF: img.containersConf, CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf') };
    const remote = `127.0.0.1:${port}/openomics/tools:pulled-${process.pid}`;
    const servers: SpawnedServer[] = [];
    try {
      await until('registry', async () => spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/v2/`], { encoding: 'utf8' }).stdout, (c) => c === '200', 20_000, 100);
      execFileSync('podman', ['tag', img.image, remote], { env: podmanEnv });
      execFileSync('podman', ['push', '--tls-verify=false', remote], { env: podmanEnv, stdio: 'ignore' });
      execFileSync('podman', ['rmi', remote], { env: podmanEnv, stdio: 'ignore' });
      const exists = () => spawnSync('podman', ['image', 'exists', remote], { env: podmanEnv }).status === 0;
      assert.equal(exists(), false);
      const runOn = async (pull: string) => {
        const s = await spawnServer({ env: { OPENOMICS_CONTAINERS_CONF: img.containersConf, OPENOMICS_EXPORT_ROOTS: dir, CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'), ...(pull ? { OPENOMICS_IMAGE_PULL: pull } : {}) } });
        servers.push(s);
        const omics = omicsClient(s);
        const { workflow } = await registerWorkflow(omics, shellWorkflow(remote, 'echo from the registry'), 'pulled');
        const started = await omics.send(new StartRunCommand({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${dir}/out`, requestId: 'pulled' }));
        return waitRun(omics, started.id!);
      };
      const refused = await runOn('');
      assert.equal(refused.status, 'FAILED', 'by default images are not pulled');
      assert.equal(exists(), false);
      const pulled = await runOn('missing');
      assert.equal(pulled.status, 'COMPLETED', `${pulled.failureReason}: ${pulled.statusMessage}`);
      assert.equal(readFileSync(join(dir, 'out', pulled.id!, pulled.uuid!, 'out', 'out.txt'), 'utf8'), 'from the registry\n');
      assert.equal(exists(), true, 'the image was pulled into the runtime');
    } finally {
      for (const s of servers) await s.stop();
      spawnSync('podman', ['rmi', '-f', remote], { env: podmanEnv, stdio: 'ignore' });
      registry.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('OPENOMICS_CONTAINER_RUNTIME=none: the engine runs tasks on the host (its own switch), no task records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openomics-nocontainer-'));
    const s = await spawnServer({ env: { OPENOMICS_CONTAINER_RUNTIME: 'none', OPENOMICS_EXPORT_ROOTS: dir } });
    try {
      const omics = omicsClient(s);
      // A DockerRequirement that is only a hint runs on the host; a required one is refused by cwltool itself.
      const hinted = strToU8(new TextDecoder().decode(unzipSync(shellWorkflow('no-such-image:never', 'echo on the host'))['main.cwl']).replace('requirements:', 'hints:'));
      const { workflow } = await registerWorkflow(omics, zipSync({ 'main.cwl': hinted }), 'host');
      const started = await omics.send(new StartRunCommand({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${dir}/out`, requestId: 'host' }));
      const required = (await registerWorkflow(omics, shellWorkflow('no-such-image:never', 'echo on the host'), 'required')).workflow;
      const refused = await waitRun(omics, (await omics.send(new StartRunCommand({ workflowId: required.id, roleArn: ROLE, outputUri: `file://${dir}/out`, requestId: 'required' }))).id!);
      assert.equal(refused.failureReason, 'WORKFLOW_RUN_FAILED');
      assert.match(refused.statusMessage!, /--no-container, but this CommandLineTool has DockerRequirement under 'requirements'/);
      const run = await waitRun(omics, started.id!);
      assert.equal(run.status, 'COMPLETED', `${run.failureReason}: ${run.statusMessage}`);
      assert.equal(readFileSync(join(dir, 'out', run.id!, run.uuid!, 'out', 'out.txt'), 'utf8'), 'on the host\n');
      assert.deepEqual((await omics.send(new ListRunTasksCommand({ id: run.id }))).items, [], 'tasks are not seen without the container boundary');
    } finally {
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a worker killed with SIGKILL mid-run: after a restart the run ends (never left RUNNING) and no container is left', async () => {
    const f = await setUp(img, 'sqlite', { OPENOMICS_JOB_LEASE_SECONDS: '2' });
    let s2: SpawnedServer | undefined;
    try {
      const { workflow } = await registerWorkflow(f.omics, shellWorkflow(img.image, 'sleep 6; echo done'), 'crash');
      const started = await f.omics.send(new StartRunCommand({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${f.exportRoot}/crash`, requestId: 'crash' }));
      await until('running', () => f.omics.send(new GetRunCommand({ id: started.id })), (r) => r.status === 'RUNNING', 120_000, 250);
      await until('container up', async () => runContainers(img, started.uuid!), (c) => c.length === 1, 30_000, 250);
      const exited = new Promise((r) => f.s.child.once('exit', r));
      f.s.child.kill('SIGKILL');
      await exited;
      s2 = await spawnServer({ dataDir: f.s.dataDir, env: f.s.env as Record<string, string> });
      const omics2 = omicsClient(s2);
      const run = await waitRun(omics2, started.id!);
      assert.ok(run.status === 'COMPLETED' || (run.status === 'FAILED' && run.failureReason), `${run.status} ${run.failureReason}`);
      assert.equal(run.status, 'COMPLETED', 'the next attempt runs the run again from the start');
      assert.equal(readFileSync(join(f.exportRoot, 'crash', run.id!, run.uuid!, 'out', 'out.txt'), 'utf8'), 'done\n');
      assert.deepEqual(runContainers(img, started.uuid!), []);
    } finally {
      await s2?.stop();
      await tearDown(f);
    }
  });
});

/** A WDL 1.0 workflow: flagstat (2 vCPUs, 2 GiB) and a read count, each in the test image. */
function samtoolsWdl(image: string): Uint8Array {
  const wdl = `version 1.0
workflow qc {
  input {
    File bam
    Int min_mapq = 0
  }
  call flagstat { input: bam = bam }
  call count as mapped_count { input: bam = bam, q = min_mapq }
  output {
    File flagstat_txt = flagstat.out
    Int mapped = mapped_count.n
  }
}

task flagstat {
  input {
    File bam
  }
  command <<<
    samtools flagstat ~{bam} > flagstat.txt
  >>>
  output {
    File out = "flagstat.txt"
  }
  runtime {
    docker: "${image}"
    cpu: 2
    memory: "2 GiB"
  }
}

task count {
  input {
    File bam
    Int q
  }
  command <<<
    echo "task $AWS_WORKFLOW_TASK_ID of $AWS_WORKFLOW_RUN_ID" >&2
    samtools view -c -q ~{q} ~{bam}
  >>>
  output {
    Int n = read_int(stdout())
  }
  runtime {
    docker: "${image}"
    memory: "512 MiB"
  }
}
`;
  return zipSync({ 'main.wdl': strToU8(wdl) });
}

describe('WDL workflows through Toil’s WDL runner, tasks through the container API gate', () => {
  it('discovers the template, rejects a definition the runner cannot read, and runs flagstat in containers equal to samtools run directly', async () => {
    const f = await setUp(img, 'sqlite');
    try {
      const expected = samtoolsDirect(f);
      const { workflow } = await registerWorkflow(f.omics, samtoolsWdl(img.image), 'wdl-qc');
      assert.equal(workflow.status, 'ACTIVE', workflow.statusMessage);
      assert.equal(workflow.engine, 'WDL');
      assert.deepEqual(workflow.parameterTemplate, { bam: { description: '', optional: false }, min_mapq: { description: '', optional: true } });
      const broken = zipSync({ 'main.wdl': strToU8('version 1.0\nworkflow w {\n  call t\n}\ntask t {\n  command <<< echo hi >>>\n  output { String s = read_string(stdout()) \n}\n') });
      const bad = await registerWorkflow(f.omics, broken, 'wdl-broken');
      assert.equal(bad.workflow.status, 'FAILED');
      assert.match(bad.workflow.statusMessage!, /^main\.wdl:9:0: /, bad.workflow.statusMessage);
      // A construct the runner does not handle (a workflow's parameter_meta): FAILED with its reason, not a failed run later.
      const unsupported = zipSync({ 'main.wdl': strToU8('version 1.0\nworkflow w {\n  input { Int x }\n  parameter_meta { x: "an int" }\n}\n') });
      const refused = await registerWorkflow(f.omics, unsupported, 'wdl-unsupported');
      assert.equal(refused.workflow.status, 'FAILED');
      assert.match(refused.workflow.statusMessage!, /Parameter_metaContext/, refused.workflow.statusMessage);
      await expectServiceError(
        f.omics.send(new StartRunCommand({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${f.exportRoot}/wdl`, parameters: { min_mapq: 1 }, requestId: 'wdl-missing' })),
        'ValidationException',
        /Missing required parameter "bam"/,
      );
      const started = await f.omics.send(new StartRunCommand({ workflowId: workflow.id, roleArn: ROLE, outputUri: `file://${f.exportRoot}/wdl`, parameters: { bam: f.bamUri }, requestId: 'wdl' }));
      const run = await waitRun(f.omics, started.id!, 300_000);
      assert.equal(run.status, 'COMPLETED', `${run.failureReason}: ${run.statusMessage}`);
      assert.match(run.engineVersion!, /^toil-wdl-runner /);
      const folder = join(f.exportRoot, 'wdl', run.id!, run.uuid!);
      assert.equal(readFileSync(join(folder, 'out', 'flagstat_txt', 'flagstat.txt'), 'utf8'), expected.flagstat, 'out/<output name>/<file> (§4.13)');
      const summary = JSON.parse(readFileSync(join(folder, 'logs', 'outputs.json'), 'utf8'));
      assert.deepEqual(summary, { 'qc.flagstat_txt': `file://${f.exportRoot}/wdl/${run.id}/${run.uuid}/out/flagstat_txt/flagstat.txt` });
      // Tasks: named by their WDL task, limits from the declared runtime (rounded up), in the declared image.
      const tasks = (await f.omics.send(new ListRunTasksCommand({ id: run.id }))).items!;
      assert.deepEqual(tasks.map((t) => [t.name, t.status, t.cpus, t.memory]).sort(), [
        ['count', 'COMPLETED', 1, 1],
        ['flagstat', 'COMPLETED', 2, 2],
      ]);
      for (const t of tasks) {
        const detail = await f.omics.send(new GetRunTaskCommand({ id: run.id, taskId: t.taskId }));
        assert.equal(detail.imageDetails!.image, img.image);
      }
      assert.deepEqual(runContainers(img, run.uuid!), [], 'task containers are removed');
      const logs = new CloudWatchLogsClient({ endpoint: f.s.url, region: 'us-east-1', credentials: { accessKeyId: f.s.accessKeyId, secretAccessKey: f.s.secretAccessKey }, maxAttempts: 1 });
      const read = async (stream: string) => (await logs.send(new GetLogEventsCommand({ logGroupName: '/aws/omics/WorkflowLog', logStreamName: stream, startFromHead: true }))).events!.map((e) => e.message!);
      const count = tasks.find((t) => t.name === 'count')!;
      const reads = execFileSync('samtools', ['view', '-c', '-q', '0', join(f.corpus, 'sample.bam')], { encoding: 'utf8', env: SAMTOOLS_ENV }).trim();
      // Its stderr line and stdout line, in either order: the runtime reads the two pipes apart.
      assert.deepEqual((await read(`run/${run.id}/task/${count.taskId}`)).sort(), [`task ${count.taskId} of ${run.id}`, reads].sort(), 'the task log, and AWS_WORKFLOW_* in the task');
      const runLog = await read(`run/${run.id}`);
      assert.ok(runLog.some((m) => m.includes('Output qc.mapped is not reported')), runLog.join('\n'));
      const manifest = (await read(`manifest/run/${run.id}/${run.uuid}`)).map((m) => JSON.parse(m) as Record<string, unknown>);
      assert.equal(manifest.length, 3);
      assert.deepEqual(manifest.slice(1).map((t) => t['cpusReserved']).sort(), [1, 2]);
    } finally {
      await tearDown(f);
    }
  });
});
