// Variant stores and SQL in the web console (headless Debian Chromium, playwright-core) against a spawned server: a
// variant store made from a reference picked in the page, a VCF imported through the form and followed to COMPLETED,
// a query typed in the SQL box whose rows equal what bcftools counts in the same VCF, and a bad query's message.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { CreateReferenceStoreCommand, ListVariantStoresCommand } from '@aws-sdk/client-omics';
import { spawnServer, type SpawnedServer } from './helpers/server.js';
import { omicsClient, importReference } from './helpers/omics.js';
import { tinyCorpus } from './helpers/corpus.js';
import { launchChromium, signedInTab, skipChromium } from './helpers/chromium.js';
import { recordPage } from './helpers/axe.js';

describe('variant stores and SQL in the web console (headless Chromium)', { skip: skipChromium() }, () => {
  let s: SpawnedServer;
  let root: string;
  let shots: string;

  before(async () => {
    const corpus = tinyCorpus();
    root = mkdtempSync(join(tmpdir(), 'openomics-console-analytics-'));
    shots = process.env['OPENOMICS_CONSOLE_SCREENSHOTS'] ?? join(root, 'shots');
    mkdirSync(shots, { recursive: true });
    for (const f of ['ref.fa', 'sample.vcf.gz']) copyFileSync(join(corpus, f), join(root, f));
    s = await spawnServer({ env: { OPENOMICS_IMPORT_ROOTS: root } });
    const omics = omicsClient(s);
    const refStoreId = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    await importReference(omics, refStoreId, `file://${root}/ref.fa`, 'tiny-genome');
  });
  after(async () => {
    await s?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('creates a variant store, imports a VCF, and answers SQL with the rows bcftools counts', async () => {
    const browser = await launchChromium();
    try {
      const { tab, errors } = await signedInTab(browser, s.url, s, '#/analytics');
      await tab.getByRole('heading', { name: 'Variant and annotation stores' }).waitFor();

      const create = tab.getByRole('form', { name: 'New variant store' });
      await create.getByLabel('Variant store name').fill('cohort');
      await create.getByLabel('Reference').selectOption({ label: 'tiny-genome (refs)' });
      await create.getByRole('button', { name: 'Create variant store' }).click();
      await tab.getByRole('row', { name: /cohort/ }).filter({ hasText: 'ACTIVE' }).waitFor();
      const stores = await omicsClient(s).send(new ListVariantStoresCommand({}));
      assert.deepEqual(stores.variantStores?.map((x) => x.name), ['cohort']);

      const imp = tab.getByRole('form', { name: 'Import VCFs' });
      await imp.getByLabel(/^VCF sources/).fill(`file://${root}/sample.vcf.gz`);
      await imp.getByLabel('Service role ARN').fill('arn:aws:iam::123456789012:role/OmicsImport');
      await imp.getByRole('button', { name: 'Start import' }).click();
      await tab.getByRole('table', { name: 'Variant import jobs' }).getByRole('row', { name: /cohort/ }).filter({ hasText: 'COMPLETED' }).waitFor({ timeout: 60_000 });

      // Rows per contig: the store's, and bcftools' of the same file (multi-allelic records split, as the import does).
      const split = execFileSync('bcftools', ['norm', '-m', '-any', '-Ov', join(root, 'sample.vcf.gz')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const theirs = new Map<string, number>();
      for (const l of split.split('\n')) if (l && !l.startsWith('#')) theirs.set(l.split('\t')[0]!, (theirs.get(l.split('\t')[0]!) ?? 0) + 1);
      const box = tab.getByRole('form', { name: 'SQL query' });
      await box.getByLabel('Query').fill('SELECT contigname, count(*) AS n FROM cohort GROUP BY contigname ORDER BY contigname');
      await box.getByLabel('Query').press('Control+Enter');
      const results = tab.getByRole('table', { name: 'Query results' });
      await results.waitFor({ timeout: 60_000 });
      assert.deepEqual(await results.locator('thead th').allTextContents(), ['contigname', 'n']);
      const ours = (await results.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')))) as string[][];
      assert.deepEqual(
        ours,
        [...theirs.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, n]) => [c, String(n)]),
      );
      await tab.getByRole('status').filter({ hasText: `${theirs.size} row` }).waitFor();
      await recordPage(tab, shots, 'analytics', true);

      // A long result: pages of 1,000 rows (the first one's first row is the column names, as Athena returns a SELECT),
      // and only the rows in view are in the page however many are loaded.
      await box.getByLabel('Query').fill('SELECT a.start AS s1, b.start AS s2 FROM cohort a CROSS JOIN cohort b');
      await box.getByRole('button', { name: 'Run query' }).click();
      await tab.getByRole('status').filter({ hasText: '999 rows so far' }).waitFor({ timeout: 30_000 });
      await tab.getByRole('button', { name: 'More rows' }).click();
      await tab.getByRole('status').filter({ hasText: '1,999 rows so far' }).waitFor();
      await tab.getByRole('button', { name: 'More rows' }).click();
      await tab.getByRole('status').filter({ hasText: '2,999 rows so far' }).waitFor();
      const inPage = () => results.locator('tbody tr[aria-rowindex]').count();
      assert.ok((await inPage()) < 100, `${await inPage()} rows in the page`);
      await tab.locator('.virtual').evaluate((el) => (el.scrollTop = el.scrollHeight));
      await results.locator('tbody tr[aria-rowindex="3000"]').waitFor();
      assert.ok((await inPage()) < 100, `${await inPage()} rows in the page after scrolling to the end`);
      assert.equal(await results.getAttribute('aria-rowcount'), '3000');

      await box.getByLabel('Query').fill('SELECT nosuchcolumn FROM cohort');
      await box.getByRole('button', { name: 'Run query' }).click();
      await tab.getByRole('alert').filter({ hasText: 'nosuchcolumn' }).waitFor({ timeout: 30_000 });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
