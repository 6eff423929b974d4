// Status-change events, EventBridge-shaped, delivered to HTTP webhooks: every transition of a run and its tasks
// in order, signed; a receiver that was down gets what it missed, in order; a webhook that never takes them
// dead-letters them; shares, workflows, storage jobs and read sets on the same path. SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateReferenceStoreCommand,
  CreateSequenceStoreCommand,
  CreateShareCommand,
  CreateWorkflowCommand,
  GetReadSetImportJobCommand,
  GetRunCommand,
  GetWorkflowCommand,
  StartReadSetImportJobCommand,
  StartRunCommand,
  type OmicsClient,
} from '@aws-sdk/client-omics';
import { importReference, jobFinished, omicsClient, until } from './helpers/omics.js';
import { BACKENDS, CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { freePort } from './helpers/moto.js';
import { tinyCorpus } from './helpers/corpus.js';
import { activeWorkflow, sleepWorkflow, workflowImage, type WorkflowImage } from './helpers/workflow-image.js';

const ROLE = 'arn:aws:iam::123456789012:role/OmicsWorkflow';
const SECRET = 'webhook-secret';

interface Received {
  envelope: { id: string; 'detail-type': string; source: string; account: string; region: string; time: string; resources: string[]; detail: Record<string, any> };
  signature: string | undefined;
  body: string;
}

/** A webhook receiver on a fixed port that can go down and come back. */
class Receiver {
  readonly got: Received[] = [];
  private server: Server | undefined;
  constructor(readonly port: number) {}
  async up(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        this.got.push({ envelope: JSON.parse(body), signature: req.headers['x-openomics-signature'] as string | undefined, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
  }
  async down(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
  of(type: string, pred: (e: Received['envelope']) => boolean = () => true): Received['envelope'][] {
    return this.got.map((g) => g.envelope).filter((e) => e['detail-type'] === type && pred(e));
  }
}

const RUN_SEQUENCE = ['PENDING', 'STARTING', 'RUNNING', 'STOPPING', 'COMPLETED'];

let img: WorkflowImage;
before(() => {
  img = workflowImage();
});

for (const backend of BACKENDS) {
  describe(`events on ${backend}`, () => {
    let s: SpawnedServer;
    let omics: OmicsClient;
    let receiver: Receiver;
    let root: string;
    let workflowId: string;
    before(async () => {
      receiver = new Receiver(await freePort());
      await receiver.up();
      root = mkdtempSync(join(tmpdir(), 'openomics-events-'));
      s = await spawnServer({
        backend,
        env: {
          OPENOMICS_CONTAINERS_CONF: img.containersConf,
          OPENOMICS_IMPORT_ROOTS: root,
          OPENOMICS_EXPORT_ROOTS: root,
          OPENOMICS_EVENT_WEBHOOKS: JSON.stringify([{ url: `http://127.0.0.1:${receiver.port}/events`, secret: SECRET }]),
        },
      });
      omics = omicsClient(s);
    });
    after(async () => {
      await s?.stop();
      await receiver?.down();
      rmSync(root, { recursive: true, force: true });
    });

    it('delivers a workflow check and every status change of a run and its task, in order, signed', async () => {
      workflowId = await activeWorkflow(omics, 'sleep', sleepWorkflow(img.image));
      const run = await omics.send(new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: `file://${root}/out`, name: 'evented', parameters: { seconds: 0 }, requestId: 'r1' }));
      await until('run events', async () => receiver.of('Run Status Change', (e) => e.detail['runId'] === run.id), (es) => es.some((e) => e.detail['status'] === 'COMPLETED'), 120_000, 250);
      const runEvents = receiver.of('Run Status Change', (e) => e.detail['runId'] === run.id);
      assert.deepEqual(runEvents.map((e) => e.detail['status']), RUN_SEQUENCE);
      const first = runEvents[0]!;
      assert.equal(first.source, 'aws.omics');
      assert.equal(first.account, '123456789012');
      assert.equal(first.region, 'us-east-1');
      assert.deepEqual(first.resources, [run.arn]);
      assert.deepEqual(
        { ...first.detail, status: undefined },
        { omicsVersion: '1.0.0', arn: run.arn, status: undefined, uuid: run.uuid, runId: run.id, runName: 'evented', runOutputUri: run.runOutputUri, workflowId, workflowName: 'sleep' },
      );
      assert.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const tasks = receiver.of('Task Status Change', (e) => e.detail['runId'] === run.id);
      assert.deepEqual(tasks.map((e) => e.detail['status']), ['RUNNING', 'COMPLETED']);
      assert.equal(tasks[0]!.detail['runName'], 'evented');
      // The workflow's check, and each delivery signed over its timestamp and body; ids unique.
      assert.deepEqual(receiver.of('Workflow Status Change', (e) => e.detail['workflowId'] === workflowId).map((e) => e.detail['status']), ['ACTIVE']);
      for (const g of receiver.got) {
        const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(g.signature ?? '');
        assert.ok(m, g.signature);
        assert.equal(m[2], createHmac('sha256', SECRET).update(`${m[1]}.${g.body}`).digest('hex'));
      }
      assert.equal(new Set(receiver.got.map((g) => g.envelope.id)).size, receiver.got.length);
    });

    it('a receiver that was down gets everything it missed, in order', async () => {
      await receiver.down();
      const run = await omics.send(new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: `file://${root}/out`, name: 'while-down', parameters: { seconds: 0 }, requestId: 'r2' }));
      await until('run ended', () => omics.send(new GetRunCommand({ id: run.id })), (r) => r.status === 'COMPLETED', 120_000, 250);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(receiver.of('Run Status Change', (e) => e.detail['runId'] === run.id).length, 0);
      await receiver.up();
      const events = await until('missed events', async () => receiver.of('Run Status Change', (e) => e.detail['runId'] === run.id), (es) => es.length >= RUN_SEQUENCE.length, 90_000, 250);
      assert.deepEqual(events.map((e) => e.detail['status']), RUN_SEQUENCE);
    });

    it('shares, storage jobs and read sets on the same path', async () => {
      execFileSync(process.execPath, [CLI, 'admin', 'account', 'create', '210987654321', '--name', 'partner'], { env: s.env });
      const share = await omics.send(new CreateShareCommand({ resourceArn: `arn:aws:omics:us-east-1:123456789012:workflow/${workflowId}`, principalSubscriber: '210987654321', shareName: 'evt' }));
      const corpus = tinyCorpus();
      copyFileSync(join(corpus, 'ref.fa'), join(root, 'ref.fa'));
      copyFileSync(join(corpus, 'sample.bam'), join(root, 'sample.bam'));
      const refStore = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
      const referenceArn = await importReference(omics, refStore, `file://${root}/ref.fa`);
      const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'evt' }))).id!;
      const job = await omics.send(
        new StartReadSetImportJobCommand({
          sequenceStoreId: storeId,
          roleArn: ROLE,
          sources: [{ sourceFileType: 'BAM', subjectId: 's', sampleId: 's', referenceArn, sourceFiles: { source1: `file://${root}/sample.bam` } }],
        }),
      );
      const done = await until('import', () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id })), jobFinished, 120_000);
      const readSetId = done.sources![0]!.readSetId!;
      await until('storage events', async () => receiver.of('Read Set Import Job Status Change', (e) => e.detail['id'] === job.id), (es) => es.some((e) => e.detail['status'] === 'COMPLETED'), 30_000, 250);
      assert.deepEqual(receiver.of('Read Set Import Job Status Change', (e) => e.detail['id'] === job.id).map((e) => e.detail['status']), ['SUBMITTED', 'IN_PROGRESS', 'COMPLETED']);
      assert.deepEqual(receiver.of('Read Set Import Job Status Change', (e) => e.detail['id'] === job.id)[0]!.detail['sequenceStoreId'], storeId);
      await until('read set event', async () => receiver.of('Read Set Status Change', (e) => e.detail['id'] === readSetId), (es) => es.some((e) => e.detail['status'] === 'ACTIVE'), 30_000, 250);
      assert.ok(receiver.of('Reference Import Job Status Change').some((e) => e.detail['status'] === 'COMPLETED'));
      const shares = receiver.of('Workflow Share Status Change', (e) => e.detail['shareId'] === share.shareId);
      assert.deepEqual(shares.map((e) => [e.account, e.detail['status']]).sort(), [['123456789012', 'PENDING'], ['210987654321', 'PENDING']]);
    });
  });
}

describe('events a webhook never takes', () => {
  let s: SpawnedServer;
  after(async () => s?.stop());
  it('are dead-lettered after the configured attempts, and delivery goes on', async () => {
    const dead = await freePort(); // nothing listens there
    s = await spawnServer({ env: { OPENOMICS_EVENT_WEBHOOKS: JSON.stringify([{ url: `http://127.0.0.1:${dead}/x` }]), OPENOMICS_EVENT_MAX_ATTEMPTS: '2' } });
    const omics = omicsClient(s);
    execFileSync(process.execPath, [CLI, 'admin', 'account', 'create', '210987654321', '--name', 'partner'], { env: s.env });
    const store = await omics.send(new CreateSequenceStoreCommand({ name: 'x' }));
    assert.ok(store.id);
    // Two events (a share offered: one to each account) dead-letter one after the other.
    const wf = await omics.send(new CreateWorkflowCommand({ name: 'w', definitionZip: sleepWorkflow('localhost/none:1'), requestId: 'w' }));
    await until('workflow', () => omics.send(new GetWorkflowCommand({ id: wf.id })), (w) => w.status !== 'CREATING', 120_000, 250);
    await omics.send(new CreateShareCommand({ resourceArn: `arn:aws:omics:us-east-1:123456789012:workflow/${wf.id}`, principalSubscriber: '210987654321' }));
    const lines = await until('dead letters', async () => s.logs.filter((l) => l.includes('event dead-lettered')), (ls) => ls.length >= 3, 30_000, 250);
    const parsed = lines.map((l) => JSON.parse(l) as { detailType: string; error: string; attempts: number });
    assert.deepEqual(parsed.map((p) => p.detailType), ['Workflow Status Change', 'Workflow Share Status Change', 'Workflow Share Status Change']);
    assert.ok(parsed.every((p) => p.attempts === 2 && /fetch failed|ECONNREFUSED/.test(p.error)), JSON.stringify(parsed));
    assert.ok(!lines.some((l) => l.includes(String(dead)) && l.includes('url')), 'the webhook URL is not logged');
  });
});
