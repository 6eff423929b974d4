// Crash safety: the server is killed with SIGKILL in the middle of a direct upload and in the middle of an
// import job; after a restart on the same data the upload continues (or is aborted) and the import finishes,
// with no read set duplicated or half-visible.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CreateSequenceStoreCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  ListReadSetUploadPartsCommand,
  ListMultipartReadSetUploadsCommand,
  CompleteMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  GetReadSetCommand,
  StartReadSetImportJobCommand,
  GetReadSetImportJobCommand,
  ListReadSetsCommand,
} from '@aws-sdk/client-omics';
import { omicsClient, until } from './helpers/omics.js';
import { spawnServer, type SpawnedServer } from './helpers/server.js';
import { tinyCorpus } from './helpers/corpus.js';



async function sigkill(s: SpawnedServer): Promise<void> {
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGKILL');
  await exited;
}

/** Starts a part upload whose body trickles in (1 MiB per 20 ms) so the server can be killed mid-part. */
async function slowPart(s: SpawnedServer, storeId: string, uploadId: string, partNumber: number, size: number) {
  const url = new URL(s.url);
  const path = `/sequencestore/${storeId}/upload/${uploadId}/part`;
  const query = { partSource: 'SOURCE1', partNumber: String(partNumber) };
  const signer = new SignatureV4({ credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, region: 'us-east-1', service: 'omics', sha256: Sha256 });
  const signed = await signer.sign({
    method: 'PUT',
    protocol: 'http:',
    hostname: url.host,
    path,
    query,
    headers: { host: url.host, 'content-length': String(size), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-type': 'application/octet-stream' },
  });
  let sent = 0;
  const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: `${path}?partSource=SOURCE1&partNumber=${partNumber}`, headers: signed.headers });
  const done = new Promise<{ status?: number; body: string }>((resolve) => {
    req.on('error', () => resolve({ body: '' }));
    req.on('response', (r) => {
      let body = '';
      r.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: r.statusCode!, body }));
    });
  });
  const chunk = Buffer.alloc(1 << 20, 0x41);
  const timer = setInterval(() => {
    if (sent >= size || req.destroyed) return clearInterval(timer);
    const n = Math.min(chunk.length, size - sent);
    req.write(chunk.subarray(0, n));
    sent += n;
  }, 20);
  return { sent: () => sent, done, stop: () => clearInterval(timer), finish: () => {
    clearInterval(timer);
    req.end(Buffer.alloc(size - sent, 0x41));
    sent = size;
  } };
}

describe('crash safety (SIGKILL)', () => {
  let corpus: string;
  let dataDir: string;
  let importRoot: string;
  let s: SpawnedServer;
  const env = () => ({ OPENOMICS_IMPORT_ROOTS: importRoot, OPENOMICS_JOB_LEASE_SECONDS: '2' });

  before(() => {
    corpus = tinyCorpus();
    dataDir = mkdtempSync(join(tmpdir(), 'openomics-crash-'));
    importRoot = mkdtempSync(join(tmpdir(), 'openomics-crash-import-'));
  });
  after(async () => {
    await s?.kill();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(importRoot, { recursive: true, force: true });
  });

  it('keeps the completed parts of an upload killed mid-part; the upload then continues to ACTIVE', async () => {
    s = await spawnServer({ dataDir, env: env() });
    let omics = omicsClient(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'crash' }))).id!;
    const r1 = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
    const half = r1.length >> 1;
    const { uploadId } = await omics.send(
      new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'crashy' }),
    );
    const p1 = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: r1.subarray(0, half) }));
    const slow = await slowPart(s, storeId, uploadId!, 2, 80 << 20);
    await until('bytes in flight', async () => slow.sent(), (n) => n > 8 << 20, 20_000, 20);
    await sigkill(s);
    slow.stop();
    await slow.done;

    s = await spawnServer({ dataDir, env: env() });
    omics = omicsClient(s);
    const uploads = await omics.send(new ListMultipartReadSetUploadsCommand({ sequenceStoreId: storeId }));
    assert.deepEqual(uploads.uploads!.map((u) => u.uploadId), [uploadId], 'the upload survives the crash');
    const parts = await omics.send(new ListReadSetUploadPartsCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1' }));
    assert.deepEqual(parts.parts!.map((p) => [p.partNumber, p.checksum]), [[1, p1.checksum]], 'the interrupted part was never recorded');
    const p2 = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 2, payload: r1.subarray(half) }));
    const { readSetId } = await omics.send(
      new CompleteMultipartReadSetUploadCommand({
        sequenceStoreId: storeId,
        uploadId,
        parts: [
          { partNumber: 1, partSource: 'SOURCE1', checksum: p1.checksum },
          { partNumber: 2, partSource: 'SOURCE1', checksum: p2.checksum },
        ],
      }),
    );
    const m = await until('ACTIVE', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (x) => x.status !== 'PROCESSING_UPLOAD');
    assert.equal(m.status, 'ACTIVE');
    const got = Buffer.from(await (await omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: readSetId, partNumber: 1 }))).payload!.transformToByteArray());
    assert.ok(got.equals(r1));
    const leftovers = execFileSync('find', [join(dataDir, 'blobs', 'seq'), '-path', '*uploads*', '-type', 'f'], { encoding: 'utf8' }).trim();
    assert.equal(leftovers, '', 'no part blobs remain once the read set is ACTIVE');
  });

  it('finishes an import killed mid-job after a restart, without duplicating read sets', async () => {
    let omics = omicsClient(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'crash-import' }))).id!;
    const N = 24;
    for (let i = 0; i < N; i++) copyFileSync(join(corpus, 'sample.unaligned.bam'), join(importRoot, `u${i}.bam`));
    const job = await omics.send(
      new StartReadSetImportJobCommand({
        sequenceStoreId: storeId,
        roleArn: 'arn:aws:iam::123456789012:role/OmicsImport',
        sources: Array.from({ length: N }, (_, i) => ({
          sourceFileType: 'UBAM' as const,
          subjectId: 's',
          sampleId: `m${i}`,
          name: `u${i}`,
          sourceFiles: { source1: `file://${importRoot}/u${i}.bam` },
        })),
      }),
    );
    const mid = await until(
      'some sources finished',
      () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id })),
      (j) => j.status === 'IN_PROGRESS' && j.sources!.some((x) => x.status === 'FINISHED'),
      60_000,
      10,
    );
    await sigkill(s);
    const before = mid.sources!.filter((x) => x.status === 'FINISHED').length;
    assert.ok(before < N, 'killed before the end');

    s = await spawnServer({ dataDir, env: env() });
    omics = omicsClient(s);
    const done = await until(
      'import after restart',
      () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id })),
      (j) => !['SUBMITTED', 'IN_PROGRESS'].includes(j.status!),
    );
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done.sources!.filter((x) => x.status !== 'FINISHED')));
    const ids = done.sources!.map((x) => x.readSetId!);
    assert.equal(new Set(ids).size, N);
    const all = [];
    let nextToken: string | undefined;
    do {
      const p = await omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, nextToken }));
      all.push(...p.readSets!);
      nextToken = p.nextToken;
    } while (nextToken);
    assert.equal(all.length, N, 'exactly one read set per source');
    assert.deepEqual(new Set(all.map((r) => r.id)), new Set(ids));
    assert.ok(all.every((r) => r.status === 'ACTIVE'));
  });

  it('refuses a part still arriving when Complete is accepted: what the ingest reads cannot change', async () => {
    if (!s || s.child.exitCode !== null) s = await spawnServer({ dataDir, env: env() });
    const omics = omicsClient(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'late-part' }))).id!;
    const r1 = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
    const { uploadId } = await omics.send(
      new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'late' }),
    );
    const p1 = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: r1 }));
    // The same part again, trickling in; Complete is accepted meanwhile with the first one.
    const late = await slowPart(s, storeId, uploadId!, 1, 4 << 20);
    await until('bytes in flight', async () => late.sent(), (n) => n >= 1 << 20, 20_000, 20);
    const { readSetId } = await omics.send(
      new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum: p1.checksum }] }),
    );
    late.finish();
    const answer = await late.done;
    assert.equal(answer.status, 409, answer.body);
    assert.match(answer.body, /ConflictException|completed or aborted/);
    const m = await until('ingest', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (x) => x.status !== 'PROCESSING_UPLOAD');
    assert.equal(m.status, 'ACTIVE', m.statusMessage);
    const got = Buffer.from(await (await omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: readSetId, partNumber: 1 }))).payload!.transformToByteArray());
    assert.ok(got.equals(r1), 'the read set holds the part Complete named');
  });

  it("removes a killed process's scratch space (plaintext of a CRAM ingest) when the next process starts", async () => {
    await s?.kill();
    const dead = spawnSync('true');
    const host = hostname().replace(/[^A-Za-z0-9-]/g, '_');
    const orphan = join(dataDir, 'scratch', `${host}.${dead.pid}.0123456789ab`);
    mkdirSync(join(orphan, 'cram-x'), { recursive: true });
    writeFileSync(join(orphan, 'cram-x', 'in.cram'), 'plaintext');
    mkdirSync(join(dataDir, 'scratch', 'references', '1-2'), { recursive: true });
    writeFileSync(join(dataDir, 'scratch', 'references', '1-2', 'ref.fa'), '>chr1\nACGT\n');
    s = await spawnServer({ dataDir, env: env() });
    assert.ok(!existsSync(orphan), 'the ended process’s scratch is gone');
    assert.ok(!existsSync(join(dataDir, 'scratch', 'references')), 'the old shared reference cache is gone');
  });

  it('sweeps blobs nothing refers to (a failed cleanup, a killed import) and keeps what read sets use', async () => {
    await s?.kill();
    s = await spawnServer({ dataDir, env: { ...env(), OPENOMICS_ORPHAN_SWEEP_SECONDS: '1' } });
    const omics = omicsClient(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'orphans' }))).id!;
    const r1 = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
    const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'kept' }));
    const p1 = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: r1 }));
    const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum: p1.checksum }] }));
    await until('ACTIVE', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (x) => x.status === 'ACTIVE');
    const orphan = (rel: string) => {
      const path = join(dataDir, 'blobs', rel);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, 'left behind');
      return path;
    };
    const planted = [orphan(`seq/${storeId}/readsets/9999999999/source1`), orphan(`seq/${storeId}/uploads/8888888888/source1/1-abc`)];
    await until('orphans swept', async () => planted.filter((p) => existsSync(p)).length, (n) => n === 0, 20_000, 200);
    const got = Buffer.from(await (await omics.send(new GetReadSetCommand({ sequenceStoreId: storeId, id: readSetId, partNumber: 1 }))).payload!.transformToByteArray());
    assert.ok(got.equals(r1), 'the read set in use is intact');
  });
});

