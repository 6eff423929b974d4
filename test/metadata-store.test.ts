// Conformance suite for the MetadataStore interface, run against SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore } from '../src/db/open.js';
import type { MetadataStore, SequenceStoreRecord } from '../src/db/metadata-store.js';
import { BACKENDS, PG_URL, dropPgSchema, newPgSchema } from './helpers/server.js';

function store(id: string, t: number, over: Partial<SequenceStoreRecord> = {}): SequenceStoreRecord {
  return {
    id,
    accountId: '111111111111',
    name: `s-${id}`,
    description: null,
    sseType: 'KMS',
    sseKeyArn: 'arn:aws:kms:us-east-1:111111111111:key/x',
    dataKey: '{}',
    fallbackLocation: null,
    eTagAlgorithmFamily: 'MD5up',
    status: 'ACTIVE',
    statusMessage: null,
    propagatedSetLevelTags: ['a'],
    accessLogLocation: null,
    accessPointName: `ap-${id}`,
    accessPointAlias: `alias-${id}-s3alias`,
    creationTime: t,
    updateTime: t,
    ...over,
  };
}

for (const backend of BACKENDS) {
  describe(`MetadataStore conformance: ${backend}`, () => {
    let db: MetadataStore;
    let dir: string;
    let schema: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'oo-db-'));
      schema = newPgSchema();
      db = await openMetadataStore(backend === 'sqlite' ? { kind: 'sqlite', file: join(dir, 'm.sqlite') } : { kind: 'postgres', url: PG_URL, schema });
    });
    after(async () => {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
      if (backend === 'postgres') await dropPgSchema(schema);
    });

    it('runs migrations idempotently', async () => {
      await db.migrate();
      await db.ping();
      assert.equal(db.dialect, backend);
    });

    it('stores accounts, users, keys and policies', async () => {
      await db.ensureAccount('111111111111', 'a', 1);
      await db.ensureAccount('111111111111', 'again', 2);
      assert.deepEqual((await db.listAccounts()).map((a) => a.id), ['111111111111']);
      assert.equal(await db.createUser('111111111111', 'alice', 1), true);
      assert.equal(await db.createUser('111111111111', 'alice', 1), false);
      await db.putAccessKey({ accessKeyId: 'AKIAX', accountId: '111111111111', userName: 'alice', secretEnc: 'sealed', status: 'Active', createdAt: 5 });
      await db.putAccessKey({ accessKeyId: 'AKIAROOT', accountId: '111111111111', userName: null, secretEnc: 'sealed2', status: 'Active', createdAt: 6 });
      assert.equal((await db.getAccessKey('AKIAX'))?.userName, 'alice');
      assert.equal((await db.getAccessKey('AKIAX'))?.createdAt, 5);
      assert.deepEqual((await db.listAccessKeys('111111111111', null)).map((k) => k.accessKeyId), ['AKIAROOT']);
      assert.equal(await db.setAccessKeyStatus('AKIAX', 'Inactive'), true);
      assert.equal((await db.getAccessKey('AKIAX'))?.status, 'Inactive');
      await db.putUserPolicy('111111111111', 'alice', 'p1', '{"v":1}');
      await db.putUserPolicy('111111111111', 'alice', 'p1', '{"v":2}');
      assert.deepEqual(await db.listUserPolicies('111111111111', 'alice'), [{ policyName: 'p1', document: '{"v":2}' }]);
      await db.deleteUser('111111111111', 'alice');
      assert.equal(await db.getAccessKey('AKIAX'), undefined);
      assert.deepEqual(await db.listUserPolicies('111111111111', 'alice'), []);
    });

    it('creates, reads, updates and deletes sequence stores', async () => {
      await db.insertSequenceStore(store('1000000001', 1000));
      const got = await db.getSequenceStore('111111111111', '1000000001');
      assert.deepEqual(got, store('1000000001', 1000));
      assert.equal(await db.getSequenceStore('222222222222', '1000000001'), undefined, 'scoped by account');
      assert.equal((await db.getSequenceStoreByAccessPoint('alias-1000000001-s3alias'))?.id, '1000000001');
      const upd = await db.updateSequenceStore('111111111111', '1000000001', { updateTime: 2000, description: 'd', propagatedSetLevelTags: [] });
      assert.equal(upd?.description, 'd');
      assert.deepEqual(upd?.propagatedSetLevelTags, []);
      assert.equal(upd?.updateTime, 2000);
      assert.equal(await db.countSequenceStores('111111111111'), 1);
      await db.insertReadSetStub({ id: '5000000001', sequenceStoreId: '1000000001', accountId: '111111111111', status: 'ACTIVE', creationTime: 1 });
      assert.equal(await db.countReadSets('1000000001'), 1);
      assert.equal(await db.deleteSequenceStore('111111111111', '1000000001'), true);
      assert.equal(await db.deleteSequenceStore('111111111111', '1000000001'), false);
    });

    it('pages and filters stably by (creationTime, id)', async () => {
      for (let i = 0; i < 25; i++) {
        await db.insertSequenceStore(store(String(2000000000 + i), 10_000 + Math.floor(i / 3), { name: i % 2 ? 'odd' : 'even' }));
      }
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await db.listSequenceStores('111111111111', {}, { maxResults: 7, ...(token ? { nextToken: token } : {}) });
        assert.ok(page.items.length <= 7);
        seen.push(...page.items.map((s) => s.id));
        token = page.nextToken;
      } while (token);
      assert.equal(seen.length, 25);
      assert.deepEqual(seen, [...seen].sort());
      const odd = await db.listSequenceStores('111111111111', { name: 'odd' }, { maxResults: 100 });
      assert.equal(odd.items.length, 12);
      const window = await db.listSequenceStores('111111111111', { created: { after: 10_002, before: 10_003 } }, { maxResults: 100 });
      assert.equal(window.items.length, 6);
      await assert.rejects(db.listSequenceStores('111111111111', {}, { maxResults: 5, nextToken: 'garbage' }), /nextToken/);
    });

    it('handles reference stores', async () => {
      await db.insertReferenceStore({ id: '3000000001', accountId: '111111111111', name: 'r', description: null, sseType: 'KMS', sseKeyArn: null, dataKey: '{}', creationTime: 7 });
      assert.equal((await db.getReferenceStore('111111111111', '3000000001'))?.name, 'r');
      assert.equal(await db.countReferenceStores('111111111111'), 1);
      await db.insertReferenceStub({ id: '3100000001', referenceStoreId: '3000000001', accountId: '111111111111', status: 'ACTIVE', creationTime: 1 });
      assert.equal(await db.countReferences('3000000001'), 1);
      const page = await db.listReferenceStores('111111111111', { name: 'r' }, { maxResults: 10 });
      assert.equal(page.items.length, 1);
      assert.equal(await db.deleteReferenceStore('111111111111', '3000000001'), true);
    });

    it('stores tags with upsert and removal', async () => {
      await db.putTags('arn:x', { a: '1', b: '2' });
      await db.putTags('arn:x', { a: '3' });
      assert.deepEqual(await db.listTags('arn:x'), { a: '3', b: '2' });
      await db.removeTags('arn:x', ['b', 'missing']);
      assert.deepEqual(await db.listTags('arn:x'), { a: '3' });
      await db.deleteAllTags('arn:x');
      assert.deepEqual(await db.listTags('arn:x'), {});
    });

    it('records idempotency tokens once', async () => {
      await db.recordIdempotent('111111111111', 'Op', 'tok', { requestHash: 'h1', resourceId: 'r1' }, 1);
      await db.recordIdempotent('111111111111', 'Op', 'tok', { requestHash: 'h2', resourceId: 'r2' }, 2);
      assert.deepEqual(await db.findIdempotent('111111111111', 'Op', 'tok'), { requestHash: 'h1', resourceId: 'r1' });
      assert.equal(await db.findIdempotent('111111111111', 'Op', 'other'), undefined);
    });
  });
}
