// The operator's configuration: PostgreSQL metadata, an S3-compatible bucket for blobs and the AWS KMS API
// for keys (moto_server for both), driven through @aws-sdk/client-omics. Also: several accounts on one server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { S3Client, CreateBucketCommand, ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinyCorpus } from './helpers/corpus.js';
import { KMSClient, CreateKeyCommand } from '@aws-sdk/client-kms';
import {
  OmicsClient,
  CreateSequenceStoreCommand,
  GetSequenceStoreCommand,
  DeleteSequenceStoreCommand,
  ListSequenceStoresCommand,
  TagResourceCommand,
  CreateReferenceStoreCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  CompleteMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  GetReadSetCommand,
} from '@aws-sdk/client-omics';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { startMoto, MOTO_CREDENTIALS, type Moto } from './helpers/moto.js';

describe('PostgreSQL + S3 blobs + KMS keys (moto), as an operator runs it', () => {
  let moto: Moto;
  let s: SpawnedServer;
  let omics: OmicsClient;
  let defaultKey: string;
  let otherKey: string;
  before(async () => {
    moto = await startMoto();
    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: 'openomics-blobs' }));
    const kms = new KMSClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS });
    defaultKey = (await kms.send(new CreateKeyCommand({ Description: 'default' }))).KeyMetadata!.Arn!;
    otherKey = (await kms.send(new CreateKeyCommand({ Description: 'customer' }))).KeyMetadata!.Arn!;
    s = await spawnServer({
      backend: 'postgres',
      env: {
        OPENOMICS_MASTER_KEY: randomBytes(32).toString('base64'),
        OPENOMICS_BLOB_S3_BUCKET: 'openomics-blobs',
        OPENOMICS_BLOB_S3_ENDPOINT: moto.endpoint,
        OPENOMICS_BLOB_S3_PREFIX: 'tenant-a/',
        OPENOMICS_BLOB_S3_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        OPENOMICS_BLOB_S3_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        OPENOMICS_KMS_KEY_ID: defaultKey,
        OPENOMICS_KMS_ENDPOINT: moto.endpoint,
        OPENOMICS_KMS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        OPENOMICS_KMS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      },
    });
    omics = new OmicsClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, disableHostPrefix: true, maxAttempts: 1 });
  });
  after(async () => {
    await s?.stop();
    await moto?.stop();
  });

  it('reports the KMS key that wraps each store’s data key', async () => {
    const a = await omics.send(new CreateSequenceStoreCommand({ name: 'default-key' }));
    assert.deepEqual(a.sseConfig, { type: 'KMS', keyArn: defaultKey });
    const b = await omics.send(new CreateSequenceStoreCommand({ name: 'customer-key', sseConfig: { type: 'KMS', keyArn: otherKey } }));
    assert.equal((await omics.send(new GetSequenceStoreCommand({ id: b.id }))).sseConfig?.keyArn, otherKey);
    const r = await omics.send(new CreateReferenceStoreCommand({ name: 'refs', sseConfig: { type: 'KMS', keyArn: otherKey } }));
    assert.equal(r.sseConfig?.keyArn, otherKey);
  });

  it('refuses a customer key that KMS does not know', async () => {
    try {
      await omics.send(new CreateSequenceStoreCommand({ name: 'bad-key', sseConfig: { type: 'KMS', keyArn: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000' } }));
      assert.fail('should have failed');
    } catch (e) {
      assert.equal((e as Error).name, 'ValidationException');
      assert.match((e as Error).message, /cannot be used/);
    }
  });

  it('deletes a store and whatever blobs it had in the bucket', async () => {
    const { id } = await omics.send(new CreateSequenceStoreCommand({ name: 'to-delete' }));
    await omics.send(new DeleteSequenceStoreCommand({ id }));
    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'openomics-blobs', Prefix: `tenant-a/seq/${id}/` }));
    assert.equal(listed.KeyCount ?? 0, 0);
  });

  it('keeps accounts apart', async () => {
    const other = JSON.parse(execFileSync(process.execPath, [CLI, 'admin', 'account', 'create', '210987654321', '--name', 'partner'], { env: s.env, encoding: 'utf8' }));
    assert.equal(other.accountId, '210987654321');
    const partner = new OmicsClient({ endpoint: s.url, region: 'us-east-1', credentials: other, disableHostPrefix: true, maxAttempts: 1 });
    const mine = await omics.send(new CreateSequenceStoreCommand({ name: 'mine' }));
    const theirs = await partner.send(new CreateSequenceStoreCommand({ name: 'theirs' }));
    assert.equal(theirs.arn, `arn:aws:omics:us-east-1:210987654321:sequenceStore/${theirs.id}`);
    const seen = (await partner.send(new ListSequenceStoresCommand({}))).sequenceStores!.map((x) => x.id);
    assert.deepEqual(seen, [theirs.id]);
    await assert.rejects(partner.send(new GetSequenceStoreCommand({ id: mine.id })), (e: Error) => e.name === 'ResourceNotFoundException');
    await assert.rejects(partner.send(new TagResourceCommand({ resourceArn: mine.arn, tags: { x: 'y' } })), (e: Error) => e.name === 'ResourceNotFoundException');
    // Each account has its own one-reference-store quota.
    await partner.send(new CreateReferenceStoreCommand({ name: 'partner-refs' }));
  });

  it('runs uploads on a separate `openomics worker` process; read set bytes sit encrypted in the bucket', async () => {
    // This server runs no jobs (OPENOMICS_WORKERS=0); a worker process on the same database and bucket does.
    await s.kill(); // the suite's server would run jobs too
    const api = await spawnServer({ backend: 'postgres', pgSchema: s.env['OPENOMICS_DATABASE_SCHEMA']!, env: { ...pick(s.env), OPENOMICS_WORKERS: '0', OPENOMICS_MASTER_KEY: s.env['OPENOMICS_MASTER_KEY']! } });
    let worker: ReturnType<typeof spawn> | undefined;
    try {
      const client = new OmicsClient({ endpoint: api.url, region: 'us-east-1', credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, disableHostPrefix: true, maxAttempts: 1 });
      const corpus = tinyCorpus();
      const r1 = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
      const r2 = readFileSync(join(corpus, 'reads_R2.fastq.gz'));
      const storeId = (await client.send(new CreateSequenceStoreCommand({ name: 'scaled' }))).id!;
      const { uploadId } = await client.send(
        new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'pair' }),
      );
      const parts = [];
      for (const [source, body] of [['SOURCE1', r1], ['SOURCE2', r2]] as const) {
        const { checksum } = await client.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: source, partNumber: 1, payload: body }));
        parts.push({ partNumber: 1, partSource: source, checksum: checksum! });
      }
      const { readSetId } = await client.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts }));
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await client.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId }))).status, 'PROCESSING_UPLOAD', 'no worker yet');
      worker = spawn(process.execPath, [CLI, 'worker'], { env: api.env, stdio: 'ignore' });
      let m;
      for (let i = 0; i < 300; i++) {
        m = await client.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId }));
        if (m.status !== 'PROCESSING_UPLOAD') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(m!.status, 'ACTIVE', m!.statusMessage);
      const got = Buffer.from(await (await client.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: readSetId, file: 'SOURCE2', partNumber: 1 }))).payload!.transformToByteArray());
      assert.ok(got.equals(r2));
      const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
      const raw = await s3.send(new GetObjectCommand({ Bucket: 'openomics-blobs', Key: `tenant-a/seq/${storeId}/readsets/${readSetId}/source1` }));
      const stored = Buffer.from(await raw.Body!.transformToByteArray());
      assert.equal(stored.subarray(0, 4).toString(), 'OOE1', 'encrypted blob format');
      assert.equal(stored.indexOf(r1.subarray(100, 164)), -1, 'no plaintext in the bucket');
    } finally {
      if (worker && worker.exitCode === null) {
        const exited = new Promise((r) => worker!.once('exit', r));
        worker.kill('SIGTERM');
        await exited;
      }
      await api.kill();
    }
  });
  it('refuses to start a worker whose master key, blob store or key provider differs from the deployment’s, naming the setting', () => {
    const base: Record<string, string> = { ...pick(s.env), OPENOMICS_DATA_DIR: s.dataDir };
    const start = (env: Record<string, string | undefined>) => {
      const r = spawnSync(process.execPath, [CLI, 'worker'], { env: { PATH: process.env['PATH'], ...env } as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 30_000 });
      return { status: r.status, err: r.stderr };
    };
    const wrongKey = start({ ...base, OPENOMICS_MASTER_KEY: randomBytes(32).toString('base64') });
    assert.equal(wrongKey.status, 1, wrongKey.err);
    assert.match(wrongKey.err, /master key is not the one .*OPENOMICS_MASTER_KEY/);
    const { OPENOMICS_BLOB_S3_BUCKET: _b, ...noBucket } = base;
    const localDisk = start(noBucket);
    assert.equal(localDisk.status, 1, localDisk.err);
    assert.match(localDisk.err, /keeps its blobs in s3:\/\/openomics-blobs\/tenant-a\/.*OPENOMICS_BLOB_S3_BUCKET/);
    const { OPENOMICS_KMS_KEY_ID: _k, ...noKms } = base;
    const localKeys = start(noKms);
    assert.equal(localKeys.status, 1, localKeys.err);
    assert.match(localKeys.err, /wraps data keys with the KMS key .*OPENOMICS_KMS_KEY_ID/);
  });
});

/** The operator settings of a spawned server's environment (OPENOMICS_*), without its data dir and port. */
function pick(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k.startsWith('OPENOMICS_') && !['OPENOMICS_DATA_DIR', 'OPENOMICS_PORT'].includes(k) && v !== undefined),
  ) as Record<string, string>;
}
