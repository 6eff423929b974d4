// The store control plane driven through @aws-sdk/client-omics against a spawned server, on SQLite and PostgreSQL.
import { readSetRecord } from './helpers/records.js';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  StartRunCommand,
  OmicsClient,
  CreateSequenceStoreCommand,
  GetSequenceStoreCommand,
  UpdateSequenceStoreCommand,
  DeleteSequenceStoreCommand,
  ListSequenceStoresCommand,
  CreateReferenceStoreCommand,
  GetReferenceStoreCommand,
  ListReferenceStoresCommand,
  DeleteReferenceStoreCommand,
  TagResourceCommand,
  UntagResourceCommand,
  ListTagsForResourceCommand,
  paginateListSequenceStores,
} from '@aws-sdk/client-omics';
import { BACKENDS, CLI, PG_URL, spawnServer, type Backend, type SpawnedServer } from './helpers/server.js';
import { sendRaw } from './helpers/signing.js';
import { openMetadataStore } from '../src/db/open.js';

function client(s: SpawnedServer, creds = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, extra: object = {}) {
  return new OmicsClient({ endpoint: s.url, region: 'us-east-1', credentials: creds, disableHostPrefix: true, maxAttempts: 1, ...extra });
}

async function expectError(p: Promise<unknown>, name: string, status: number, message?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    assert.equal(err.$metadata?.httpStatusCode, status);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

function admin(s: SpawnedServer, ...args: string[]): any {
  const out = execFileSync(process.execPath, [CLI, 'admin', ...args], { env: s.env, encoding: 'utf8' });
  return JSON.parse(out);
}

for (const backend of BACKENDS) {
  describe(`Omics API through @aws-sdk/client-omics on ${backend}`, () => {
    let s: SpawnedServer;
    let omics: OmicsClient;
    before(async () => {
      s = await spawnServer({ backend: backend as Backend, env: { OPENOMICS_MAX_SEQUENCE_STORES: '40' } });
      omics = client(s);
    });
    after(async () => s?.stop());

    it('creates a sequence store with every option and reads it back', async () => {
      const created = await omics.send(
        new CreateSequenceStoreCommand({
          name: 'lab-runs',
          description: 'WGS runs',
          fallbackLocation: 's3://fallback-bucket/failed/',
          eTagAlgorithmFamily: 'SHA256up',
          propagatedSetLevelTags: ['project', 'consent'],
          s3AccessConfig: { accessLogLocation: 's3://log-bucket/omics/' },
          tags: { team: 'genomics' },
        }),
      );
      assert.match(created.id!, /^\d{10}$/);
      assert.equal(created.arn, `arn:aws:omics:us-east-1:123456789012:sequenceStore/${created.id}`);
      assert.equal(created.status, 'ACTIVE');
      assert.equal(created.eTagAlgorithmFamily, 'SHA256up');
      assert.equal(created.sseConfig?.type, 'KMS');
      assert.match(created.sseConfig?.keyArn ?? '', /^arn:aws:kms:us-east-1:123456789012:key\//);
      assert.ok(created.creationTime instanceof Date);
      const got = await omics.send(new GetSequenceStoreCommand({ id: created.id }));
      assert.equal(got.name, 'lab-runs');
      assert.equal(got.description, 'WGS runs');
      assert.equal(got.fallbackLocation, 's3://fallback-bucket/failed/');
      assert.deepEqual(got.propagatedSetLevelTags, ['project', 'consent']);
      assert.match(got.s3Access?.s3Uri ?? '', new RegExp(`^s3://123456789012-${created.id}-[a-z0-9]{10}-s3alias/123456789012/sequenceStore/${created.id}/$`));
      assert.equal(got.s3Access?.s3AccessPointArn, `arn:aws:s3:us-east-1:123456789012:accesspoint/123456789012-${created.id}`);
      assert.equal(got.s3Access?.accessLogLocation, 's3://log-bucket/omics/');
      assert.equal(got.s3Access?.s3Uri, created.s3Access?.s3Uri, 'the access point alias is stable');
      const tags = await omics.send(new ListTagsForResourceCommand({ resourceArn: created.arn }));
      assert.deepEqual(tags.tags, { team: 'genomics' });
    });

    it('updates a sequence store and keeps what is immutable', async () => {
      const { id, sseConfig, creationTime } = await omics.send(new CreateSequenceStoreCommand({ name: 'to-update' }));
      const upd = await omics.send(
        new UpdateSequenceStoreCommand({
          id,
          name: 'renamed',
          description: 'now described',
          fallbackLocation: 's3://other-bucket',
          propagatedSetLevelTags: ['a'],
          s3AccessConfig: { accessLogLocation: 's3://logs/x/' },
        }),
      );
      assert.equal(upd.name, 'renamed');
      assert.equal(upd.description, 'now described');
      assert.equal(upd.fallbackLocation, 's3://other-bucket');
      assert.deepEqual(upd.propagatedSetLevelTags, ['a']);
      assert.equal(upd.s3Access?.accessLogLocation, 's3://logs/x/');
      assert.deepEqual(upd.sseConfig, sseConfig);
      assert.equal(upd.creationTime?.getTime(), creationTime?.getTime());
      assert.ok(upd.updateTime!.getTime() > creationTime!.getTime());
      await expectError(omics.send(new UpdateSequenceStoreCommand({ id: '1234567890', name: 'x' })), 'ResourceNotFoundException', 404);
    });

    it('lists with filters and paginates with maxResults/nextToken', async () => {
      const names = ['page-a', 'page-b', 'page-c'];
      for (const name of names) await omics.send(new CreateSequenceStoreCommand({ name }));
      const all: string[] = [];
      let pages = 0;
      for await (const page of paginateListSequenceStores({ client: omics, pageSize: 2 }, {})) {
        pages++;
        assert.ok(page.sequenceStores!.length <= 2);
        for (const st of page.sequenceStores!) {
          all.push(st.name!);
          assert.equal((st as { s3Access?: unknown }).s3Access, undefined, 'list items carry no s3Access');
        }
      }
      assert.ok(pages >= 3);
      for (const n of names) assert.ok(all.includes(n));
      const byName = await omics.send(new ListSequenceStoresCommand({ filter: { name: 'page-b' } }));
      assert.deepEqual(byName.sequenceStores!.map((x) => x.name), ['page-b']);
      const future = await omics.send(new ListSequenceStoresCommand({ filter: { createdAfter: new Date(Date.now() + 3600_000) } }));
      assert.equal(future.sequenceStores!.length, 0);
      const active = await omics.send(new ListSequenceStoresCommand({ filter: { status: 'ACTIVE', createdBefore: new Date(Date.now() + 1000) } }));
      assert.ok(active.sequenceStores!.length >= 3);
      await expectError(omics.send(new ListSequenceStoresCommand({ nextToken: 'bm90LWEtdG9rZW4' })), 'ValidationException', 400, /nextToken/);
    });

    it('enforces the model validation limits', async () => {
      const long = (n: number) => 'x'.repeat(n);
      const cases: [object, RegExp][] = [
        [{ name: long(128) }, /at 'name' failed to satisfy constraint: Member must have length less than or equal to 127/],
        [{ name: 'ok', description: long(256) }, /description/],
        [{ name: 'ok', eTagAlgorithmFamily: 'CRC32up' }, /enum value set: \[MD5up, SHA256up, SHA512up\]/],
        [{ name: 'ok', fallbackLocation: 'http://not-s3' }, /fallbackLocation/],
        [{ name: 'ok', propagatedSetLevelTags: ['1', '2', '3', '4', '5', '6'] }, /at most 5/],
        [{ name: 'ok', sseConfig: { type: 'AES' } }, /sseConfig.type/],
        [{ name: 'ok', tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) }, /at most 50 tags/],
        [{ name: 'ok', tags: { [long(129)]: 'v' } }, /tags.key/],
      ];
      for (const [input, msg] of cases) {
        await expectError(omics.send(new CreateSequenceStoreCommand(input as never)), 'ValidationException', 400, msg);
      }
      await expectError(omics.send(new GetSequenceStoreCommand({ id: 'abc' })), 'ValidationException', 400, /pattern: \[0-9\]\+/);
      await expectError(omics.send(new GetSequenceStoreCommand({ id: '123' })), 'ValidationException', 400, /length greater than or equal to 10/);
      await expectError(omics.send(new ListSequenceStoresCommand({ maxResults: 101 })), 'ValidationException', 400, /maxResults/);
      await expectError(omics.send(new ListSequenceStoresCommand({ maxResults: 0 })), 'ValidationException', 400, /maxResults/);
      const two = await expectError(omics.send(new CreateSequenceStoreCommand({ name: long(200), description: long(300) })), 'ValidationException', 400);
      assert.match(two.message, /^2 validation errors detected/);
    });

    it('answers unknown ids with ResourceNotFoundException', async () => {
      await expectError(omics.send(new GetSequenceStoreCommand({ id: '0000000001' })), 'ResourceNotFoundException', 404, /0000000001/);
      await expectError(omics.send(new DeleteSequenceStoreCommand({ id: '0000000001' })), 'ResourceNotFoundException', 404);
      await expectError(omics.send(new GetReferenceStoreCommand({ id: '0000000001' })), 'ResourceNotFoundException', 404);
      await expectError(
        omics.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:omics:us-east-1:123456789012:sequenceStore/0000000001' })),
        'ResourceNotFoundException',
        404,
      );
    });

    it('retries with the same clientToken are idempotent; a reused token with other parameters conflicts', async () => {
      const a = await omics.send(new CreateSequenceStoreCommand({ name: 'idem', clientToken: 'token-1' }));
      const b = await omics.send(new CreateSequenceStoreCommand({ name: 'idem', clientToken: 'token-1' }));
      assert.equal(a.id, b.id);
      await expectError(omics.send(new CreateSequenceStoreCommand({ name: 'other', clientToken: 'token-1' })), 'ConflictException', 409, /clientToken/);
      const listed = await omics.send(new ListSequenceStoresCommand({ filter: { name: 'idem' } }));
      assert.equal(listed.sequenceStores!.length, 1);
      await omics.send(new DeleteSequenceStoreCommand({ id: a.id }));
    });

    it('enforces the sequence store quota (configured to 40 here)', async () => {
      const before = (await omics.send(new ListSequenceStoresCommand({}))).sequenceStores!.length;
      const made: string[] = [];
      for (let i = before; i < 40; i++) made.push((await omics.send(new CreateSequenceStoreCommand({ name: `q${i}` }))).id!);
      await expectError(omics.send(new CreateSequenceStoreCommand({ name: 'one-too-many' })), 'ServiceQuotaExceededException', 402, /maximum of 40/);
      for (const id of made) await omics.send(new DeleteSequenceStoreCommand({ id }));
    });

    it('refuses to delete a sequence store that holds read sets', async () => {
      const { id } = await omics.send(new CreateSequenceStoreCommand({ name: 'non-empty' }));
      const db = await openMetadataStore(
        backend === 'sqlite' ? { kind: 'sqlite', file: join(s.dataDir, 'metadata.sqlite') } : { kind: 'postgres', url: PG_URL, schema: s.env['OPENOMICS_DATABASE_SCHEMA']! },
      );
      try {
        await db.readSets.insert(readSetRecord({ id: '7000000001', sequenceStoreId: id!, accountId: '123456789012' }));
      } finally {
        await db.close();
      }
      await expectError(omics.send(new DeleteSequenceStoreCommand({ id })), 'ConflictException', 409, /read set/);
      assert.equal((await omics.send(new GetSequenceStoreCommand({ id }))).status, 'ACTIVE');
    });

    it('runs the reference store lifecycle with its one-per-account quota', async () => {
      const rs = await omics.send(new CreateReferenceStoreCommand({ name: 'refs', description: 'GRCh38', tags: { k: 'v' } }));
      assert.match(rs.arn!, /^arn:aws:omics:us-east-1:123456789012:referenceStore\/\d{10}$/);
      await expectError(omics.send(new CreateReferenceStoreCommand({ name: 'second' })), 'ServiceQuotaExceededException', 402);
      const got = await omics.send(new GetReferenceStoreCommand({ id: rs.id }));
      assert.equal(got.description, 'GRCh38');
      const listed = await omics.send(new ListReferenceStoresCommand({ filter: { name: 'refs' } }));
      assert.deepEqual(listed.referenceStores!.map((x) => x.id), [rs.id]);
      assert.deepEqual((await omics.send(new ListTagsForResourceCommand({ resourceArn: rs.arn }))).tags, { k: 'v' });
      await omics.send(new DeleteReferenceStoreCommand({ id: rs.id }));
      await expectError(omics.send(new GetReferenceStoreCommand({ id: rs.id })), 'ResourceNotFoundException', 404);
      await expectError(omics.send(new ListTagsForResourceCommand({ resourceArn: rs.arn })), 'ResourceNotFoundException', 404);
    });

    it('tags and untags stores; foreign and malformed ARNs are not found', async () => {
      const { arn } = await omics.send(new CreateSequenceStoreCommand({ name: 'tagged' }));
      await omics.send(new TagResourceCommand({ resourceArn: arn, tags: { a: '1', b: '2', empty: '' } }));
      await omics.send(new TagResourceCommand({ resourceArn: arn, tags: { a: '3' } }));
      await omics.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['b', 'absent'] }));
      assert.deepEqual((await omics.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, { a: '3', empty: '' });
      await expectError(omics.send(new TagResourceCommand({ resourceArn: arn, tags: { 'aws:x': '1' } })), 'ValidationException', 400, /reserved/);
      await expectError(
        omics.send(new TagResourceCommand({ resourceArn: arn!.replace('123456789012', '999999999999'), tags: { a: '1' } })),
        'ResourceNotFoundException',
        404,
      );
      await expectError(omics.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:s3:::bucket' })), 'ResourceNotFoundException', 404);
      const many = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`t${i}`, 'v']));
      await expectError(omics.send(new TagResourceCommand({ resourceArn: arn, tags: many })), 'ServiceQuotaExceededException', 402, /at most 50/);
    });

    it('answers an option that is not built (Ready2Run) with NotSupportedOperationException naming it', async () => {
      await expectError(
        omics.send(new StartRunCommand({ workflowType: 'READY2RUN', workflowId: '1234567', roleArn: 'arn:aws:iam::123456789012:role/R', outputUri: 's3://b/o', requestId: 'r2r' })),
        'NotSupportedOperationException',
        405,
        /Ready2Run/,
      );
    });

    describe('authentication', () => {
      it('rejects unsigned requests', async () => {
        const r = await sendRaw({ endpoint: s.url, method: 'POST', path: '/sequencestores', body: '{}' });
        assert.equal(r.status, 403);
        assert.equal(r.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
      });

      it('rejects a wrong secret and an unknown key', async () => {
        await expectError(
          client(s, { accessKeyId: s.accessKeyId, secretAccessKey: 'wrong-secret' }).send(new ListSequenceStoresCommand({})),
          'InvalidSignatureException',
          403,
          /signature we calculated does not match/,
        );
        await expectError(
          client(s, { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x' }).send(new ListSequenceStoresCommand({})),
          'UnrecognizedClientException',
          403,
        );
      });

      it('rejects a request whose body was changed after signing', async () => {
        const creds = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
        const ok = await sendRaw({ endpoint: s.url, method: 'POST', path: '/sequencestore', body: '{"name":"signed"}', credentials: creds });
        assert.equal(ok.status, 200, ok.body);
        const signedFor = '{"name":"signed"}';
        const { SignatureV4 } = await import('@smithy/signature-v4');
        const { Sha256 } = await import('@aws-crypto/sha256-js');
        const signer = new SignatureV4({ credentials: creds, region: 'us-east-1', service: 'omics', sha256: Sha256 });
        const host = new URL(s.url).host;
        const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: host, path: '/sequencestore', headers: { host, 'content-type': 'application/json' }, body: signedFor, query: {} });
        const res = await fetch(`${s.url}/sequencestore`, { method: 'POST', headers: signed.headers as Record<string, string>, body: '{"name":"tampered"}' });
        assert.equal(res.status, 403);
        assert.equal(res.headers.get('x-amzn-errortype'), 'InvalidSignatureException');
      });

      it('rejects a skewed clock outside 15 minutes', async () => {
        const skewed = client(s, undefined, { systemClockOffset: -20 * 60 * 1000 });
        await expectError(skewed.send(new ListSequenceStoresCommand({})), 'InvalidSignatureException', 403, /Signature expired/);
        const ahead = client(s, undefined, { systemClockOffset: 20 * 60 * 1000 });
        await expectError(ahead.send(new ListSequenceStoresCommand({})), 'InvalidSignatureException', 403, /not yet current/);
        const slight = client(s, undefined, { systemClockOffset: -5 * 60 * 1000 });
        await slight.send(new ListSequenceStoresCommand({}));
      });

      it('accepts presigned URLs until they expire', async () => {
        const creds = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
        const { id } = await omics.send(new CreateSequenceStoreCommand({ name: 'presigned' }));
        const ok = await sendRaw({ endpoint: s.url, method: 'GET', path: `/sequencestore/${id}`, credentials: creds, presignExpires: 60 });
        assert.equal(ok.status, 200, ok.body);
        assert.equal(JSON.parse(ok.body).name, 'presigned');
        const expired = await sendRaw({
          endpoint: s.url,
          method: 'GET',
          path: `/sequencestore/${id}`,
          credentials: creds,
          presignExpires: 60,
          signingDate: new Date(Date.now() - 120_000),
        });
        assert.equal(expired.status, 403);
        assert.equal(expired.headers['x-amzn-errortype'], 'InvalidSignatureException');
        assert.match(JSON.parse(expired.body).message, /expired/);
        const wrongId = await sendRaw({ endpoint: s.url, method: 'GET', path: `/sequencestore/${id}`, credentials: { ...creds, secretAccessKey: 'nope' }, presignExpires: 60 });
        assert.equal(wrongId.status, 403);
      });

      it('routes by method and path whatever the Host header says', async () => {
        const creds = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
        const r = await sendRaw({
          endpoint: s.url,
          method: 'POST',
          path: '/sequencestores',
          body: '{}',
          credentials: creds,
          hostHeader: 'control-storage-omics.us-east-1.amazonaws.com',
        });
        assert.equal(r.status, 200, r.body);
        assert.ok(Array.isArray(JSON.parse(r.body).sequenceStores));
      });

      it('rejects a credential scoped to another region or service', async () => {
        const creds = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
        const region = await sendRaw({ endpoint: s.url, method: 'POST', path: '/sequencestores', body: '{}', credentials: creds, region: 'eu-west-1' });
        assert.equal(region.status, 403);
        assert.match(JSON.parse(region.body).message, /region/);
      });
    });

    describe('authorization with IAM users and identity policies', () => {
      it('denies a user without policies, allows what a policy allows, and an explicit Deny wins', async () => {
        admin(s, 'user', 'create', 'reader');
        const readerKey = admin(s, 'access-key', 'create', '--user', 'reader');
        const reader = client(s, readerKey);
        await expectError(reader.send(new ListSequenceStoresCommand({})), 'AccessDeniedException', 403, /reader is not authorized to perform: omics:ListSequenceStores/);

        admin(s, 'user', 'create', 'operator');
        const policy = JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'omics:*', Resource: '*' },
            { Effect: 'Deny', Action: 'omics:DeleteSequenceStore', Resource: 'arn:aws:omics:*:*:sequenceStore/*' },
          ],
        });
        execFileSync(process.execPath, [CLI, 'admin', 'policy', 'put', 'operator', 'ops', '-'], { env: s.env, input: policy });
        const opKey = admin(s, 'access-key', 'create', '--user', 'operator');
        const operator = client(s, opKey);
        const { id } = await operator.send(new CreateSequenceStoreCommand({ name: 'by-operator' }));
        await expectError(operator.send(new DeleteSequenceStoreCommand({ id })), 'AccessDeniedException', 403, /explicit deny/);
        await omics.send(new DeleteSequenceStoreCommand({ id }));

        admin(s, 'user', 'create', 'lister');
        const listOnly = JSON.stringify({
          Statement: [{ Effect: 'Allow', Action: ['omics:List*', 'omics:Get*'], Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }],
        });
        execFileSync(process.execPath, [CLI, 'admin', 'policy', 'put', 'lister', 'list', '-'], { env: s.env, input: listOnly });
        const lister = client(s, admin(s, 'access-key', 'create', '--user', 'lister'));
        await lister.send(new ListSequenceStoresCommand({}));
        await expectError(lister.send(new CreateSequenceStoreCommand({ name: 'nope' })), 'AccessDeniedException', 403);
      });

      it('stops accepting a deleted access key', async () => {
        admin(s, 'user', 'create', 'temp');
        execFileSync(process.execPath, [CLI, 'admin', 'policy', 'put', 'temp', 'all', '-'], {
          env: s.env,
          input: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
        });
        const key = admin(s, 'access-key', 'create', '--user', 'temp');
        await client(s, key).send(new ListSequenceStoresCommand({}));
        admin(s, 'access-key', 'delete', key.accessKeyId);
        await new Promise((r) => setTimeout(r, 5_200)); // the server's key cache lives 5 s
        await expectError(client(s, key).send(new ListSequenceStoresCommand({})), 'UnrecognizedClientException', 403);
      });
    });

    it('serves readiness and Prometheus metrics without authentication', async () => {
      const ready = await fetch(`${s.url}/_openomics/ready`);
      assert.equal(ready.status, 200);
      const metrics = await (await fetch(`${s.url}/_openomics/metrics`)).text();
      assert.match(metrics, /openomics_requests_total\{operation="CreateSequenceStore",status="200"\} \d+/);
    });

    it('never writes secrets to its logs', async () => {
      const logs = s.logs.join('\n');
      assert.ok(logs.includes('"operation":"ListSequenceStores"'), 'request logs are there to check');
      assert.equal(logs.includes(s.secretAccessKey), false);
      assert.equal(/Signature=|"authorization"/i.test(logs), false);
    });

    it('keeps everything across a restart', async () => {
      const { id, s3Access } = await omics.send(new CreateSequenceStoreCommand({ name: 'durable', tags: { keep: 'me' } }));
      await s.kill();
      const again = await spawnServer({
        backend: backend as Backend,
        dataDir: s.dataDir,
        ...(backend === 'postgres' ? { pgSchema: s.env['OPENOMICS_DATABASE_SCHEMA']! } : {}),
      });
      try {
        assert.equal(again.accessKeyId, s.accessKeyId, 'the same root key');
        const c = client(again);
        const got = await c.send(new GetSequenceStoreCommand({ id }));
        assert.equal(got.name, 'durable');
        assert.equal(got.s3Access?.s3Uri, s3Access?.s3Uri);
        assert.deepEqual((await c.send(new ListTagsForResourceCommand({ resourceArn: got.arn }))).tags, { keep: 'me' });
      } finally {
        await again.kill();
      }
    });
  });
}
