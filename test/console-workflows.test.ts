// Workflows and runs in the web console (headless Debian Chromium, playwright-core) against a spawned server whose
// runs go to cwltool with tasks in Podman: a workflow registered from a zip chosen in the page is checked and ACTIVE
// (a broken one FAILED, with the reason shown), its parameter is listed, a run started from the form is followed to
// COMPLETED with its task, and the task's log read back in the page holds what the task printed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { GetRunCommand } from '@aws-sdk/client-omics';
import { spawnServer, type SpawnedServer } from './helpers/server.js';
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
});
