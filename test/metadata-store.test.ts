// Conformance suite for the MetadataStore interface, run against SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore } from '../src/db/open.js';
import type { MetadataStore } from '../src/db/metadata-store.js';
import type { SequenceStoreRecord } from '../src/storage/entities.js';
import { BACKENDS, PG_URL, dropPgSchema, newPgSchema } from './helpers/server.js';
import { readSetRecord, referenceRecord } from './helpers/records.js';

/** Waits (up to 2 s) for `ok`: another process's change reaches PostgreSQL listeners within a round trip. */
async function until(ok: () => boolean): Promise<void> {
  const end = Date.now() + 2000;
  while (!ok()) {
    if (Date.now() > end) assert.fail('the generation did not change');
    await new Promise((r) => setTimeout(r, 10));
  }
}

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
    s3AccessPolicy: null,
    s3AccessPolicyTime: null,
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
      await db.identity.ensureAccount('111111111111', 'a', 1);
      await db.identity.ensureAccount('111111111111', 'again', 2);
      assert.deepEqual((await db.identity.listAccounts()).map((a) => a.id), ['111111111111']);
      assert.equal(await db.identity.createUser('111111111111', 'alice', 1), true);
      assert.equal(await db.identity.createUser('111111111111', 'alice', 1), false);
      await db.identity.putAccessKey({ accessKeyId: 'AKIAX', accountId: '111111111111', userName: 'alice', secretEnc: 'sealed', status: 'Active', createdAt: 5 });
      await db.identity.putAccessKey({ accessKeyId: 'AKIAROOT', accountId: '111111111111', userName: null, secretEnc: 'sealed2', status: 'Active', createdAt: 6 });
      assert.equal((await db.identity.getAccessKey('AKIAX'))?.userName, 'alice');
      assert.equal((await db.identity.getAccessKey('AKIAX'))?.createdAt, 5);
      assert.deepEqual((await db.identity.listAccessKeys('111111111111', null)).map((k) => k.accessKeyId), ['AKIAROOT']);
      assert.equal(await db.identity.setAccessKeyStatus('AKIAX', 'Inactive'), true);
      assert.equal((await db.identity.getAccessKey('AKIAX'))?.status, 'Inactive');
      await db.identity.putUserPolicy('111111111111', 'alice', 'p1', '{"v":1}');
      await db.identity.putUserPolicy('111111111111', 'alice', 'p1', '{"v":2}');
      assert.deepEqual(await db.identity.listUserPolicies('111111111111', 'alice'), [{ policyName: 'p1', document: '{"v":2}' }]);
      await db.identity.deleteUser('111111111111', 'alice');
      assert.equal(await db.identity.getAccessKey('AKIAX'), undefined);
      assert.deepEqual(await db.identity.listUserPolicies('111111111111', 'alice'), []);
    });

    it('creates, reads, updates and deletes sequence stores', async () => {
      await db.sequenceStores.insert(store('1000000001', 1000));
      const got = await db.sequenceStores.get('111111111111', '1000000001');
      assert.deepEqual(got, store('1000000001', 1000));
      assert.equal(await db.sequenceStores.get('222222222222', '1000000001'), undefined, 'scoped by account');
      assert.equal((await db.sequenceStores.getByAccessPoint('alias-1000000001-s3alias'))?.id, '1000000001');
      const upd = await db.sequenceStores.update('111111111111', '1000000001', { updateTime: 2000, description: 'd', propagatedSetLevelTags: [] });
      assert.equal(upd?.description, 'd');
      assert.deepEqual(upd?.propagatedSetLevelTags, []);
      assert.equal(upd?.updateTime, 2000);
      assert.equal(await db.sequenceStores.count('111111111111'), 1);
      await db.readSets.insert(readSetRecord({ id: '5000000001', sequenceStoreId: '1000000001' }));
      assert.equal(await db.readSets.count('1000000001'), 1);
      assert.equal(await db.sequenceStores.delete('111111111111', '1000000001'), true);
      assert.equal(await db.sequenceStores.delete('111111111111', '1000000001'), false);
    });

    it('pages and filters stably by (creationTime, id)', async () => {
      for (let i = 0; i < 25; i++) {
        await db.sequenceStores.insert(store(String(2000000000 + i), 10_000 + Math.floor(i / 3), { name: i % 2 ? 'odd' : 'even' }));
      }
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await db.sequenceStores.list('111111111111', {}, { maxResults: 7, ...(token ? { nextToken: token } : {}) });
        assert.ok(page.items.length <= 7);
        seen.push(...page.items.map((s) => s.id));
        token = page.nextToken;
      } while (token);
      assert.equal(seen.length, 25);
      assert.deepEqual(seen, [...seen].sort());
      const odd = await db.sequenceStores.list('111111111111', { name: 'odd' }, { maxResults: 100 });
      assert.equal(odd.items.length, 12);
      const window = await db.sequenceStores.list('111111111111', { created: { after: 10_002, before: 10_003 } }, { maxResults: 100 });
      assert.equal(window.items.length, 6);
      await assert.rejects(db.sequenceStores.list('111111111111', {}, { maxResults: 5, nextToken: 'garbage' }), /nextToken/);
    });

    it('handles reference stores', async () => {
      await db.referenceStores.insert({ id: '3000000001', accountId: '111111111111', name: 'r', description: null, sseType: 'KMS', sseKeyArn: null, dataKey: '{}', creationTime: 7 });
      assert.equal((await db.referenceStores.get('111111111111', '3000000001'))?.name, 'r');
      assert.equal(await db.referenceStores.count('111111111111'), 1);
      await db.references.insert(referenceRecord({ id: '3100000001', referenceStoreId: '3000000001' }));
      assert.equal(await db.references.count('3000000001'), 1);
      const page = await db.referenceStores.list('111111111111', { name: 'r' }, { maxResults: 10 });
      assert.equal(page.items.length, 1);
      assert.equal(await db.referenceStores.delete('111111111111', '3000000001'), true);
    });

    it('stores tags with upsert and removal', async () => {
      await db.tags.put('arn:x', { a: '1', b: '2' });
      await db.tags.put('arn:x', { a: '3' });
      assert.deepEqual(await db.tags.list('arn:x'), { a: '3', b: '2' });
      await db.tags.remove('arn:x', ['b', 'missing']);
      assert.deepEqual(await db.tags.list('arn:x'), { a: '3' });
      await db.tags.deleteAll('arn:x');
      assert.deepEqual(await db.tags.list('arn:x'), {});
    });

    it('records idempotency tokens once', async () => {
      await db.idempotency.record('111111111111', 'Op', 'tok', { requestHash: 'h1', resourceId: 'r1' }, 1);
      await db.idempotency.record('111111111111', 'Op', 'tok', { requestHash: 'h2', resourceId: 'r2' }, 2);
      assert.deepEqual(await db.idempotency.find('111111111111', 'Op', 'tok'), { requestHash: 'h1', resourceId: 'r1' });
      assert.equal(await db.idempotency.find('111111111111', 'Op', 'other'), undefined);
    });
    it('filters read sets by every ListReadSets field and changes status only from the expected states', async () => {
      const sid = '6000000001';
      for (let i = 0; i < 12; i++) {
        await db.readSets.insert(
          readSetRecord({
            id: String(6100000000 + i),
            sequenceStoreId: sid,
            creationTime: 100 + i,
            sampleId: i % 2 ? 'odd' : 'even',
            subjectId: i < 6 ? 'early' : 'late',
            referenceArn: i % 3 === 0 ? 'arn:aws:omics:us-east-1:111111111111:referenceStore/1/reference/2' : null,
            status: i === 11 ? 'PROCESSING_UPLOAD' : 'ACTIVE',
            creationType: i < 4 ? 'IMPORT' : 'UPLOAD',
          }),
        );
      }
      const n = async (q: object) => (await db.readSets.list(sid, q, { maxResults: 100 })).items.length;
      assert.equal(await n({}), 12);
      assert.equal(await n({ sampleId: 'odd' }), 6);
      assert.equal(await n({ subjectId: 'early', sampleId: 'even' }), 3);
      assert.equal(await n({ referenceArn: '' }), 8, 'an empty referenceArn filter selects read sets without a reference');
      assert.equal(await n({ referenceArn: 'arn:aws:omics:us-east-1:111111111111:referenceStore/1/reference/2' }), 4);
      assert.equal(await n({ status: 'PROCESSING_UPLOAD' }), 1);
      assert.equal(await n({ creationType: 'IMPORT' }), 4);
      assert.equal(await n({ created: { after: 105, before: 107 } }), 3);
      assert.equal(await db.readSets.countByReference('arn:aws:omics:us-east-1:111111111111:referenceStore/1/reference/2'), 4);
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const p = await db.readSets.list(sid, {}, { maxResults: 5, ...(token ? { nextToken: token } : {}) });
        seen.push(...p.items.map((r) => r.id));
        token = p.nextToken;
      } while (token);
      assert.deepEqual(seen, [...seen].sort());
      assert.equal(seen.length, 12);
      assert.equal(await db.readSets.update(sid, '6100000011', { updateTime: 5, status: 'ACTIVE' }, ['ARCHIVED']), false);
      assert.equal(await db.readSets.update(sid, '6100000011', { updateTime: 5, status: 'ACTIVE', etag: { algorithm: 'FASTQ_MD5up', source1: 'x' } }, ['PROCESSING_UPLOAD']), true);
      const got = await db.readSets.get(sid, '6100000011');
      assert.equal(got?.status, 'ACTIVE');
      assert.deepEqual(got?.etag, { algorithm: 'FASTQ_MD5up', source1: 'x' });
      const byId = await db.readSets.listActiveFrom(sid, '6100000005', 3);
      assert.deepEqual(byId.map((r) => r.id), ['6100000005', '6100000006', '6100000007'], 'ACTIVE read sets in id order from an id');
      assert.equal(await db.readSets.delete(sid, '6100000011'), true);
      assert.equal(await db.readSets.get(sid, '6100000011'), undefined);
    });

    it('keeps upload parts: a re-sent part replaces the earlier one; pages by source and part number', async () => {
      const up = { id: '6200000001', sequenceStoreId: '6000000002', accountId: '111111111111', status: 'IN_PROGRESS' as const, sourceFileType: 'FASTQ' as const,
        subjectId: 's', sampleId: 'm', name: 'n', generatedFrom: null, referenceArn: null, description: null, tags: { a: 'b' }, readSetId: null, creationTime: 10 };
      await db.uploads.insert(up);
      const part = (source: 'SOURCE1' | 'SOURCE2', n: number, checksum: string, t: number) => ({
        uploadId: up.id, partSource: source, partNumber: n, partSize: 10 * n, checksum, blobKey: `k/${source}/${n}`, creationTime: t, lastUpdatedTime: t });
      for (let i = 1; i <= 5; i++) await db.uploads.putPart(part('SOURCE1', i, `c${i}`, 20 + i));
      await db.uploads.putPart(part('SOURCE2', 1, 'd1', 30));
      await db.uploads.putPart({ ...part('SOURCE1', 3, 'c3-again', 40), creationTime: 40 });
      const all = await db.uploads.allParts(up.id);
      assert.equal(all.length, 6);
      const p3 = all.find((p) => p.partSource === 'SOURCE1' && p.partNumber === 3)!;
      assert.equal(p3.checksum, 'c3-again');
      assert.equal(p3.creationTime, 23, 'creationTime is the first upload of the part');
      assert.equal(p3.lastUpdatedTime, 40);
      const first = await db.uploads.listParts(up.id, 'SOURCE1', undefined, { maxResults: 2 });
      assert.deepEqual(first.items.map((p) => p.partNumber), [1, 2]);
      const second = await db.uploads.listParts(up.id, 'SOURCE1', undefined, { maxResults: 10, nextToken: first.nextToken! });
      assert.deepEqual(second.items.map((p) => p.partNumber), [3, 4, 5]);
      assert.equal(second.nextToken, undefined);
      assert.deepEqual((await db.uploads.get(up.sequenceStoreId, up.id))?.tags, { a: 'b' });
      assert.equal((await db.uploads.listInProgress(up.sequenceStoreId, { maxResults: 10 })).items.length, 1);
      assert.equal(await db.uploads.finish(up.sequenceStoreId, up.id, 'COMPLETED', '6300000001'), true);
      assert.equal(await db.uploads.finish(up.sequenceStoreId, up.id, 'ABORTED', null), false, 'a finished upload cannot finish again');
      assert.equal((await db.uploads.listInProgress(up.sequenceStoreId, { maxResults: 10 })).items.length, 0);
      await db.uploads.deleteParts(up.id);
      assert.equal((await db.uploads.allParts(up.id)).length, 0);
    });

    it('leases jobs to one worker at a time and hands them over when a lease expires', async () => {
      const job = { id: '6400000001', kind: 'TestJob', accountId: '111111111111', storeId: '6000000003', status: 'SUBMITTED' as const, statusMessage: null,
        payload: { n: 1 }, creationTime: 1, completionTime: null, leaseOwner: null, leaseExpires: null, attempts: 0 };
      await db.jobs.insert(job);
      const [a, b] = await Promise.all([db.jobs.claim(['TestJob'], 'worker-a', 1000, 500), db.jobs.claim(['TestJob'], 'worker-b', 1000, 500)]);
      assert.equal([a, b].filter(Boolean).length, 1, 'exactly one worker wins the claim');
      const winner = a ? 'worker-a' : 'worker-b';
      const loser = a ? 'worker-b' : 'worker-a';
      assert.equal(await db.jobs.claim(['TestJob'], loser, 1200, 500), undefined, 'the lease holds until it expires');
      assert.equal(await db.jobs.update(job.id, loser, { status: 'IN_PROGRESS' }), false, 'only the holder may write');
      assert.equal(await db.jobs.update(job.id, winner, { status: 'IN_PROGRESS', payload: { n: 2 } }), true);
      const taken = await db.jobs.claim(['TestJob'], loser, 1600, 500);
      assert.equal(taken?.leaseOwner, loser, 'an expired lease is taken over');
      assert.deepEqual(taken?.payload, { n: 2 });
      assert.equal(taken?.attempts, 2);
      assert.equal(await db.jobs.complete(job.id, winner, 'COMPLETED', null, {}, 1700), false, 'the old holder lost the job');
      assert.equal(await db.jobs.complete(job.id, loser, 'COMPLETED', null, { n: 3 }, 1700), true);
      assert.equal(await db.jobs.claim(['TestJob'], 'worker-c', 99_999, 500), undefined, 'a finished job is not runnable');
      assert.equal((await db.jobs.list('TestJob', job.storeId, { status: 'COMPLETED' }, { maxResults: 10 })).items.length, 1);
      assert.equal(await db.jobs.countActive('TestJob', '111111111111'), 0);
    });

    it('changes its generation when any connection commits a change to a cached table, and only then', async () => {
      // A second store on the same database stands for another process.
      const other = await openMetadataStore(backend === 'sqlite' ? { kind: 'sqlite', file: join(dir, 'm.sqlite') } : { kind: 'postgres', url: PG_URL, schema });
      try {
        const settled = async (m: MetadataStore) => {
          // PostgreSQL announces commits by NOTIFY: wait until two reads a moment apart agree.
          for (;;) {
            const g = m.generation();
            await new Promise((r) => setTimeout(r, 50));
            if (m.generation() === g) return g;
          }
        };
        const mine = await settled(db);
        const theirs = await settled(other);
        await other.jobs.insert({ id: '6400000099', kind: 'Other', accountId: '111111111111', storeId: '6000000099', status: 'SUBMITTED', statusMessage: null,
          payload: {}, creationTime: 1, completionTime: null, leaseOwner: null, leaseExpires: null, attempts: 0 });
        assert.equal(await settled(db), mine, 'a job row is not cached: no change');
        await other.sequenceStores.insert(store('6000000099', 5));
        await until(() => db.generation() !== mine);
        assert.notEqual(other.generation(), theirs, 'the writer sees its own change at once');
        const before = await settled(db);
        await other.tags.put('arn:aws:omics:us-east-1:111111111111:sequenceStore/6000000099', { k: 'v' });
        await until(() => db.generation() !== before);
        const beforeUpdate = await settled(db);
        await other.atomically((tx) => tx.tags.put('arn:aws:omics:us-east-1:111111111111:sequenceStore/6000000099', { k: 'w' }));
        await until(() => db.generation() !== beforeUpdate);
      } finally {
        await other.close();
      }
    });

    it('settles deployment settings: the first value recorded wins', async () => {
      assert.equal(await db.settleDeploymentSetting('test-setting', 'first'), 'first');
      assert.equal(await db.settleDeploymentSetting('test-setting', 'second'), 'first');
    });

    it('claims S3 access log lines in batches no two deliverers share, gives them back or drops them', async () => {
      for (let i = 0; i < 5; i++) await db.accessLogs.append({ id: `l${i}`, storeId: 's-log', accountId: '111111111111', time: 1000 + i, line: `line ${i}` });
      const a = await db.accessLogs.claimBatch('batch-a', 5000, 0, 3);
      assert.deepEqual(a, { storeId: 's-log', accountId: '111111111111', lines: ['line 0', 'line 1', 'line 2'] });
      const b = await db.accessLogs.claimBatch('batch-b', 5000, 0, 10);
      assert.deepEqual(b?.lines, ['line 3', 'line 4'], 'a live batch’s lines are not claimed again');
      await db.accessLogs.releaseBatch('batch-b', false);
      assert.deepEqual((await db.accessLogs.claimBatch('batch-c', 5000, 0, 10))?.lines, ['line 3', 'line 4'], 'given back, claimable again');
      // A batch whose deliverer died goes stale and is claimed again.
      assert.deepEqual((await db.accessLogs.claimBatch('batch-d', 9000, 6000, 10))?.lines, ['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
      await db.accessLogs.deleteBatch('batch-d');
      assert.equal(await db.accessLogs.claimBatch('batch-e', 9000, 9000, 10), undefined, 'delivered lines are gone');
    });

    it('counts unfinished jobs by kind, and those no worker has claimed for a while', async () => {
      const job = (id: string, leaseExpires: number | null, creationTime: number) => ({
        id, kind: 'QueueJob', accountId: '111111111111', storeId: 's-q', status: 'SUBMITTED' as const, statusMessage: null, payload: {},
        creationTime, completionTime: null, leaseOwner: null, leaseExpires, attempts: 0,
      });
      await db.jobs.insert(job('q1', null, 100));
      await db.jobs.insert(job('q2', 5000, 200));
      assert.deepEqual((await db.jobs.queued()).filter((q) => q.kind === 'QueueJob'), [{ kind: 'QueueJob', count: 2, oldestCreation: 100 }]);
      assert.deepEqual((await db.jobs.stalled(1000)).filter((q) => q.kind === 'QueueJob'), [{ kind: 'QueueJob', count: 1, oldestCreation: 100 }]);
      assert.deepEqual((await db.jobs.stalled(6000)).filter((q) => q.kind === 'QueueJob'), [{ kind: 'QueueJob', count: 2, oldestCreation: 100 }]);
    });
  });
}
