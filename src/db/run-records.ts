import { decodeNextToken, type Page } from '../core/pagination.js';
import type { RunRecord, RunStatus, TaskRecord } from '../workflows/entities.js';
import { keyset, pageOf, type PageRequest } from './query.js';
import { col, countWhere, json, num, rowMapping, type Db } from './rows.js';
import type { RunsTable, RunTasksTable } from './schema.js';

/** The `runs` table and its child `run_tasks`. */
export interface RunQuery {
  name?: string;
  status?: string;
  runGroupId?: string;
  batchId?: string;
  configurationName?: string;
  cacheId?: string;
  /** Only runs that have not ended (PENDING, STARTING, RUNNING, STOPPING). */
  active?: boolean;
}

export interface RunRecords {
  insert(rec: RunRecord): Promise<void>;
  get(accountId: string, id: string): Promise<RunRecord | undefined>;
  /** Changes a run; with `from`, only while its status is one of those (false otherwise). */
  update(accountId: string, id: string, patch: Partial<Omit<RunRecord, 'accountId' | 'id' | 'uuid'>>, from?: RunStatus[]): Promise<boolean>;
  delete(accountId: string, id: string): Promise<boolean>;
  list(accountId: string, q: RunQuery, page: PageRequest): Promise<Page<RunRecord>>;
  /** Runs the account keeps (the quota of §4.10 counts them all), and the oldest ended REMOVE run to make room. */
  count(accountId: string): Promise<number>;
  oldestRemovable(accountId: string): Promise<RunRecord | undefined>;
  countActiveForWorkflow(accountId: string, workflowId: string): Promise<number>;
  /** Runs of a run group in these statuses. */
  countInGroup(accountId: string, runGroupId: string, statuses: RunStatus[]): Promise<number>;
  /**
   * The PENDING run that starts next among the account's runs of this group (null: runs outside any group):
   * highest priority first, then the earliest created (spec §4.11).
   */
  nextPending(accountId: string, runGroupId: string | null): Promise<{ id: string; priority: number } | undefined>;
  /** vCPUs and GPUs of the tasks now RUNNING in the group's runs (what maxCpus and maxGpus limit). */
  groupTaskUsage(accountId: string, runGroupId: string): Promise<{ cpus: number; gpus: number }>;

  putTask(t: TaskRecord): Promise<void>;
  updateTask(runId: string, id: string, patch: Partial<Omit<TaskRecord, 'runId' | 'id'>>): Promise<void>;
  getTask(runId: string, id: string): Promise<TaskRecord | undefined>;
  listTasks(runId: string, q: { status?: string }, page: PageRequest): Promise<Page<TaskRecord>>;
  deleteTasks(runId: string): Promise<void>;
}

const runRows = rowMapping<RunRecord, RunsTable>({
  accountId: col('account_id'),
  id: col('id'),
  uuid: col('uuid'),
  workflowId: col('workflow_id'),
  workflowVersionName: col('workflow_version_name'),
  workflowUuid: col('workflow_uuid'),
  name: col('name'),
  status: col('status'),
  statusMessage: col('status_message'),
  failureReason: col('failure_reason'),
  roleArn: col('role_arn'),
  startedBy: col('started_by'),
  priority: num('priority'),
  parameters: json('parameters'),
  storageType: col('storage_type'),
  storageCapacity: num('storage_capacity'),
  outputUri: col('output_uri'),
  runOutputUri: col('run_output_uri'),
  logLevel: col('log_level'),
  retentionMode: col('retention_mode'),
  engine: col('engine'),
  engineVersion: col('engine_version'),
  digest: col('digest'),
  main: col('main'),
  resourceDigests: json('resource_digests'),
  sourceRunId: col('source_run_id'),
  runGroupId: col('run_group_id'),
  batchId: col('batch_id'),
  workflowOwnerId: col('workflow_owner_id'),
  networkingMode: col('networking_mode'),
  configurationName: col('configuration_name'),
  cacheId: col('cache_id'),
  cacheBehavior: col('cache_behavior'),
  creationTime: num('creation_time'),
  startTime: num('start_time'),
  stopTime: num('stop_time'),
});

const taskRows = rowMapping<TaskRecord, RunTasksTable>({
  runId: col('run_id'),
  id: col('id'),
  uuid: col('uuid'),
  name: col('name'),
  status: col('status'),
  statusMessage: col('status_message'),
  failureReason: col('failure_reason'),
  cpus: num('cpus'),
  memory: num('memory'),
  gpus: num('gpus'),
  image: col('image'),
  imageDigest: col('image_digest'),
  exitCode: num('exit_code'),
  utilization: json('utilization'),
  cacheHit: { column: 'cache_hit', read: (v) => v === 1 || v === true, write: (v) => (v ? 1 : 0) },
  cacheS3Uri: col('cache_s3_uri'),
  creationTime: num('creation_time'),
  startTime: num('start_time'),
  stopTime: num('stop_time'),
});

const ACTIVE: RunStatus[] = ['PENDING', 'STARTING', 'RUNNING', 'STOPPING'];

export class KyselyRunRecords implements RunRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: RunRecord): Promise<void> {
    await this.db.insertInto('runs').values(runRows.toFullRow(rec)).execute();
  }
  async get(accountId: string, id: string): Promise<RunRecord | undefined> {
    const r = await this.db.selectFrom('runs').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return r && runRows.fromRow(r);
  }
  async update(accountId: string, id: string, patch: Partial<RunRecord>, from?: RunStatus[]): Promise<boolean> {
    let q = this.db.updateTable('runs').set(runRows.toRow(patch)).where('account_id', '=', accountId).where('id', '=', id);
    if (from) q = q.where('status', 'in', from);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async delete(accountId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('runs').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(accountId: string, q: RunQuery, page: PageRequest): Promise<Page<RunRecord>> {
    let query = this.db.selectFrom('runs').selectAll().where('account_id', '=', accountId);
    if (q.name !== undefined) query = query.where('name', '=', q.name);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    if (q.runGroupId !== undefined) query = query.where('run_group_id', '=', q.runGroupId);
    if (q.batchId !== undefined) query = query.where('batch_id', '=', q.batchId);
    if (q.configurationName !== undefined) query = query.where('configuration_name', '=', q.configurationName);
    if (q.cacheId !== undefined) query = query.where('cache_id', '=', q.cacheId);
    if (q.active) query = query.where('status', 'in', ACTIVE);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(runRows.fromRow), page.maxResults);
  }
  count(accountId: string): Promise<number> {
    return countWhere(this.db, 'runs', 'account_id', accountId);
  }
  async oldestRemovable(accountId: string): Promise<RunRecord | undefined> {
    const r = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('retention_mode', '=', 'REMOVE')
      .where('status', 'not in', ACTIVE)
      .orderBy('creation_time')
      .limit(1)
      .executeTakeFirst();
    return r && runRows.fromRow(r);
  }
  async countActiveForWorkflow(accountId: string, workflowId: string): Promise<number> {
    const r = await this.db
      .selectFrom('runs')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('account_id', '=', accountId)
      .where('workflow_id', '=', workflowId)
      .where('status', 'in', ACTIVE)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
  async countInGroup(accountId: string, runGroupId: string, statuses: RunStatus[]): Promise<number> {
    const r = await this.db
      .selectFrom('runs')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('account_id', '=', accountId)
      .where('run_group_id', '=', runGroupId)
      .where('status', 'in', statuses)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
  async nextPending(accountId: string, runGroupId: string | null): Promise<{ id: string; priority: number } | undefined> {
    let q = this.db.selectFrom('runs').select(['id', 'priority']).where('account_id', '=', accountId).where('status', '=', 'PENDING');
    q = runGroupId === null ? q.where('run_group_id', 'is', null) : q.where('run_group_id', '=', runGroupId);
    const r = await q.orderBy('priority', 'desc').orderBy('creation_time').orderBy('id').limit(1).executeTakeFirst();
    return r && { id: r.id, priority: Number(r.priority) };
  }
  async groupTaskUsage(accountId: string, runGroupId: string): Promise<{ cpus: number; gpus: number }> {
    const r = await this.db
      .selectFrom('run_tasks')
      .innerJoin('runs', 'runs.id', 'run_tasks.run_id')
      .select((eb) => [eb.fn.sum<number | string | null>('run_tasks.cpus').as('cpus'), eb.fn.sum<number | string | null>('run_tasks.gpus').as('gpus')])
      .where('runs.account_id', '=', accountId)
      .where('runs.run_group_id', '=', runGroupId)
      .where('run_tasks.status', 'in', ['STARTING', 'RUNNING'])
      .executeTakeFirstOrThrow();
    return { cpus: Number(r.cpus ?? 0), gpus: Number(r.gpus ?? 0) };
  }

  async putTask(t: TaskRecord): Promise<void> {
    await this.db.insertInto('run_tasks').values(taskRows.toFullRow(t)).execute();
  }
  async updateTask(runId: string, id: string, patch: Partial<TaskRecord>): Promise<void> {
    await this.db.updateTable('run_tasks').set(taskRows.toRow(patch)).where('run_id', '=', runId).where('id', '=', id).execute();
  }
  async getTask(runId: string, id: string): Promise<TaskRecord | undefined> {
    const r = await this.db.selectFrom('run_tasks').selectAll().where('run_id', '=', runId).where('id', '=', id).executeTakeFirst();
    return r && taskRows.fromRow(r);
  }
  async listTasks(runId: string, q: { status?: string }, page: PageRequest): Promise<Page<TaskRecord>> {
    let query = this.db.selectFrom('run_tasks').selectAll().where('run_id', '=', runId);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    const found = await keyset(query, decodeNextToken(page.nextToken), page.maxResults).execute();
    return pageOf(found.map(taskRows.fromRow), page.maxResults);
  }
  async deleteTasks(runId: string): Promise<void> {
    await this.db.deleteFrom('run_tasks').where('run_id', '=', runId).execute();
  }
}
