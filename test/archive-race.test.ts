// Archive sweeps and activations racing, as they do when several servers and workers share one database and
// bucket: many sweepers (each with its own database connection, like separate processes) archive the same
// idle read sets at once, then several activation jobs bring the same read sets back. Every read set must end
// with exactly one intact copy: ARCHIVED with its cold copy (and no hot one), then ACTIVE with its hot bytes.
// Blob writes are slowed at random so that the sweeps interleave.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openMetadataStore } from '../src/db/open.js';
import type { MetadataStore } from '../src/db/metadata-store.js';
import type { JobRecord } from '../src/db/job-records.js';
import { LocalBlobStore } from '../src/blob/local-blob-store.js';
import type { BlobStore } from '../src/blob/blob-store.js';
import { ArchiveService, type ReadSetActivationPayload } from '../src/storage/archive.js';
import type { DomainDeps } from '../src/storage/context.js';
import type { SequenceStoreService } from '../src/storage/sequence-stores.js';
import { DEFAULT_QUOTAS } from '../src/storage/context.js';
import { BACKENDS, PG_URL, dropPgSchema, newPgSchema } from './helpers/server.js';
import { readSetRecord } from './helpers/records.js';

/** A blob store whose writes and deletes take a random few milliseconds, so racing callers interleave. */
function jittery(inner: BlobStore): BlobStore {
  const pause = () => new Promise((r) => setTimeout(r, Math.random() * 15));
  return Object.assign(Object.create(inner) as BlobStore, {
    put: async (key: string, body: Readable) => {
      await pause();
      return inner.put(key, body);
    },
    delete: async (key: string) => {
      await pause();
      return inner.delete(key);
    },
  });
}

const READ_SETS = 12;
const SWEEPERS = 6;
const STORE = '5000000001';

for (const backend of BACKENDS) {
  describe(`archive sweeps and activations racing (${backend})`, () => {
    let dir: string;
    let schema: string;
    let dbs: MetadataStore[];
    let hot: LocalBlobStore;
    let cold: LocalBlobStore;
    const bytes = new Map<string, Buffer>();
    const DAY = 24 * 3600 * 1000;
    let now = 100 * DAY;

    const open = () =>
      openMetadataStore(backend === 'sqlite' ? { kind: 'sqlite', file: join(dir, 'm.sqlite') } : { kind: 'postgres', url: PG_URL, schema });
    const service = (db: MetadataStore) => {
      const d = { db, blobs: jittery(hot), coldBlobs: jittery(cold), now: () => now, scratchDir: dir, partition: 'aws', quotas: DEFAULT_QUOTAS } as unknown as DomainDeps;
      return new ArchiveService(d, {} as SequenceStoreService);
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'oo-archive-race-'));
      schema = newPgSchema();
      const first = await open();
      await first.migrate();
      dbs = [first];
      for (let i = 1; i < SWEEPERS; i++) dbs.push(await open());
      hot = new LocalBlobStore(join(dir, 'hot'));
      cold = new LocalBlobStore(join(dir, 'cold'));
      for (let i = 0; i < READ_SETS; i++) {
        const id = String(6000000000 + i);
        const rec = readSetRecord({ id, sequenceStoreId: STORE, lastAccessTime: 1 });
        const body = randomBytes(1000 + i);
        bytes.set(id, body);
        await hot.put(rec.files.source1!.blobKey, Readable.from([body]));
        await first.readSets.insert(rec);
      }
    });
    after(async () => {
      for (const db of dbs ?? []) await db.close();
      rmSync(dir, { recursive: true, force: true });
      if (backend === 'postgres') await dropPgSchema(schema);
    });

    const blobOf = async (store: BlobStore, key: string) => {
      const parts: Buffer[] = [];
      for await (const c of await store.get(key)) parts.push(c as Buffer);
      return Buffer.concat(parts);
    };

    it(`${SWEEPERS} sweeps at once archive each read set exactly once, with its cold copy intact`, async () => {
      const moved = await Promise.all(dbs.map((db) => service(db).sweep(30 * DAY)));
      assert.equal(moved.reduce((a, b) => a + b, 0), READ_SETS, `each read set is moved by one sweep (${moved.join(', ')})`);
      for (const [id, body] of bytes) {
        const rs = (await dbs[0]!.readSets.get(STORE, id))!;
        assert.equal(rs.status, 'ARCHIVED');
        const f = rs.files.source1!;
        assert.ok(f.coldBlobKey, 'the cold key is recorded');
        assert.ok((await blobOf(cold, f.coldBlobKey)).equals(body), `the cold copy of ${id} is intact`);
        assert.equal(await hot.head(f.blobKey), undefined, `no hot copy of ${id} is left`);
      }
      const coldBlobs = [];
      for await (const b of cold.list(`seq/${STORE}/`)) coldBlobs.push(b.key);
      assert.equal(coldBlobs.length, READ_SETS, `the losers left no copies behind: ${coldBlobs.join(' ')}`);
    });

    it('several activation jobs of the same read sets bring each back once, hot and intact', async () => {
      const job = (n: number): JobRecord<ReadSetActivationPayload> => ({
        id: String(7000000000 + n), kind: 'ReadSetActivation', accountId: '111111111111', storeId: STORE, status: 'IN_PROGRESS', statusMessage: null,
        payload: { items: [...bytes.keys()].map((readSetId) => ({ readSetId, status: 'NOT_STARTED' as const })) },
        creationTime: now, completionTime: null, leaseOwner: 'x', leaseExpires: null, attempts: 1,
      });
      now += DAY;
      // Each job runs as if it held its lease: fenced writes run in a plain transaction.
      const ctx = (db: MetadataStore) => ({ save: async () => undefined, signal: new AbortController().signal, holdsLease: async () => true, fenced: <T>(fn: Parameters<MetadataStore['atomically']>[0]) => db.atomically(fn) as Promise<T> });
      const outcomes = await Promise.all(dbs.slice(0, 3).map((db, n) => service(db).activationHandler()(job(n), ctx(db))));
      for (const o of outcomes) assert.equal(o.status, 'COMPLETED', JSON.stringify(o.payload.items.filter((i) => i.status !== 'FINISHED')));
      for (const [id, body] of bytes) {
        const rs = (await dbs[0]!.readSets.get(STORE, id))!;
        assert.equal(rs.status, 'ACTIVE');
        assert.equal(rs.files.source1!.coldBlobKey, undefined);
        assert.ok((await blobOf(hot, rs.files.source1!.blobKey)).equals(body), `the hot copy of ${id} is intact`);
      }
      const left = [];
      for await (const b of cold.list(`seq/${STORE}/`)) left.push(b.key);
      assert.deepEqual(left, [], 'the cold copies are gone');
    });

    it('a read set read while a sweep copies it stays ACTIVE and hot', async () => {
      now += 40 * DAY;
      const id = [...bytes.keys()][0]!;
      const slowCopy = service(dbs[1]!);
      const sweeping = slowCopy.sweep(30 * DAY, 1);
      // Read at once (GetReadSet touches lastAccessTime), while the sweep is copying.
      await dbs[0]!.readSets.update(STORE, id, { lastAccessTime: now, updateTime: now });
      await sweeping;
      const rs = (await dbs[0]!.readSets.get(STORE, id))!;
      assert.equal(rs.status, 'ACTIVE');
      assert.ok((await blobOf(hot, rs.files.source1!.blobKey)).equals(bytes.get(id)!));
    });
  });
}
