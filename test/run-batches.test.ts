// Run batches through @aws-sdk/client-omics and boto3: many runs of one CWL workflow (cwltool, tasks in Podman)
// submitted gradually from inline settings and from a settings file in a (moto) bucket, summaries, filters,
// cancelling mid-batch, deleting the batch's runs and the batch, on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CancelRunBatchCommand,
  DeleteBatchCommand,
  DeleteRunBatchCommand,
  GetBatchCommand,
  GetRunCommand,
  ListBatchCommand,
  ListRunsCommand,
  ListRunsInBatchCommand,
  StartRunBatchCommand,
  type GetBatchCommandOutput,
  type OmicsClient,
} from '@aws-sdk/client-omics';
import { expectServiceError, omicsClient, until } from './helpers/omics.js';
import { BACKENDS, spawnServer, type SpawnedServer } from './helpers/server.js';
import { MOTO_CREDENTIALS, addMotoConnection, startMoto, type Moto } from './helpers/moto.js';
import { activeWorkflow, sleepWorkflow, workflowImage, type WorkflowImage } from './helpers/workflow-image.js';

const ROLE = 'arn:aws:iam::123456789012:role/OmicsWorkflow';
const BATCH_ENDED = (b: GetBatchCommandOutput) => ['PROCESSED', 'FAILED', 'CANCELLED', 'RUNS_DELETED'].includes(b.status!);

let img: WorkflowImage;
before(() => {
  img = workflowImage();
});

for (const backend of BACKENDS) {
  describe(`run batches on ${backend}`, () => {
    let s: SpawnedServer;
    let omics: OmicsClient;
    let moto: Moto;
    let exportRoot: string;
    let workflowId: string;
    const getBatch = (batchId: string) => omics.send(new GetBatchCommand({ batchId }));
    before(async () => {
      moto = await startMoto();
      const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
      await s3.send(new CreateBucketCommand({ Bucket: 'batch-settings' }));
      await s3.send(
        new PutObjectCommand({
          Bucket: 'batch-settings',
          Key: 'samples.json',
          Body: JSON.stringify([
            { runSettingId: 'from-file-1', parameters: { label: 'file one' } },
            { runSettingId: 'from-file-2', parameters: { label: 'file "two" ünïcode' }, runTags: { sample: 'two' } },
            { runSettingId: 'from-file-3', name: 'third' },
          ]),
        }),
      );
      await s3.send(new PutObjectCommand({ Bucket: 'batch-settings', Key: 'broken.json', Body: '[{"runSettingId": "a"}, {"runSettingId": ' }));
      exportRoot = mkdtempSync(join(tmpdir(), 'openomics-batch-'));
      // Four runs a second, so the submission is seen to be gradual; three runs at once.
      s = await spawnServer({ backend, env: { OPENOMICS_CONTAINERS_CONF: img.containersConf, OPENOMICS_EXPORT_ROOTS: exportRoot, OPENOMICS_BATCH_SUBMIT_PER_SECOND: '4', OPENOMICS_CONCURRENT_RUNS: '3' } });
      addMotoConnection(s.env, 'settings', 'batch-settings', moto);
      omics = omicsClient(s);
      workflowId = await activeWorkflow(omics, 'sleep', sleepWorkflow(img.image));
    });
    after(async () => {
      await s?.stop();
      await moto?.stop();
      rmSync(exportRoot, { recursive: true, force: true });
    });

    it('runs a batch of 20 inline settings: submitted gradually, merged settings, summaries, filters; then deletes its runs and itself', async () => {
      const inlineSettings = Array.from({ length: 20 }, (_, i) => ({
        runSettingId: `sample-${i}`,
        name: `sample ${i}`,
        parameters: (i === 7 ? { nonsense: 1 } : { label: `sample-${i}` }) as Record<string, string | number>,
        runTags: { sample: String(i) },
      }));
      const started = await omics.send(
        new StartRunBatchCommand({
          batchName: 'twenty',
          requestId: 'twenty',
          tags: { project: 'p1' },
          defaultRunSetting: { workflowId, roleArn: ROLE, outputUri: `file://${exportRoot}/batch`, parameters: { seconds: 0, label: 'default' }, runTags: { project: 'p1', sample: 'default' } },
          batchRunSettings: { inlineSettings },
        }),
      );
      assert.equal(started.status, 'CREATING');
      assert.equal(started.arn, `arn:aws:omics:us-east-1:123456789012:runBatch/${started.id}`);
      // Gradually: some runs started while others still wait to be.
      const midway = await until('submitting', () => getBatch(started.id!), (b) => b.status === 'SUBMITTING' && b.submissionSummary!.successfulStartSubmissionCount! > 0 && b.submissionSummary!.pendingStartSubmissionCount! > 0, 30_000, 100);
      assert.equal(midway.totalRuns, 20);
      const done = await until('processed', () => getBatch(started.id!), BATCH_ENDED, 300_000, 1000);
      assert.equal(done.status, 'PROCESSED', done.failureReason);
      assert.deepEqual(done.submissionSummary, {
        successfulStartSubmissionCount: 19,
        failedStartSubmissionCount: 1,
        pendingStartSubmissionCount: 0,
        successfulCancelSubmissionCount: 0,
        failedCancelSubmissionCount: 0,
        successfulDeleteSubmissionCount: 0,
        failedDeleteSubmissionCount: 0,
      });
      assert.equal(done.runSummary!.completedRunCount, 19);
      assert.equal(done.runSummary!.failedRunCount, 0);
      assert.ok(done.submittedTime && done.processedTime && done.processedTime >= done.submittedTime);
      assert.deepEqual(done.tags, { project: 'p1' });
      assert.equal(done.defaultRunSetting?.workflowId, workflowId);
      // The one that could not start says why; filters take one at a time.
      const failed = await omics.send(new ListRunsInBatchCommand({ batchId: started.id, submissionStatus: 'FAILED' }));
      assert.equal(failed.runs!.length, 1);
      assert.equal(failed.runs![0]!.runSettingId, 'sample-7');
      assert.equal(failed.runs![0]!.submissionFailureReason, 'ValidationException');
      assert.match(failed.runs![0]!.submissionFailureMessage!, /nonsense/);
      const one = (await omics.send(new ListRunsInBatchCommand({ batchId: started.id, runSettingId: 'sample-3' }))).runs!;
      assert.equal(one.length, 1);
      const run = await omics.send(new GetRunCommand({ id: one[0]!.runId }));
      assert.equal(run.batchId, started.id);
      assert.equal(run.name, 'sample 3');
      assert.deepEqual(run.parameters, { seconds: 0, label: 'sample-3' }, 'parameters merged, the run wins');
      assert.deepEqual(run.tags, { project: 'p1', sample: '3' }, 'tags merged, the run wins; the batch tags stay on the batch');
      assert.equal(one[0]!.runArn, run.arn);
      assert.equal(one[0]!.runInternalUuid, run.uuid);
      assert.match(readFileSync(join(exportRoot, 'batch', run.id!, run.uuid!, 'out', 'out.txt'), 'utf8'), /^sample-3\n/);
      await expectServiceError(omics.send(new ListRunsInBatchCommand({ batchId: started.id, runSettingId: 'sample-3', submissionStatus: 'SUCCESS' })), 'ValidationException', /one filter/);
      const paged = await omics.send(new ListRunsInBatchCommand({ batchId: started.id, maxItems: 15 }));
      const rest = await omics.send(new ListRunsInBatchCommand({ batchId: started.id, maxItems: 15, startingToken: paged.nextToken }));
      assert.equal(paged.runs!.length + rest.runs!.length, 20);
      assert.equal((await omics.send(new ListRunsCommand({ batchId: started.id }))).items!.length, 19);
      assert.deepEqual((await omics.send(new ListBatchCommand({ name: 'twenty' }))).items!.map((b) => [b.id, b.status, b.totalRuns, b.workflowId]), [[started.id, 'PROCESSED', 20, workflowId]]);
      // DeleteBatch needs an ended batch; DeleteRunBatch deletes the runs' metadata, then the batch can go.
      await expectServiceError(omics.send(new CancelRunBatchCommand({ batchId: started.id })), 'ConflictException', /PROCESSED/);
      await omics.send(new DeleteRunBatchCommand({ batchId: started.id }));
      const deleted = await until('runs deleted', () => getBatch(started.id!), (b) => b.status === 'RUNS_DELETED', 60_000, 250);
      assert.equal(deleted.submissionSummary!.successfulDeleteSubmissionCount, 19);
      assert.equal(deleted.runSummary!.deletedRunCount, 19);
      await expectServiceError(omics.send(new GetRunCommand({ id: run.id })), 'ResourceNotFoundException');
      await omics.send(new DeleteBatchCommand({ batchId: started.id }));
      await expectServiceError(getBatch(started.id!), 'ResourceNotFoundException');
      await expectServiceError(omics.send(new ListRunsInBatchCommand({ batchId: started.id })), 'ResourceNotFoundException');
    });

    it('cancels a batch mid-way: the runs not started never start, those started are cancelled', async () => {
      const inlineSettings = Array.from({ length: 16 }, (_, i) => ({ runSettingId: `slow-${i}`, parameters: { seconds: 30 } }));
      const started = await omics.send(
        new StartRunBatchCommand({ batchName: 'to-cancel', requestId: 'to-cancel', defaultRunSetting: { workflowId, roleArn: ROLE, outputUri: `file://${exportRoot}/cancelled` }, batchRunSettings: { inlineSettings } }),
      );
      await until('some running', () => getBatch(started.id!), (b) => (b.runSummary?.runningRunCount ?? 0) > 0, 120_000, 250);
      await omics.send(new CancelRunBatchCommand({ batchId: started.id }));
      await expectServiceError(omics.send(new CancelRunBatchCommand({ batchId: started.id })), 'ConflictException');
      const done = await until('cancelled', () => getBatch(started.id!), (b) => b.status === 'CANCELLED', 60_000, 250);
      const sum = done.submissionSummary!;
      assert.equal(sum.successfulStartSubmissionCount! + sum.failedStartSubmissionCount!, 16);
      assert.ok(sum.failedStartSubmissionCount! > 0, `every run was started before the cancel: ${JSON.stringify(sum)}`);
      assert.equal(sum.successfulCancelSubmissionCount, sum.successfulStartSubmissionCount, JSON.stringify(sum));
      const notStarted = await omics.send(new ListRunsInBatchCommand({ batchId: started.id, submissionStatus: 'FAILED' }));
      assert.ok(notStarted.runs!.every((r) => r.submissionFailureReason === 'BatchCancelled' && !r.runId));
      const runs = await until('runs ended', async () => (await omics.send(new ListRunsCommand({ batchId: started.id }))).items!, (rs) => rs.every((r) => r.status === 'CANCELLED'), 60_000, 250);
      assert.equal(runs.length, sum.successfulStartSubmissionCount);
      await omics.send(new DeleteBatchCommand({ batchId: started.id }));
    });

    it('reads run settings from a file in a bucket (boto3), and fails a batch whose file is not a JSON array', async () => {
      const py = `
import boto3, json, os, time
c = boto3.client('omics', endpoint_url=os.environ['URL'], region_name='us-east-1')
b = c.start_run_batch(requestId='from-file', batchName='from-file',
    defaultRunSetting={'workflowId': os.environ['WF'], 'roleArn': '${ROLE}', 'outputUri': os.environ['OUT'], 'parameters': {'seconds': 0}},
    batchRunSettings={'s3UriSettings': 's3://batch-settings/samples.json'})
for _ in range(600):
    g = c.get_batch(batchId=b['id'])
    if g['status'] in ('PROCESSED', 'FAILED'): break
    time.sleep(0.5)
runs = c.list_runs_in_batch(batchId=b['id'])['runs']
labels = {r['runSettingId']: c.get_run(id=r['runId']) for r in runs}
bad = c.start_run_batch(requestId='broken', defaultRunSetting={'workflowId': os.environ['WF'], 'roleArn': '${ROLE}', 'outputUri': os.environ['OUT']},
    batchRunSettings={'s3UriSettings': 's3://batch-settings/broken.json'})
for _ in range(100):
    f = c.get_batch(batchId=bad['id'])
    if f['status'] in ('PROCESSED', 'FAILED'): break
    time.sleep(0.2)
print(json.dumps({'status': g['status'], 'total': g['totalRuns'], 'completed': g['runSummary']['completedRunCount'],
  'params': {k: v['parameters'] for k, v in labels.items()}, 'tags': labels['from-file-2']['tags'], 'third': labels['from-file-3'].get('name'),
  'bad': f['status'], 'badReason': f.get('failureReason'), 'badPending': f['submissionSummary']}))
`;
      const out = JSON.parse(
        execFileSync('python3', ['-c', py], {
          env: { ...process.env, URL: s.url, WF: workflowId, OUT: `file://${exportRoot}/from-file`, AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey, AWS_CONFIG_FILE: '/dev/null', AWS_DISABLE_HOST_PREFIX_INJECTION: 'true' },
          encoding: 'utf8',
        }),
      );
      assert.equal(out.status, 'PROCESSED');
      assert.equal(out.total, 3);
      assert.equal(out.completed, 3);
      assert.deepEqual(out.params, { 'from-file-1': { seconds: 0, label: 'file one' }, 'from-file-2': { seconds: 0, label: 'file "two" ünïcode' }, 'from-file-3': { seconds: 0 } });
      assert.deepEqual(out.tags, { sample: 'two' });
      assert.equal(out.third, 'third');
      assert.equal(out.bad, 'FAILED');
      assert.match(out.badReason, /not a complete JSON array|not JSON/);
      await expectServiceError(
        omics.send(new StartRunBatchCommand({ requestId: 'missing', defaultRunSetting: { workflowId, roleArn: ROLE }, batchRunSettings: { s3UriSettings: 's3://batch-settings/missing.json' } })),
        'ValidationException',
        /cannot be read/,
      );
      await expectServiceError(
        omics.send(new StartRunBatchCommand({ requestId: 'dup', defaultRunSetting: { workflowId, roleArn: ROLE }, batchRunSettings: { inlineSettings: [{ runSettingId: 'a' }, { runSettingId: 'a' }] } })),
        'ValidationException',
        /given twice/,
      );
      await expectServiceError(
        omics.send(new StartRunBatchCommand({ requestId: 'nowf', defaultRunSetting: { workflowId: '1234567', roleArn: ROLE }, batchRunSettings: { inlineSettings: [{ runSettingId: 'a' }] } })),
        'ResourceNotFoundException',
      );
    });
  });
}
