// Running many samples as HealthOmics users do: run groups (limits, priority, maxDuration), configurations (VPC-mode
// task networks), workflows shared between accounts, driven by @aws-sdk/client-omics and the AWS CLI against a server running real cwltool runs with
// tasks in Podman containers, on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CancelRunCommand,
  CreateConfigurationCommand,
  CreateRunGroupCommand,
  CreateWorkflowCommand,
  DeleteConfigurationCommand,
  DeleteRunGroupCommand,
  GetConfigurationCommand,
  GetRunCommand,
  GetRunGroupCommand,
  GetWorkflowCommand,
  ListConfigurationsCommand,
  ListRunGroupsCommand,
  ListRunTasksCommand,
  ListRunsCommand,
  StartRunCommand,
  UpdateRunGroupCommand,
  AcceptShareCommand,
  CreateShareCommand,
  DeleteShareCommand,
  DeleteWorkflowCommand,
  GetShareCommand,
  ListSharesCommand,
  TagResourceCommand,
  type GetRunCommandOutput,
  type OmicsClient,
} from '@aws-sdk/client-omics';
import { expectServiceError, omicsClient, until } from './helpers/omics.js';
import { BACKENDS, CLI, spawnServer, type Backend, type SpawnedServer } from './helpers/server.js';
import { activeWorkflow, sleepWorkflow, workflowImage, type WorkflowImage } from './helpers/workflow-image.js';

const ROLE = 'arn:aws:iam::123456789012:role/OmicsWorkflow';
const PARTNER = '210987654321';
const RUN_ENDED = (r: { status?: string }) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(r.status!);

async function waitRun(omics: OmicsClient, id: string, ms = 180_000): Promise<GetRunCommandOutput> {
  return until('run ended', () => omics.send(new GetRunCommand({ id })), RUN_ENDED, ms, 300);
}

let img: WorkflowImage;
before(() => {
  img = workflowImage();
});

for (const backend of BACKENDS) {
  describe(`run groups, configurations and shared workflows on ${backend}`, () => {
    let s: SpawnedServer;
    let omics: OmicsClient;
    let exportRoot: string;
    let clock: string;
    let workflowId: string;
    const start = (extra: Record<string, unknown>) =>
      omics.send(new StartRunCommand({ workflowId, roleArn: ROLE, outputUri: `file://${exportRoot}/out`, requestId: `r-${Math.random()}`, ...extra }));
    before(async () => {
      exportRoot = mkdtempSync(join(tmpdir(), 'openomics-wf2-'));
      mkdirSync(join(exportRoot, 'partner-in'));
      mkdirSync(join(exportRoot, 'partner-out'));
      clock = join(exportRoot, 'clock');
      writeFileSync(clock, '0');
      s = await spawnServer({
        backend,
        env: { OPENOMICS_CONTAINERS_CONF: img.containersConf, OPENOMICS_EXPORT_ROOTS: exportRoot, OPENOMICS_CLOCK_OFFSET_FILE: clock, OPENOMICS_CONCURRENT_RUNS: '3',
          // Leases outlast the maxDuration test's two-minute clock jump (else every lease would seem run out).
          OPENOMICS_JOB_LEASE_SECONDS: '300',
          OPENOMICS_ACCOUNT_ROOTS: `${PARTNER}=${exportRoot}/partner-in,${exportRoot}/partner-out` },
      });
      omics = omicsClient(s);
      workflowId = await activeWorkflow(omics, 'sleep', sleepWorkflow(img.image));
    });
    after(async () => {
      await s?.stop();
      rmSync(exportRoot, { recursive: true, force: true });
    });

    it('creates, reads, updates, lists and deletes run groups (the AWS CLI as in the guide)', async () => {
      const cli = JSON.parse(
        execFileSync('aws', ['omics', 'create-run-group', '--name', 'TestRunGroup', '--max-cpus', '20', '--max-gpus', '10', '--max-duration', '600', '--max-runs', '5', '--tags', 'team=lab', '--endpoint-url', s.url, '--output', 'json'], {
          env: {
            PATH: process.env['PATH'],
            HOME: process.env['HOME'],
            AWS_ACCESS_KEY_ID: s.accessKeyId,
            AWS_SECRET_ACCESS_KEY: s.secretAccessKey,
            AWS_DEFAULT_REGION: 'us-east-1',
            AWS_DISABLE_HOST_PREFIX_INJECTION: 'true',
            AWS_CONFIG_FILE: '/dev/null',
          },
          encoding: 'utf8',
        }),
      ) as { arn: string; id: string; tags: Record<string, string> };
      assert.equal(cli.arn, `arn:aws:omics:us-east-1:123456789012:runGroup/${cli.id}`);
      assert.deepEqual(cli.tags, { team: 'lab' });
      const got = await omics.send(new GetRunGroupCommand({ id: cli.id }));
      assert.deepEqual([got.name, got.maxCpus, got.maxGpus, got.maxDuration, got.maxRuns], ['TestRunGroup', 20, 10, 600, 5]);
      assert.ok(got.creationTime instanceof Date);
      await omics.send(new UpdateRunGroupCommand({ id: cli.id, maxRuns: 7, name: 'renamed' }));
      const updated = await omics.send(new GetRunGroupCommand({ id: cli.id }));
      assert.deepEqual([updated.name, updated.maxRuns, updated.maxCpus], ['renamed', 7, 20]);
      const listed = await omics.send(new ListRunGroupsCommand({ name: 'renamed' }));
      assert.deepEqual(listed.items!.map((g) => g.id), [cli.id]);
      await expectServiceError(omics.send(new CreateRunGroupCommand({ maxRuns: 0, requestId: 'zero' })), 'ValidationException');
      await expectServiceError(start({ runGroupId: '1234567' }), 'ValidationException', /Run group 1234567 does not exist/);
      await omics.send(new DeleteRunGroupCommand({ id: cli.id }));
      await expectServiceError(omics.send(new GetRunGroupCommand({ id: cli.id })), 'ResourceNotFoundException');
    });

    it('maxRuns 1: a second run waits PENDING until the first ends; queued runs start by priority, then creation', async () => {
      const group = await omics.send(new CreateRunGroupCommand({ name: 'one-at-a-time', maxRuns: 1, requestId: 'g1' }));
      const first = await start({ runGroupId: group.id, parameters: { seconds: 4, label: 'first' }, name: 'first' });
      await until('first started', () => omics.send(new GetRunCommand({ id: first.id })), (r) => r.status === 'RUNNING', 60_000, 200);
      const low = await start({ runGroupId: group.id, priority: 1, parameters: { seconds: 1 }, name: 'low' });
      const highA = await start({ runGroupId: group.id, priority: 5, parameters: { seconds: 1 }, name: 'high-a' });
      const highB = await start({ runGroupId: group.id, priority: 5, parameters: { seconds: 1 }, name: 'high-b' });
      // An ungrouped run is ranked apart: it does not wait for the group.
      const outside = await start({ parameters: { seconds: 1 }, name: 'outside' });
      await new Promise((r) => setTimeout(r, 2500));
      const waiting = await omics.send(new GetRunCommand({ id: low.id }));
      assert.equal(waiting.status, 'PENDING');
      assert.match(waiting.statusMessage ?? '', /Waiting/);
      assert.equal(waiting.runGroupId, group.id);
      await expectServiceError(omics.send(new DeleteRunGroupCommand({ id: group.id })), 'ConflictException', /PENDING, STARTING, RUNNING or STOPPING/);
      const ended = await Promise.all([first, low, highA, highB].map((r) => waitRun(omics, r.id!)));
      for (const r of ended) assert.equal(r.status, 'COMPLETED', `${r.name}: ${r.statusMessage}`);
      const [f, l, a, b] = ended;
      // One at a time: each started after the one before it stopped, in priority order (equal priority: created first).
      const order = [...ended].sort((x, y) => x.startTime!.getTime() - y.startTime!.getTime()).map((r) => r.name);
      assert.deepEqual(order, ['first', 'high-a', 'high-b', 'low']);
      for (const [before, after] of [[f, a], [a, b], [b, l]] as const) assert.ok(after!.startTime!.getTime() >= before!.stopTime!.getTime(), `${after!.name} started before ${before!.name} stopped`);
      const o = await waitRun(omics, outside.id!);
      assert.ok(o.startTime!.getTime() < a!.startTime!.getTime(), 'the ungrouped run did not wait for the group');
      const inGroup = await omics.send(new ListRunsCommand({ runGroupId: group.id }));
      assert.deepEqual(inGroup.items!.map((r) => r.name).sort(), ['first', 'high-a', 'high-b', 'low']);
      await omics.send(new DeleteRunGroupCommand({ id: group.id }));
    });

    it('maxCpus 1: two runs run at once, their tasks one after the other', async () => {
      const group = await omics.send(new CreateRunGroupCommand({ name: 'one-cpu', maxCpus: 1, maxRuns: 2, requestId: 'g-cpu' }));
      const runs = await Promise.all(['a', 'b'].map((label) => start({ runGroupId: group.id, parameters: { seconds: 3, label }, name: `cpu-${label}` })));
      const ended = await Promise.all(runs.map((r) => waitRun(omics, r.id!)));
      for (const r of ended) assert.equal(r.status, 'COMPLETED', r.statusMessage);
      const tasks = await Promise.all(runs.map(async (r) => (await omics.send(new ListRunTasksCommand({ id: r.id }))).items![0]!));
      const [x, y] = tasks.sort((p, q) => p.startTime!.getTime() - q.startTime!.getTime());
      assert.ok(y!.startTime!.getTime() >= x!.stopTime!.getTime(), `tasks overlapped: ${x!.startTime!.toISOString()}-${x!.stopTime!.toISOString()} and ${y!.startTime!.toISOString()}`);
      // Both runs were admitted together (maxRuns 2): the second run's task waited, not the run.
      const [r1, r2] = ended.sort((p, q) => p.startTime!.getTime() - q.startTime!.getTime());
      assert.ok(r2!.startTime!.getTime() < r1!.stopTime!.getTime(), 'the runs did not run at the same time');
    });

    it('maxDuration: a run that takes longer fails with RUN_TIMED_OUT, its task stopped', async () => {
      const group = await omics.send(new CreateRunGroupCommand({ name: 'short', maxDuration: 1, requestId: 'g-short' }));
      const run = await start({ runGroupId: group.id, parameters: { seconds: 600 }, name: 'too-long' });
      await until('running task', async () => (await omics.send(new ListRunTasksCommand({ id: run.id }))).items ?? [], (t) => t.some((x) => x.status === 'RUNNING'), 60_000, 200);
      writeFileSync(clock, String(2 * 60_000)); // two minutes later
      const ended = await waitRun(omics, run.id!, 60_000);
      writeFileSync(clock, '0');
      assert.equal(ended.status, 'FAILED');
      assert.equal(ended.failureReason, 'RUN_TIMED_OUT', ended.statusMessage);
      assert.match(ended.statusMessage!, /maxDuration of 1 minutes/);
      assert.equal(execFileSync('podman', ['ps', '-q', '--filter', `label=openomics.run=${ended.uuid}`], { env: { ...process.env, CONTAINERS_CONF: img.containersConf }, encoding: 'utf8' }).trim(), '');
    });

    it('configurations: kept as given, validated; a VPC-mode run gets a task network, a RESTRICTED one none', async () => {
      const vpcConfig = { securityGroupIds: ['sg-0123abcd'], subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'] };
      const created = await omics.send(new CreateConfigurationCommand({ name: 'lab-net', description: 'outbound access', runConfigurations: { vpcConfig }, requestId: 'c1', tags: { k: 'v' } }));
      assert.equal(created.status, 'ACTIVE');
      assert.equal(created.arn, 'arn:aws:omics:us-east-1:123456789012:configuration/lab-net');
      const got = await omics.send(new GetConfigurationCommand({ name: 'lab-net' }));
      assert.deepEqual(got.runConfigurations?.vpcConfig, vpcConfig);
      assert.equal(got.uuid, created.uuid);
      assert.deepEqual(got.tags, { k: 'v' });
      assert.deepEqual((await omics.send(new ListConfigurationsCommand({}))).items!.map((c) => c.name), ['lab-net']);
      await expectServiceError(omics.send(new CreateConfigurationCommand({ name: 'lab-net', runConfigurations: { vpcConfig }, requestId: 'c2' })), 'ConflictException');
      await expectServiceError(omics.send(new CreateConfigurationCommand({ name: 'bad', runConfigurations: { vpcConfig: { securityGroupIds: ['not-a-group'] } }, requestId: 'c3' })), 'ValidationException');
      await expectServiceError(start({ networkingMode: 'VPC' }), 'ValidationException', /configurationName/);
      await expectServiceError(start({ networkingMode: 'VPC', configurationName: 'missing' }), 'ResourceNotFoundException');
      const vpc = await start({ networkingMode: 'VPC', configurationName: 'lab-net', parameters: { seconds: 0, label: 'vpc' } });
      assert.equal(vpc.networkingMode, 'VPC');
      assert.equal(vpc.configuration?.name, 'lab-net');
      const restricted = await start({ parameters: { seconds: 0, label: 'restricted' } });
      const [v, r] = await Promise.all([waitRun(omics, vpc.id!), waitRun(omics, restricted.id!)]);
      assert.equal(v.status, 'COMPLETED', v.statusMessage);
      assert.equal(r.status, 'COMPLETED', r.statusMessage);
      assert.equal(v.networkingMode, 'VPC');
      assert.equal(v.configuration?.arn, created.arn);
      assert.equal(r.networkingMode, 'RESTRICTED');
      const out = (run: GetRunCommandOutput) => execFileSync('cat', [join(exportRoot, 'out', run.id!, run.uuid!, 'out', 'out.txt')], { encoding: 'utf8' });
      assert.match(out(v), /eth0/);
      assert.doesNotMatch(out(r), /eth0/);
      await omics.send(new DeleteConfigurationCommand({ name: 'lab-net' }));
      await expectServiceError(omics.send(new GetConfigurationCommand({ name: 'lab-net' })), 'ResourceNotFoundException');
    });

    it('a policy can tie a workflow to a run group: StartRun is authorized on run, workflow and run group together', async () => {
      const group = await omics.send(new CreateRunGroupCommand({ name: 'allowed', requestId: 'g-allowed' }));
      const other = await omics.send(new CreateRunGroupCommand({ name: 'other', requestId: 'g-other' }));
      const admin = (...args: string[]) => execFileSync(process.execPath, [CLI, 'admin', ...args], { env: s.env, encoding: 'utf8' });
      admin('user', 'create', 'runner');
      const policy = {
        Statement: [
          { Effect: 'Allow', Action: ['omics:GetRun', 'omics:CancelRun', 'iam:PassRole'], Resource: '*' },
          { Effect: 'Allow', Action: 'omics:StartRun', Resource: [`arn:aws:omics:us-east-1:123456789012:run/*`, `arn:aws:omics:us-east-1:123456789012:workflow/${workflowId}`, group.arn] },
        ],
      };
      execFileSync(process.execPath, [CLI, 'admin', 'policy', 'put', 'runner', 'runs', '-'], { env: s.env, input: JSON.stringify(policy) });
      const key = JSON.parse(admin('access-key', 'create', '--user', 'runner')) as { accessKeyId: string; secretAccessKey: string };
      const runner = omicsClient({ url: s.url, ...key });
      const base = { workflowId, roleArn: ROLE, outputUri: `file://${exportRoot}/out`, parameters: { seconds: 0 } };
      // As in the guide's example policy: this workflow, in this run group — another group or workflow is refused.
      await expectServiceError(runner.send(new StartRunCommand({ ...base, runGroupId: other.id, requestId: 'other-group' })), 'AccessDeniedException', /runGroup/);
      await expectServiceError(runner.send(new StartRunCommand({ ...base, workflowId: '9999999', runGroupId: group.id, requestId: 'other-workflow' })), 'AccessDeniedException', /workflow\/9999999/);
      const ok = await runner.send(new StartRunCommand({ ...base, runGroupId: group.id, requestId: 'in-group' }));
      await runner.send(new CancelRunCommand({ id: ok.id }));
      assert.equal((await waitRun(omics, ok.id!)).status, 'CANCELLED');
    });

    it('shares a workflow with another account: accepted, run there on its own data; what a subscriber may not do is refused', async () => {
      const keys = JSON.parse(execFileSync(process.execPath, [CLI, 'admin', 'account', 'create', PARTNER, '--name', 'partner'], { env: s.env, encoding: 'utf8' })) as { accessKeyId: string; secretAccessKey: string };
      const partner = omicsClient({ url: s.url, ...keys });
      const arn = `arn:aws:omics:us-east-1:123456789012:workflow/${workflowId}`;
      const created = await omics.send(new CreateShareCommand({ resourceArn: arn, principalSubscriber: PARTNER, shareName: 'to-partner' }));
      assert.equal(created.status, 'PENDING');
      assert.match(created.shareId!, /^[0-9a-f]{32}-[0-9a-f]{32}$/);
      // Offered, not accepted: the workflow is not the partner's to see yet.
      await expectServiceError(partner.send(new GetWorkflowCommand({ id: workflowId, workflowOwnerId: '123456789012' })), 'ResourceNotFoundException');
      assert.equal((await partner.send(new AcceptShareCommand({ shareId: created.shareId }))).status, 'ACTIVE');
      const share = (await partner.send(new GetShareCommand({ shareId: created.shareId }))).share!;
      assert.deepEqual([share.status, share.ownerId, share.principalSubscriber, share.resourceArn, share.resourceId], ['ACTIVE', '123456789012', PARTNER, arn, workflowId]);
      assert.deepEqual((await partner.send(new ListSharesCommand({ resourceOwner: 'OTHER', filter: { type: ['WORKFLOW'] } }))).shares!.map((x) => x.shareId), [created.shareId]);
      const seen = await partner.send(new GetWorkflowCommand({ id: workflowId, workflowOwnerId: '123456789012' }));
      assert.equal(seen.arn, arn);
      assert.equal(seen.status, 'ACTIVE');
      // Run in the partner's account, on the partner's data, to the partner's output location.
      writeFileSync(join(exportRoot, 'partner-in', 'sample.txt'), 'partner data\n');
      const run = await partner.send(
        new StartRunCommand({
          workflowId,
          workflowOwnerId: '123456789012',
          roleArn: `arn:aws:iam::${PARTNER}:role/Runs`,
          outputUri: `file://${exportRoot}/partner-out/`,
          parameters: { seconds: 0, label: 'partner', data: `file://${exportRoot}/partner-in/sample.txt` },
          requestId: 'partner-run',
        }),
      );
      assert.match(run.arn!, new RegExp(`:${PARTNER}:run/`));
      const done = await waitRun(partner, run.id!);
      assert.equal(done.status, 'COMPLETED', done.statusMessage);
      assert.equal(done.workflowOwnerId, '123456789012');
      assert.match(readFileSync(join(exportRoot, 'partner-out', run.id!, run.uuid!, 'out', 'out.txt'), 'utf8'), /partner\n[\s\S]*partner data/);
      await expectServiceError(omics.send(new GetRunCommand({ id: run.id })), 'ResourceNotFoundException');
      // What a subscriber may not do: export, re-share, tag; the owner cannot delete a shared workflow.
      await expectServiceError(partner.send(new GetWorkflowCommand({ id: workflowId, workflowOwnerId: '123456789012', export: ['DEFINITION'] })), 'AccessDeniedException', /cannot be exported/);
      await expectServiceError(partner.send(new CreateShareCommand({ resourceArn: arn, principalSubscriber: '111122223333' })), 'AccessDeniedException', /cannot share it again/);
      await expectServiceError(partner.send(new TagResourceCommand({ resourceArn: arn, tags: { mine: 'yes' } })), 'AccessDeniedException', /cannot tag/);
      await expectServiceError(omics.send(new DeleteWorkflowCommand({ id: workflowId })), 'ConflictException', /shared/);
      // The subscriber gives the share up: the workflow is gone for it again.
      await partner.send(new DeleteShareCommand({ shareId: created.shareId }));
      await expectServiceError(partner.send(new GetWorkflowCommand({ id: workflowId, workflowOwnerId: '123456789012' })), 'ResourceNotFoundException');
      await expectServiceError(
        partner.send(new StartRunCommand({ workflowId, workflowOwnerId: '123456789012', roleArn: `arn:aws:iam::${PARTNER}:role/Runs`, outputUri: `file://${exportRoot}/partner-out/`, requestId: 'after' })),
        'ResourceNotFoundException',
      );
    });
  });
}
