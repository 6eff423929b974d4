// Workflows and runs in the web console (headless Debian Chromium, playwright-core) against a spawned server whose
// runs go to cwltool with tasks in Podman: a workflow registered from a zip chosen in the page is checked and ACTIVE
// (a broken one FAILED, with the reason shown), its parameter is listed, a run started from the form is followed to
// COMPLETED with its task, and the task's log read back in the page holds what the task printed. Also the account's
// storage connections (moto buckets) listed and checked, read-only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { GetRunCommand } from '@aws-sdk/client-omics';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { execFileSync } from 'node:child_process';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { MOTO_CREDENTIALS, startMoto } from './helpers/moto.js';
import { omicsClient } from './helpers/omics.js';
import { launchChromium, signedInTab, skipChromium } from './helpers/chromium.js';
import { recordPage } from './helpers/axe.js';
import { workflowImage } from './helpers/workflow-image.js';

const ROLE = 'arn:aws:iam::123456789012:role/OmicsWorkflow';

describe('workflows and runs in the web console (headless Chromium)', { skip: skipChromium() }, () => {
  let s: SpawnedServer;
  let root: string;
  let exportRoot: string;
  let shots: string;

  before(async () => {
    const img = workflowImage();
    root = mkdtempSync(join(tmpdir(), 'openomics-console-wf-'));
    exportRoot = join(root, 'exports');
    mkdirSync(exportRoot);
    shots = process.env['OPENOMICS_CONSOLE_SCREENSHOTS'] ?? join(root, 'shots');
    mkdirSync(shots, { recursive: true });
    const tool = `cwlVersion: v1.2
class: CommandLineTool
label: Greets
requirements:
  DockerRequirement: {dockerPull: "${img.image}"}
  ResourceRequirement: {coresMin: 1, ramMin: 512}
baseCommand: [sh, -c]
arguments: ['echo "hello $0" >&2; echo "$0" | wc -c', $(inputs.greeting)]
inputs:
  greeting: {type: string, label: Who to greet}
stdout: out.txt
outputs:
  out: {type: stdout}
`;
    writeFileSync(join(root, 'greet.zip'), zipSync({ 'main.cwl': strToU8(tool) }));
    writeFileSync(join(root, 'broken.zip'), zipSync({ 'main.cwl': strToU8('cwlVersion: v1.2\nclass: CommandLineTool\ninputs: [\n') }));
    s = await spawnServer({ env: { OPENOMICS_CONTAINERS_CONF: img.containersConf, OPENOMICS_EXPORT_ROOTS: exportRoot } });
  });
  after(async () => {
    await s?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('registers a workflow from a zip, starts a run from its form and follows it to COMPLETED with its task log', async () => {
    const browser = await launchChromium();
    try {
      const { tab, errors } = await signedInTab(browser, s.url, s, '#/workflows');
      await tab.getByRole('heading', { name: 'Workflows' }).waitFor();

      const register = async (name: string, zip: string) => {
        const form = tab.getByRole('form', { name: 'Register a workflow' });
        await form.getByLabel('Workflow name').fill(name);
        await form.getByLabel(/^Definition/).setInputFiles(join(root, zip));
        await form.getByRole('button', { name: 'Register' }).click();
        await tab.getByRole('link', { name }).waitFor();
      };
      await register('broken', 'broken.zip');
      await register('greet', 'greet.zip');
      // The list refreshes itself while the definitions are checked by cwltool.
      await tab.getByRole('row', { name: /greet/ }).filter({ hasText: 'ACTIVE' }).waitFor({ timeout: 120_000 });
      await tab.getByRole('row', { name: /broken/ }).filter({ hasText: 'FAILED' }).waitFor({ timeout: 120_000 });
      await recordPage(tab, shots, 'workflows');
      await tab.getByRole('link', { name: 'broken' }).click();
      await tab.getByText(/^FAILED — .*main\.cwl/).waitFor();
      assert.equal(await tab.getByRole('form', { name: 'Start a run' }).count(), 0, 'no run form for a FAILED workflow');
      await tab.goBack();

      await tab.getByRole('link', { name: 'greet' }).click();
      await tab.getByRole('row', { name: /greeting/ }).filter({ hasText: 'Who to greet' }).waitFor();
      const form = tab.getByRole('form', { name: 'Start a run' });
      assert.deepEqual(JSON.parse(await form.getByLabel(/^Parameters/).inputValue()), { greeting: '' }, 'the required parameters, to fill in');
      await form.getByLabel('Run name').fill('console-run');
      await form.getByLabel(/^Parameters/).fill('{"greeting": "not JSON');
      await form.getByLabel(/^Output URI/).fill(`file://${exportRoot}/out`);
      await form.getByLabel('Service role ARN').fill(ROLE);
      await form.getByRole('button', { name: 'Start run' }).click();
      await form.getByRole('alert').filter({ hasText: 'not JSON' }).waitFor();
      await form.getByLabel(/^Parameters/).fill('{"greeting": "from the console"}');
      await form.getByRole('button', { name: 'Start run' }).click();

      // The run page refreshes itself until the run ends.
      await tab.getByRole('heading', { name: 'Run console-run' }).waitFor();
      await tab.locator('dl.facts strong').filter({ hasText: 'COMPLETED' }).waitFor({ timeout: 180_000 });
      const runId = /#\/runs\/(\d+)/.exec(tab.url())![1]!;
      const run = await omicsClient(s).send(new GetRunCommand({ id: runId }));
      assert.equal(run.status, 'COMPLETED');
      assert.deepEqual(run.parameters, { greeting: 'from the console' });
      const task = tab.getByRole('row', { name: /main|greet/i }).filter({ hasText: 'COMPLETED' }).first();
      await task.getByRole('button', { name: /^Show log of/ }).click();
      const log = tab.locator('pre.log').filter({ hasText: 'hello from the console' });
      await log.waitFor();
      await tab.getByRole('button', { name: 'Show run log' }).click();
      await tab.locator('pre.log').filter({ hasText: 'COMPLETED' }).first().waitFor();
      await recordPage(tab, shots, 'run', true);
      assert.ok(existsSync(join(exportRoot, 'out', runId)), 'outputs under the output URI');
      assert.equal(readFileSync(join(exportRoot, 'out', runId, run.uuid!, 'out', 'out.txt'), 'utf8').trim(), String('from the console\n'.length));

      await tab.getByRole('link', { name: '← All runs' }).click();
      await tab.getByRole('row', { name: /console-run/ }).filter({ hasText: 'COMPLETED' }).waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });

  it("lists the account's storage connections and checks them; the API adds none and refuses a user without a grant", async () => {
    const moto = await startMoto();
    try {
      const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
      await s3.send(new CreateBucketCommand({ Bucket: 'lab-results' }));
      const SECRET = 'never-shown-secret-7'; // moto takes any secret
      const add = (name: string, bucket: string) =>
        execFileSync(
          process.execPath,
          [CLI, 'admin', 'connection', 'add', name, '--bucket', bucket, '--region', 'us-east-1', '--endpoint', moto.endpoint, '--prefix', 'runs/', '--access-key-id', 'testing'],
          { env: { ...s.env, OPENOMICS_CONNECTION_SECRET_ACCESS_KEY: SECRET } },
        );
      add('lab', 'lab-results');
      add('typo', 'lab-resluts');
      const browser = await launchChromium();
      try {
        const { tab, errors } = await signedInTab(browser, s.url, s, '#/connections');
        const lab = tab.getByRole('row', { name: /^lab / });
        await lab.filter({ hasText: 's3://lab-results/runs/' }).waitFor();
        assert.equal((await tab.locator('body').textContent())?.includes(SECRET), false, 'the secret is not on the page');
        await lab.getByRole('button', { name: 'Check with a write' }).click();
        const labCheck = tab.getByLabel('Check of lab');
        await labCheck.getByText(/✓ write: can write and delete under s3:\/\/lab-results\/runs\//).waitFor();
        const typo = tab.getByRole('row', { name: /^typo / });
        await typo.getByRole('button', { name: 'Check', exact: true }).click();
        await tab.getByLabel('Check of typo').getByText(/✗ bucket: /).waitFor();
        await recordPage(tab, shots, 'connections', true);
        assert.deepEqual(errors, []);

        // A user with no identity policy is told so, and gets nothing.
        execFileSync(process.execPath, [CLI, 'admin', 'user', 'create', 'viewer'], { env: s.env });
        const viewer = JSON.parse(execFileSync(process.execPath, [CLI, 'admin', 'access-key', 'create', '--user', 'viewer'], { env: s.env, encoding: 'utf8' })) as {
          accessKeyId: string;
          secretAccessKey: string;
        };
        const other = await signedInTab(browser, s.url, viewer, '#/connections');
        await other.tab.getByRole('alert').filter({ hasText: 'not allowed' }).waitFor();
        assert.equal(await other.tab.getByRole('row', { name: /^lab / }).count(), 0);
      } finally {
        await browser.close();
      }
      // The API has no operation that adds or changes a connection (the operator does, with openomics admin).
      const put = await signedJson(s, 'OpenOmicsConnections.PutConnection', { name: 'mine', bucket: 'x', region: 'us-east-1', endpoint: 'http://169.254.169.254' });
      assert.equal(put.status, 400);
      assert.equal(put.body['__type'], 'UnknownOperationException');
      const listed = await signedJson(s, 'OpenOmicsConnections.ListConnections', {});
      assert.deepEqual((listed.body['connections'] as { name: string }[]).map((c) => c.name).sort(), ['lab', 'typo']);
      assert.ok(!JSON.stringify(listed.body).includes(SECRET), 'no secret in the answer');
    } finally {
      await moto.stop();
    }
  });
});

/** One signed call of the connections API, as any SigV4 client makes it (service `openomics`). */
async function signedJson(s: SpawnedServer, target: string, body: object): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(s.url);
  const payload = JSON.stringify(body);
  const signed = await new SignatureV4({ service: 'openomics', region: 'us-east-1', credentials: s, sha256: Sha256 }).sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    query: {},
    headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body: payload,
  });
  const res = await fetch(`${s.url}/`, { method: 'POST', headers: signed.headers, body: payload });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
