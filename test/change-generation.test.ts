// SQLite's change generation: the WAL-index probe that spares a SELECT per read while nothing is committed
// (db/change-generation.ts, decision 85). The writer is a second connection, as another process would be.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { openMetadataStore } from '../src/db/open.js';
import { sqliteChangeGeneration, type ChangeGeneration } from '../src/db/change-generation.js';
import type { MetadataStore } from '../src/db/metadata-store.js';

/** A connection of its own whose generation SELECTs are counted. */
function countedConnection(file: string): { database: SQLite.Database; selects: () => number } {
  const database = new SQLite(file);
  let selects = 0;
  const prepare = database.prepare.bind(database);
  database.prepare = ((sql: string) => {
    const statement = prepare(sql);
    if (sql.includes('metadata_generation')) {
      const get = statement.get.bind(statement);
      statement.get = ((...args: unknown[]) => {
        selects++;
        return get(...args);
      }) as typeof statement.get;
    }
    return statement;
  }) as typeof database.prepare;
  return { database, selects: () => selects };
}

let jobN = 0;
const job = () => ({
  id: `64000000${String(++jobN).padStart(2, '0')}`,
  kind: 'Other',
  accountId: '111111111111',
  storeId: '6000000099',
  status: 'SUBMITTED' as const,
  statusMessage: null,
  payload: {},
  creationTime: 1,
  completionTime: null,
  leaseOwner: null,
  leaseExpires: null,
  attempts: 0,
});

describe('SQLite change generation (WAL-index probe)', () => {
  let dir: string;
  let file: string;
  let writer: MetadataStore;
  let reader: { database: SQLite.Database; selects: () => number };
  let gen: ChangeGeneration;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openomics-generation-'));
    file = join(dir, 'm.sqlite');
    writer = await openMetadataStore({ kind: 'sqlite', file });
    reader = countedConnection(file);
    gen = sqliteChangeGeneration(reader.database, 60_000);
  });

  after(async () => {
    await gen.close();
    reader.database.close();
    await writer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the counter once while nothing is committed', () => {
    const first = gen.current();
    const before = reader.selects();
    for (let i = 0; i < 100; i++) assert.equal(gen.current(), first);
    assert.equal(reader.selects(), before, 'no SELECT while the WAL-index header stands');
  });

  it('sees a commit to a cached table at the very next read, without waiting', async () => {
    const before = gen.current();
    await writer.tags.put('arn:aws:omics:us-east-1:111111111111:sequenceStore/6000000099', { k: String(Date.now()) });
    assert.notEqual(gen.current(), before);
  });

  it('reads again after any commit, and keeps the value when no cached table changed', async () => {
    const before = gen.current();
    const selects = reader.selects();
    await writer.jobs.insert(job());
    assert.equal(gen.current(), before, 'a job row is not cached');
    assert.equal(reader.selects(), selects + 1, 'the commit moved the header: one SELECT');
    assert.equal(gen.current(), before);
    assert.equal(reader.selects(), selects + 1);
  });

  it('sees a commit made after a checkpoint that truncated the WAL', async () => {
    const before = gen.current();
    const other = new SQLite(file);
    try {
      other.pragma('wal_checkpoint(TRUNCATE)');
      assert.equal(gen.current(), before, 'a checkpoint changes no data');
      await writer.tags.put('arn:aws:omics:us-east-1:111111111111:sequenceStore/6000000099', { k: `after-${Date.now()}` });
      assert.notEqual(gen.current(), before);
    } finally {
      other.close();
    }
  });

  it('does not trust the header longer than it is told to', () => {
    const short = sqliteChangeGeneration(reader.database, 0);
    const before = reader.selects();
    short.current();
    short.current();
    assert.equal(reader.selects(), before + 2, 'maxTrustMs 0: every read is a SELECT');
    void short.close();
  });

  it('reads every time where there is no WAL index (an in-memory database)', () => {
    const memory = countedConnection(':memory:');
    memory.database.exec('CREATE TABLE metadata_generation (id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO metadata_generation VALUES (1, 7)');
    const g = sqliteChangeGeneration(memory.database, 60_000);
    assert.equal(g.current(), 7);
    assert.equal(g.current(), 7);
    assert.equal(memory.selects(), 2);
    void g.close();
    memory.database.close();
  });
});
