// Connected storage: customers' S3-compatible buckets (moto_server) as import sources and export destinations,
// managed with `openomics admin connection ...`: access keys or an assumed role with an external id, prefixes,
// versioning, SSE-KMS on written objects, a connectivity check that says where access fails, secrets sealed at rest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  S3Client,
  CreateBucketCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { KMSClient, CreateKeyCommand } from '@aws-sdk/client-kms';
import {
  OmicsClient,
  CreateSequenceStoreCommand,
  CreateReferenceStoreCommand,
  StartReadSetImportJobCommand,
  GetReadSetImportJobCommand,
  StartReadSetExportJobCommand,
  GetReadSetExportJobCommand,
  GetReadSetMetadataCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  CompleteMultipartReadSetUploadCommand,
  GetSequenceStoreCommand,
} from '@aws-sdk/client-omics';
import { until, jobFinished, importReference } from './helpers/omics.js';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { startMoto, MOTO_CREDENTIALS, type Moto } from './helpers/moto.js';
import { tinyCorpus } from './helpers/corpus.js';

const IMPORT_ROLE = 'arn:aws:iam::123456789012:role/OmicsImport';
const EXPORT_ROLE = 'arn:aws:iam::123456789012:role/OmicsExport';
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');


describe('connected storage (moto_server buckets)', () => {
  let moto: Moto;
  let s: SpawnedServer;
  let s3: S3Client;
  let omics: OmicsClient;
  let kmsKey: string;
  let corpus: string;
  let logged: { alias: string; key: string } | undefined;

  const admin = (...args: string[]) => adminWith({}, ...args);
  const adminWith = (env: Record<string, string>, ...args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, 'admin', ...args], { env: { ...s.env, ...env }, encoding: 'utf8' });
    return { status: r.status, out: r.stdout ? JSON.parse(r.stdout) : undefined, err: r.stderr };
  };

  before(async () => {
    corpus = tinyCorpus();
    moto = await startMoto();
    s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: 'lab-data' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'lab-data', VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new CreateBucketCommand({ Bucket: 'lab-results' }));
    for (const f of ['reads_R1.fastq.gz', 'reads_R2.fastq.gz', 'sample.bam', 'ref.fa']) {
      await s3.send(new PutObjectCommand({ Bucket: 'lab-data', Key: `runs/run-1/${f}`, Body: readFileSync(join(corpus, f)) }));
    }
    await s3.send(new PutObjectCommand({ Bucket: 'lab-data', Key: 'private/secret.bam', Body: readFileSync(join(corpus, 'sample.bam')) }));
    const kms = new KMSClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS });
    kmsKey = (await kms.send(new CreateKeyCommand({ Description: 'lab results' }))).KeyMetadata!.Arn!;
    s = await spawnServer({ env: { OPENOMICS_S3_ACCESS_LOG_FLUSH_SECONDS: '1' } });
    omics = new OmicsClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, disableHostPrefix: true, maxAttempts: 1 });
  });
  after(async () => {
    const dataDir = s?.dataDir;
    await s?.stop();
    await moto?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true }); // also when a restarted server did not own it
  });

  it('adds connections, checks them, and says precisely where access fails', () => {
    const SECRET = 'lab-secret-key-that-must-not-leak';
    const lab = admin('connection', 'add', 'lab', '--bucket', 'lab-data', '--region', 'us-east-1', '--endpoint', moto.endpoint, '--prefix', 'runs',
      '--versioned', '--access-key-id', 'AKIALABDATA', '--secret-access-key', SECRET, '--check');
    assert.equal(lab.status, 0, lab.err);
    assert.equal(lab.out.config.prefix, 'runs/');
    assert.equal(lab.out.check.ok, true, JSON.stringify(lab.out.check));
    assert.equal(lab.out.hasSecret, true);
    assert.ok(!JSON.stringify(lab.out).includes(SECRET), 'the secret is never printed');
    const results = adminWith({ OPENOMICS_CONNECTION_SECRET_ACCESS_KEY: 'from-env' }, 'connection', 'add', 'results', '--bucket', 'lab-results', '--region', 'us-east-1', '--endpoint', moto.endpoint,
      '--access-key-id', 'AKIARESULTS', '--role-arn', 'arn:aws:iam::210987654321:role/LabResultsWriter', '--external-id', 'ext-42',
      '--sse', 'SSE-KMS', '--kms-key-id', kmsKey, '--job-role-arn', EXPORT_ROLE);
    assert.equal(results.status, 0, results.err);
    const check = admin('connection', 'check', 'results', '--write');
    assert.equal(check.status, 0, JSON.stringify(check.out));
    assert.deepEqual(check.out.steps.map((x: { step: string }) => x.step), ['credentials', 'bucket', 'list', 'write']);
    assert.match(check.out.steps[0].detail, /assumed arn:aws:iam::210987654321:role\/LabResultsWriter/);

    admin('connection', 'add', 'nobucket', '--bucket', 'no-such-bucket', '--region', 'us-east-1', '--endpoint', moto.endpoint, '--access-key-id', 'A', '--secret-access-key', 'B');
    const missing = admin('connection', 'check', 'nobucket');
    assert.equal(missing.status, 3);
    assert.deepEqual(missing.out.steps.at(-1), { step: 'bucket', ok: false, detail: 'not found (404): the bucket or object does not exist' });
    admin('connection', 'add', 'down', '--bucket', 'lab-data', '--region', 'us-east-1', '--endpoint', 'http://127.0.0.1:9', '--access-key-id', 'A', '--secret-access-key', 'B');
    const down = admin('connection', 'check', 'down');
    assert.equal(down.status, 3);
    assert.match(down.out.steps.at(-1).detail, /cannot be reached \(ECONNREFUSED\)/);
    admin('connection', 'remove', 'down');
    admin('connection', 'remove', 'nobucket');
    assert.deepEqual(admin('connection', 'list').out.map((c: { name: string }) => c.name), ['lab', 'results']);
    const db = readFileSync(join(s.dataDir, 'metadata.sqlite'));
    assert.equal(db.indexOf(SECRET), -1, 'secrets are sealed at rest');
    assert.equal(db.indexOf('from-env'), -1);
  });

  it('imports a reference and read sets from the bucket, refusing keys outside the connection prefix', async () => {
    const refStoreId = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    // The same role the connection for lab-data is bound to.
    const referenceArn = await importReference(omics, refStoreId, 's3://lab-data/runs/run-1/ref.fa');

    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'from-s3' }))).id!;
    const common = { subjectId: 'subj', sampleId: 'samp' };
    const job = await omics.send(
      new StartReadSetImportJobCommand({
        sequenceStoreId: storeId,
        roleArn: IMPORT_ROLE,
        sources: [
          { ...common, sourceFileType: 'FASTQ', name: 'pair', sourceFiles: { source1: 's3://lab-data/runs/run-1/reads_R1.fastq.gz', source2: 's3://lab-data/runs/run-1/reads_R2.fastq.gz' } },
          { ...common, sourceFileType: 'BAM', name: 'bam', referenceArn, sourceFiles: { source1: 's3://lab-data/runs/run-1/sample.bam' } },
          { ...common, sourceFileType: 'BAM', name: 'outside', referenceArn, sourceFiles: { source1: 's3://lab-data/private/secret.bam' } },
          { ...common, sourceFileType: 'BAM', name: 'absent', referenceArn, sourceFiles: { source1: 's3://lab-data/runs/run-1/absent.bam' } },
        ],
      }),
    );
    const done = await until('import', () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id })), jobFinished);
    assert.deepEqual(done.sources!.map((x) => x.status), ['FINISHED', 'FINISHED', 'FAILED', 'FAILED']);
    assert.match(done.sources![2]!.statusMessage!, /no storage connection covers s3:\/\/lab-data\/private\/secret\.bam/);
    assert.match(done.sources![3]!.statusMessage!, /absent\.bam: not found \(404\)|absent\.bam: the object does not exist/);
    const bam = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: done.sources![1]!.readSetId }));
    assert.equal(bam.status, 'ACTIVE');
    assert.match(bam.files!.source1!.s3Access!.s3Uri!, /\/sample\.bam$/);

    // export through the role-bound connection, with SSE-KMS
    const ex = await omics.send(
      new StartReadSetExportJobCommand({
        sequenceStoreId: storeId,
        roleArn: EXPORT_ROLE,
        destination: 's3://lab-results/exports/2026-11/',
        sources: [{ readSetId: done.sources![0]!.readSetId! }, { readSetId: done.sources![1]!.readSetId! }],
      }),
    );
    const exd = await until('export', () => omics.send(new GetReadSetExportJobCommand({ sequenceStoreId: storeId, id: ex.id })), jobFinished);
    assert.equal(exd.status, 'COMPLETED', JSON.stringify(exd.readSets));
    const key = `exports/2026-11/${done.sources![1]!.readSetId}/sample.bam`;
    const got = await s3.send(new GetObjectCommand({ Bucket: 'lab-results', Key: key }));
    assert.equal(md5(Buffer.from(await got.Body!.transformToByteArray())), md5(readFileSync(join(corpus, 'sample.bam'))));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'lab-results', Key: `${key}.bai` }));
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.equal(head.SSEKMSKeyId, kmsKey);
    // the same destination with the import role: no connection is bound to it for that bucket
    await assert.rejects(
      omics.send(new StartReadSetExportJobCommand({ sequenceStoreId: storeId, roleArn: IMPORT_ROLE, destination: 's3://lab-results/x/', sources: [{ readSetId: done.sources![1]!.readSetId! }] })),
      /no storage connection covers s3:\/\/lab-results\/x\/ for role/,
    );
  });

  it('copies the parts of a failed direct upload to the store fallback location', async () => {
    const add = admin('connection', 'add', 'fallback', '--bucket', 'lab-results', '--region', 'us-east-1', '--endpoint', moto.endpoint, '--prefix', 'fallback/',
      '--access-key-id', 'A', '--secret-access-key', 'B');
    assert.equal(add.status, 0, add.err);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'with-fallback', fallbackLocation: 's3://lab-results/fallback/' }))).id!;
    const bam = readFileSync(join(corpus, 'sample.bam'));
    const bad = Buffer.concat([bam.subarray(0, 5000), Buffer.from('not the rest of a BAM')]);
    const { uploadId } = await omics.send(
      new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'UBAM', subjectId: 's', sampleId: 'm', name: 'broken' }),
    );
    const parts = [];
    for (const [n, body] of [bad.subarray(0, 3000), bad.subarray(3000)].entries()) {
      const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: n + 1, payload: body }));
      parts.push({ partNumber: n + 1, partSource: 'SOURCE1' as const, checksum: checksum! });
    }
    const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts }));
    const m = await until('failure', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (x) => x.status !== 'PROCESSING_UPLOAD');
    assert.equal(m.status, 'UPLOAD_FAILED');
    assert.doesNotMatch(m.statusMessage!, /fallback location/, m.statusMessage);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'lab-results', Key: `fallback/${readSetId}/broken.bam` }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(bad), 'the fallback holds the uploaded bytes');
  });

  it('delivers S3 server access logs of the S3 view to the store accessLogLocation', async () => {
    const add = admin('connection', 'add', 'logs', '--bucket', 'lab-results', '--region', 'us-east-1', '--endpoint', moto.endpoint, '--prefix', 'logs/',
      '--access-key-id', 'A', '--secret-access-key', 'B');
    assert.equal(add.status, 0, add.err);
    const store = await omics.send(new CreateSequenceStoreCommand({ name: 'logged', s3AccessConfig: { accessLogLocation: 's3://lab-results/logs/store-a/' } }));
    const storeId = store.id!;
    const fq = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
    const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'logged' }));
    const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: fq }));
    const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum: checksum! }] }));
    const meta = await until('ACTIVE', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (m) => m.status === 'ACTIVE');
    const alias = /^s3:\/\/([^/]+)\//.exec((await omics.send(new GetSequenceStoreCommand({ id: storeId }))).s3Access!.s3Uri!)![1]!;
    const key = meta.files!.source1!.s3Access!.s3Uri!.replace(`s3://${alias}/`, '');
    const view = new S3Client({ endpoint: s.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } });
    await (await view.send(new GetObjectCommand({ Bucket: alias, Key: key, Range: 'bytes=0-99' }))).Body!.transformToByteArray();
    await assert.rejects(view.send(new HeadObjectCommand({ Bucket: alias, Key: `${key}.bai` })));
    const lines = await until(
      'access log delivery',
      async () => {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'lab-results', Prefix: 'logs/store-a/' }));
        const out: string[] = [];
        for (const o of listed.Contents ?? []) {
          const body = await (await s3.send(new GetObjectCommand({ Bucket: 'lab-results', Key: o.Key }))).Body!.transformToString();
          out.push(...body.trim().split('\n'));
        }
        return out;
      },
      (l) => l.some((x) => x.includes('REST.GET.OBJECT')) && l.some((x) => x.includes('REST.HEAD.OBJECT')),
      20_000,
      250,
    );
    const get = lines.find((l) => l.includes('REST.GET.OBJECT'))!;
    assert.ok(get, lines.join('\n'));
    assert.match(get, new RegExp(`^123456789012 ${alias} \\[\\d\\d/\\w{3}/\\d{4}:\\d\\d:\\d\\d:\\d\\d \\+0000\\] \\S+ arn:aws:iam::123456789012:root \\w+ REST.GET.OBJECT ${key.replace(/[.]/g, '\\.')} "GET /`));
    assert.match(get, / 206 - 100 \d+ /);
    assert.match(get, / SigV4 - AuthHeader /);
    const head = lines.find((l) => l.includes('REST.HEAD.OBJECT'))!;
    assert.match(head, / 404 NoSuchKey /);
    logged = { alias, key };
  });

  it('keeps access log lines through a kill -9: the next process delivers them', async () => {
    assert.ok(logged, 'the test above ran');
    const dataDir = s.dataDir;
    const restart = async (flushSeconds: string) => {
      const exited = new Promise((r) => s.child.once('exit', r));
      s.child.kill('SIGKILL');
      await exited;
      s = await spawnServer({ dataDir, env: { OPENOMICS_S3_ACCESS_LOG_FLUSH_SECONDS: flushSeconds } });
    };
    await restart('3600'); // a process that would deliver only in an hour
    const view = new S3Client({ endpoint: s.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } });
    const got = await view.send(new GetObjectCommand({ Bucket: logged.alias, Key: logged.key, Range: 'bytes=0-9' }));
    await got.Body!.transformToByteArray();
    const requestId = got.$metadata.requestId!;
    await new Promise((r) => setTimeout(r, 200)); // the response has finished; its line is committed
    await restart('1'); // killed before it delivered: the next process does
    omics = new OmicsClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, disableHostPrefix: true, maxAttempts: 1 });
    await until(
      'delivery by the next process',
      async () => {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'lab-results', Prefix: 'logs/store-a/' }));
        for (const o of listed.Contents ?? []) {
          const body = await (await s3.send(new GetObjectCommand({ Bucket: 'lab-results', Key: o.Key }))).Body!.transformToString();
          if (body.includes(requestId)) return true;
        }
        return false;
      },
      (found) => found,
      20_000,
      250,
    );
  });
});
