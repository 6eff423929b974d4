import { decodeNextToken, type Page } from '../core/pagination.js';
import { inRange, keyset, pageOf, type PageRequest, type TimeRange } from './query.js';
import { col, json, num, rowMapping, type Db } from './rows.js';
import type { JobsTable } from './schema.js';

/**
 * The `jobs` table: every background job (imports, exports, activations, ingests) with its payload (JSON) and
 * lease. Jobs are the runner's (src/jobs/), not one service's, so their record is defined here.
 */
export type JobStatus = 'SUBMITTED' | 'IN_PROGRESS' | 'CANCELLING' | 'CANCELLED' | 'FAILED' | 'COMPLETED' | 'COMPLETED_WITH_FAILURES';

export interface JobRecord<P = unknown> {
  id: string;
  kind: string;
  accountId: string;
  storeId: string;
  status: JobStatus;
  statusMessage: string | null;
  payload: P;
  creationTime: number;
  completionTime: number | null;
  leaseOwner: string | null;
  leaseExpires: number | null;
  attempts: number;
}

/** A job as submitted: not yet claimed by any worker. */
export function submittedJob<P>(id: string, kind: string, accountId: string, storeId: string, payload: P, now: number): JobRecord<P> {
  return { id, kind, accountId, storeId, status: 'SUBMITTED', statusMessage: null, payload, creationTime: now, completionTime: null, leaseOwner: null, leaseExpires: null, attempts: 0 };
}

export interface JobQuery {
  status?: string;
  created?: TimeRange;
}

export interface JobRecords {
  insert(j: JobRecord): Promise<void>;
  get(kind: string, storeId: string, id: string): Promise<JobRecord | undefined>;
  getById(id: string): Promise<JobRecord | undefined>;
  list(kind: string, storeId: string, q: JobQuery, page: PageRequest): Promise<Page<JobRecord>>;
  countActive(kind: string, accountId: string): Promise<number>;
  /**
   * Claims one runnable job (SUBMITTED or IN_PROGRESS whose lease has
   * expired) of the given kinds for `owner` until `now + leaseMs`.
   */
  claim(kinds: string[], owner: string, now: number, leaseMs: number): Promise<JobRecord | undefined>;
  /** Renews or changes a job the caller holds the lease of; false if the lease was lost. */
  update(id: string, owner: string, patch: Partial<Pick<JobRecord, 'status' | 'statusMessage' | 'payload' | 'completionTime' | 'leaseExpires'>>): Promise<boolean>;
  /**
   * Jobs no worker is running: not finished, and unclaimed since before `before` (never claimed, or a lease
   * that ran out then and was not taken over), by kind, with the oldest's creation time.
   */
  stalled(before: number): Promise<{ kind: string; count: number; oldestCreation: number }[]>;
  /** Jobs not finished (submitted or in progress), by kind, with the oldest's creation time: the queue. */
  queued(): Promise<{ kind: string; count: number; oldestCreation: number }[]>;
  /**
   * Cancels a job that has not ended: CANCELLED at once, lease released. From then on the worker running it
   * can no longer renew, save or complete it (its next write finds the lease lost), so it stops.
   */
  cancel(id: string, now: number): Promise<boolean>;
  /** Jobs of one kind in an account, optionally of one store. */
  listForAccount(kind: string, accountId: string, q: JobQuery & { storeId?: string; ids?: string[] }, page: PageRequest): Promise<Page<JobRecord>>;
  /** Hands a job the caller holds back until `until`; the claim that made this attempt is not counted. */
  defer(id: string, owner: string, until: number): Promise<boolean>;
  /** Ends a job the caller holds: final status, lease released. */
  complete(id: string, owner: string, status: JobStatus, statusMessage: string | null, payload: unknown, now: number): Promise<boolean>;
}

const rows = rowMapping<JobRecord, JobsTable>({
  id: col('id'),
  kind: col('kind'),
  accountId: col('account_id'),
  storeId: col('store_id'),
  status: col('status'),
  statusMessage: col('status_message'),
  payload: json('payload'),
  creationTime: num('creation_time'),
  completionTime: num('completion_time'),
  leaseOwner: col('lease_owner'),
  leaseExpires: num('lease_expires'),
  attempts: num('attempts'),
});

export class KyselyJobRecords implements JobRecords {
  constructor(private readonly db: Db) {}

  async insert(j: JobRecord): Promise<void> {
    await this.db.insertInto('jobs').values(rows.toFullRow(j)).execute();
  }
  async get(kind: string, storeId: string, id: string): Promise<JobRecord | undefined> {
    const r = await this.db.selectFrom('jobs').selectAll().where('kind', '=', kind).where('store_id', '=', storeId).where('id', '=', id).executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async getById(id: string): Promise<JobRecord | undefined> {
    const r = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async list(kind: string, storeId: string, q: JobQuery, page: PageRequest): Promise<Page<JobRecord>> {
    const cursor = decodeNextToken(page.nextToken);
    let query = this.db.selectFrom('jobs').selectAll().where('kind', '=', kind).where('store_id', '=', storeId);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    query = inRange(query, 'creation_time', q.created);
    const found = await keyset(query, cursor, page.maxResults).execute();
    return pageOf(found.map(rows.fromRow), page.maxResults);
  }
  async countActive(kind: string, accountId: string): Promise<number> {
    const r = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('kind', '=', kind)
      .where('account_id', '=', accountId)
      .where('status', 'in', ['SUBMITTED', 'IN_PROGRESS'])
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
  async claim(kinds: string[], owner: string, now: number, leaseMs: number): Promise<JobRecord | undefined> {
    const candidates = await this.db
      .selectFrom('jobs')
      .select('id')
      .where('status', 'in', ['SUBMITTED', 'IN_PROGRESS'])
      .where('kind', 'in', kinds)
      .where((eb) => eb.or([eb('lease_expires', 'is', null), eb('lease_expires', '<', now)]))
      .orderBy('creation_time')
      .limit(8)
      .execute();
    for (const { id } of candidates) {
      // Compare-and-set on the lease: of two workers racing, one updates the row.
      const res = await this.db
        .updateTable('jobs')
        .set((eb) => ({ lease_owner: owner, lease_expires: now + leaseMs, attempts: eb('attempts', '+', 1) }))
        .where('id', '=', id)
        .where('status', 'in', ['SUBMITTED', 'IN_PROGRESS'])
        .where((eb) => eb.or([eb('lease_expires', 'is', null), eb('lease_expires', '<', now)]))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) > 0) return this.getById(id);
    }
    return undefined;
  }
  async update(id: string, owner: string, p: Partial<Pick<JobRecord, 'status' | 'statusMessage' | 'payload' | 'completionTime' | 'leaseExpires'>>): Promise<boolean> {
    const res = await this.db.updateTable('jobs').set(rows.toRow(p)).where('id', '=', id).where('lease_owner', '=', owner).where('status', '!=', 'CANCELLED').executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
  async cancel(id: string, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('jobs')
      .set(rows.toRow({ status: 'CANCELLED', completionTime: now, leaseOwner: null, leaseExpires: null }))
      .where('id', '=', id)
      .where('status', 'in', ['SUBMITTED', 'IN_PROGRESS'])
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
  async listForAccount(kind: string, accountId: string, q: JobQuery & { storeId?: string; ids?: string[] }, page: PageRequest): Promise<Page<JobRecord>> {
    let query = this.db.selectFrom('jobs').selectAll().where('kind', '=', kind).where('account_id', '=', accountId);
    if (q.storeId !== undefined) query = query.where('store_id', '=', q.storeId);
    if (q.ids?.length) query = query.where('id', 'in', q.ids);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    query = inRange(query, 'creation_time', q.created);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(rows.fromRow), page.maxResults);
  }
  queued(): Promise<{ kind: string; count: number; oldestCreation: number }[]> {
    return this.unfinishedByKind();
  }
  stalled(before: number): Promise<{ kind: string; count: number; oldestCreation: number }[]> {
    return this.unfinishedByKind(before);
  }
  /** Unfinished jobs by kind; with `unclaimedSince`, only those no lease has covered since then. */
  private async unfinishedByKind(unclaimedSince?: number): Promise<{ kind: string; count: number; oldestCreation: number }[]> {
    let q = this.db
      .selectFrom('jobs')
      .select((eb) => ['kind', eb.fn.countAll<number>().as('count'), eb.fn.min<number>('creation_time').as('oldest')])
      .where('status', 'in', ['SUBMITTED', 'IN_PROGRESS']);
    if (unclaimedSince !== undefined) {
      const t = unclaimedSince;
      q = q.where((eb) => eb.or([eb.and([eb('lease_expires', 'is', null), eb('creation_time', '<', t)]), eb('lease_expires', '<', t)]));
    }
    const groups = await q.groupBy('kind').execute();
    return groups.map((r) => ({ kind: r.kind, count: Number(r.count), oldestCreation: Number(r.oldest) }));
  }
  async defer(id: string, owner: string, until: number): Promise<boolean> {
    const res = await this.db
      .updateTable('jobs')
      .set((eb) => ({ lease_expires: until, attempts: eb('attempts', '-', 1) }))
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', 'in', ['SUBMITTED', 'IN_PROGRESS'])
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
  async complete(id: string, owner: string, status: JobStatus, statusMessage: string | null, payload: unknown, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('jobs')
      .set(rows.toRow({ status, statusMessage, payload, completionTime: now, leaseOwner: null, leaseExpires: null }))
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '!=', 'CANCELLED')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}
