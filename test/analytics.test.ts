// Variant stores and variant import jobs end to end through @aws-sdk/client-omics against a spawned server: VCFs
// from an import root become the store's rows (bcftools reads them, DuckDB writes Parquet), malformed VCFs fail
// their item naming the line, a cancelled job leaves nothing. Rows read back through the Athena subset are
// compared with `bcftools query` in test/analytics-query.test.ts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CancelVariantImportJobCommand,
  CreateReferenceStoreCommand,
  CreateVariantStoreCommand,
  DeleteVariantStoreCommand,
  GetVariantImportJobCommand,
  GetVariantStoreCommand,
  ListVariantImportJobsCommand,
  ListVariantStoresCommand,
  StartVariantImportJobCommand,
  UpdateVariantStoreCommand,
  type OmicsClient,
} from '@aws-sdk/client-omics';
import { expectServiceError, importReference, omicsClient, until } from './helpers/omics.js';
import { BACKENDS, spawnServer, type SpawnedServer } from './helpers/server.js';
import { tinyCorpus } from './helpers/corpus.js';

const ROLE = 'arn:aws:iam::123456789012:role/OmicsImport';
const ended = (j: { status?: string }) => !['SUBMITTED', 'IN_PROGRESS'].includes(j.status!);

for (const backend of BACKENDS) {
describe(`variant stores and variant import jobs on ${backend}`, () => {
  let s: SpawnedServer;
  let omics: OmicsClient;
  let root: string;
  let referenceArn: string;
  before(async () => {
    const corpus = tinyCorpus();
    root = mkdtempSync(join(tmpdir(), 'openomics-analytics-'));
    for (const f of ['ref.fa', 'sample.vcf.gz']) copyFileSync(join(corpus, f), join(root, f));
    s = await spawnServer({ backend, env: { OPENOMICS_IMPORT_ROOTS: root } });
    omics = omicsClient(s);
    const refStore = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    referenceArn = await importReference(omics, refStore, `file://${root}/ref.fa`);
  });
  after(async () => {
    await s?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const importJob = async (store: string, sources: string[], extra: Record<string, unknown> = {}) => {
    const { jobId } = await omics.send(new StartVariantImportJobCommand({ destinationName: store, roleArn: ROLE, items: sources.map((source) => ({ source })), ...extra }));
    return until('variant import', () => omics.send(new GetVariantImportJobCommand({ jobId })), ended, 60_000, 100);
  };

  it('creates, gets, updates, lists and deletes a variant store linked to a reference; names and references are checked', async () => {
    const created = await omics.send(new CreateVariantStoreCommand({ name: 'cohort_a', reference: { referenceArn }, description: 'first', tags: { team: 'g' } }));
    assert.match(created.id!, /^[0-9a-f]{12}$/);
    assert.equal(created.status, 'ACTIVE');
    const got = await omics.send(new GetVariantStoreCommand({ name: 'cohort_a' }));
    assert.equal(got.storeArn, 'arn:aws:omics:us-east-1:123456789012:variantStore/cohort_a');
    assert.equal(got.reference?.referenceArn, referenceArn);
    assert.equal(got.storeSizeBytes, 0);
    assert.deepEqual(got.tags, { team: 'g' });
    assert.equal(got.sseConfig?.type, 'KMS');
    assert.equal((await omics.send(new UpdateVariantStoreCommand({ name: 'cohort_a', description: 'second' }))).description, 'second');
    await expectServiceError(omics.send(new CreateVariantStoreCommand({ name: 'cohort_a', reference: { referenceArn } })), 'ConflictException');
    await expectServiceError(omics.send(new CreateVariantStoreCommand({ name: 'Bad-Name', reference: { referenceArn } })), 'ValidationException');
    await expectServiceError(
      omics.send(new CreateVariantStoreCommand({ name: 'nowhere', reference: { referenceArn: referenceArn.replace(/\d+$/, '1234567890') } })),
      'ResourceNotFoundException',
    );
    const listed = await omics.send(new ListVariantStoresCommand({ filter: { status: 'ACTIVE' } }));
    assert.deepEqual(listed.variantStores!.map((v) => v.name), ['cohort_a']);
    assert.equal((await omics.send(new DeleteVariantStoreCommand({ name: 'cohort_a' }))).status, 'DELETING');
    await expectServiceError(omics.send(new GetVariantStoreCommand({ name: 'cohort_a' })), 'ResourceNotFoundException');
  });

  it('imports a bgzipped VCF: COMPLETED per item, the store grows; malformed VCFs fail their item naming the problem', async () => {
    await omics.send(new CreateVariantStoreCommand({ name: 'cohort_b', reference: { referenceArn } }));
    const done = await importJob('cohort_b', [`file://${root}/sample.vcf.gz`]);
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done.items));
    assert.deepEqual(done.items!.map((i) => i.jobStatus), ['COMPLETED']);
    assert.equal(done.destinationName, 'cohort_b');
    assert.equal(done.runLeftNormalization, false);
    assert.ok(done.completionTime);
    assert.ok((await omics.send(new GetVariantStoreCommand({ name: 'cohort_b' }))).storeSizeBytes! > 0);
    // A VCF on a contig the reference lacks; a truncated bgzip file; a record with too few columns.
    const plain = execFileSync('bcftools', ['view', join(root, 'sample.vcf.gz')], { encoding: 'utf8' });
    writeFileSync(join(root, 'contig.vcf'), plain.replace(/\nchr2\t/, '\nchrUn\t'));
    const bytes = execFileSync('cat', [join(root, 'sample.vcf.gz')]);
    writeFileSync(join(root, 'truncated.vcf.gz'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    const lines = plain.split('\n');
    const firstRecord = lines.findIndex((l) => !l.startsWith('#'));
    lines[firstRecord + 2] = lines[firstRecord + 2]!.split('\t').slice(0, 5).join('\t');
    writeFileSync(join(root, 'short.vcf'), lines.join('\n'));
    // A header without its #CHROM line; a record with one sample column more than the header names.
    writeFileSync(join(root, 'headless.vcf'), plain.split('\n').filter((l) => !l.startsWith('#CHROM')).join('\n'));
    const extra = plain.split('\n');
    extra[firstRecord + 4] = `${extra[firstRecord + 4]}\t0/1:1:1,0`;
    writeFileSync(join(root, 'extra.vcf'), extra.join('\n'));
    const bad = await importJob('cohort_b', [`file://${root}/contig.vcf`, `file://${root}/truncated.vcf.gz`, `file://${root}/short.vcf`, `file://${root}/headless.vcf`, `file://${root}/extra.vcf`, `file://${root}/sample.vcf.gz`]);
    assert.equal(bad.status, 'COMPLETED_WITH_FAILURES', JSON.stringify(bad.items));
    assert.deepEqual(bad.items!.map((i) => i.jobStatus), ['FAILED', 'FAILED', 'FAILED', 'FAILED', 'FAILED', 'COMPLETED']);
    const chr2Line = plain.split('\n').findIndex((l) => l.startsWith('chr2\t')) + 1;
    assert.match(bad.items![0]!.statusMessage!, new RegExp(`contig\\.vcf: line ${chr2Line}: contig chrUn is not a sequence of the store's reference`));
    assert.match(bad.items![1]!.statusMessage!, /truncated\.vcf\.gz/);
    assert.match(bad.items![2]!.statusMessage!, new RegExp(`short\\.vcf: line ${firstRecord + 3}: 5 columns, but the header promises 10 \\(9 and 1 samples\\)`));
    assert.match(bad.items![3]!.statusMessage!, /headless\.vcf: not a readable VCF/);
    assert.match(bad.items![4]!.statusMessage!, new RegExp(`extra\\.vcf: line ${firstRecord + 5}: 11 columns, but the header promises 10`));
    // A header and no records (samples, nothing to partition) imports nothing, and says so by succeeding.
    writeFileSync(join(root, 'empty.vcf'), plain.split('\n').filter((l) => l.startsWith('#')).join('\n') + '\n');
    const empty = await importJob('cohort_b', [`file://${root}/empty.vcf`]);
    assert.equal(empty.status, 'COMPLETED', JSON.stringify(empty.items));
    const jobs = await omics.send(new ListVariantImportJobsCommand({ filter: { storeName: 'cohort_b' } }));
    assert.equal(jobs.variantImportJobs!.length, 3);
    await expectServiceError(omics.send(new StartVariantImportJobCommand({ destinationName: 'no_such_store', roleArn: ROLE, items: [{ source: `file://${root}/sample.vcf.gz` }] })), 'ResourceNotFoundException');
  });

  it('a cancelled job ends CANCELLED and adds nothing; an ended job cannot be cancelled', async () => {
    await omics.send(new CreateVariantStoreCommand({ name: 'cohort_c', reference: { referenceArn } }));
    const { jobId } = await omics.send(new StartVariantImportJobCommand({ destinationName: 'cohort_c', roleArn: ROLE, items: Array.from({ length: 20 }, () => ({ source: `file://${root}/sample.vcf.gz` })) }));
    await omics.send(new CancelVariantImportJobCommand({ jobId }));
    const j = await until('cancelled', () => omics.send(new GetVariantImportJobCommand({ jobId })), ended, 30_000, 100);
    assert.equal(j.status, 'CANCELLED');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await omics.send(new GetVariantStoreCommand({ name: 'cohort_c' }))).storeSizeBytes, 0, 'nothing of a cancelled job is visible');
    await expectServiceError(omics.send(new CancelVariantImportJobCommand({ jobId })), 'ValidationException', /CANCELLED/);
  });
});
}
