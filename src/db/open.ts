import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import type { Database } from './schema.js';
import { getOrAdd } from '../core/bounded-cache.js';
import { KyselyMetadataStore, type MetadataStore } from './metadata-store.js';
import { countWrites, PostgresChangeListener, sqliteChangeGeneration, TurnMemoGeneration } from './change-generation.js';

// int8 (bigint) columns hold epoch milliseconds, well inside Number's range.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

export type MetadataLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; schema?: string };

export interface MetadataStoreOptions {
  /**
   * Told of errors on idle PostgreSQL connections (the server restarted or
   * went away). Without a listener the pool's 'error' event would end the
   * process; with one, the pool drops the connection and opens a new one on
   * the next query.
   */
  onConnectionError?: (err: Error) => void;
}

/** Opens (and migrates) the metadata store named by the configuration. */
export async function openMetadataStore(loc: MetadataLocation, opts: MetadataStoreOptions = {}): Promise<MetadataStore> {
  let store: KyselyMetadataStore;
  if (loc.kind === 'sqlite') {
    if (loc.file !== ':memory:') mkdirSync(dirname(loc.file), { recursive: true });
    const database = new SQLite(loc.file);
    database.pragma('journal_mode = WAL');
    database.pragma('busy_timeout = 5000');
    database.pragma('foreign_keys = ON');
    const changes = new TurnMemoGeneration(sqliteChangeGeneration(database));
    store = new KyselyMetadataStore(new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }), plugins: [countWrites(changes)] }), 'sqlite', changes);
  } else {
    const searchPath = loc.schema ? { options: `-c search_path=${loc.schema}` } : {};
    const pool = new pg.Pool({
      connectionString: loc.url,
      max: 10,
      // A database that is down or hangs fails a query in seconds (a retryable 503 at the edges) instead of holding it.
      connectionTimeoutMillis: 5_000,
      query_timeout: 60_000,
      ...searchPath,
    });
    const lost = opts.onConnectionError ?? defaultConnectionError;
    pool.on('error', lost);
    // A connection checked out of the pool (a query or transaction in flight) reports its socket errors on the
    // client itself, where the pool listens no longer: the query in flight fails, the process must not.
    pool.on('connect', (client) => client.on('error', lost));
    if (loc.schema) {
      const client = await pool.connect();
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${loc.schema.replace(/"/g, '')}"`);
      } finally {
        client.release();
      }
    }
    const listener = new PostgresChangeListener({ connectionString: loc.url, connectionTimeoutMillis: 5_000, ...searchPath }, lost);
    const changes = new TurnMemoGeneration(listener);
    store = new KyselyMetadataStore(new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [countWrites(changes)] }), 'postgres', changes, loc.schema ?? 'public');
    await listener.start();
  }
  await store.migrate();
  return store;
}

/**
 * Kysely's SQLite driver prepares every query anew; preparing is a large share
 * of a small query's cost, so keep prepared statements by SQL text (bounded).
 */
function withStatementCache(database: SQLite.Database, max = 512) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => database.close(),
    prepare: (sqlText: string) => getOrAdd(cache, sqlText, max, () => database.prepare(sqlText)),
  };
}

function defaultConnectionError(err: Error): void {
  process.stderr.write(`${JSON.stringify({ level: 40, msg: 'database connection lost; reconnecting on the next query', err: err.message })}\n`);
}
