// The web console (console/, served at /console/) in headless Debian Chromium driven by playwright-core, against a
// spawned server: sign in (a wrong secret first), stores (create one through the form), a store's read sets
// (filters), a read set (files, a presigned URL that works), and igv.js drawing the reads of a BAM in the region
// asked for, checked from the canvas pixels. Screenshots of each page go to OPENOMICS_CONSOLE_SCREENSHOTS when set
// (docs/console/ is made that way). Also the static files' edge: redirects, methods, no path tricks, headers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSequenceStoreCommand,
  CreateReferenceStoreCommand,
  StartReadSetImportJobCommand,
  ListSequenceStoresCommand,
  GetReadSetMetadataCommand,
  GetSequenceStoreCommand,
} from '@aws-sdk/client-omics';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { omicsClient, importReference, importReadSets } from './helpers/omics.js';
import { tinyCorpus } from './helpers/corpus.js';
import { launchChromium, skipChromium } from './helpers/chromium.js';
import { accessibilityViolations, recordPage } from './helpers/axe.js';

const ROLE = 'arn:aws:iam::123456789012:role/OmicsImport';

/** A GET of a raw path (not normalised by a URL parser): status, headers, body. */
function rawGet(base: string, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Non-white pixels igv.js has drawn in its alignment track (polled until more than 5,000, at most 20 s): the
 * canvases of a track viewport at least 100 px tall — not the ruler (40 px) or the reference sequence (25 px).
 */
async function pixelsDrawn(tab: import('playwright-core').Page): Promise<number> {
  let drawn = 0;
  for (let i = 0; i < 80 && drawn < 5000; i++) {
    await new Promise((r) => setTimeout(r, 250));
    drawn = await tab.evaluate(() => {
      // igv.js 3 draws inside a shadow root of its own: walk into every open one under the viewer.
      const canvases: HTMLCanvasElement[] = [];
      const walk = (node: Element | ShadowRoot) => {
        if (node instanceof Element && node.shadowRoot) walk(node.shadowRoot);
        for (const el of Array.from(node.querySelectorAll('*'))) {
          if (el instanceof HTMLCanvasElement) canvases.push(el);
          if (el.shadowRoot) walk(el.shadowRoot);
        }
      };
      const root = document.querySelector('.igv');
      if (root) walk(root);
      let n = 0;
      for (const c of canvases) {
        if (!c.width || c.height < 100 || !c.parentElement?.classList.contains('igv-viewport')) continue;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        for (let p = 0; p < d.length; p += 4) if (d[p + 3]! > 0 && (d[p]! < 240 || d[p + 1]! < 240 || d[p + 2]! < 240)) n++;
      }
      return n;
    });
  }
  return drawn;
}

describe('the web console in headless Chromium', { skip: skipChromium() }, () => {
  let s: SpawnedServer;
  let root: string;
  let shots: string;
  let storeId: string;
  let readSetId: string;
  let otherReadSetId: string;
  let cramReadSetId: string;

  before(async () => {
    const corpus = tinyCorpus();
    root = mkdtempSync(join(tmpdir(), 'openomics-console-'));
    shots = process.env['OPENOMICS_CONSOLE_SCREENSHOTS'] ?? join(root, 'shots');
    mkdirSync(shots, { recursive: true });
    for (const f of ['ref.fa', 'sample.bam', 'sample.cram', 'reads_R1.fastq.gz']) copyFileSync(join(corpus, f), join(root, f));
    s = await spawnServer({ env: { OPENOMICS_IMPORT_ROOTS: root } });
    const omics = omicsClient(s);
    storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'lab', description: 'sequencing runs' }))).id!;
    const refStoreId = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    const referenceArn = await importReference(omics, refStoreId, `file://${root}/ref.fa`);
    [readSetId, otherReadSetId, cramReadSetId] = (await importReadSets(omics, storeId, [
      { sourceFileType: 'BAM', subjectId: 'patient-7', sampleId: 'tumour', name: 'run-42', referenceArn, sourceFiles: { source1: `file://${root}/sample.bam` } },
      { sourceFileType: 'FASTQ', subjectId: 'patient-7', sampleId: 'normal', name: 'run-43', sourceFiles: { source1: `file://${root}/reads_R1.fastq.gz` } },
      { sourceFileType: 'CRAM', subjectId: 'patient-9', sampleId: 'cram-sample', name: 'run-45', referenceArn, sourceFiles: { source1: `file://${root}/sample.cram` } },
    ])) as [string, string, string];
  });
  after(async () => {
    await s?.stop();
    if (!process.env['KEEP_CONSOLE_TEST']) rmSync(root, { recursive: true, force: true });
  });

  it('serves its files under /console/ only, with a content security policy, and nothing outside its folder', async () => {
    const redirect = await rawGet(s.url, '/console');
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers['location'], '/console/');
    const page = await rawGet(s.url, '/console/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.match(page.body, /<script type="module" src="\.\/app\.js">/);
    assert.equal((await rawGet(s.url, '/console/app.js')).status, 200);
    for (const trick of ['/console/../package.json', '/console/%2e%2e/package.json', '/console/..%2f..%2fpackage.json', '/console/%00', '/console/app.js.LEGAL.txt/../../../src/app.ts']) {
      assert.equal((await rawGet(s.url, trick)).status === 200, false, trick);
    }
    assert.equal((await rawGet(s.url, '/console/app.js', 'POST')).status, 405);
    assert.equal((await rawGet(s.url, '/console/nope.js')).status, 404);
  });

  it('signs in, lists and creates stores, edits the S3 access policy, follows a job, filters read sets, presigns a file and draws reads in igv.js', async (t) => {
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      const started = Date.now();
      await tab.goto(`${s.url}/console/`);
      await tab.getByLabel('Access key ID').waitFor();
      const interactive = Date.now() - started;
      await recordPage(tab, shots, 'sign-in');
      // The accessibility check finds what it should: an input without a label, then gone again.
      await tab.evaluate(() => document.querySelector('form')!.insertAdjacentHTML('beforeend', '<input id="unlabelled">'));
      assert.match((await accessibilityViolations(tab)).join('\n'), /^label .*#unlabelled/m);
      await tab.evaluate(() => document.getElementById('unlabelled')!.remove());

      // A wrong secret: a clear message, still on the sign-in page.
      await tab.getByLabel('Access key ID').fill(s.accessKeyId);
      await tab.getByLabel('Secret access key').fill('not-the-secret');
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByRole('alert').filter({ hasText: 'is not right' }).waitFor();

      await tab.getByLabel('Secret access key').fill(s.secretAccessKey);
      await tab.getByLabel('Secret access key').press('Enter'); // the keyboard signs in
      await tab.getByRole('heading', { name: 'Sequence stores' }).waitFor();
      await tab.getByRole('link', { name: 'lab' }).waitFor();
      assert.equal(await tab.evaluate(() => JSON.stringify(sessionStorage).includes('not-the-secret')), false);

      // A store made through the form exists for the API too.
      await tab.getByLabel('Name').fill('made-in-the-browser');
      await tab.getByRole('button', { name: 'Create store' }).click();
      await tab.getByRole('link', { name: 'made-in-the-browser' }).waitFor();
      const names = (await omicsClient(s).send(new ListSequenceStoresCommand({}))).sequenceStores!.map((x) => x.name);
      assert.ok(names.includes('made-in-the-browser'), names.join(','));
      await recordPage(tab, shots, 'stores');

      // The store's read sets, reached with the keyboard alone (Tab to the store's link, Enter), then filtered.
      await tab.locator('body').focus();
      for (let i = 0; ; i++) {
        assert.ok(i < 40, 'the store link is reachable with Tab');
        await tab.keyboard.press('Tab');
        if (await tab.evaluate(() => document.activeElement?.textContent === 'lab' && document.activeElement.tagName === 'A')) break;
      }
      await tab.keyboard.press('Enter');
      await tab.getByRole('link', { name: 'run-42' }).waitFor();
      await recordPage(tab, shots, 'read-sets');
      // A narrow window (a phone, a half screen): nothing wider than the window.
      await tab.setViewportSize({ width: 390, height: 844 });
      const wide = await tab.evaluate(() =>
        Array.from(document.querySelectorAll('body *'))
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('details:not([open])'))
          .map((e) => `${e.tagName.toLowerCase()}${e.className ? `.${String(e.className)}` : ''} (${Math.round(e.getBoundingClientRect().right)} px)`),
      );
      assert.deepEqual(wide, [], 'nothing wider than a 390 px window');
      await recordPage(tab, shots, 'read-sets-narrow', true);
      await tab.setViewportSize({ width: 1280, height: 900 });

      // The store's S3 access policy: an unsupported element is named; a template grants a partner account one
      // sample's read sets, and S3 then serves the partner that sample's file and not the other's.
      await tab.getByText('S3 access policy and sharing').click();
      const editor = tab.getByLabel('Policy document (JSON)');
      await tab.waitForFunction(() => (document.querySelector('textarea') as HTMLTextAreaElement | null)?.value.includes('arn:aws:iam::123456789012:root'));
      const original = await editor.inputValue();
      const broken = JSON.parse(original) as { Statement: Record<string, unknown>[] };
      broken.Statement[0] = { ...broken.Statement[0], NotAction: 's3:PutObject' };
      delete broken.Statement[0]!['Action'];
      await editor.fill(JSON.stringify(broken, null, 2));
      await tab.getByRole('button', { name: 'Save policy' }).click();
      await tab.getByRole('alert').filter({ hasText: 'NotAction' }).waitFor();
      await editor.fill(original);
      await tab.getByLabel('Grant read access to (account ID or principal ARN)').fill('210987654321');
      await tab.getByLabel('Grant for').selectOption('sample');
      await tab.getByLabel('Read set IDs or sample ID').fill('tumour');
      await tab.getByRole('button', { name: 'Add to the policy' }).click();
      await tab.getByRole('button', { name: 'Save policy' }).click();
      await tab.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      await recordPage(tab, shots, 'access-policy', true);
      const partner = JSON.parse(execFileSync(process.execPath, [CLI, 'admin', 'account', 'create', '210987654321', '--name', 'partner'], { env: s.env, encoding: 'utf8' })) as {
        accessKeyId: string;
        secretAccessKey: string;
      };
      const theirs = new S3Client({ endpoint: s.url, region: 'us-east-1', forcePathStyle: true, credentials: partner, maxAttempts: 1 });
      const objectOf = async (id: string) => {
        const m = await omicsClient(s).send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id }));
        const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(m.files!.source1!.s3Access!.s3Uri!)!;
        return { Bucket: bucket!, Key: key! };
      };
      const mine = await theirs.send(new GetObjectCommand(await objectOf(readSetId)));
      assert.ok(Buffer.from(await mine.Body!.transformToByteArray()).equals(readFileSync(join(root, 'sample.bam'))), "the partner reads the granted sample's file");
      await assert.rejects(theirs.send(new GetObjectCommand(await objectOf(otherReadSetId))), (e: Error) => e.name === 'AccessDenied', "and not another sample's");
      // The partner signs in to the console (in a browser context of their own) and sees that read set only.
      const storeUri = (await omicsClient(s).send(new GetSequenceStoreCommand({ id: storeId }))).s3Access!.s3Uri!;
      const partnerContext = await browser.newContext();
      try {
        const theirTab = await partnerContext.newPage();
        await theirTab.goto(`${s.url}/console/#/shared`);
        await theirTab.getByLabel('Access key ID').fill(partner.accessKeyId);
        await theirTab.getByLabel('Secret access key').fill(partner.secretAccessKey);
        await theirTab.getByRole('button', { name: 'Sign in' }).click();
        await theirTab.getByLabel('Store S3 URI').fill(storeUri);
        await theirTab.getByRole('button', { name: 'Open' }).click();
        await theirTab.getByRole('heading', { name: `Read set ${readSetId} · sample tumour · subject patient-7` }).waitFor();
        await theirTab.getByText('1 read set shared with you; the store holds 2 more that you may not read.').waitFor();
        assert.equal(await theirTab.getByText(otherReadSetId).count(), 0, "the other sample's read set is not shown");
        await theirTab.getByRole('region', { name: `Read set ${readSetId}` }).getByRole('button', { name: /Presigned URL/ }).first().click();
        const shared = await theirTab.locator('td code', { hasText: 'X-Amz-Signature' }).first().textContent();
        assert.equal((await fetch(shared!)).status, 200, "the partner's presigned URL serves the file");
        await recordPage(theirTab, shots, 'shared', true);
      } finally {
        await partnerContext.close();
      }
      // An import job followed to COMPLETED on the jobs page (it refreshes itself while a job runs).
      const job = await omicsClient(s).send(
        new StartReadSetImportJobCommand({
          sequenceStoreId: storeId,
          roleArn: ROLE,
          sources: [{ sourceFileType: 'FASTQ', subjectId: 'patient-8', sampleId: 'later', name: 'run-44', sourceFiles: { source1: `file://${root}/reads_R1.fastq.gz` } }],
        }),
      );
      await tab.getByRole('link', { name: 'Import, export and activation jobs' }).click();
      const jobRow = tab.getByRole('row').filter({ hasText: job.id! }).filter({ hasText: 'COMPLETED' });
      await jobRow.waitFor();
      await jobRow.getByRole('button', { name: 'Details' }).click();
      await tab.getByLabel(`Details of job ${job.id}`).getByRole('link', { name: /run-44/ }).waitFor();
      assert.match((await tab.getByLabel(`Details of job ${job.id}`).textContent()) ?? '', /reads_R1\.fastq\.gz: FINISHED/);
      await recordPage(tab, shots, 'jobs');
      await tab.goBack();

      await tab.getByLabel('Sample', { exact: true }).fill('nobody');
      await tab.getByRole('button', { name: 'Filter' }).click();
      await tab.getByText('No read sets match.').waitFor();
      await tab.getByLabel('Sample', { exact: true }).fill('tumour');
      await tab.getByRole('button', { name: 'Filter' }).click();
      await tab.getByRole('link', { name: 'run-42' }).waitFor();
      assert.equal(await tab.getByRole('link', { name: 'run-43' }).count(), 0, "the other sample's read set is filtered out");
      await tab.getByRole('link', { name: 'run-42' }).click();

      // The read set: its files, and a presigned URL that serves the BAM.
      await tab.getByRole('heading', { name: 'Read set run-42' }).waitFor();
      await tab.getByRole('row', { name: /source1/ }).getByRole('button', { name: /Presigned URL/ }).click();
      const url = await tab.locator('td code', { hasText: 'X-Amz-Signature' }).first().textContent();
      const got = Buffer.from(await (await fetch(url!)).arrayBuffer());
      assert.ok(got.equals(readFileSync(join(root, 'sample.bam'))), 'the presigned URL serves the file');
      await recordPage(tab, shots, 'read-set');

      // igv.js: the reads of the region asked for are drawn.
      await tab.getByRole('link', { name: 'View reads' }).click();
      await tab.getByRole('button', { name: 'Go' }).and(tab.locator(':enabled')).waitFor().catch(async (e: unknown) => {
        throw new Error(`igv.js did not start: ${await tab.locator('main').textContent()}; page errors: ${errors.join(' | ')}; ${String(e)}`);
      }); // igv.js is up
      await tab.getByLabel('Region or sequence name').fill('chr1:2000-2600');
      await tab.getByRole('button', { name: 'Go' }).click();
      // igv.js's own locus box (in its shadow root; Playwright's locators pierce it) shows the region asked for.
      for (let i = 0; i < 40; i++) {
        const shown = await tab.locator('.igv input').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
        if (shown.includes('chr1:2,000-2,600')) break;
        assert.ok(i < 39, `igv.js shows ${shown.join(', ')}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      let drawn = await pixelsDrawn(tab);
      await recordPage(tab, shots, 'viewer');
      assert.ok(drawn > 5000, `reads drawn: ${drawn} pixels; page errors: ${errors.join(' | ')}`);
      // A CRAM decodes only with its reference's sequence: igv.js reads the FASTA by range from the reference store.
      const requests: string[] = [];
      tab.on('request', (r) => requests.push(`${r.url()} ${r.headers()['range'] ?? ''}`));
      await tab.goto(`${s.url}/console/#/stores/${storeId}/readsets/${cramReadSetId}/view?locus=chr1:2000-2600`);
      drawn = await pixelsDrawn(tab);
      assert.ok(drawn > 5000, `CRAM reads drawn: ${drawn} pixels; page errors: ${errors.join(' | ')}`);
      const referenceReads = requests.filter((r) => /\/referencestore\/\d+\/reference\/\d+\?.*file=SOURCE/.test(r));
      assert.ok(referenceReads.length > 0, 'the FASTA was read');
      assert.ok(
        referenceReads.every((r) => /partNumber=1/.test(r)),
        referenceReads.join('\n'),
      );
      await recordPage(tab, shots, 'viewer-cram');

      // Reference stores: the store and its reference; a FASTA imported through the form, and a failed import's reason.
      await tab.getByRole('link', { name: 'References' }).click();
      await tab.getByRole('link', { name: 'refs' }).click();
      await tab.getByRole('row', { name: /tiny/ }).filter({ hasText: 'ACTIVE' }).waitFor();
      const importForm = tab.getByRole('form', { name: 'Import a reference' });
      await importForm.getByLabel(/^Source FASTA/).fill(`file://${root}/ref.fa`);
      await importForm.getByLabel('Reference name').fill('from-the-form');
      await importForm.getByLabel('Service role ARN').fill(ROLE);
      await importForm.getByRole('button', { name: 'Start import' }).click();
      await tab.getByRole('row', { name: /from-the-form/ }).filter({ hasText: 'ACTIVE' }).waitFor({ timeout: 30_000 });
      await importForm.getByLabel(/^Source FASTA/).fill(`file://${root}/missing.fa`);
      await importForm.getByLabel('Reference name').fill('missing');
      await importForm.getByLabel('Service role ARN').fill(ROLE);
      await importForm.getByRole('button', { name: 'Start import' }).click();
      const failedJob = tab.getByRole('row').filter({ hasText: 'FAILED' }).first();
      await failedJob.waitFor({ timeout: 30_000 });
      await failedJob.getByRole('button', { name: 'Details' }).click();
      await tab.locator('.job-detail').filter({ hasText: 'missing.fa' }).filter({ hasText: 'FAILED' }).waitFor();
      await recordPage(tab, shots, 'references', true);

      await tab.getByRole('button', { name: 'Sign out' }).click();
      await tab.getByLabel('Access key ID').waitFor();
      assert.equal(await tab.evaluate(() => sessionStorage.length), 0, 'nothing kept after signing out');
      assert.deepEqual(errors, [], 'no page errors');
      t.diagnostic(`sign-in page interactive after ${interactive} ms`);
      assert.ok(interactive < 5000, `the sign-in page took ${interactive} ms`);
    } finally {
      await browser.close();
    }
  });
});

describe('guard: the console test runs in CI', () => {
  it('has chromium in CI (.ci/run installs it)', () => {
    if (process.env['CI']) assert.equal(skipChromium(), false, `the console test would be skipped in CI: ${String(skipChromium())}`);
  });
});
