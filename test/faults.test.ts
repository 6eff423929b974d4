// Connection faults between the server and its object stores: a fault proxy in front of moto_server resets
// the connection at a random byte offset during every kind of ingest (FASTQ pair, BAM, uBAM, CRAM), reference
// import, read set import and export, GetReadSet and S3-view reads, on the S3 and the local-disk blob backends
// (on disk, the object store is the connected bucket that imports read from and exports write to).
// The server process must stay up every time; jobs end ACTIVE/COMPLETED after their retry (or with a storage
// error, never "malformed"); a client gets an error or the complete body, never a silently truncated one.
// FAULT_SEED=<n> replays a run; FAULT_ROUNDS=<n> (default 1) repeats every case with new offsets.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import {
  OmicsClient,
  CreateSequenceStoreCommand,
  CreateReferenceStoreCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  CompleteMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  GetReadSetCommand,
  GetSequenceStoreCommand,
  StartReadSetImportJobCommand,
  GetReadSetImportJobCommand,
  StartReadSetExportJobCommand,
  GetReadSetExportJobCommand,
  ListReferenceStoresCommand,
  BatchDeleteReadSetCommand,
  StartReferenceImportJobCommand,
  GetReferenceImportJobCommand,
  GetReferenceCommand,
  type ReadSetFile,
} from '@aws-sdk/client-omics';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { startMoto, MOTO_CREDENTIALS, type Moto } from './helpers/moto.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { omicsClient, until, jobFinished, importReference } from './helpers/omics.js';
import { tinyCorpus } from './helpers/corpus.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const IMPORT_ROLE = 'arn:aws:iam::123456789012:role/OmicsImport';
const EXPORT_ROLE = 'arn:aws:iam::123456789012:role/OmicsExport';
const ROUNDS = Number(process.env['FAULT_ROUNDS'] ?? 1);
let seed = Number(process.env['FAULT_SEED'] ?? randomBytes(4).readUInt32LE(0));
console.log(`fault offsets from FAULT_SEED=${seed}`);
/** A small deterministic generator (mulberry32), so a failing run can be replayed. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const offsetWithin = (bytes: number) => Math.floor(random() * bytes);

/** Text that means the file was blamed for a storage fault. */
const BLAMES_FILE = /malformed|corrupt|truncated|not a valid|invalid/i;

type BlobBackend = 's3' | 'disk';

for (const backend of ['s3', 'disk'] as BlobBackend[]) {
  describe(`object-store connection resets (${backend} blobs)`, () => {
    let moto: Moto;
    let proxy: FaultProxy;
    let s: SpawnedServer;
    let omics: OmicsClient;
    let corpus: string;
    let storeId: string;
    let referenceArn: string;
    const files: Record<string, Buffer> = {};

    /** The server must still be there and ready after every fault. */
    async function assertServerUp(what: string) {
      assert.equal(s.child.exitCode, null, `the server exited during ${what}:\n${s.logs.slice(-12).join('\n')}`);
      const r = await fetch(`${s.url}/_openomics/ready`);
      assert.equal(r.status, 200, `not ready after ${what}`);
      assert.ok(!s.logs.some((l) => /uncaught|unhandled 'error'|Unhandled/i.test(l)), `a crash was logged during ${what}`);
    }

    before(async () => {
      corpus = tinyCorpus();
      for (const f of ['reads_R1.fastq.gz', 'reads_R2.fastq.gz', 'sample.bam', 'sample.unaligned.bam', 'sample.cram', 'ref.fa']) files[f] = readFileSync(join(corpus, f));
      moto = await startMoto();
      const port = Number(new URL(moto.endpoint).port);
      proxy = await startFaultProxy({ host: '127.0.0.1', port });
      const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
      for (const b of ['blobs', 'lab-data', 'lab-results']) await s3.send(new CreateBucketCommand({ Bucket: b }));
      for (const [f, body] of Object.entries(files)) await s3.send(new PutObjectCommand({ Bucket: 'lab-data', Key: `runs/${f}`, Body: body }));
      s = await spawnServer({
        env: {
          OPENOMICS_JOB_LEASE_SECONDS: '2',
          OPENOMICS_OBJECT_STORE_IDLE_TIMEOUT_SECONDS: '2',
          OPENOMICS_JOB_MAX_STORAGE_ATTEMPTS: '3',
          ...(backend === 's3'
            ? {
                OPENOMICS_BLOB_S3_BUCKET: 'blobs',
                OPENOMICS_BLOB_S3_ENDPOINT: proxy.url,
                OPENOMICS_BLOB_S3_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
                OPENOMICS_BLOB_S3_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
              }
            : {}),
        },
      });
      s.child.once('exit', (code, signal) => {
        if (!stopping) console.log(`the server exited (${code ?? signal}); its last lines:\n${s.logs.slice(-15).join('\n')}`);
      });
      const admin = (...args: string[]) => {
        const r = spawnSync(process.execPath, [CLI, 'admin', ...args], { env: s.env, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      };
      const keys = ['--access-key-id', MOTO_CREDENTIALS.accessKeyId, '--secret-access-key', MOTO_CREDENTIALS.secretAccessKey];
      admin('connection', 'add', 'lab', '--bucket', 'lab-data', '--region', 'us-east-1', '--endpoint', proxy.url, '--job-role-arn', IMPORT_ROLE, ...keys);
      admin('connection', 'add', 'results', '--bucket', 'lab-results', '--region', 'us-east-1', '--endpoint', proxy.url, '--job-role-arn', EXPORT_ROLE, ...keys);
      omics = omicsClient(s);
      storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'faults' }))).id!;
      const refStoreId = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
      referenceArn = await importReference(omics, refStoreId, 's3://lab-data/runs/ref.fa');
    });
    let stopping = false;
    after(async () => {
      stopping = true;
      await proxy?.close();
      await s?.stop();
      await moto?.stop();
    });

    /** Reads a whole read set file part by part; every part either arrives whole or fails. */
    async function readFileBack(readSetId: string, file: ReadSetFile, expected: Buffer) {
      const got = await omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: readSetId, file, partNumber: 1 }));
      const bytes = Buffer.from(await got.payload!.transformToByteArray());
      assert.equal(md5(bytes), md5(expected), `${file} of ${readSetId} differs from what was uploaded`);
    }

    const kinds = [
      { kind: 'FASTQ pair', type: 'FASTQ', sources: ['reads_R1.fastq.gz', 'reads_R2.fastq.gz'] },
      { kind: 'BAM', type: 'BAM', sources: ['sample.bam'], reference: true },
      { kind: 'uBAM', type: 'UBAM', sources: ['sample.unaligned.bam'] },
      { kind: 'CRAM', type: 'CRAM', sources: ['sample.cram'], reference: true },
    ] as const;

    for (let round = 0; round < ROUNDS; round++) {
      if (backend === 's3') {
        for (const k of kinds) {
          it(`direct upload ingest of a ${k.kind}, reset at a random offset (round ${round + 1})`, async () => {
            const { uploadId } = await omics.send(
              new CreateMultipartReadSetUploadCommand({
                sequenceStoreId: storeId,
                sourceFileType: k.type,
                subjectId: 's',
                sampleId: 'm',
                name: k.kind,
                ...('reference' in k ? { referenceArn } : {}),
              }),
            );
            const parts = [];
            for (const [i, f] of k.sources.entries()) {
              const partSource = i === 0 ? ('SOURCE1' as const) : ('SOURCE2' as const);
              const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource, partNumber: 1, payload: files[f] }));
              parts.push({ partNumber: 1, partSource, checksum: checksum! });
            }
            // The ingest reads the parts, then writes the read set: at least the files' bytes pass the proxy.
            const total = k.sources.reduce((n, f) => n + files[f]!.length, 0);
            const resetsBefore = proxy.resets();
            proxy.resetAfter(offsetWithin(total));
            const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts }));
            const m = await until('ingest', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (x) => x.status !== 'PROCESSING_UPLOAD', 90_000);
            proxy.heal();
            await assertServerUp(`${k.kind} ingest`);
            assert.ok(!BLAMES_FILE.test(m.statusMessage ?? ''), `a storage fault was blamed on the file: ${m.statusMessage}`);
            assert.equal(m.status, 'ACTIVE', `${m.status}: ${m.statusMessage}`);
            assert.ok(proxy.resets() > resetsBefore, 'the fault was injected');
            await readFileBack(readSetId!, 'SOURCE1', files[k.sources[0]]!);
            if (k.sources[1]) await readFileBack(readSetId!, 'SOURCE2', files[k.sources[1]]!);
          });
        }
      }

      it(`reference import from the connected bucket, reset at a random offset (round ${round + 1})`, async () => {
        const refStoreId = (await omics.send(new ListReferenceStoresCommand({}))).referenceStores![0]!.id!;
        const resetsBefore = proxy.resets();
        proxy.resetAfter(offsetWithin(files['ref.fa']!.length));
        const job = await omics.send(
          new StartReferenceImportJobCommand({ referenceStoreId: refStoreId, roleArn: IMPORT_ROLE, sources: [{ sourceFile: 's3://lab-data/runs/ref.fa', name: `ref-${round}` }] }),
        );
        const done = await until('reference import', () => omics.send(new GetReferenceImportJobCommand({ referenceStoreId: refStoreId, id: job.id })), jobFinished, 120_000);
        proxy.heal();
        await assertServerUp('a reference import');
        assert.equal(done.status, 'COMPLETED', JSON.stringify(done.sources));
        assert.ok(proxy.resets() > resetsBefore, 'the fault was injected');
        const ref = await omics.send(new GetReferenceCommand({ referenceStoreId: refStoreId, id: done.sources![0]!.referenceId!, partNumber: 1 }));
        assert.equal(md5(Buffer.from(await ref.payload!.transformToByteArray())), md5(files['ref.fa']!));
      });

      it(`import job of every kind from the connected bucket, reset at a random offset (round ${round + 1})`, async () => {
        const total = kinds.reduce((n, k) => n + k.sources.reduce((m, f) => m + files[f]!.length, 0), 0);
        const resetsBefore = proxy.resets();
        proxy.resetAfter(offsetWithin(total));
        const job = await omics.send(
          new StartReadSetImportJobCommand({
            sequenceStoreId: storeId,
            roleArn: IMPORT_ROLE,
            sources: kinds.map((k) => ({
              sourceFileType: k.type,
              subjectId: 's',
              sampleId: 'm',
              name: `imported ${k.kind}`,
              ...('reference' in k ? { referenceArn } : {}),
              sourceFiles: { source1: `s3://lab-data/runs/${k.sources[0]}`, ...(k.sources[1] ? { source2: `s3://lab-data/runs/${k.sources[1]}` } : {}) },
            })),
          }),
        );
        const done = await until('import', () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id })), jobFinished, 120_000);
        proxy.heal();
        await assertServerUp('an import job');
        for (const src of done.sources!) assert.ok(!BLAMES_FILE.test(src.statusMessage ?? ''), `a storage fault was blamed on the file: ${src.statusMessage}`);
        assert.deepEqual(done.sources!.map((x) => x.status), kinds.map(() => 'FINISHED'), JSON.stringify(done.sources));
        assert.ok(proxy.resets() > resetsBefore, 'the fault was injected');
        for (const [i, k] of kinds.entries()) {
          const m = await until('imported read set', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: done.sources![i]!.readSetId })), (x) => x.status !== 'PROCESSING_UPLOAD');
          assert.equal(m.status, 'ACTIVE', m.statusMessage);
          await readFileBack(m.id!, 'SOURCE1', files[k.sources[0]]!);
        }
      });

      it(`export job to the connected bucket, reset at a random offset (round ${round + 1})`, async () => {
        const imported = await importOne('sample.bam', 'BAM');
        const resetsBefore = proxy.resets();
        proxy.resetAfter(offsetWithin(files['sample.bam']!.length));
        const ex = await omics.send(
          new StartReadSetExportJobCommand({ sequenceStoreId: storeId, roleArn: EXPORT_ROLE, destination: `s3://lab-results/round-${round}/`, sources: [{ readSetId: imported }] }),
        );
        const done = await until('export', () => omics.send(new GetReadSetExportJobCommand({ sequenceStoreId: storeId, id: ex.id })), jobFinished, 120_000);
        proxy.heal();
        await assertServerUp('an export job');
        assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
        assert.ok(proxy.resets() > resetsBefore, 'the fault was injected');
        const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
        const got = await s3.send(new GetObjectCommand({ Bucket: 'lab-results', Key: `round-${round}/${imported}/sample.bam` }));
        assert.equal(md5(Buffer.from(await got.Body!.transformToByteArray())), md5(files['sample.bam']!));
      });

      if (backend === 's3') {
        it(`a part upload cut off by a reset answers a retryable error, and the retried part completes the read set (round ${round + 1})`, async () => {
          const body = files['reads_R1.fastq.gz']!;
          const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'part-reset' }));
          const resetsBefore = proxy.resets();
          proxy.resetAfter(offsetWithin(body.length));
          let checksum: string | undefined;
          try {
            checksum = (await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: body }))).checksum;
          } catch (e) {
            const err = e as Error & { $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
            assert.equal(err.$metadata?.httpStatusCode, 503, `${err.name}: ${err.message}`);
            assert.equal(err.name, 'InternalServerException');
          }
          proxy.heal();
          assert.ok(proxy.resets() > resetsBefore, 'the fault was injected');
          await assertServerUp('a part upload');
          checksum ??= (await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: body }))).checksum;
          const { readSetId } = await omics.send(
            new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum: checksum! }] }),
          );
          const m = await until('ingest', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (x) => x.status !== 'PROCESSING_UPLOAD', 60_000);
          assert.equal(m.status, 'ACTIVE', m.statusMessage);
          await readFileBack(readSetId!, 'SOURCE1', body);
        });

        it(`an object store that stalls longer than the idle timeout during ingest: the job retries and completes (round ${round + 1})`, async () => {
          const body = files['sample.unaligned.bam']!;
          const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'UBAM', subjectId: 's', sampleId: 'm', name: 'stall' }));
          const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: body }));
          proxy.stall();
          const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum: checksum! }] }));
          await new Promise((r) => setTimeout(r, 4_000)); // twice the idle timeout
          assert.equal((await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId }))).status, 'PROCESSING_UPLOAD');
          proxy.heal();
          const m = await until('ingest', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (x) => x.status !== 'PROCESSING_UPLOAD', 60_000);
          await assertServerUp('a stalled ingest');
          assert.equal(m.status, 'ACTIVE', m.statusMessage);
          await readFileBack(readSetId!, 'SOURCE1', body);
        });

        if (round === 0) {
          it('an outage longer than the retries: the read set says why it waits, then ends UPLOAD_FAILED (never "malformed") and can be deleted', async () => {
            const body = files['reads_R1.fastq.gz']!;
            const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'outage' }));
            const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: body }));
            proxy.refuse();
            const { readSetId } = await omics.send(
              new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum: checksum! }] }),
            );
            const get = () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId }));
            const waiting = await until('a retry', get, (x) => /retrying/.test(x.statusMessage ?? ''), 60_000);
            assert.equal(waiting.status, 'PROCESSING_UPLOAD');
            assert.match(waiting.statusMessage!, /storage was unavailable/);
            const failed = await until('give-up', get, (x) => x.status !== 'PROCESSING_UPLOAD', 90_000);
            proxy.heal();
            await assertServerUp('an outage');
            assert.equal(failed.status, 'UPLOAD_FAILED');
            assert.match(failed.statusMessage!, /gave up.*storage was unavailable/);
            assert.ok(!BLAMES_FILE.test(failed.statusMessage!), failed.statusMessage);
            const del = await omics.send(new BatchDeleteReadSetCommand({ sequenceStoreId: storeId, ids: [readSetId!] }));
            assert.deepEqual(del.errors ?? [], []);
          });
        }

        it(`GetReadSet and S3-view reads, reset at a random offset: an error or the whole body (round ${round + 1})`, async () => {
          const readSetId = await importOne('sample.bam', 'BAM');
          const expected = files['sample.bam']!;
          const meta = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId }));
          const alias = /^s3:\/\/([^/]+)\//.exec((await omics.send(new GetSequenceStoreCommand({ id: storeId }))).s3Access!.s3Uri!)![1]!;
          const key = meta.files!.source1!.s3Access!.s3Uri!.replace(`s3://${alias}/`, '');
          const view = new S3Client({ endpoint: s.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } });
          const reads: [string, () => Promise<Buffer>, Buffer][] = [
            ['GetReadSet', async () => Buffer.from(await (await omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: readSetId, file: 'SOURCE1', partNumber: 1 }))).payload!.transformToByteArray()), expected],
            ['S3 GetObject', async () => Buffer.from(await (await view.send(new GetObjectCommand({ Bucket: alias, Key: key }))).Body!.transformToByteArray()), expected],
            ['S3 ranged GetObject', async () => Buffer.from(await (await view.send(new GetObjectCommand({ Bucket: alias, Key: key, Range: 'bytes=1000-300000' }))).Body!.transformToByteArray()), expected.subarray(1000, 300001)],
          ];
          for (const [what, read, want] of reads) {
            const resetsBefore = proxy.resets();
            proxy.resetAfter(offsetWithin(want.length));
            let outcome = 'complete';
            try {
              const got = await read();
              assert.equal(got.length, want.length, `${what}: a truncated body was delivered as complete`);
              assert.ok(got.equals(want), `${what}: wrong bytes`);
            } catch (e) {
              if (e instanceof assert.AssertionError) throw e;
              outcome = `error (${(e as Error).name})`;
            }
            proxy.heal();
            assert.ok(proxy.resets() > resetsBefore, `the fault was injected into ${what}`);
            await assertServerUp(what);
            // Whatever happened, the next read is whole.
            assert.ok((await read()).equals(want), `${what} after the fault`);
            console.log(`${what}: ${outcome}`);
          }
          // The data plane's metrics saw it all: S3-view requests and bytes, and the blob store's failures.
          const metrics = await (await fetch(`${s.url}/_openomics/metrics`)).text();
          assert.match(metrics, /openomics_s3_requests_total\{operation="GetObject",status="(200|206)"\} [1-9]/);
          assert.match(metrics, /openomics_s3_bytes_sent_total\{operation="GetObject"\} [1-9]/);
          assert.match(metrics, /openomics_blob_errors_total\{tier="hot",operation="[a-z]+"\} [1-9]/);
          assert.match(metrics, /openomics_job_attempts_total\{kind="ReadSetUploadIngest",outcome="retry"\} [1-9]/);
        });
      }
    }

    async function importOne(file: string, type: 'BAM' | 'FASTQ'): Promise<string> {
      const job = await omics.send(
        new StartReadSetImportJobCommand({
          sequenceStoreId: storeId,
          roleArn: IMPORT_ROLE,
          sources: [{ sourceFileType: type, subjectId: 's', sampleId: 'm', name: file, ...(type === 'BAM' ? { referenceArn } : {}), sourceFiles: { source1: `s3://lab-data/runs/${file}` } }],
        }),
      );
      const done = await until('import', () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id })), jobFinished, 120_000);
      assert.equal(done.sources![0]!.status, 'FINISHED', JSON.stringify(done.sources));
      await until('ACTIVE', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: done.sources![0]!.readSetId })), (x) => x.status === 'ACTIVE');
      return done.sources![0]!.readSetId!;
    }
  });
}
