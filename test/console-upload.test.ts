// Uploads through the web console in headless Debian Chromium (playwright-core) against a spawned server: a FASTQ
// pair chosen with the file picker and a BAM dropped on the page reach ACTIVE with the bytes they were given; an
// upload interrupted by a reload resumes when its file is chosen again, sending only the parts the server lacks;
// an upload whose server goes away pauses with a clear message and finishes after the server is back; a key
// deactivated mid-session signs the page out with a message. Then the store's page: its settings saved, read sets
// sorted, one deleted after a confirmation, and archived ones activated from the list and followed on the jobs page.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  CreateSequenceStoreCommand,
  CreateReferenceStoreCommand,
  GetReadSetMetadataCommand,
  GetSequenceStoreCommand,
  ListReadSetsCommand,
  type ReadSetListItem,
} from '@aws-sdk/client-omics';
import type { Browser, Page, Request, Route } from 'playwright-core';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { omicsClient, importReference, importReadSets } from './helpers/omics.js';
import { tinyCorpus } from './helpers/corpus.js';
import { launchChromium, signedInTab, skipChromium } from './helpers/chromium.js';
import { recordPage } from './helpers/axe.js';

/** A FASTQ of `reads` 100-base reads (about 230 bytes each), the same bytes for the same seed. */
function syntheticFastq(reads: number, seed: number): Buffer {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) >> 16) & 3;
  const lines: string[] = [];
  for (let i = 0; i < reads; i++) {
    let seq = '';
    for (let j = 0; j < 100; j++) seq += 'ACGT'[rnd()];
    lines.push(`@synthetic.${seed}.${i} length=100`, seq, '+', 'I'.repeat(100));
  }
  return Buffer.from(lines.join('\n') + '\n');
}

const isPart = (u: string) => /\/upload\/\d+\/part\?/.test(u);
const partNumberOf = (u: string) => Number(new URL(u).searchParams.get('partNumber'));

describe('uploads in the web console (headless Chromium)', { skip: skipChromium() }, () => {
  let s: SpawnedServer;
  let root: string;
  let dataDir: string;
  let shots: string;
  let storeId: string;
  let env: Record<string, string>;
  let clock: string;

  before(async () => {
    const corpus = tinyCorpus();
    root = mkdtempSync(join(tmpdir(), 'openomics-console-upload-'));
    dataDir = join(root, 'data');
    mkdirSync(dataDir);
    shots = process.env['OPENOMICS_CONSOLE_SCREENSHOTS'] ?? join(root, 'shots');
    mkdirSync(shots, { recursive: true });
    for (const f of ['ref.fa', 'sample.bam', 'reads_R1.fastq.gz', 'reads_R2.fastq.gz']) copyFileSync(join(corpus, f), join(root, f));
    writeFileSync(join(root, 'big_run.fastq'), syntheticFastq(20_000, 7)); // ~4.6 MB: 5 parts of 1 MiB
    writeFileSync(join(root, 'other_run.fastq'), syntheticFastq(20_000, 11));
    clock = join(root, 'clock-offset');
    writeFileSync(clock, '0');
    env = { OPENOMICS_IMPORT_ROOTS: root, OPENOMICS_CLOCK_OFFSET_FILE: clock, OPENOMICS_ARCHIVE_SWEEP_SECONDS: '1' };
    s = await spawnServer({ dataDir, env });
    const omics = omicsClient(s);
    storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'uploads' }))).id!;
    const refStoreId = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    await importReference(omics, refStoreId, `file://${root}/ref.fa`, 'tiny-genome');
  });
  after(async () => {
    await s?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** A signed-in tab on the store's upload page. */
  const uploadPage = async (browser: Browser) => {
    const opened = await signedInTab(browser, s.url, s, `#/stores/${storeId}/upload`);
    await opened.tab.getByRole('heading', { name: 'Upload read sets' }).waitFor();
    return opened;
  };
  /** Holds back the request of part `n` (it never reaches the server until `held()` is continued or aborted). */
  const holdPart = async (tab: Page, n: number): Promise<() => Route> => {
    let held: Route | undefined;
    await tab.route(
      (u) => isPart(u.href) && partNumberOf(u.href) === n,
      (route) => {
        held = route;
      },
    );
    return () => {
      assert.ok(held, `part ${n} was held`);
      return held;
    };
  };
  const readSetNamed = async (name: string): Promise<ReadSetListItem> => {
    const list = await omicsClient(s).send(new ListReadSetsCommand({ sequenceStoreId: storeId, filter: { name } }));
    assert.equal(list.readSets?.length, 1, `one read set named ${name}`);
    return list.readSets[0]!;
  };
  const fill = async (tab: Page, subject: string, sample: string, partMiB?: number) => {
    await tab.getByLabel('Subject ID').fill(subject);
    await tab.getByLabel('Sample ID').fill(sample);
    if (partMiB) {
      await tab.getByText('Advanced').click();
      await tab.getByLabel(/^Part size/).fill(String(partMiB));
    }
  };
  const active = (tab: Page, name: string) => tab.getByRole('listitem', { name: `Upload ${name}` }).getByRole('status').filter({ hasText: 'ACTIVE' });

  it('uploads a FASTQ pair from the file picker and a dropped BAM, both to ACTIVE with their bytes', async () => {
    const browser = await launchChromium();
    try {
      const { tab, errors } = await uploadPage(browser);

      await tab.getByLabel('choose files').setInputFiles([join(root, 'reads_R2.fastq.gz'), join(root, 'reads_R1.fastq.gz')]);
      assert.equal(await tab.getByLabel('File type').inputValue(), 'FASTQ');
      assert.equal(await tab.getByLabel('Read set name').inputValue(), 'reads', 'named after the files, without _R1');
      await fill(tab, 'patient-1', 'blood');
      await tab.getByRole('button', { name: 'Upload', exact: true }).click();
      await active(tab, 'reads').waitFor({ timeout: 60_000 });

      // A BAM dropped on the page (a DataTransfer made in the page from the file's bytes), with its reference.
      const bam = readFileSync(join(root, 'sample.bam'));
      const dropped = await tab.evaluateHandle((b64) => {
        const dt = new DataTransfer();
        dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'tumour-run.bam'));
        return dt;
      }, bam.toString('base64'));
      await tab.locator('.dropzone').dispatchEvent('drop', { dataTransfer: dropped });
      assert.equal(await tab.getByLabel('File type').inputValue(), 'BAM');
      await fill(tab, 'patient-1', 'tumour');
      await tab.getByLabel('Reference').selectOption({ label: 'tiny-genome (refs)' });
      await tab.getByRole('button', { name: 'Upload', exact: true }).click();
      await active(tab, 'tumour-run').waitFor({ timeout: 60_000 });
      await recordPage(tab, shots, 'upload', true);

      const omics = omicsClient(s);
      const pair = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: (await readSetNamed('reads')).id }));
      assert.equal(pair.status, 'ACTIVE');
      assert.equal(pair.fileType, 'FASTQ');
      assert.equal(pair.sampleId, 'blood');
      assert.equal(pair.files?.source1?.contentLength, readFileSync(join(root, 'reads_R1.fastq.gz')).length, 'R1 is source1');
      assert.equal(pair.files?.source2?.contentLength, readFileSync(join(root, 'reads_R2.fastq.gz')).length, 'R2 is source2');
      const tumour = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: (await readSetNamed('tumour-run')).id }));
      assert.equal(tumour.status, 'ACTIVE');
      assert.match(tumour.referenceArn ?? '', /referenceStore\/\d+\/reference\/\d+$/);
      assert.equal(tumour.files?.source1?.contentLength, bam.length);
      const reads = Number(execFileSync('samtools', ['view', '-c', join(root, 'sample.bam')], { encoding: 'utf8' }).trim());
      assert.equal(tumour.sequenceInformation?.totalReadCount, reads, 'as many reads as samtools counts');

      // The uploads of the tab outlive the page: away to the store and back, they are still listed.
      await tab.getByRole('link', { name: /← Store/ }).click();
      await tab.getByRole('link', { name: 'Upload read sets' }).click();
      await active(tab, 'tumour-run').waitFor();
      await active(tab, 'reads').waitFor();
      // The page links to the read set it made.
      await tab.getByRole('listitem', { name: 'Upload tumour-run' }).getByRole('link', { name: 'Open the read set' }).click();
      await tab.getByRole('heading', { name: 'Read set tumour-run' }).waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });

  it('resumes an upload interrupted by a reload, sending only the parts the server lacks', async () => {
    const browser = await launchChromium();
    try {
      const { tab } = await uploadPage(browser);
      // Part 3 is held back (never reaches the server) until the page is reloaded under it.
      const held = await holdPart(tab, 3);
      const sent: number[] = [];
      const onRequest = (r: Request) => {
        if (isPart(r.url())) sent.push(partNumberOf(r.url()));
      };
      tab.on('request', onRequest);
      await tab.getByLabel('choose files').setInputFiles(join(root, 'big_run.fastq'));
      await fill(tab, 'patient-2', 'saliva', 1);
      await tab.getByRole('button', { name: 'Upload', exact: true }).click();
      // Parts 1, 2, 4 and 5 arrive; 3 hangs.
      await tab.waitForFunction(() => {
        const p = document.querySelector('progress');
        return p !== null && p.max > 0 && p.value >= p.max - 1024 * 1024;
      });
      held();
      await recordPage(tab, shots, 'upload-progress');

      // Leaving the tab while an upload runs asks first (the browser's own "leave the page?"); the user leaves.
      const asked: string[] = [];
      tab.once('dialog', (d) => {
        asked.push(d.type());
        void d.accept();
      });
      await tab.reload();
      assert.deepEqual(asked, ['beforeunload']);
      await held()
        .abort()
        .catch(() => undefined); // the reload already cancelled it
      await tab.unrouteAll({ behavior: 'ignoreErrors' });
      sent.length = 0;
      const interrupted = tab.getByLabel('Interrupted upload big_run');
      await interrupted.waitFor();
      await recordPage(tab, shots, 'upload-resume');
      // Another file is refused, by name.
      await interrupted.getByLabel(/Choose the same file/).setInputFiles(join(root, 'other_run.fastq'));
      await interrupted.getByRole('alert').filter({ hasText: 'big_run.fastq' }).waitFor();
      await interrupted.getByLabel(/Choose the same file/).setInputFiles(join(root, 'big_run.fastq'));
      await active(tab, 'big_run').waitFor({ timeout: 60_000 });
      assert.deepEqual(sent, [3], 'only the missing part is sent again');
      tab.off('request', onRequest);

      const rs = await omicsClient(s).send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: (await readSetNamed('big_run')).id }));
      assert.equal(rs.files?.source1?.contentLength, readFileSync(join(root, 'big_run.fastq')).length);
      assert.equal(rs.sequenceInformation?.totalReadCount, 20_000);
      assert.equal(await tab.evaluate(() => localStorage.getItem('openomics.console.uploads')), '{}', 'a finished upload is forgotten');
    } finally {
      await browser.close();
    }
  });

  it('pauses with a clear message when the server goes away mid-upload, and finishes once it is back', async () => {
    const browser = await launchChromium();
    try {
      const { tab } = await uploadPage(browser);
      const held = await holdPart(tab, 2);
      await tab.getByLabel('choose files').setInputFiles(join(root, 'other_run.fastq'));
      await fill(tab, 'patient-3', 'skin', 1);
      await tab.getByRole('button', { name: 'Upload', exact: true }).click();
      await tab.waitForFunction(() => {
        const p = document.querySelector('progress');
        return p !== null && p.max > 0 && p.value >= p.max - 1024 * 1024; // all but part 2
      });
      held();
      const port = new URL(s.url).port;
      await s.kill(); // the server goes away (its data stays)
      await held()
        .continue()
        .catch(() => undefined); // part 2 now meets a closed port
      await tab.unrouteAll({ behavior: 'ignoreErrors' });
      const item = tab.getByRole('listitem', { name: 'Upload other_run' });
      await item.getByRole('status').filter({ hasText: 'cannot be reached' }).waitFor({ timeout: 30_000 });
      assert.match((await item.getByRole('status').textContent()) ?? '', /kept on the server/);

      s = await spawnServer({ dataDir, env: { ...env, OPENOMICS_PORT: port } });
      await item.getByRole('button', { name: 'Resume' }).click();
      await active(tab, 'other_run').waitFor({ timeout: 60_000 });
      const rs = await omicsClient(s).send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: (await readSetNamed('other_run')).id }));
      assert.equal(rs.files?.source1?.contentLength, readFileSync(join(root, 'other_run.fastq')).length);
      assert.equal(rs.sequenceInformation?.totalReadCount, 20_000);
    } finally {
      await browser.close();
    }
  });

  it('signs the page out with a message when its access key is deactivated mid-session', async () => {
    const browser = await launchChromium();
    try {
      const user = JSON.parse(execFileSync(process.execPath, [CLI, 'admin', 'access-key', 'create'], { env: s.env, encoding: 'utf8' })) as { accessKeyId: string; secretAccessKey: string };
      const tab = await browser.newPage();
      await tab.goto(`${s.url}/console/`);
      await tab.getByLabel('Access key ID').fill(user.accessKeyId);
      await tab.getByLabel('Secret access key').fill(user.secretAccessKey);
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByRole('link', { name: 'uploads' }).waitFor();
      execFileSync(process.execPath, [CLI, 'admin', 'access-key', 'deactivate', user.accessKeyId], { env: s.env });
      await tab.getByRole('link', { name: 'uploads' }).click();
      await tab.getByRole('alert').filter({ hasText: 'sign in again' }).waitFor();
      await tab.getByLabel('Access key ID').waitFor();
      assert.equal(await tab.evaluate(() => sessionStorage.length), 0, 'the dead key is not kept');
    } finally {
      await browser.close();
    }
  });

  it("saves the store's settings, sorts its read sets, deletes one after asking, and activates archived ones", async () => {
    const browser = await launchChromium();
    try {
      const { tab } = await uploadPage(browser);
      await tab.goto(`${s.url}/console/#/stores/${storeId}`);
      await tab.getByRole('link', { name: 'tumour-run' }).waitFor();

      await tab.getByText('Settings', { exact: true }).click();
      const settings = tab.getByRole('form', { name: 'Store settings' });
      await settings.getByLabel('Description').fill('uploads from the lab bench');
      await settings.getByLabel(/^Tags propagated/).fill('project, site');
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await settings.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      const store = await omicsClient(s).send(new GetSequenceStoreCommand({ id: storeId }));
      assert.equal(store.description, 'uploads from the lab bench');
      assert.deepEqual(store.propagatedSetLevelTags, ['project', 'site']);

      const names = async () => (await tab.locator('tbody tr td:nth-child(2) a').allTextContents()).filter(Boolean);
      await tab.getByRole('button', { name: 'Name' }).click();
      assert.deepEqual(await names(), ['big_run', 'other_run', 'reads', 'tumour-run']);
      await tab.getByRole('button', { name: /^Name/ }).click();
      assert.deepEqual(await names(), ['tumour-run', 'reads', 'other_run', 'big_run']);

      // Delete asks first; Cancel keeps the read set, Delete removes it.
      const reads = (await readSetNamed('reads')).id!;
      await tab.getByLabel('Select reads').check();
      await tab.getByRole('button', { name: 'Delete selected…' }).click();
      const dialog = tab.getByRole('dialog', { name: 'Delete selected…' });
      await dialog.getByText('Delete 1 read set (reads)?').waitFor();
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      assert.equal((await omicsClient(s).send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: reads }))).status, 'ACTIVE');
      await tab.getByRole('button', { name: 'Delete selected…' }).click();
      await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
      await tab.getByRole('status').filter({ hasText: 'Deleted 1 read set.' }).waitFor();
      await tab.getByRole('link', { name: 'reads', exact: true }).waitFor({ state: 'detached' });
      await assert.rejects(omicsClient(s).send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: reads })), (e: Error) => e.name === 'ResourceNotFoundException');

      // Thirty-one days later the idle read sets are archived; activated from the list, they are ACTIVE again.
      writeFileSync(clock, String(31 * 24 * 3600 * 1000));
      const tumour = (await readSetNamed('tumour-run')).id!;
      for (let i = 0; (await omicsClient(s).send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: tumour }))).status !== 'ARCHIVED'; i++) {
        assert.ok(i < 100, 'archived within 20 s');
        await new Promise((r) => setTimeout(r, 200));
      }
      await tab.getByLabel('Status').selectOption('ARCHIVED');
      await tab.getByRole('button', { name: 'Filter' }).click();
      await tab.getByRole('row', { name: /tumour-run/ }).filter({ hasText: 'ARCHIVED' }).waitFor();
      await tab.getByLabel('Select tumour-run').check();
      await tab.getByRole('button', { name: 'Activate selected' }).click();
      await tab.getByRole('status').filter({ hasText: 'Activation job' }).waitFor();
      await recordPage(tab, shots, 'read-set-actions');
      await tab.getByRole('link', { name: 'Follow it on the jobs page' }).click();
      await tab.getByRole('row').filter({ hasText: 'Activation' }).filter({ hasText: 'COMPLETED' }).waitFor({ timeout: 30_000 });
      assert.equal((await omicsClient(s).send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: tumour }))).status, 'ACTIVE');
    } finally {
      await browser.close();
    }
  });

  it('pages through a store of more read sets than one page holds (the API pages, 50 at a time)', async () => {
    const omics = omicsClient(s);
    const many = (await omics.send(new CreateSequenceStoreCommand({ name: 'many' }))).id!;
    writeFileSync(join(root, 'four.fastq'), syntheticFastq(4, 3));
    await importReadSets(
      omics,
      many,
      Array.from({ length: 60 }, (_, i) => ({
        sourceFileType: 'FASTQ' as const,
        subjectId: 'cohort',
        sampleId: `s${String(i).padStart(2, '0')}`,
        name: `rs-${String(i).padStart(2, '0')}`,
        sourceFiles: { source1: `file://${root}/four.fastq` },
      })),
    );
    const browser = await launchChromium();
    try {
      const { tab } = await uploadPage(browser);
      await tab.goto(`${s.url}/console/#/stores/${many}`);
      const rows = tab.locator('tbody tr');
      await tab.getByRole('link', { name: /^rs-\d\d$/ }).first().waitFor();
      assert.equal(await rows.count(), 50);
      const firstPage = await tab.getByRole('link', { name: /^rs-\d\d$/ }).allTextContents();
      await tab.getByRole('button', { name: 'Next' }).click();
      await tab.waitForFunction(() => document.querySelectorAll('tbody tr').length === 10);
      const secondPage = await tab.getByRole('link', { name: /^rs-\d\d$/ }).allTextContents();
      assert.equal(new Set([...firstPage, ...secondPage]).size, 60, 'every read set once, over the two pages');
      assert.equal(await tab.getByRole('button', { name: 'Next' }).isDisabled(), true);
      await tab.getByRole('button', { name: 'Previous' }).click();
      await tab.waitForFunction(() => document.querySelectorAll('tbody tr').length === 50);
      assert.equal(await tab.getByRole('button', { name: 'Previous' }).isDisabled(), true);
    } finally {
      await browser.close();
    }
  });
});
