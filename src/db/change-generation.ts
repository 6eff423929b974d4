import type SQLite from 'better-sqlite3';
import { closeSync, openSync, readSync } from 'node:fs';
import pg from 'pg';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { CHANGE_CHANNEL } from './migrations.js';

/**
 * The metadata's change generation: a number read synchronously (on every cached lookup) that changes once a
 * change to one of the cached tables (migrations.ts#CACHED_TABLES) has been committed — by this process or any
 * other using the same database. A cache keeps a row with the generation read before loading it and trusts it
 * while the generation is the same (`GenerationCache` in core/bounded-cache.ts).
 */
export interface ChangeGeneration {
  current(): number;
  /** This process changed something (a write it made, a transaction it committed). */
  bump(): void;
  close(): Promise<void>;
}

/**
 * SQLite: the counter row triggers keep (migration 0009), read on the process's own connection. Every process
 * on the database file sees every commit at its next read (WAL readers see the last committed state).
 *
 * The SELECT costs a read transaction (two fcntl locks, an fstat, the statement): ~9% of the S3 view's small reads
 * per second at 16 connections, where every request reads the generation anew. So it is taken only when the
 * WAL-index header has changed (`WalIndexProbe`): SQLite rewrites that header in the `-shm` file as part of every
 * commit, by any connection of any process, before the commit returns, so a header equal to the one read before the
 * last SELECT means no commit since, and that SELECT's value stands. The header is read before the SELECT it goes
 * with, so a commit between the two is seen at the next read. Without a `-shm` (not in WAL mode, `:memory:`) or
 * if it cannot be read, every read is a SELECT; and one is made at least every `maxTrustMs` whatever the header says.
 */
export function sqliteChangeGeneration(database: SQLite.Database, maxTrustMs = 250): ChangeGeneration {
  let read: SQLite.Statement | undefined; // prepared on first use: the table exists once migrations ran
  const select = () => Number((read ??= database.prepare('SELECT n FROM metadata_generation WHERE id = 1').pluck()).get());
  let probe: WalIndexProbe | null | undefined; // opened on first use (the -shm exists once the database has been read); null: none
  let known: number | undefined;
  let selectedAt = 0;
  return {
    current: () => {
      probe ??= WalIndexProbe.open(database);
      if (probe === null) return select();
      const now = Date.now();
      if (probe.unchanged() && known !== undefined && now - selectedAt < maxTrustMs) return known;
      probe.remember();
      known = select();
      selectedAt = now;
      return known;
    },
    bump: () => {},
    close: async () => {
      probe?.close();
      probe = null;
    },
  };
}

/** The first copy of SQLite's WAL-index header (`WalIndexHdr`, 48 bytes at the start of the `-shm` file). */
const WAL_INDEX_HEADER = 48;

/** Reads a WAL-mode database's WAL-index header and tells whether it is the one remembered (see sqliteChangeGeneration). */
export class WalIndexProbe {
  private readonly now = Buffer.alloc(WAL_INDEX_HEADER);
  private readonly seen = Buffer.alloc(WAL_INDEX_HEADER);
  private hasSeen = false;
  private readOk = false;

  private constructor(private fd: number | undefined) {}

  /** The probe of `database`'s `-shm` file, or null when it has none (not WAL, in memory) or it cannot be opened. */
  static open(database: SQLite.Database): WalIndexProbe | null {
    if (database.memory || String(database.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') return null;
    try {
      return new WalIndexProbe(openSync(`${database.name}-shm`, 'r'));
    } catch {
      return null;
    }
  }

  /** Reads the header now; true when it is byte for byte the one remembered. A failed or short read is a change. */
  unchanged(): boolean {
    if (this.fd === undefined) return false;
    let n: number;
    try {
      n = readSync(this.fd, this.now, 0, WAL_INDEX_HEADER, 0);
    } catch {
      n = 0;
    }
    this.readOk = n === WAL_INDEX_HEADER;
    if (!this.readOk) {
      this.hasSeen = false;
      return false;
    }
    return this.hasSeen && this.now.equals(this.seen);
  }

  /** Remembers the header last read (call it before the SELECT whose value it will vouch for). */
  remember(): void {
    this.hasSeen = this.readOk;
    if (this.readOk) this.now.copy(this.seen);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * PostgreSQL: a connection of its own LISTENs on the channel the tables' statement triggers NOTIFY (migration
 * 0009), so another process's commit arrives within a round trip; this process's own writes bump it as their
 * results come back (countWrites) and again when a transaction commits. While not listening (not yet
 * connected, or the connection was lost) every read is a new generation: nothing cached is trusted.
 */
export class PostgresChangeListener implements ChangeGeneration {
  private n = 0;
  private listening = false;
  private client: pg.Client | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly onError: (err: Error) => void,
  ) {}

  current(): number {
    return this.listening ? this.n : ++this.n;
  }

  bump(): void {
    this.n++;
  }

  async start(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client(this.config);
    this.client = client;
    const lost = (err?: Error) => {
      if (client !== this.client) return;
      this.listening = false;
      this.client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      if (err) this.onError(err);
      if (!this.closed) this.retry = setTimeout(() => void this.start(), 1_000).unref();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', () => this.n++);
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
      this.n++; // whatever changed while nobody listened
      this.listening = true;
    } catch (e) {
      lost(e as Error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.listening = false;
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}

/**
 * A change generation read at most once per event-loop turn: kept from the first read until the turn ends
 * (setImmediate), a write of this process, or `forget()` — which the HTTP listener calls as each request arrives,
 * so a request's first lookup reads the generation after the request came in and sees every change committed
 * before it was sent; its later lookups in the same turn (cache hits resolve in microtasks) reuse that read, and
 * after an await in another turn they read again (a newer generation is always safe). It replaced a per-request
 * memo kept in AsyncLocalStorage, whose promise hooks on every promise cost ~6% of small S3 reads per second (decision 84).
 */
export class TurnMemoGeneration implements ChangeGeneration {
  private value: number | undefined;
  private clearScheduled = false;
  private readonly clear = () => {
    this.value = undefined;
    this.clearScheduled = false;
  };

  constructor(private readonly inner: ChangeGeneration) {}

  current(): number {
    if (this.value === undefined) {
      this.value = this.inner.current();
      if (!this.clearScheduled) {
        this.clearScheduled = true;
        setImmediate(this.clear);
      }
    }
    return this.value;
  }

  /** The next read goes to the database (a request arrived). */
  forget(): void {
    this.value = undefined;
  }

  bump(): void {
    this.inner.bump();
    this.value = undefined;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A Kysely plugin that bumps the generation when a statement other than a SELECT has run. */
export function countWrites(changes: ChangeGeneration): KyselyPlugin {
  const writes = new WeakSet<object>();
  return {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      if (args.node.kind !== 'SelectQueryNode') writes.add(args.queryId);
      return args.node;
    },
    transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      if (writes.has(args.queryId)) changes.bump();
      return Promise.resolve(args.result);
    },
  };
}
