// HTTPS served by the server itself (--tls-cert/--tls-key), with a private CA the test makes with openssl:
// the AWS SDK, the AWS CLI and boto3 on the Omics API, the AWS CLI and samtools (htslib, s3+https) on the S3
// view, each trusting the CA bundle; and /_openomics/metrics behind a bearer token.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  OmicsClient,
  CreateSequenceStoreCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  CompleteMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  GetSequenceStoreCommand,
} from '@aws-sdk/client-omics';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { until } from './helpers/omics.js';
import { SAMTOOLS_ENV, tinyCorpus } from './helpers/corpus.js';

/** A CA and a server certificate for 127.0.0.1/localhost, made with the openssl command line. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=OpenOmics test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

describe('HTTPS served by the server itself', () => {
  let dir: string;
  let certs: { ca: string; cert: string; key: string };
  let s: SpawnedServer;
  let omics: OmicsClient;
  let alias: string;
  let objectKey: string;
  let storeId: string;
  let readSetId: string;
  const TOKEN = 'metrics-token-for-the-test';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openomics-tls-'));
    certs = makeCertificates(dir);
    s = await spawnServer({ env: { OPENOMICS_TLS_CERT: certs.cert, OPENOMICS_TLS_KEY: certs.key, OPENOMICS_METRICS_TOKEN: TOKEN } });
    omics = new OmicsClient({
      endpoint: s.url,
      region: 'us-east-1',
      credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
      disableHostPrefix: true,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(certs.ca) }) }),
    });
  });
  after(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const cliEnv = () => ({ ...process.env, AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_DISABLE_HOST_PREFIX_INJECTION: 'true' });

  it('serves the Omics API over HTTPS to the AWS SDK, and refuses clients that do not trust the CA', async () => {
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'tls' }))).id!;
    const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'UBAM', subjectId: 's', sampleId: 'm', name: 'u' }));
    const ubam = readFileSync(join(tinyCorpus(), 'sample.unaligned.bam'));
    const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: ubam }));
    readSetId = (await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum: checksum! }] }))).readSetId!;
    const m = await until('ACTIVE', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (x) => x.status === 'ACTIVE');
    alias = /^s3:\/\/([^/]+)\//.exec((await omics.send(new GetSequenceStoreCommand({ id: storeId }))).s3Access!.s3Uri!)![1]!;
    objectKey = m.files!.source1!.s3Access!.s3Uri!.replace(`s3://${alias}/`, '');
    await assert.rejects(fetch(`${s.url}/_openomics/ready`), /fetch failed/, 'an untrusted certificate is refused by default');
  });

  it('works with the AWS CLI and boto3 given the CA bundle', () => {
    const cli = spawnSync('aws', ['omics', 'list-sequence-stores', '--endpoint-url', s.url, '--ca-bundle', certs.ca, '--output', 'json'], { env: cliEnv(), encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).sequenceStores.length, 1);
    const py = spawnSync(
      'python3',
      ['-c', `import boto3,sys; c=boto3.client('omics', endpoint_url=sys.argv[1], verify=sys.argv[2]); print(len(c.list_sequence_stores()['sequenceStores']))`, s.url, certs.ca],
      { env: cliEnv(), encoding: 'utf8' },
    );
    assert.equal(py.status, 0, py.stderr);
    assert.equal(py.stdout.trim(), '1');
    const s3 = spawnSync('aws', ['s3', 'cp', `s3://${alias}/${objectKey}`, join(dir, 'copy.bam'), '--endpoint-url', s.url, '--ca-bundle', certs.ca], { env: cliEnv(), encoding: 'utf8' });
    assert.equal(s3.status, 0, s3.stderr);
    assert.ok(readFileSync(join(dir, 'copy.bam')).equals(readFileSync(join(tinyCorpus(), 'sample.unaligned.bam'))));
  });

  it('downloads with openomics download over HTTPS (ranged GETs into reused buffers, through node:tls) given the CA', () => {
    const env = { ...cliEnv(), AWS_ENDPOINT_URL: s.url, AWS_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', NODE_EXTRA_CA_CERTS: certs.ca };
    for (const via of ['s3', 'parts']) {
      const to = join(dir, `download-${via}.bam`);
      const r = spawnSync(process.execPath, [CLI, 'download', '--sequence-store-id', storeId, '--id', readSetId, '--via', via, '--to', to], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout.trim()).verified, via === 's3' ? 'CRC32' : 'BAM_MD5up');
      assert.ok(readFileSync(to).equals(readFileSync(join(tinyCorpus(), 'sample.unaligned.bam'))), via);
    }
    const untrusted = spawnSync(process.execPath, [CLI, 'download', '--sequence-store-id', storeId, '--id', readSetId, '--to', join(dir, 'no.bam')], { env: { ...env, NODE_EXTRA_CA_CERTS: '' }, encoding: 'utf8' });
    assert.equal(untrusted.status, 1, 'a server certificate nobody vouches for is refused');
  });

  it('works with samtools over s3+https given the CA bundle', () => {
    const port = new URL(s.url).port;
    const r = spawnSync('samtools', ['view', '-c', `s3+https://${alias}/${objectKey}`], {
      cwd: dir,
      env: { ...SAMTOOLS_ENV, ...cliEnv(), HTS_S3_HOST: `127.0.0.1:${port}`, HTS_S3_ADDRESS_STYLE: 'path', CURL_CA_BUNDLE: certs.ca },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const expected = execFileSync('samtools', ['view', '-c', join(tinyCorpus(), 'sample.unaligned.bam')], { env: SAMTOOLS_ENV, encoding: 'utf8' });
    assert.equal(r.stdout.trim(), expected.trim());
  });

  it('keeps /_openomics/metrics behind its token', async () => {
    const agent = new Agent({ ca: readFileSync(certs.ca) });
    const get = (auth?: string) =>
      new Promise<number>((resolve, reject) => {
        httpsGet(`${s.url}/_openomics/metrics`, { agent, headers: auth ? { authorization: auth } : {} }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        }).on('error', reject);
      });
    assert.equal(await get(), 401);
    assert.equal(await get('Bearer wrong-token-of-the-same-len'), 401);
    assert.equal(await get(`Bearer ${TOKEN}`), 200);
  });
});
