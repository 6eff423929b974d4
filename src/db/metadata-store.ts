import { Kysely, Migrator, sql, type SelectQueryBuilder, type Transaction, type ExpressionBuilder } from 'kysely';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations.js';
import { decodeNextToken, type Page } from '../core/pagination.js';
import { inRange, keyset, pageOf, type TimeRange } from './query.js';
import {
  KyselyJobRecords,
  KyselyConnectionRecords,
  type ConnectionRecords,
  KyselyReadSetRecords,
  KyselyReferenceRecords,
  KyselyUploadRecords,
  type JobRecords,
  type ReadSetRecords,
  type ReferenceRecords,
  type UploadRecords,
} from './data-records.js';

/** What the domain persists. Plain records; times are epoch milliseconds. */
export interface AccessKeyRecord {
  accessKeyId: string;
  accountId: string;
  userName: string | null;
  secretEnc: string;
  status: 'Active' | 'Inactive';
  createdAt: number;
}

export interface SequenceStoreRecord {
  id: string;
  accountId: string;
  name: string;
  description: string | null;
  sseType: string;
  sseKeyArn: string | null;
  dataKey: string;
  fallbackLocation: string | null;
  eTagAlgorithmFamily: string;
  status: string;
  statusMessage: string | null;
  propagatedSetLevelTags: string[];
  accessLogLocation: string | null;
  accessPointName: string;
  accessPointAlias: string;
  creationTime: number;
  updateTime: number;
  /** null: the default policy; '': deleted (no S3 access); else the policy document. */
  s3AccessPolicy: string | null;
  s3AccessPolicyTime: number | null;
}

export interface ReferenceStoreRecord {
  id: string;
  accountId: string;
  name: string;
  description: string | null;
  sseType: string;
  sseKeyArn: string | null;
  dataKey: string;
  creationTime: number;
}

export type { TimeRange } from './query.js';

export interface SequenceStoreQuery {
  name?: string;
  status?: string;
  created?: TimeRange;
  updated?: TimeRange;
}

export interface ReferenceStoreQuery {
  name?: string;
  created?: TimeRange;
}

export type { PageRequest } from './data-records.js';
import type { PageRequest } from './data-records.js';

export interface IdempotencyRecord {
  requestHash: string;
  resourceId: string;
}

export type SequenceStorePatch = Partial<
  Pick<SequenceStoreRecord, 'name' | 'description' | 'fallbackLocation' | 'propagatedSetLevelTags' | 'accessLogLocation' | 'status' | 'statusMessage' | 's3AccessPolicy' | 's3AccessPolicyTime'>
> & { updateTime: number };

/**
 * The metadata store: every durable fact except blob bytes. One interface;
 * the SQLite and PostgreSQL implementations differ only in the Kysely dialect
 * they are built with (see `open.ts`), and `test/metadata-store.test.ts` runs
 * the same conformance suite against both.
 */
export interface MetadataStore {
  readonly dialect: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;
  ping(): Promise<void>;

  // identity
  ensureAccount(id: string, name: string, now: number): Promise<void>;
  accountExists(id: string): Promise<boolean>;
  listAccounts(): Promise<{ id: string; name: string; createdAt: number }[]>;
  createUser(accountId: string, userName: string, now: number): Promise<boolean>;
  userExists(accountId: string, userName: string): Promise<boolean>;
  listUsers(accountId: string): Promise<string[]>;
  deleteUser(accountId: string, userName: string): Promise<void>;
  putAccessKey(key: AccessKeyRecord): Promise<void>;
  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  listAccessKeys(accountId: string, userName: string | null): Promise<AccessKeyRecord[]>;
  setAccessKeyStatus(accessKeyId: string, status: 'Active' | 'Inactive'): Promise<boolean>;
  deleteAccessKey(accessKeyId: string): Promise<boolean>;
  putUserPolicy(accountId: string, userName: string, policyName: string, document: string): Promise<void>;
  deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<boolean>;
  listUserPolicies(accountId: string, userName: string): Promise<{ policyName: string; document: string }[]>;

  // sequence stores
  insertSequenceStore(rec: SequenceStoreRecord): Promise<void>;
  getSequenceStore(accountId: string, id: string): Promise<SequenceStoreRecord | undefined>;
  getSequenceStoreByAccessPoint(nameOrAlias: string): Promise<SequenceStoreRecord | undefined>;
  updateSequenceStore(accountId: string, id: string, patch: SequenceStorePatch): Promise<SequenceStoreRecord | undefined>;
  deleteSequenceStore(accountId: string, id: string): Promise<boolean>;
  listSequenceStores(accountId: string, q: SequenceStoreQuery, page: PageRequest): Promise<Page<SequenceStoreRecord>>;
  countSequenceStores(accountId: string): Promise<number>;

  // reference stores
  insertReferenceStore(rec: ReferenceStoreRecord): Promise<void>;
  getReferenceStore(accountId: string, id: string): Promise<ReferenceStoreRecord | undefined>;
  deleteReferenceStore(accountId: string, id: string): Promise<boolean>;
  listReferenceStores(accountId: string, q: ReferenceStoreQuery, page: PageRequest): Promise<Page<ReferenceStoreRecord>>;
  countReferenceStores(accountId: string): Promise<number>;

  // tags
  putTags(resourceArn: string, tags: Record<string, string>): Promise<void>;
  removeTags(resourceArn: string, keys: string[]): Promise<void>;
  listTags(resourceArn: string): Promise<Record<string, string>>;
  deleteAllTags(resourceArn: string): Promise<void>;

  // idempotency
  findIdempotent(accountId: string, operation: string, clientToken: string): Promise<IdempotencyRecord | undefined>;
  recordIdempotent(accountId: string, operation: string, clientToken: string, rec: IdempotencyRecord, now: number): Promise<void>;

  /**
   * A deployment-wide setting: records `value` under `name` if nothing is recorded yet (the first process
   * to start wins), and returns what is recorded.
   */
  settleDeploymentSetting(name: string, value: string): Promise<string>;

  // S3 access log lines, written ahead of delivery (storage/access-logs.ts)
  appendAccessLogLine(e: { id: string; storeId: string; accountId: string; time: number; line: string }): Promise<void>;
  /**
   * Claims up to `limit` lines of one store that no live batch holds (unclaimed, or claimed before `staleBefore`
   * by a process that did not finish), oldest first, for batch `batch`; returns the store's id and account and the lines.
   */
  claimAccessLogBatch(batch: string, now: number, staleBefore: number, limit: number): Promise<{ storeId: string; accountId: string; lines: string[] } | undefined>;
  /** Removes a delivered batch's lines. */
  deleteAccessLogBatch(batch: string): Promise<void>;
  /** Gives a batch's lines back (delivery failed); `drop` removes them instead (given up). */
  releaseAccessLogBatch(batch: string, drop: boolean): Promise<void>;

  // data-plane records (data-records.ts)
  readonly readSets: ReadSetRecords;
  readonly references: ReferenceRecords;
  readonly uploads: UploadRecords;
  readonly jobs: JobRecords;
  readonly connections: ConnectionRecords;
  /** Runs `fn` in one transaction over the data-plane records and tags: all of it lands or none. */
  atomically<T>(fn: (tx: DataTransaction) => Promise<T>): Promise<T>;
}

export interface DataTransaction {
  readSets: ReadSetRecords;
  references: ReferenceRecords;
  uploads: UploadRecords;
  jobs: JobRecords;
  putTags(resourceArn: string, tags: Record<string, string>): Promise<void>;
}

type Db = Kysely<Database> | Transaction<Database>;

function toSequenceStore(r: Database['sequence_stores']): SequenceStoreRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    description: r.description,
    sseType: r.sse_type,
    sseKeyArn: r.sse_key_arn,
    dataKey: r.data_key,
    fallbackLocation: r.fallback_location,
    eTagAlgorithmFamily: r.etag_algorithm_family,
    status: r.status,
    statusMessage: r.status_message,
    propagatedSetLevelTags: JSON.parse(r.propagated_tags) as string[],
    accessLogLocation: r.access_log_location,
    accessPointName: r.access_point_name,
    accessPointAlias: r.access_point_alias,
    creationTime: Number(r.creation_time),
    updateTime: Number(r.update_time),
    s3AccessPolicy: r.s3_access_policy,
    s3AccessPolicyTime: r.s3_access_policy_time === null ? null : Number(r.s3_access_policy_time),
  };
}

function toReferenceStore(r: Database['reference_stores']): ReferenceStoreRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    description: r.description,
    sseType: r.sse_type,
    sseKeyArn: r.sse_key_arn,
    dataKey: r.data_key,
    creationTime: Number(r.creation_time),
  };
}

function toAccessKey(r: Database['access_keys']): AccessKeyRecord {
  return {
    accessKeyId: r.access_key_id,
    accountId: r.account_id,
    userName: r.user_name,
    secretEnc: r.secret_enc,
    status: r.status as 'Active' | 'Inactive',
    createdAt: Number(r.created_at),
  };
}

async function putTags(db: Db, resourceArn: string, tags: Record<string, string>): Promise<void> {
  const entries = Object.entries(tags);
  if (entries.length === 0) return;
  await db
    .insertInto('tags')
    .values(entries.map(([k, v]) => ({ resource_arn: resourceArn, tag_key: k, tag_value: v })))
    .onConflict((oc) => oc.columns(['resource_arn', 'tag_key']).doUpdateSet((eb) => ({ tag_value: eb.ref('excluded.tag_value') })))
    .execute();
}

export class KyselyMetadataStore implements MetadataStore {
  readonly readSets: ReadSetRecords;
  readonly references: ReferenceRecords;
  readonly uploads: UploadRecords;
  readonly jobs: JobRecords;
  readonly connections: ConnectionRecords;

  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: 'sqlite' | 'postgres',
    /** PostgreSQL schema holding the tables (the migrator must look only there). */
    private readonly schema?: string,
  ) {
    this.readSets = new KyselyReadSetRecords(db);
    this.references = new KyselyReferenceRecords(db);
    this.uploads = new KyselyUploadRecords(db);
    this.jobs = new KyselyJobRecords(db);
    this.connections = new KyselyConnectionRecords(db);
  }

  async atomically<T>(fn: (tx: DataTransaction) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) =>
      fn({
        readSets: new KyselyReadSetRecords(trx),
        references: new KyselyReferenceRecords(trx),
        uploads: new KyselyUploadRecords(trx),
        jobs: new KyselyJobRecords(trx),
        putTags: (arn, tags) => putTags(trx, arn, tags),
      }),
    );
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider,
      ...(this.schema ? { migrationTableSchema: this.schema } : {}),
    });
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) {
      throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  // ---- identity
  async ensureAccount(id: string, name: string, now: number): Promise<void> {
    await this.db
      .insertInto('accounts')
      .values({ id, name, created_at: now })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }
  async accountExists(id: string): Promise<boolean> {
    return (await this.db.selectFrom('accounts').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
  }
  async listAccounts() {
    const rows = await this.db.selectFrom('accounts').selectAll().orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: Number(r.created_at) }));
  }
  async createUser(accountId: string, userName: string, now: number): Promise<boolean> {
    const res = await this.db
      .insertInto('users')
      .values({ account_id: accountId, user_name: userName, created_at: now })
      .onConflict((oc) => oc.columns(['account_id', 'user_name']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }
  async userExists(accountId: string, userName: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('users')
      .select('user_name')
      .where('account_id', '=', accountId)
      .where('user_name', '=', userName)
      .executeTakeFirst();
    return row !== undefined;
  }
  async listUsers(accountId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('users').select('user_name').where('account_id', '=', accountId).orderBy('user_name').execute();
    return rows.map((r) => r.user_name);
  }
  async deleteUser(accountId: string, userName: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('access_keys').where('account_id', '=', accountId).where('user_name', '=', userName).execute();
      await trx.deleteFrom('user_policies').where('account_id', '=', accountId).where('user_name', '=', userName).execute();
      await trx.deleteFrom('users').where('account_id', '=', accountId).where('user_name', '=', userName).execute();
    });
  }
  async putAccessKey(k: AccessKeyRecord): Promise<void> {
    await this.db
      .insertInto('access_keys')
      .values({
        access_key_id: k.accessKeyId,
        account_id: k.accountId,
        user_name: k.userName,
        secret_enc: k.secretEnc,
        status: k.status,
        created_at: k.createdAt,
      })
      .execute();
  }
  async getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    const r = await this.db.selectFrom('access_keys').selectAll().where('access_key_id', '=', accessKeyId).executeTakeFirst();
    return r && toAccessKey(r);
  }
  async listAccessKeys(accountId: string, userName: string | null): Promise<AccessKeyRecord[]> {
    let q = this.db.selectFrom('access_keys').selectAll().where('account_id', '=', accountId);
    q = userName === null ? q.where('user_name', 'is', null) : q.where('user_name', '=', userName);
    return (await q.orderBy('created_at').execute()).map(toAccessKey);
  }
  async setAccessKeyStatus(accessKeyId: string, status: 'Active' | 'Inactive'): Promise<boolean> {
    const r = await this.db.updateTable('access_keys').set({ status }).where('access_key_id', '=', accessKeyId).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('access_keys').where('access_key_id', '=', accessKeyId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async putUserPolicy(accountId: string, userName: string, policyName: string, document: string): Promise<void> {
    await this.db
      .insertInto('user_policies')
      .values({ account_id: accountId, user_name: userName, policy_name: policyName, document })
      .onConflict((oc) => oc.columns(['account_id', 'user_name', 'policy_name']).doUpdateSet({ document }))
      .execute();
  }
  async deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('user_policies')
      .where('account_id', '=', accountId)
      .where('user_name', '=', userName)
      .where('policy_name', '=', policyName)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async listUserPolicies(accountId: string, userName: string) {
    const rows = await this.db
      .selectFrom('user_policies')
      .select(['policy_name', 'document'])
      .where('account_id', '=', accountId)
      .where('user_name', '=', userName)
      .orderBy('policy_name')
      .execute();
    return rows.map((r) => ({ policyName: r.policy_name, document: r.document }));
  }

  // ---- sequence stores
  async insertSequenceStore(s: SequenceStoreRecord): Promise<void> {
    await this.db
      .insertInto('sequence_stores')
      .values({
        id: s.id,
        account_id: s.accountId,
        name: s.name,
        description: s.description,
        sse_type: s.sseType,
        sse_key_arn: s.sseKeyArn,
        data_key: s.dataKey,
        fallback_location: s.fallbackLocation,
        etag_algorithm_family: s.eTagAlgorithmFamily,
        status: s.status,
        status_message: s.statusMessage,
        propagated_tags: JSON.stringify(s.propagatedSetLevelTags),
        access_log_location: s.accessLogLocation,
        access_point_name: s.accessPointName,
        access_point_alias: s.accessPointAlias,
        creation_time: s.creationTime,
        update_time: s.updateTime,
        s3_access_policy: s.s3AccessPolicy,
        s3_access_policy_time: s.s3AccessPolicyTime,
      })
      .execute();
  }
  async getSequenceStore(accountId: string, id: string): Promise<SequenceStoreRecord | undefined> {
    const r = await this.db
      .selectFrom('sequence_stores')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r && toSequenceStore(r);
  }
  async getSequenceStoreByAccessPoint(nameOrAlias: string): Promise<SequenceStoreRecord | undefined> {
    const r = await this.db
      .selectFrom('sequence_stores')
      .selectAll()
      .where((eb) => eb.or([eb('access_point_alias', '=', nameOrAlias), eb('access_point_name', '=', nameOrAlias)]))
      .executeTakeFirst();
    return r && toSequenceStore(r);
  }
  async updateSequenceStore(accountId: string, id: string, p: SequenceStorePatch): Promise<SequenceStoreRecord | undefined> {
    const set: Partial<Database['sequence_stores']> = { update_time: p.updateTime };
    if (p.name !== undefined) set.name = p.name;
    if (p.description !== undefined) set.description = p.description;
    if (p.fallbackLocation !== undefined) set.fallback_location = p.fallbackLocation;
    if (p.propagatedSetLevelTags !== undefined) set.propagated_tags = JSON.stringify(p.propagatedSetLevelTags);
    if (p.accessLogLocation !== undefined) set.access_log_location = p.accessLogLocation;
    if (p.status !== undefined) set.status = p.status;
    if (p.statusMessage !== undefined) set.status_message = p.statusMessage;
    if (p.s3AccessPolicy !== undefined) set.s3_access_policy = p.s3AccessPolicy;
    if (p.s3AccessPolicyTime !== undefined) set.s3_access_policy_time = p.s3AccessPolicyTime;
    await this.db.updateTable('sequence_stores').set(set).where('account_id', '=', accountId).where('id', '=', id).execute();
    return this.getSequenceStore(accountId, id);
  }
  async deleteSequenceStore(accountId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('sequence_stores').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async listSequenceStores(accountId: string, q: SequenceStoreQuery, page: PageRequest): Promise<Page<SequenceStoreRecord>> {
    const cursor = decodeNextToken(page.nextToken);
    let query = this.db.selectFrom('sequence_stores').selectAll().where('account_id', '=', accountId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    query = inRange(inRange(query, 'creation_time', q.created), 'update_time', q.updated);
    const rows = await keyset(query, cursor, page.maxResults).execute();
    return pageOf(rows.map(toSequenceStore), page.maxResults);
  }
  async countSequenceStores(accountId: string): Promise<number> {
    return this.count(this.db, 'sequence_stores', 'account_id', accountId);
  }


  // ---- reference stores
  async insertReferenceStore(s: ReferenceStoreRecord): Promise<void> {
    await this.db
      .insertInto('reference_stores')
      .values({
        id: s.id,
        account_id: s.accountId,
        name: s.name,
        description: s.description,
        sse_type: s.sseType,
        sse_key_arn: s.sseKeyArn,
        data_key: s.dataKey,
        creation_time: s.creationTime,
      })
      .execute();
  }
  async getReferenceStore(accountId: string, id: string): Promise<ReferenceStoreRecord | undefined> {
    const r = await this.db
      .selectFrom('reference_stores')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r && toReferenceStore(r);
  }
  async deleteReferenceStore(accountId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('reference_stores').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async listReferenceStores(accountId: string, q: ReferenceStoreQuery, page: PageRequest): Promise<Page<ReferenceStoreRecord>> {
    const cursor = decodeNextToken(page.nextToken);
    let query = this.db.selectFrom('reference_stores').selectAll().where('account_id', '=', accountId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    query = inRange(query, 'creation_time', q.created);
    const rows = await keyset(query, cursor, page.maxResults).execute();
    return pageOf(rows.map(toReferenceStore), page.maxResults);
  }
  async countReferenceStores(accountId: string): Promise<number> {
    return this.count(this.db, 'reference_stores', 'account_id', accountId);
  }


  // ---- tags
  putTags(resourceArn: string, tags: Record<string, string>): Promise<void> {
    return putTags(this.db, resourceArn, tags);
  }
  async removeTags(resourceArn: string, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.deleteFrom('tags').where('resource_arn', '=', resourceArn).where('tag_key', 'in', keys).execute();
  }
  async listTags(resourceArn: string): Promise<Record<string, string>> {
    const rows = await this.db.selectFrom('tags').select(['tag_key', 'tag_value']).where('resource_arn', '=', resourceArn).orderBy('tag_key').execute();
    return Object.fromEntries(rows.map((r) => [r.tag_key, r.tag_value]));
  }
  async deleteAllTags(resourceArn: string): Promise<void> {
    await this.db.deleteFrom('tags').where('resource_arn', '=', resourceArn).execute();
  }

  // ---- idempotency
  async appendAccessLogLine(e: { id: string; storeId: string; accountId: string; time: number; line: string }): Promise<void> {
    await this.db.insertInto('access_log_entries').values({ id: e.id, store_id: e.storeId, account_id: e.accountId, time: e.time, line: e.line, batch: null, claimed_at: null }).execute();
  }

  async claimAccessLogBatch(batch: string, now: number, staleBefore: number, limit: number): Promise<{ storeId: string; accountId: string; lines: string[] } | undefined> {
    const free = (eb: ExpressionBuilder<Database, 'access_log_entries'>) => eb.or([eb('batch', 'is', null), eb('claimed_at', '<', staleBefore)]);
    const first = await this.db.selectFrom('access_log_entries').select(['store_id', 'account_id']).where(free).orderBy('time').limit(1).executeTakeFirst();
    if (!first) return undefined;
    const ids = this.db.selectFrom('access_log_entries').select('id').where('store_id', '=', first.store_id).where(free).orderBy('time').orderBy('id').limit(limit);
    // Compare-and-set: only lines still free are claimed, so two processes never deliver the same line twice.
    await this.db.updateTable('access_log_entries').set({ batch, claimed_at: now }).where('id', 'in', ids).where(free).execute();
    const rows = await this.db.selectFrom('access_log_entries').select('line').where('batch', '=', batch).orderBy('time').orderBy('id').execute();
    if (rows.length === 0) return undefined;
    return { storeId: first.store_id, accountId: first.account_id, lines: rows.map((r) => r.line) };
  }

  async deleteAccessLogBatch(batch: string): Promise<void> {
    await this.db.deleteFrom('access_log_entries').where('batch', '=', batch).execute();
  }

  async releaseAccessLogBatch(batch: string, drop: boolean): Promise<void> {
    if (drop) await this.deleteAccessLogBatch(batch);
    else await this.db.updateTable('access_log_entries').set({ batch: null, claimed_at: null }).where('batch', '=', batch).execute();
  }

  async settleDeploymentSetting(name: string, value: string): Promise<string> {
    await this.db.insertInto('deployment_settings').values({ name, value }).onConflict((oc) => oc.column('name').doNothing()).execute();
    const row = await this.db.selectFrom('deployment_settings').select('value').where('name', '=', name).executeTakeFirstOrThrow();
    return row.value;
  }

  async findIdempotent(accountId: string, operation: string, clientToken: string): Promise<IdempotencyRecord | undefined> {
    const r = await this.db
      .selectFrom('idempotency')
      .select(['request_hash', 'resource_id'])
      .where('account_id', '=', accountId)
      .where('operation', '=', operation)
      .where('client_token', '=', clientToken)
      .executeTakeFirst();
    return r && { requestHash: r.request_hash, resourceId: r.resource_id };
  }
  async recordIdempotent(accountId: string, operation: string, clientToken: string, rec: IdempotencyRecord, now: number): Promise<void> {
    await this.db
      .insertInto('idempotency')
      .values({
        account_id: accountId,
        operation,
        client_token: clientToken,
        request_hash: rec.requestHash,
        resource_id: rec.resourceId,
        created_at: now,
      })
      .onConflict((oc) => oc.columns(['account_id', 'operation', 'client_token']).doNothing())
      .execute();
  }

  private async count(db: Db, table: 'sequence_stores' | 'reference_stores', column: string, value: string) {
    const r = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where(sql.ref(column), '=', value)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
