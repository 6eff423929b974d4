// Read sets and references end to end through @aws-sdk/client-omics against a spawned server, on SQLite and
// PostgreSQL: reference import from a local root, direct multipart upload of paired FASTQ and BAM, part-wise
// download compared byte for byte, counts and ETags compared with samtools/zcat, listing, deletion, bad input.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  OmicsClient,
  CreateSequenceStoreCommand,
  CreateReferenceStoreCommand,
  StartReferenceImportJobCommand,
  GetReferenceImportJobCommand,
  ListReferenceImportJobsCommand,
  GetReferenceMetadataCommand,
  GetReferenceCommand,
  ListReferencesCommand,
  DeleteReferenceCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  ListReadSetUploadPartsCommand,
  ListMultipartReadSetUploadsCommand,
  CompleteMultipartReadSetUploadCommand,
  AbortMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  GetReadSetCommand,
  ListReadSetsCommand,
  BatchDeleteReadSetCommand,
  ListTagsForResourceCommand,
  DeleteSequenceStoreCommand,
  StartReadSetActivationJobCommand,
  GetReadSetActivationJobCommand,
  ListReadSetActivationJobsCommand,
  type GetReadSetMetadataCommandOutput,
} from '@aws-sdk/client-omics';
import { omicsClient, until, expectServiceError } from './helpers/omics.js';
import { BACKENDS, spawnServer, type Backend, type SpawnedServer } from './helpers/server.js';
import { startInProcess, type InProcessServer } from './helpers/in-process.js';
import { SAMTOOLS_ENV, tinyCorpus } from './helpers/corpus.js';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const samtools = (args: string[]) => execFileSync('samtools', args, { env: SAMTOOLS_ENV, maxBuffer: 1 << 30 });




/** Splits a buffer into parts at the given cut points. */
function cut(b: Buffer, ...at: number[]): Buffer[] {
  const points = [0, ...at, b.length];
  return points.slice(1).map((end, i) => b.subarray(points[i]!, end));
}

async function bytesOf(stream: any): Promise<Buffer> {
  return Buffer.from(await stream.transformToByteArray());
}

let corpus: string;
before(() => {
  corpus = tinyCorpus();
});

for (const backend of BACKENDS) {
  describe(`read sets and references on ${backend}`, () => {
    let s: InProcessServer;
    let omics: OmicsClient;
    let importRoot: string;
    let storeId: string;
    let refStoreId: string;
    let referenceArn: string;
    let referenceId: string;
    let otherReferenceId: string;

    before(async () => {
      importRoot = mkdtempSync(join(tmpdir(), 'openomics-import-'));
      s = await startInProcess({ backend: backend as Backend, env: { OPENOMICS_IMPORT_ROOTS: importRoot } });
      omics = omicsClient(s);
      storeId = (await omics.send(new CreateSequenceStoreCommand({ name: `seq-${backend}` }))).id!;
      refStoreId = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    });
    after(async () => {
      await s?.stop();
      rmSync(importRoot, { recursive: true, force: true });
    });

    async function upload(fileType: 'FASTQ' | 'BAM' | 'UBAM' | 'CRAM', name: string, parts: { source: 'SOURCE1' | 'SOURCE2'; n: number; body: Buffer }[], extra: object = {}) {
      const { uploadId } = await omics.send(
        new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: fileType, subjectId: 'subj-1', sampleId: 'samp-1', name, ...extra }),
      );
      const sent = [];
      for (const p of parts) {
        const { checksum } = await omics.send(
          new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: p.source, partNumber: p.n, payload: p.body }),
        );
        sent.push({ partNumber: p.n, partSource: p.source, checksum: checksum! });
      }
      return { uploadId: uploadId!, sent };
    }

    async function settled(id: string): Promise<GetReadSetMetadataCommandOutput> {
      return until(
        `read set ${id}`,
        () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id })),
        (m) => m.status !== 'PROCESSING_UPLOAD',
      );
    }

    async function download(id: string, file: 'SOURCE1' | 'SOURCE2' | 'INDEX', totalParts: number): Promise<Buffer> {
      const parts = await Promise.all(
        Array.from({ length: totalParts }, (_, i) =>
          omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id, file, partNumber: i + 1 })).then((r) => bytesOf(r.payload)),
        ),
      );
      return Buffer.concat(parts);
    }

    it('imports a reference from a local root: md5, .fai identical to samtools faidx, byte-exact download with Range', async () => {
      copyFileSync(join(corpus, 'ref.fa'), join(importRoot, 'ref.fa'));
      writeFileSync(join(importRoot, 'notfasta.fa'), 'this is not a FASTA file\n');
      const job = await omics.send(
        new StartReferenceImportJobCommand({
          referenceStoreId: refStoreId,
          roleArn: 'arn:aws:iam::123456789012:role/OmicsImport',
          sources: [
            { sourceFile: `file://${importRoot}/ref.fa`, name: 'tiny-genome', tags: { build: 'synthetic' } },
            { sourceFile: `file://${importRoot}/notfasta.fa`, name: 'broken' },
            { sourceFile: `file://${importRoot}/../etc/passwd`, name: 'escape' },
            { sourceFile: 's3://some-bucket/ref.fa', name: 'from-s3' },
          ],
        }),
      );
      assert.equal(job.status, 'SUBMITTED');
      const done = await until(
        'reference import',
        () => omics.send(new GetReferenceImportJobCommand({ referenceStoreId: refStoreId, id: job.id })),
        (j) => !['SUBMITTED', 'IN_PROGRESS'].includes(j.status!),
      );
      assert.equal(done.status, 'COMPLETED_WITH_FAILURES');
      assert.deepEqual(done.sources!.map((x) => x.status), ['FINISHED', 'FAILED', 'FAILED', 'FAILED']);
      assert.match(done.sources![1]!.statusMessage!, /notfasta\.fa/);
      assert.match(done.sources![2]!.statusMessage!, /not a file this account may import/);
      assert.match(done.sources![3]!.statusMessage!, /no storage connection covers s3:\/\/some-bucket\/ref\.fa/);
      referenceId = done.sources![0]!.referenceId!;
      const list = await omics.send(new ListReferenceImportJobsCommand({ referenceStoreId: refStoreId, filter: { status: 'COMPLETED_WITH_FAILURES' } }));
      assert.equal(list.importJobs!.length, 1);

      const meta = await omics.send(new GetReferenceMetadataCommand({ referenceStoreId: refStoreId, id: referenceId }));
      referenceArn = meta.arn!;
      const fasta = readFileSync(join(corpus, 'ref.fa'));
      assert.equal(meta.md5, md5(fasta));
      assert.equal(meta.status, 'ACTIVE');
      assert.equal(meta.name, 'tiny-genome');
      assert.equal(meta.files!.source!.contentLength, fasta.length);
      const got = await bytesOf((await omics.send(new GetReferenceCommand({ referenceStoreId: refStoreId, id: referenceId, partNumber: 1 }))).payload);
      assert.ok(got.equals(fasta), 'reference bytes round-trip');
      const fai = await bytesOf((await omics.send(new GetReferenceCommand({ referenceStoreId: refStoreId, id: referenceId, partNumber: 1, file: 'INDEX' }))).payload);
      const tmp = mkdtempSync(join(tmpdir(), 'openomics-fai-'));
      copyFileSync(join(corpus, 'ref.fa'), join(tmp, 'ref.fa'));
      samtools(['faidx', join(tmp, 'ref.fa')]);
      assert.equal(fai.toString(), readFileSync(join(tmp, 'ref.fa.fai'), 'utf8'));
      rmSync(tmp, { recursive: true, force: true });
      const ranged = await bytesOf(
        (await omics.send(new GetReferenceCommand({ referenceStoreId: refStoreId, id: referenceId, partNumber: 1, range: '10-29' }))).payload,
      );
      assert.ok(ranged.equals(fasta.subarray(10, 30)));
      await expectServiceError(
        omics.send(new GetReferenceCommand({ referenceStoreId: refStoreId, id: referenceId, partNumber: 1, range: `${fasta.length + 5}-` })),
        'RangeNotSatisfiableException',
      );
      await expectServiceError(omics.send(new GetReferenceCommand({ referenceStoreId: refStoreId, id: referenceId, partNumber: 2 })), 'RangeNotSatisfiableException');
      const refs = await omics.send(new ListReferencesCommand({ referenceStoreId: refStoreId, filter: { md5: md5(fasta) } }));
      assert.deepEqual(refs.references!.map((r) => r.id), [referenceId]);
      assert.deepEqual((await omics.send(new ListTagsForResourceCommand({ resourceArn: referenceArn }))).tags, { build: 'synthetic' });
    });

    it('uploads paired FASTQ in out-of-order parts with a replaced part; counts, ETags and bytes match', async () => {
      const r1 = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
      const r2 = readFileSync(join(corpus, 'reads_R2.fastq.gz'));
      const [a, b, c] = cut(r1, 1000, Math.floor(r1.length / 2));
      const { uploadId, sent } = await upload(
        'FASTQ',
        'pair',
        [
          { source: 'SOURCE1', n: 3, body: c! },
          { source: 'SOURCE1', n: 1, body: Buffer.from('garbage that will be replaced') },
          { source: 'SOURCE2', n: 1, body: r2 },
          { source: 'SOURCE1', n: 2, body: b! },
          { source: 'SOURCE1', n: 1, body: a! },
        ],
        { tags: { project: 'p1' } },
      );
      const parts = await omics.send(new ListReadSetUploadPartsCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1' }));
      assert.deepEqual(parts.parts!.map((p) => [p.partNumber, p.partSize]), [[1, a!.length], [2, b!.length], [3, c!.length]]);
      assert.equal(parts.parts![0]!.checksum, createHash('sha256').update(a!).digest('hex'));
      const uploads = await omics.send(new ListMultipartReadSetUploadsCommand({ sequenceStoreId: storeId }));
      assert.ok(uploads.uploads!.some((u) => u.uploadId === uploadId));
      const final = sent.filter((p, i) => !(p.partSource === 'SOURCE1' && p.partNumber === 1 && i === 1));
      const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: final }));
      const m = await settled(readSetId!);
      assert.equal(m.status, 'ACTIVE', m.statusMessage);
      assert.equal(m.creationType, 'UPLOAD');
      assert.equal(m.fileType, 'FASTQ');
      const text1 = execFileSync('zcat', [join(corpus, 'reads_R1.fastq.gz')], { maxBuffer: 1 << 30 });
      const text2 = execFileSync('zcat', [join(corpus, 'reads_R2.fastq.gz')], { maxBuffer: 1 << 30 });
      assert.deepEqual(m.etag, { algorithm: 'FASTQ_MD5up', source1: md5(text1), source2: md5(text2) });
      const lines = text1.toString('latin1').split('\n').length - 1 + (text2.toString('latin1').split('\n').length - 1);
      assert.equal(m.sequenceInformation!.totalReadCount, lines / 4);
      assert.equal(m.files!.source1!.contentLength, r1.length);
      assert.equal(m.files!.source1!.totalParts, 1);
      assert.equal(m.files!.source1!.partSize, 104857600);
      assert.match(m.files!.source1!.s3Access!.s3Uri!, new RegExp(`/123456789012/sequenceStore/${storeId}/readSet/${readSetId}/pair_source1\\.fastq\\.gz$`));
      assert.match(m.files!.source2!.s3Access!.s3Uri!, /pair_source2\.fastq\.gz$/);
      assert.equal(m.files!.index, undefined);
      assert.ok((await download(readSetId!, 'SOURCE1', 1)).equals(r1));
      assert.ok((await download(readSetId!, 'SOURCE2', 1)).equals(r2));
      await expectServiceError(omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: readSetId, file: 'INDEX', partNumber: 1 })), 'ResourceNotFoundException');
      await expectServiceError(omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: readSetId, partNumber: 2 })), 'RangeNotSatisfiableException');
      assert.deepEqual((await omics.send(new ListTagsForResourceCommand({ resourceArn: m.arn }))).tags, { project: 'p1' });
      const after = await omics.send(new ListMultipartReadSetUploadsCommand({ sequenceStoreId: storeId }));
      assert.ok(!after.uploads!.some((u) => u.uploadId === uploadId), 'a completed upload is no longer listed');
      // Complete is safe to retry: the same read set comes back.
      const again = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: final }));
      assert.equal(again.readSetId, readSetId);
    });

    it('uploads an aligned BAM linked to the reference: ETag = samtools view | md5, index works with samtools', async () => {
      const bam = readFileSync(join(corpus, 'sample.bam'));
      const pieces = cut(bam, 65_536, 200_001);
      const { uploadId, sent } = await upload(
        'BAM',
        'sample',
        pieces.map((body, i) => ({ source: 'SOURCE1' as const, n: i + 1, body })),
        { referenceArn, generatedFrom: 'dwgsim' },
      );
      const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: sent }));
      const m = await settled(readSetId!);
      assert.equal(m.status, 'ACTIVE', m.statusMessage);
      const bamPath = join(corpus, 'sample.bam');
      assert.equal(m.etag!.source1, md5(samtools(['view', bamPath])));
      assert.equal(m.etag!.algorithm, 'BAM_MD5up');
      assert.equal(m.sequenceInformation!.totalReadCount, Number(samtools(['view', '-c', '-F', '0x900', bamPath]).toString().trim()));
      assert.equal(m.sequenceInformation!.alignment, 'ALIGNED');
      assert.equal(m.sequenceInformation!.generatedFrom, 'dwgsim');
      assert.equal(m.referenceArn, referenceArn);
      assert.match(m.files!.index!.s3Access!.s3Uri!, /\/sample\.bam\.bai$/);
      const dir = mkdtempSync(join(tmpdir(), 'openomics-dl-'));
      try {
        const got = await download(readSetId!, 'SOURCE1', m.files!.source1!.totalParts!);
        assert.ok(got.equals(bam), 'BAM bytes round-trip');
        writeFileSync(join(dir, 'x.bam'), got);
        writeFileSync(join(dir, 'x.bam.bai'), await download(readSetId!, 'INDEX', 1));
        for (const region of ['chr1:1000-5000', 'chr2', 'chr1:100000-100100']) {
          assert.equal(samtools(['view', join(dir, 'x.bam'), region]).toString(), samtools(['view', bamPath, region]).toString(), region);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      await expectServiceError(
        omics.send(new DeleteReferenceCommand({ referenceStoreId: refStoreId, id: referenceId })),
        'ConflictException',
        /linked to 1 read set/,
      );
    });

    it('uploads a CRAM linked to the reference (ETag = samtools view -T, .crai works); a CRAM on the wrong reference fails', async () => {
      const cram = readFileSync(join(corpus, 'sample.cram'));
      const good = await upload('CRAM', 'sample-cram', [
        { source: 'SOURCE1', n: 1, body: cram.subarray(0, 100_000) },
        { source: 'SOURCE1', n: 2, body: cram.subarray(100_000) },
      ], { referenceArn });
      const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId: good.uploadId, parts: good.sent }));
      const m = await settled(readSetId!);
      assert.equal(m.status, 'ACTIVE', m.statusMessage);
      const plaintext = execFileSync('find', [join(s.dataDir, 'scratch'), '-type', 'f'], { encoding: 'utf8' }).trim();
      assert.equal(plaintext, '', 'no plaintext (the decrypted reference, the CRAM) stays in scratch after the ingest');
      assert.equal(m.fileType, 'CRAM');
      assert.equal(m.etag!.algorithm, 'CRAM_MD5up');
      const ref = join(corpus, 'ref.fa');
      assert.equal(m.etag!.source1, md5(samtools(['view', '-T', ref, join(corpus, 'sample.cram')])));
      assert.equal(m.sequenceInformation!.totalReadCount, Number(samtools(['view', '-c', '-F', '0x900', '-T', ref, join(corpus, 'sample.cram')]).toString().trim()));
      assert.match(m.files!.source1!.s3Access!.s3Uri!, /\/sample-cram\.cram$/);
      assert.match(m.files!.index!.s3Access!.s3Uri!, /\/sample-cram\.cram\.crai$/);
      const dir = mkdtempSync(join(tmpdir(), 'openomics-cram-'));
      try {
        writeFileSync(join(dir, 'x.cram'), await download(readSetId!, 'SOURCE1', 1));
        writeFileSync(join(dir, 'x.cram.crai'), await download(readSetId!, 'INDEX', 1));
        for (const region of ['chr1:1000-5000', 'chr2']) {
          assert.equal(samtools(['view', '-T', ref, join(dir, 'x.cram'), region]).toString(), samtools(['view', '-T', ref, join(corpus, 'sample.cram'), region]).toString());
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      // the same CRAM linked to another genome of the same shape
      writeFileSync(join(importRoot, 'other.fa'), readFileSync(join(corpus, 'ref.fa'), 'latin1').replace(/ACGT/g, 'TTTT'));
      const job = await omics.send(
        new StartReferenceImportJobCommand({ referenceStoreId: refStoreId, roleArn: 'arn:aws:iam::123456789012:role/OmicsImport', sources: [{ sourceFile: `file://${importRoot}/other.fa`, name: 'other-genome' }] }),
      );
      const done = await until('import', () => omics.send(new GetReferenceImportJobCommand({ referenceStoreId: refStoreId, id: job.id })), (j) => j.status === 'COMPLETED');
      otherReferenceId = done.sources![0]!.referenceId!;
      const bad = await upload('CRAM', 'wrong-ref', [{ source: 'SOURCE1', n: 1, body: cram }], {
        referenceArn: referenceArn.replace(/reference\/\d+$/, `reference/${otherReferenceId}`),
      });
      const br = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId: bad.uploadId, parts: bad.sent }));
      const bm = await settled(br.readSetId!);
      assert.equal(bm.status, 'UPLOAD_FAILED');
      assert.match(bm.statusMessage!, /reference mismatch \(sample\.cram|wrong-ref\.cram/);
    });

    it('fails bad uploads with a clear status and leaves nothing half-made', async () => {
      const bam = readFileSync(join(corpus, 'sample.bam'));
      // a truncated BAM
      const t = await upload('BAM', 'truncated', [{ source: 'SOURCE1', n: 1, body: bam.subarray(0, bam.length - 1000) }], { referenceArn });
      const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId: t.uploadId, parts: t.sent }));
      const m = await settled(readSetId!);
      assert.equal(m.status, 'UPLOAD_FAILED');
      assert.match(m.statusMessage!, /truncated\.bam|BGZF|truncat/i);
      await expectServiceError(omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: readSetId, partNumber: 1 })), 'ConflictException');
      // an aligned BAM without a reference
      const n = await upload('BAM', 'noref', [{ source: 'SOURCE1', n: 1, body: bam }]);
      const nr = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId: n.uploadId, parts: n.sent }));
      assert.match((await settled(nr.readSetId!)).statusMessage!, /reference/);
      // a FASTQ declared as BAM
      const r1 = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
      const f = await upload('UBAM', 'not-a-bam', [{ source: 'SOURCE1', n: 1, body: r1 }]);
      const fr = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId: f.uploadId, parts: f.sent }));
      assert.equal((await settled(fr.readSetId!)).status, 'UPLOAD_FAILED');
      // wrong checksum, a part never uploaded, SOURCE2 on a BAM: refused at the API, upload still open
      const w = await upload('FASTQ', 'wrong', [{ source: 'SOURCE1', n: 1, body: r1 }]);
      await expectServiceError(
        omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId: w.uploadId, parts: [{ ...w.sent[0]!, checksum: 'f'.repeat(64) }] })),
        'ValidationException',
        /checksum/,
      );
      await expectServiceError(
        omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId: w.uploadId, parts: [...w.sent, { partNumber: 2, partSource: 'SOURCE1', checksum: 'x' }] })),
        'ValidationException',
        /Part 2 of SOURCE1 was not uploaded/,
      );
      await expectServiceError(
        omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId: t.uploadId, partSource: 'SOURCE1', partNumber: 2, payload: r1 })),
        'ResourceNotFoundException',
      );
      const base64 = Buffer.from(w.sent[0]!.checksum, 'hex').toString('base64');
      const ok = await omics.send(
        new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId: w.uploadId, parts: [{ ...w.sent[0]!, checksum: base64 }] }),
      );
      assert.equal((await settled(ok.readSetId!)).status, 'ACTIVE', 'the base64 form of the checksum is accepted');
      // abort removes the upload and its parts
      const ab = await upload('FASTQ', 'aborted', [{ source: 'SOURCE1', n: 1, body: r1 }]);
      await omics.send(new AbortMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId: ab.uploadId }));
      await expectServiceError(omics.send(new ListReadSetUploadPartsCommand({ sequenceStoreId: storeId, uploadId: ab.uploadId, partSource: 'SOURCE1' })), 'ResourceNotFoundException');
      await expectServiceError(
        omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId: ab.uploadId, parts: ab.sent })),
        'ResourceNotFoundException',
      );
      const bamUp = await upload('BAM', 'two-sources', []);
      await expectServiceError(
        omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId: bamUp.uploadId, partSource: 'SOURCE2', partNumber: 1, payload: r1 })),
        'ValidationException',
        /SOURCE2/,
      );
    });

    it('lists read sets with filters and pages, and batch-deletes with per-id errors', async () => {
      const all = await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId }));
      assert.ok(all.readSets!.length >= 6);
      const active = await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, filter: { status: 'ACTIVE' } }));
      assert.ok(active.readSets!.every((r) => r.status === 'ACTIVE'));
      const linked = await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, filter: { referenceArn, status: 'ACTIVE' } }));
      assert.deepEqual(linked.readSets!.map((r) => r.name), ['sample', 'sample-cram']);
      const byName = await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, filter: { name: 'pair' } }));
      assert.equal(byName.readSets!.length, 1);
      assert.equal(byName.readSets![0]!.etag!.algorithm, 'FASTQ_MD5up');
      const seen: string[] = [];
      let nextToken: string | undefined;
      do {
        const p = await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, maxResults: 2, nextToken }));
        seen.push(...p.readSets!.map((r) => r.id!));
        nextToken = p.nextToken;
      } while (nextToken);
      assert.deepEqual(seen, all.readSets!.map((r) => r.id!));
      const ids = all.readSets!.map((r) => r.id!);
      const res = await omics.send(new BatchDeleteReadSetCommand({ sequenceStoreId: storeId, ids: [...ids, '9999999999'] }));
      assert.deepEqual(res.errors, [{ id: '9999999999', code: 'NotFound', message: `Read set 9999999999 not found in sequence store ${storeId}.` }]);
      assert.equal((await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId }))).readSets!.length, 0);
      await omics.send(new DeleteReferenceCommand({ referenceStoreId: refStoreId, id: referenceId }));
      await omics.send(new DeleteReferenceCommand({ referenceStoreId: refStoreId, id: otherReferenceId }));
      await omics.send(new DeleteSequenceStoreCommand({ id: storeId }));
      const leftovers = execFileSync('find', [join(s.dataDir, 'blobs'), '-type', 'f'], { encoding: 'utf8' }).trim();
      assert.equal(leftovers, '', 'no blob outlives its read set, upload or reference');
      const cache = execFileSync('find', [join(s.dataDir, 'scratch'), '-type', 'f'], { encoding: 'utf8' }).trim();
      assert.equal(cache, '', 'no decrypted reference copy (CRAM) outlives its reference');
    });
  });
}

describe('upload limits', () => {
  let s: SpawnedServer;
  before(async () => {
    s = await spawnServer({ env: { OPENOMICS_UPLOAD_EXPIRY_SECONDS: '2' } });
  });
  after(async () => s?.stop());

  it('refuses a part over 100 MiB and expires abandoned uploads with their parts', async () => {
    const omics = omicsClient(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'limits' }))).id!;
    const { uploadId } = await omics.send(
      new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'big' }),
    );
    await expectServiceError(
      omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: Buffer.alloc(104857601) })),
      'ValidationException',
      /larger than the limit of 104857600 bytes/,
    );
    await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: Buffer.from('@r\nA\n+\nI\n') }));
    await until(
      'upload expiry',
      () => omics.send(new ListMultipartReadSetUploadsCommand({ sequenceStoreId: storeId })),
      (r) => r.uploads!.length === 0,
      15_000,
    );
    const blobs = execFileSync('find', [join(s.dataDir, 'blobs'), '-type', 'f'], { encoding: 'utf8' }).trim();
    assert.equal(blobs, '', 'the expired upload left no part behind');
  });
});

describe('archive and activation', () => {
  let s: SpawnedServer;
  let clock: string;
  const DAY = 24 * 3600 * 1000;
  before(async () => {
    clock = join(mkdtempSync(join(tmpdir(), 'openomics-clock-')), 'offset');
    writeFileSync(clock, '0');
    s = await spawnServer({ env: { OPENOMICS_CLOCK_OFFSET_FILE: clock, OPENOMICS_ARCHIVE_SWEEP_SECONDS: '1' } });
  });
  after(async () => s?.stop());

  it('archives read sets idle for 30 days to the cold tier and activates them back at the same URIs', async () => {
    const omics = omicsClient(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'cold' }))).id!;
    const r1 = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
    const make = async (name: string) => {
      const { uploadId } = await omics.send(
        new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name }),
      );
      const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: r1 }));
      const { readSetId } = await omics.send(
        new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum }] }),
      );
      await until('ACTIVE', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (m) => m.status === 'ACTIVE');
      return readSetId!;
    };
    const idle = await make('idle');
    const used = await make('used');
    const uri = (await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: idle }))).files!.source1!.s3Access!.s3Uri;
    writeFileSync(clock, String(20 * DAY));
    await bytesOf((await omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: used, partNumber: 1 }))).payload);
    writeFileSync(clock, String(31 * DAY));
    const archived = await until(
      'archival',
      () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: idle })),
      (m) => m.status === 'ARCHIVED',
      20_000,
    );
    assert.equal(archived.files!.source1!.s3Access, undefined, 'no S3 URI while archived');
    assert.equal((await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: used }))).status, 'ACTIVE', 'read 11 days ago: stays');
    await expectServiceError(omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: idle, partNumber: 1 })), 'ConflictException', /ARCHIVED/);
    const hot = execFileSync('find', [join(s.dataDir, 'blobs'), '-path', `*readsets/${idle}*`, '-type', 'f'], { encoding: 'utf8' }).trim();
    const cold = execFileSync('find', [join(s.dataDir, 'cold-blobs'), '-path', `*readsets/${idle}*`, '-type', 'f'], { encoding: 'utf8' }).trim();
    assert.equal(hot, '', 'the hot copy is gone');
    assert.notEqual(cold, '', 'the cold tier holds it');

    const job = await omics.send(new StartReadSetActivationJobCommand({ sequenceStoreId: storeId, sources: [{ readSetId: idle }] }));
    const done = await until(
      'activation',
      () => omics.send(new GetReadSetActivationJobCommand({ sequenceStoreId: storeId, id: job.id })),
      (j) => !['SUBMITTED', 'IN_PROGRESS'].includes(j.status!),
    );
    assert.equal(done.status, 'COMPLETED');
    assert.deepEqual(done.sources, [{ readSetId: idle, status: 'FINISHED' }]);
    const back = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: idle }));
    assert.equal(back.status, 'ACTIVE');
    assert.equal(back.files!.source1!.s3Access!.s3Uri, uri, 'same URI after activation');
    assert.ok((await bytesOf((await omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: idle, partNumber: 1 }))).payload)).equals(r1));
    const listed = await omics.send(new ListReadSetActivationJobsCommand({ sequenceStoreId: storeId, filter: { status: 'COMPLETED' } }));
    assert.deepEqual(listed.activationJobs!.map((j) => j.id), [job.id]);
    await expectServiceError(
      omics.send(new StartReadSetActivationJobCommand({ sequenceStoreId: storeId, sources: Array.from({ length: 21 }, () => ({ readSetId: idle })) })),
      'ValidationException',
    );
  });
});
