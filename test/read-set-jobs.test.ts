// Read set import and export jobs through @aws-sdk/client-omics against a spawned server (SQLite and PostgreSQL):
// sources from a local import root, per-source status and read set ids, original file names, failures that do not
// stop the other sources, byte-exact exports, and a server killed (SIGKILL) mid-import that finishes after restart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  OmicsClient,
  CreateSequenceStoreCommand,
  CreateReferenceStoreCommand,
  StartReadSetImportJobCommand,
  GetReadSetImportJobCommand,
  ListReadSetImportJobsCommand,
  StartReadSetExportJobCommand,
  GetReadSetExportJobCommand,
  ListReadSetExportJobsCommand,
  GetReadSetMetadataCommand,
  ListReadSetsCommand,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-omics';
import { omicsClient, until, jobFinished, importReference as importReferenceFile } from './helpers/omics.js';
import { BACKENDS, type Backend } from './helpers/server.js';
import { startInProcess, type InProcessServer } from './helpers/in-process.js';
import { SAMTOOLS_ENV, tinyCorpus } from './helpers/corpus.js';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const ROLE = 'arn:aws:iam::123456789012:role/OmicsImport';




async function importCorpusReference(omics: OmicsClient, root: string, corpus: string): Promise<string> {
  copyFileSync(join(corpus, 'ref.fa'), join(root, 'ref.fa'));
  const refStoreId = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
  return importReferenceFile(omics, refStoreId, `file://${root}/ref.fa`);
}

let corpus: string;
before(() => {
  corpus = tinyCorpus();
});

for (const backend of BACKENDS) {
  describe(`read set import and export jobs on ${backend}`, () => {
    let s: InProcessServer;
    let omics: OmicsClient;
    let root: string;
    let exportRoot: string;
    let storeId: string;
    let referenceArn: string;

    before(async () => {
      root = mkdtempSync(join(tmpdir(), 'openomics-import-'));
      exportRoot = mkdtempSync(join(tmpdir(), 'openomics-export-'));
      s = await startInProcess({ backend: backend as Backend, env: { OPENOMICS_IMPORT_ROOTS: root, OPENOMICS_EXPORT_ROOTS: exportRoot } });
      omics = omicsClient(s);
      storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'imports', eTagAlgorithmFamily: 'SHA256up' }))).id!;
      referenceArn = await importCorpusReference(omics, root, corpus);
    });
    after(async () => {
      await s?.stop();
      rmSync(root, { recursive: true, force: true });
      rmSync(exportRoot, { recursive: true, force: true });
    });

    it('imports FASTQ pairs, BAM and uBAM keeping file names; a bad source fails alone', async () => {
      mkdirSync(join(root, 'a'));
      mkdirSync(join(root, 'b'));
      copyFileSync(join(corpus, 'reads_R1.fastq.gz'), join(root, 'a', 'reads.fastq.gz'));
      copyFileSync(join(corpus, 'reads_R2.fastq.gz'), join(root, 'b', 'reads.fastq.gz'));
      copyFileSync(join(corpus, 'sample.bam'), join(root, 'sample.bam'));
      copyFileSync(join(corpus, 'sample.unaligned.bam'), join(root, 'sample.unaligned.bam'));
      const bam = readFileSync(join(corpus, 'sample.bam'));
      writeFileSync(join(root, 'cut.bam'), bam.subarray(0, bam.length >> 1));
      const common = { subjectId: 'subject-7', sampleId: 'sample-7' };
      const job = await omics.send(
        new StartReadSetImportJobCommand({
          sequenceStoreId: storeId,
          roleArn: ROLE,
          sources: [
            { ...common, sourceFileType: 'FASTQ', name: 'pair', sourceFiles: { source1: `file://${root}/a/reads.fastq.gz`, source2: `file://${root}/b/reads.fastq.gz` }, tags: { lane: '1' } },
            { ...common, sourceFileType: 'BAM', name: 'aligned', referenceArn, sourceFiles: { source1: `file://${root}/sample.bam` }, generatedFrom: 'bwa' },
            { ...common, sourceFileType: 'UBAM', name: 'unaligned', sourceFiles: { source1: `file://${root}/sample.unaligned.bam` } },
            { ...common, sourceFileType: 'BAM', name: 'cut', referenceArn, sourceFiles: { source1: `file://${root}/cut.bam` } },
          ],
        }),
      );
      assert.equal(job.status, 'SUBMITTED');
      const done = await until('import', () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id })), jobFinished);
      assert.equal(done.status, 'COMPLETED_WITH_FAILURES', JSON.stringify(done.sources));
      assert.deepEqual(done.sources!.map((x) => x.status), ['FINISHED', 'FINISHED', 'FINISHED', 'FAILED']);
      assert.match(done.sources![3]!.statusMessage!, /cut\.bam/);
      assert.equal(done.sources![3]!.readSetId, undefined);
      assert.ok(done.completionTime);

      const pair = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: done.sources![0]!.readSetId }));
      assert.equal(pair.creationType, 'IMPORT');
      assert.equal(pair.creationJobId, job.id);
      assert.match(pair.files!.source1!.s3Access!.s3Uri!, /\/reads_source1\.fastq\.gz$/);
      assert.match(pair.files!.source2!.s3Access!.s3Uri!, /\/reads_source2\.fastq\.gz$/);
      const text1 = execFileSync('zcat', [join(corpus, 'reads_R1.fastq.gz')], { maxBuffer: 1 << 30 });
      assert.equal(pair.etag!.algorithm, 'FASTQ_SHA256up');
      assert.equal(pair.etag!.source1, createHash('sha256').update(text1).digest('hex'));
      assert.deepEqual((await omics.send(new ListTagsForResourceCommand({ resourceArn: pair.arn }))).tags, { lane: '1' });

      const aligned = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: done.sources![1]!.readSetId }));
      assert.match(aligned.files!.source1!.s3Access!.s3Uri!, /\/sample\.bam$/);
      assert.match(aligned.files!.index!.s3Access!.s3Uri!, /\/sample\.bam\.bai$/);
      const sam = execFileSync('samtools', ['view', join(corpus, 'sample.bam')], { env: SAMTOOLS_ENV, maxBuffer: 1 << 30 });
      assert.equal(aligned.etag!.source1, createHash('sha256').update(sam).digest('hex'));
      const unaligned = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: done.sources![2]!.readSetId }));
      assert.equal(unaligned.fileType, 'UBAM');
      assert.equal(unaligned.sequenceInformation!.alignment, 'UNALIGNED');
      assert.equal(unaligned.files!.index, undefined);

      const imported = await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, filter: { creationType: 'IMPORT', sampleId: 'sample-7' } }));
      assert.equal(imported.readSets!.length, 3, 'the failed source made no read set');
      const listed = await omics.send(new ListReadSetImportJobsCommand({ sequenceStoreId: storeId, filter: { status: 'COMPLETED_WITH_FAILURES' } }));
      assert.deepEqual(listed.importJobs!.map((j) => j.id), [job.id]);
    });

    it('exports read sets byte for byte under the destination, failing missing ones alone', async () => {
      const all = (await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId }))).readSets!;
      const aligned = all.find((r) => r.name === 'aligned')!;
      const pair = all.find((r) => r.name === 'pair')!;
      const dest = `file://${exportRoot}/out/`;
      // What an export killed mid-file left (its writer's pid has ended): removed when the file is written again.
      const dead = execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim();
      const host = (await import('node:os')).hostname().replace(/[^A-Za-z0-9-]/g, '_');
      const leftover = join(exportRoot, 'out', aligned.id!, `.sample.bam.${host}.${dead}.0123456789ab.part`);
      mkdirSync(join(exportRoot, 'out', aligned.id!), { recursive: true });
      writeFileSync(leftover, 'half an export');
      const job = await omics.send(
        new StartReadSetExportJobCommand({
          sequenceStoreId: storeId,
          roleArn: ROLE,
          destination: dest,
          sources: [{ readSetId: aligned.id }, { readSetId: pair.id }, { readSetId: '9999999999' }],
        }),
      );
      assert.equal(job.destination, dest);
      const done = await until('export', () => omics.send(new GetReadSetExportJobCommand({ sequenceStoreId: storeId, id: job.id })), jobFinished);
      assert.equal(done.status, 'COMPLETED_WITH_FAILURES');
      assert.deepEqual(done.readSets!.map((r) => [r.id, r.status]), [[aligned.id, 'FINISHED'], [pair.id, 'FINISHED'], ['9999999999', 'FAILED']]);
      const out = join(exportRoot, 'out');
      assert.ok(!existsSync(leftover), 'the killed export’s partial file is gone');
      assert.equal(md5(readFileSync(join(out, aligned.id!, 'sample.bam'))), md5(readFileSync(join(corpus, 'sample.bam'))));
      assert.equal(md5(readFileSync(join(out, pair.id!, 'reads_source1.fastq.gz'))), md5(readFileSync(join(corpus, 'reads_R1.fastq.gz'))));
      assert.equal(md5(readFileSync(join(out, pair.id!, 'reads_source2.fastq.gz'))), md5(readFileSync(join(corpus, 'reads_R2.fastq.gz'))));
      const bai = execFileSync('samtools', ['idxstats', join(out, aligned.id!, 'sample.bam')], { env: SAMTOOLS_ENV, encoding: 'utf8' });
      assert.match(bai, /^chr1\t/);
      const listed = await omics.send(new ListReadSetExportJobsCommand({ sequenceStoreId: storeId }));
      assert.deepEqual(listed.exportJobs!.map((j) => j.id), [job.id]);
      await assert.rejects(
        omics.send(new StartReadSetExportJobCommand({ sequenceStoreId: storeId, roleArn: ROLE, destination: 'file:///etc/', sources: [{ readSetId: aligned.id }] })),
        /outside this account's export roots/,
      );
    });
  });
}
