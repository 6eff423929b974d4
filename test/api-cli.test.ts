// The store control plane driven through the AWS CLI (and boto3) the way a user types it, on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { tinyCorpus } from './helpers/corpus.js';
import { BACKENDS, spawnServer, type SpawnedServer } from './helpers/server.js';

const run = promisify(execFile);

for (const backend of BACKENDS) {
  describe(`Omics API through the AWS CLI on ${backend}`, () => {
    let s: SpawnedServer;
    let env: NodeJS.ProcessEnv;
    before(async () => {
      s = await spawnServer({ backend });
      // Exactly the lines the server prints at start.
      env = {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        AWS_ENDPOINT_URL: s.url,
        AWS_DISABLE_HOST_PREFIX_INJECTION: 'true',
        AWS_SHARED_CREDENTIALS_FILE: join(s.dataDir, 'credentials'),
        AWS_PROFILE: 'openomics',
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: '/dev/null',
      };
    });
    after(async () => s?.stop());

    async function aws(...args: string[]): Promise<any> {
      const { stdout } = await run('aws', ['omics', ...args, '--output', 'json'], { env });
      return stdout.trim() ? JSON.parse(stdout) : undefined;
    }
    async function awsFails(args: string[], code: string): Promise<string> {
      try {
        await run('aws', ['omics', ...args], { env });
      } catch (e) {
        const stderr = (e as { stderr: string }).stderr;
        assert.match(stderr, new RegExp(`\\(${code}\\)`), stderr);
        return stderr;
      }
      assert.fail(`aws omics ${args.join(' ')} should have failed with ${code}`);
    }

    it('runs the sequence store lifecycle', async () => {
      const created = await aws(
        'create-sequence-store',
        '--name', 'cli-store',
        '--description', 'from the CLI',
        '--fallback-location', 's3://amzn-s3-demo-bucket',
        '--e-tag-algorithm-family', 'SHA512up',
        '--propagated-set-level-tags', 'project', 'site',
        '--s3-access-config', 'accessLogLocation=s3://logs/cli/',
        '--tags', 'owner=lab',
      );
      assert.match(created.id, /^\d{10}$/);
      assert.equal(created.fallbackLocation, 's3://amzn-s3-demo-bucket');
      assert.match(created.creationTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$/);
      const got = await aws('get-sequence-store', '--id', created.id);
      assert.equal(got.eTagAlgorithmFamily, 'SHA512up');
      assert.deepEqual(got.propagatedSetLevelTags, ['project', 'site']);
      assert.match(got.s3Access.s3Uri, /-s3alias\/123456789012\/sequenceStore\//);
      const upd = await aws('update-sequence-store', '--id', created.id, '--name', 'cli-renamed', '--description', 'changed');
      assert.equal(upd.name, 'cli-renamed');
      const listed = await aws('list-sequence-stores', '--filter', 'name=cli-renamed');
      assert.deepEqual(listed.sequenceStores.map((x: { id: string }) => x.id), [created.id]);
      await aws('tag-resource', '--resource-arn', created.arn, '--tags', 'a=1,b=2');
      await aws('untag-resource', '--resource-arn', created.arn, '--tag-keys', 'a');
      assert.deepEqual((await aws('list-tags-for-resource', '--resource-arn', created.arn)).tags, { owner: 'lab', b: '2' });
      await aws('delete-sequence-store', '--id', created.id);
      await awsFails(['get-sequence-store', '--id', created.id], 'ResourceNotFoundException');
    });

    it('paginates the way the CLI does (--page-size, --max-items)', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await aws('create-sequence-store', '--name', `pg-${i}`)).id);
      const all = await aws('list-sequence-stores', '--page-size', '2');
      for (const id of ids) assert.ok(all.sequenceStores.some((x: { id: string }) => x.id === id));
      const first = await aws('list-sequence-stores', '--max-items', '3');
      assert.equal(first.sequenceStores.length, 3);
      assert.ok(first.NextToken);
      const rest = await aws('list-sequence-stores', '--starting-token', first.NextToken);
      assert.equal(first.sequenceStores.length + rest.sequenceStores.length, all.sequenceStores.length);
      for (const id of ids) await aws('delete-sequence-store', '--id', id);
    });

    it('runs the reference store lifecycle', async () => {
      const rs = await aws('create-reference-store', '--name', 'cli-refs', '--description', 'GRCh38');
      assert.match(rs.arn, /:referenceStore\/\d{10}$/);
      assert.equal((await aws('get-reference-store', '--id', rs.id)).name, 'cli-refs');
      assert.equal((await aws('list-reference-stores')).referenceStores.length, 1);
      await awsFails(['create-reference-store', '--name', 'second'], 'ServiceQuotaExceededException');
      await aws('delete-reference-store', '--id', rs.id);
      assert.equal((await aws('list-reference-stores')).referenceStores.length, 0);
    });

    it('reports server-side validation and unsupported operations in the service error format', async () => {
      const tooLong = await awsFails(['create-sequence-store', '--name', 'x'.repeat(128)], 'ValidationException');
      assert.match(tooLong, /length less than or equal to 127/);
      await awsFails(['create-sequence-store', '--name', 'x', '--propagated-set-level-tags', 'a', 'b', 'c', 'd', 'e', 'f'], 'ValidationException');
      await awsFails(['get-sequence-store', '--id', 'abcdefghij'], 'ValidationException');
      const ns = await awsFails(
        ['start-run', '--workflow-type', 'READY2RUN', '--workflow-id', '1234567', '--role-arn', 'arn:aws:iam::123456789012:role/R', '--output-uri', 's3://b/o', '--request-id', 'r2r'],
        'NotSupportedOperationException',
      );
      assert.match(ns, /Ready2Run/);
    });

    it('rejects a wrong secret from the CLI', async () => {
      const { AWS_PROFILE: _profile, ...rest } = env;
      const bad = { ...rest, AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: 'not-the-secret', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
      try {
        await run('aws', ['omics', 'list-sequence-stores'], { env: bad });
        assert.fail('should fail');
      } catch (e) {
        assert.match((e as { stderr: string }).stderr, /InvalidSignatureException/);
      }
    });

    it('works from boto3 with its paginator', async () => {
      const script = `
import boto3, json
c = boto3.client('omics')
ids = [c.create_sequence_store(name='boto-%d' % i)['id'] for i in range(3)]
seen = [s['id'] for p in c.get_paginator('list_sequence_stores').paginate(PaginationConfig={'PageSize': 1}) for s in p['sequenceStores']]
assert all(i in seen for i in ids), (ids, seen)
st = c.get_sequence_store(id=ids[0])
assert st['creationTime'].tzinfo is not None
for i in ids: c.delete_sequence_store(id=i)
try:
    c.get_sequence_store(id=ids[0])
    raise SystemExit('expected ResourceNotFoundException')
except c.exceptions.ResourceNotFoundException:
    pass
print(json.dumps({'ok': True, 'pages': len(seen)}))
`;
      const { stdout } = await run('python3', ['-c', script], { env });
      assert.equal(JSON.parse(stdout).ok, true);
    });

    it('uploads a FASTQ in parts made with split, as the user guide does, and downloads it with get-read-set', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'openomics-cli-up-'));
      try {
        const fq = join(tinyCorpus(), 'reads_R1.fastq.gz');
        await run('split', ['-b', '100000', fq, join(dir, 'part_')]);
        const pieces = readdirSync(dir).sort();
        assert.ok(pieces.length > 1);
        const store = await aws('create-sequence-store', '--name', 'cli-upload');
        const up = await aws('create-multipart-read-set-upload', '--sequence-store-id', store.id, '--source-file-type', 'FASTQ',
          '--subject-id', 'subject', '--sample-id', 'sample', '--name', 'cli-reads');
        const parts = [];
        for (const [i, piece] of pieces.entries()) {
          const r = await aws('upload-read-set-part', '--sequence-store-id', store.id, '--upload-id', up.uploadId, '--part-source', 'SOURCE1',
            '--part-number', String(i + 1), '--payload', join(dir, piece));
          parts.push({ checksum: r.checksum, partNumber: i + 1, partSource: 'SOURCE1' });
        }
        const listed = await aws('list-read-set-upload-parts', '--sequence-store-id', store.id, '--upload-id', up.uploadId, '--part-source', 'SOURCE1');
        assert.equal(listed.parts.length, pieces.length);
        const { readSetId } = await aws('complete-multipart-read-set-upload', '--sequence-store-id', store.id, '--upload-id', up.uploadId, '--parts', JSON.stringify(parts));
        let meta;
        for (let i = 0; i < 300; i++) {
          meta = await aws('get-read-set-metadata', '--sequence-store-id', store.id, '--id', readSetId);
          if (meta.status !== 'PROCESSING_UPLOAD') break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(meta.status, 'ACTIVE', meta.statusMessage);
        assert.equal(meta.creationType, 'UPLOAD');
        const text = (await run('zcat', [fq], { encoding: 'buffer', maxBuffer: 1 << 30 })).stdout as Buffer;
        assert.equal(meta.etag.source1, createHash('md5').update(text).digest('hex'));
        const out = join(dir, 'downloaded.fastq.gz');
        await aws('get-read-set', '--sequence-store-id', store.id, '--id', readSetId, '--file', 'SOURCE1', '--part-number', '1', out);
        assert.ok(readFileSync(out).equals(readFileSync(fq)), 'byte-identical download');
        const found = await aws('list-read-sets', '--sequence-store-id', store.id, '--filter', 'sampleId=sample');
        assert.deepEqual(found.readSets.map((r: { id: string }) => r.id), [readSetId]);
        await aws('batch-delete-read-set', '--sequence-store-id', store.id, '--ids', readSetId);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
