// Authentication, tenant isolation and honest errors, probed as an attacker would against one server with a
// second account: bodies changed after signing, presigned URLs valid for years, curl's SigV4, files of another
// account, links planted in the export tree, tag keys that break XML or vanish, JSON nested 500,000 levels,
// file modes under a careless umask, and S3's error codes for clock skew.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  OmicsClient,
  CreateSequenceStoreCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  CompleteMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  GetSequenceStoreCommand,
  StartReadSetImportJobCommand,
  GetReadSetImportJobCommand,
  StartReadSetExportJobCommand,
  GetReadSetExportJobCommand,
  TagResourceCommand,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-omics';
import { S3Client, GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { omicsClient, until, jobFinished, expectServiceError } from './helpers/omics.js';
import { sendRaw } from './helpers/signing.js';
import { tinyCorpus } from './helpers/corpus.js';

const ROLE = 'arn:aws:iam::123456789012:role/OmicsImport';

describe('authentication, tenant isolation and honest errors', () => {
  let s: SpawnedServer;
  let omics: OmicsClient;
  let partner: OmicsClient;
  let partnerKeys: { accessKeyId: string; secretAccessKey: string };
  let importRoot: string;
  let exportRoot: string;
  let outside: string;
  let storeId: string;
  let readSetId: string;
  let objectKey: string;
  let alias: string;
  const r1 = () => readFileSync(join(tinyCorpus(), 'reads_R1.fastq.gz'));
  const oldUmask = process.umask();

  before(async () => {
    importRoot = mkdtempSync(join(tmpdir(), 'openomics-sec-import-'));
    exportRoot = mkdtempSync(join(tmpdir(), 'openomics-sec-export-'));
    outside = mkdtempSync(join(tmpdir(), 'openomics-sec-outside-'));
    const dataDir = mkdtempSync(join(tmpdir(), 'openomics-sec-data-'));
    chmodSync(dataDir, 0o755); // pre-created by an operator, world-readable
    process.umask(0); // and a careless umask: the server's files must still be private
    try {
      s = await spawnServer({ dataDir, env: { OPENOMICS_IMPORT_ROOTS: importRoot, OPENOMICS_EXPORT_ROOTS: exportRoot } });
    } finally {
      process.umask(oldUmask);
    }
    omics = omicsClient(s);
    partnerKeys = JSON.parse(execFileSync(process.execPath, [CLI, 'admin', 'account', 'create', '210987654321', '--name', 'partner'], { env: s.env, encoding: 'utf8' }));
    partner = new OmicsClient({ endpoint: s.url, region: 'us-east-1', credentials: partnerKeys, disableHostPrefix: true, maxAttempts: 1 });
    storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'sec' }))).id!;
    const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'r' }));
    const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: r1() }));
    readSetId = (await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum: checksum! }] }))).readSetId!;
    const m = await until('ACTIVE', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (x) => x.status === 'ACTIVE');
    alias = /^s3:\/\/([^/]+)\//.exec((await omics.send(new GetSequenceStoreCommand({ id: storeId }))).s3Access!.s3Uri!)![1]!;
    objectKey = m.files!.source1!.s3Access!.s3Uri!.replace(`s3://${alias}/`, '');
  });
  after(async () => {
    process.umask(oldUmask);
    await s?.stop();
    for (const d of [importRoot, exportRoot, outside]) rmSync(d, { recursive: true, force: true });
  });

  const creds = () => ({ accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });

  it('refuses UNSIGNED-PAYLOAD on a JSON operation, so a body cannot be changed after signing', async () => {
    const signedFor = JSON.stringify({ name: 'signed' });
    const url = new URL(s.url);
    // Signed over UNSIGNED-PAYLOAD, then sent with another body.
    const { SignatureV4 } = await import('@smithy/signature-v4');
    const { Sha256 } = await import('@aws-crypto/sha256-js');
    const signer = new SignatureV4({ credentials: creds(), region: 'us-east-1', service: 'omics', sha256: Sha256 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.host,
      path: '/sequencestore',
      headers: { host: url.host, 'content-type': 'application/json', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      body: signedFor,
    });
    const tampered = JSON.stringify({ name: 'tampered-after-signing' });
    const r = await fetch(`${s.url}/sequencestore`, { method: 'POST', headers: signed.headers as Record<string, string>, body: tampered });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('x-amzn-errortype'), 'InvalidSignatureException');
    assert.match(await r.text(), /UNSIGNED-PAYLOAD is not accepted/);
  });

  it('accepts curl --aws-sigv4 on the S3 view (no x-amz-content-sha256 header: the empty payload was signed)', () => {
    const out = join(outside, 'curl.fastq.gz');
    const r = spawnSync('curl', ['-sS', '-o', out, '-w', '%{http_code}', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${s.accessKeyId}:${s.secretAccessKey}`, `${s.url}/${alias}/${objectKey}`], { encoding: 'utf8' });
    assert.equal(r.stdout, '200', r.stderr);
    assert.ok(readFileSync(out).equals(r1()));
  });

  it('caps SigV2 presigned URLs at 7 days (a 10-year URL is refused, a 1-hour one works)', async () => {
    const v2 = (expires: number) => {
      const path = `/${alias}/${objectKey}`;
      const sig = createHmac('sha1', s.secretAccessKey).update(`GET\n\n\n${expires}\n${path}`).digest('base64');
      return fetch(`${s.url}${path}?AWSAccessKeyId=${s.accessKeyId}&Expires=${expires}&Signature=${encodeURIComponent(sig)}`);
    };
    const now = Math.floor(Date.now() / 1000);
    const tenYears = await v2(now + 10 * 365 * 86400);
    assert.equal(tenYears.status, 400);
    assert.match(await tenYears.text(), /<Code>AuthorizationQueryParametersError<\/Code>.*at most 604800 seconds/s);
    const hour = await v2(now + 3600);
    assert.equal(hour.status, 200);
    assert.ok(Buffer.from(await hour.arrayBuffer()).equals(r1()));
  });

  it("keeps file:/// import roots per account, checks the job's role, and says one thing for 'not allowed' and 'not found'", async () => {
    copyFileSync(join(tinyCorpus(), 'reads_R1.fastq.gz'), join(importRoot, 'staged.fastq.gz'));
    const partnerStore = (await partner.send(new CreateSequenceStoreCommand({ name: 'partner' }))).id!;
    await expectServiceError(
      partner.send(
        new StartReadSetImportJobCommand({
          sequenceStoreId: partnerStore,
          roleArn: ROLE, // the first account's role
          sources: [{ sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', sourceFiles: { source1: `file://${importRoot}/staged.fastq.gz` } }],
        }),
      ),
      'AccessDeniedException',
      /not a role of account 210987654321/,
    );
    const job = await partner.send(
      new StartReadSetImportJobCommand({
        sequenceStoreId: partnerStore,
        roleArn: 'arn:aws:iam::210987654321:role/Import',
        sources: ['/staged.fastq.gz', '/etc/shadow', '/etc/does-not-exist'].map((p, i) => ({
          sourceFileType: 'FASTQ' as const,
          subjectId: 's',
          sampleId: `m${i}`,
          sourceFiles: { source1: `file://${i === 0 ? importRoot : ''}${p}` },
        })),
      }),
    );
    const done = await until('import', () => partner.send(new GetReadSetImportJobCommand({ sequenceStoreId: partnerStore, id: job.id })), jobFinished);
    assert.deepEqual(done.sources!.map((x) => x.status), ['FAILED', 'FAILED', 'FAILED'], 'the first account’s file is not the partner’s');
    const said = done.sources!.map((x) => x.statusMessage!.replace(/^file:\/\/\S+ /, ''));
    assert.equal(new Set(said).size, 1, `one message whatever exists: ${JSON.stringify(said)}`);
    assert.match(said[0]!, /not a file this account may import/);
  });

  it('does not follow a link planted in the export tree', async () => {
    const dest = join(exportRoot, 'batch');
    mkdirSync(dest);
    symlinkSync(outside, join(dest, readSetId)); // export/<dir>/<readSetId> -> outside the roots
    const ex = await omics.send(new StartReadSetExportJobCommand({ sequenceStoreId: storeId, roleArn: ROLE, destination: `file://${dest}/`, sources: [{ readSetId }] }));
    const done = await until('export', () => omics.send(new GetReadSetExportJobCommand({ sequenceStoreId: storeId, id: ex.id })), jobFinished);
    assert.equal(done.status, 'FAILED');
    assert.match(done.readSets![0]!.statusMessage!, /symbolic link.*do not follow links/);
    assert.deepEqual(readdirSync(outside).filter((f) => !f.startsWith('curl')), [], 'nothing was written outside the export root');
  });

  it('refuses tag keys and values XML cannot carry, and the key __proto__ (instead of dropping it)', async () => {
    const arn = (await omics.send(new GetSequenceStoreCommand({ id: storeId }))).arn!;
    const rsArn = `arn:aws:omics:us-east-1:123456789012:sequenceStore/${storeId}/readSet/${readSetId}`;
    await expectServiceError(omics.send(new TagResourceCommand({ resourceArn: arn, tags: { 'bad\u0001key': 'v' } })), 'ValidationException', /characters tags may not hold/);
    await expectServiceError(omics.send(new TagResourceCommand({ resourceArn: rsArn, tags: { k: 'nul\u0000value' } })), 'ValidationException', /characters tags may not hold/);
    const proto = await sendRaw({ endpoint: s.url, method: 'POST', path: `/tags/${encodeURIComponent(rsArn)}`, body: '{"tags":{"__proto__":"x"}}', credentials: creds() });
    assert.equal(proto.status, 400, proto.body);
    assert.match(proto.body, /__proto__/);
    await omics.send(new TagResourceCommand({ resourceArn: rsArn, tags: { 'project:x': 'a b_c.d=e+f-g@h/i' } }));
    assert.equal((await omics.send(new ListTagsForResourceCommand({ resourceArn: rsArn }))).tags!['project:x'], 'a b_c.d=e+f-g@h/i');
    const s3 = new S3Client({ endpoint: s.url, region: 'us-east-1', forcePathStyle: true, credentials: creds(), maxAttempts: 1 });
    // The object's tag set (omics:subjectId, omics:sampleId, propagated tags) still parses for S3 clients.
    const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: alias, Key: objectKey }));
    assert.ok(tagging.TagSet!.some((t) => t.Key === 'omics:sampleId' && t.Value === 'm'));
  });

  it('answers a JSON body nested 500,000 levels deep with 400, not 500', async () => {
    const deep = `{"name":${'['.repeat(500_000)}${']'.repeat(500_000)}}`;
    const r = await sendRaw({ endpoint: s.url, method: 'POST', path: '/sequencestore', body: deep, credentials: creds() });
    assert.equal(r.status, 400, r.body.slice(0, 200));
    assert.equal(r.headers['x-amzn-errortype'], 'ValidationException');
    assert.match(r.body, /deeper than 64 levels/);
  });

  it('keeps its files private whatever the umask and a pre-created data folder say', () => {
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    assert.equal(mode(s.dataDir), '700');
    for (const f of ['metadata.sqlite', 'metadata.sqlite-wal', 'metadata.sqlite-shm', 'master.key', 'credentials']) {
      const p = join(s.dataDir, f);
      if (existsSync(p)) assert.equal(mode(p), '600', f);
    }
    assert.ok(existsSync(join(s.dataDir, 'metadata.sqlite-wal')), 'the WAL file was checked');
    assert.ok(s.logs.some((l) => /master key is kept in the data folder/.test(l)), 'a warning says the key sits beside the data');
  });

  it('answers clock skew on the S3 view with RequestTimeTooSkewed, ahead or behind', async () => {
    for (const minutes of [20, -20]) {
      const r = await sendRaw({
        endpoint: s.url,
        method: 'GET',
        path: `/${alias}/${objectKey.split('/').map(encodeURIComponent).join('/')}`,
        credentials: creds(),
        service: 's3',
        headers: { 'x-amz-content-sha256': createHash('sha256').update('').digest('hex') },
        signingDate: new Date(Date.now() + minutes * 60_000),
      });
      assert.equal(r.status, 403, `${minutes} min`);
      assert.match(r.body, /<Code>RequestTimeTooSkewed<\/Code>/, `${minutes} min: ${r.body}`);
    }
  });
});
