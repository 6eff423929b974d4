import { randomUUID } from 'node:crypto';
import { runArn } from '../core/arn.js';
import { ConflictError, NotFoundError, NotImplementedError, QuotaExceededError, ValidationError } from '../core/errors.js';
import { newNumericId } from '../core/ids.js';
import type { Page } from '../core/pagination.js';
import type { PageRequest } from '../db/query.js';
import type { RunQuery } from '../db/run-records.js';
import { submittedJob } from '../db/job-records.js';
import type { DomainDeps } from '../storage/context.js';
import { idempotent } from '../storage/idempotency.js';
import { checkJobRole, type DataLocations } from '../storage/locations.js';
import type { ConfigurationService } from './configurations.js';
import type { RunGroupService } from './run-groups.js';
import type { RunCacheService } from './run-caches.js';
import type { CacheBehavior, NetworkingMode, RunRecord, RunStatus, StartRunInput, TaskRecord } from './entities.js';
import type { WorkflowService } from './workflows.js';

export type { StartRunInput } from './entities.js';

export const WORKFLOW_RUN_JOB = 'WorkflowRun';
/** Run parameters up to 50,000 bytes of JSON (spec §4.5). */
export const MAX_PARAMETER_BYTES = 50_000;
export const ACTIVE_RUN_STATUSES: RunStatus[] = ['PENDING', 'STARTING', 'RUNNING', 'STOPPING'];


export interface RunView extends RunRecord {
  arn: string;
}

/** What a run's job keeps between attempts: where the last attempt's engine ran, so the next can stop it. */
export interface RunPayload {
  host?: string;
  enginePid?: number;
}

/**
 * Runs and their tasks (spec workflows §2.4-2.5, §3.2, §4.10-4.11): StartRun checks the parameters against the
 * workflow's template and queues the run as a leased job (run-executor.ts runs it); Cancel, Delete, Get and List.
 */
export class RunService {
  constructor(
    private readonly d: DomainDeps,
    private readonly workflows: WorkflowService,
    private readonly locations: DataLocations,
    private readonly runGroups: RunGroupService,
    private readonly configurations: ConfigurationService,
    private readonly runCaches: RunCacheService,
    private readonly kick: () => void,
  ) {}

  view(r: RunRecord): RunView {
    return { ...r, arn: runArn(this.d.partition, r.accountId, r.id) };
  }

  /** What StartRunBatch checks once for all its runs: the workflow (own, or shared and accepted) is ACTIVE, the run group exists. */
  async checkRunnable(accountId: string, i: { workflowId: string; workflowOwnerId?: string; workflowVersionName?: string; runGroupId?: string; roleArn: string }): Promise<void> {
    checkJobRole(i.roleArn, accountId);
    const wf = await this.workflows.getAs(accountId, i.workflowOwnerId, i.workflowId, i.workflowVersionName ?? '');
    if (wf.status !== 'ACTIVE') throw new ValidationError(`Workflow ${i.workflowId} is ${wf.status}; runs start only on an ACTIVE workflow.`);
    if (i.runGroupId) await this.runGroups.checkJoinable(accountId, i.runGroupId);
  }

  async start(accountId: string, startedBy: string, i: StartRunInput, opts: { batchId?: string } = {}): Promise<RunView> {
    checkJobRole(i.roleArn, accountId);
    this.locations.checkForm(i.outputUri);
    const unsupported = (what: string) => new NotImplementedError(`${what} is not supported by OpenOmics yet (see docs/workflows.md).`);
    if (i.cacheBehavior !== undefined && i.cacheId === undefined) throw new ValidationError('cacheBehavior needs a cacheId.');
    if (i.workflowType === 'READY2RUN') throw unsupported('Ready2Run workflows');
    const base = i.runId ? await this.record(accountId, i.runId) : undefined;
    const runGroupId = i.runGroupId ?? base?.runGroupId ?? null;
    if (runGroupId) await this.runGroups.checkJoinable(accountId, runGroupId);
    const networkingMode = (i.networkingMode ?? base?.networkingMode ?? 'RESTRICTED') as NetworkingMode;
    const configurationName = i.configurationName ?? (i.networkingMode === undefined ? base?.configurationName : undefined) ?? null;
    if (networkingMode === 'VPC' && !configurationName) throw new ValidationError('networkingMode VPC needs a configurationName (CreateConfiguration).');
    if (networkingMode !== 'VPC' && configurationName) throw new ValidationError('configurationName is for runs with networkingMode VPC.');
    if (configurationName) await this.configurations.get(accountId, configurationName);
    const cacheId = i.cacheId ?? base?.cacheId ?? null;
    const cache = cacheId ? await this.runCaches.forRun(accountId, cacheId, (i.cacheBehavior ?? base?.cacheBehavior ?? undefined) as CacheBehavior | undefined) : undefined;
    const workflowId = i.workflowId ?? base?.workflowId;
    if (!workflowId) throw new ValidationError('Give workflowId (or runId, to run a run again).');
    const versionName = i.workflowVersionName ?? base?.workflowVersionName ?? '';
    // A workflow another account shared with this one runs here, on this account's data and role (spec §4.15).
    const ownerId = i.workflowOwnerId ?? (i.workflowId === undefined ? base?.workflowOwnerId : null) ?? accountId;
    const wf = await this.workflows.getAs(accountId, ownerId, workflowId, versionName);
    if (wf.status !== 'ACTIVE') {
      throw new ValidationError(`${versionName ? `Version ${versionName} of workflow ${workflowId}` : `Workflow ${workflowId}`} is ${wf.status}; runs start only on an ACTIVE workflow${wf.statusMessage ? ` (${wf.statusMessage})` : ''}.`);
    }
    const parameters = i.parameters ?? base?.parameters ?? {};
    if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) throw new ValidationError('parameters must be a JSON object of parameter names to values.');
    const size = Buffer.byteLength(JSON.stringify(parameters));
    if (size > MAX_PARAMETER_BYTES) throw new ValidationError(`The run parameters are ${size} bytes of JSON; the limit is ${MAX_PARAMETER_BYTES}.`);
    const template = wf.parameterTemplate ?? {};
    const given = parameters as Record<string, unknown>;
    const unknown = Object.keys(given).filter((k) => !(k in template));
    if (unknown.length) throw new ValidationError(`Parameter ${unknown.map((k) => JSON.stringify(k)).join(', ')} is not in the workflow's parameter template (it has ${Object.keys(template).join(', ') || 'no parameters'}).`);
    const missing = Object.entries(template).filter(([k, p]) => !p.optional && given[k] === undefined).map(([k]) => k);
    if (missing.length) throw new ValidationError(`Missing required parameter ${missing.map((k) => JSON.stringify(k)).join(', ')}.`);
    const storageType = i.storageType ?? base?.storageType ?? wf.storageType;
    const storageCapacity = storageType === 'DYNAMIC' ? null : roundStaticCapacity(i.storageCapacity ?? base?.storageCapacity ?? wf.storageCapacity ?? 1200);
    const retentionMode = i.retentionMode ?? base?.retentionMode ?? 'RETAIN';
    const outputUri = i.outputUri.replace(/\/+$/, '');
    const { resourceId } = await idempotent(this.d.db, accountId, 'StartRun', i.requestId, { ...i, requestId: undefined }, this.d.now(), async () => {
      await this.makeRoom(accountId);
      const id = newNumericId();
      const uuid = randomUUID();
      const now = this.d.now();
      const rec: RunRecord = {
        accountId,
        id,
        uuid,
        workflowId,
        workflowVersionName: versionName || null,
        workflowUuid: wf.uuid,
        name: i.name ?? base?.name ?? null,
        status: 'PENDING',
        statusMessage: null,
        failureReason: null,
        roleArn: i.roleArn,
        startedBy,
        priority: i.priority ?? base?.priority ?? 0,
        parameters: given,
        storageType,
        storageCapacity,
        outputUri,
        runOutputUri: `${outputUri}/${id}/${uuid}`,
        logLevel: i.logLevel ?? base?.logLevel ?? 'ALL',
        retentionMode,
        engine: wf.engine!,
        engineVersion: null,
        digest: wf.digest!,
        main: wf.main,
        resourceDigests: {},
        sourceRunId: base?.id ?? null,
        runGroupId,
        batchId: opts.batchId ?? null,
        workflowOwnerId: ownerId === accountId ? null : ownerId,
        networkingMode,
        configurationName,
        cacheId: cache?.cacheId ?? null,
        cacheBehavior: cache?.cacheBehavior ?? null,
        creationTime: now,
        startTime: null,
        stopTime: null,
      };
      await this.d.db.atomically(async (tx) => {
        await tx.runs.insert(rec);
        if (i.tags && Object.keys(i.tags).length) await tx.tags.put(this.view(rec).arn, i.tags);
        await tx.jobs.insert(submittedJob(newNumericId(), WORKFLOW_RUN_JOB, accountId, id, {} satisfies RunPayload, now));
      });
      return id;
    });
    this.kick();
    return this.get(accountId, resourceId);
  }

  /** The run quota (spec §4.10): at the limit, the oldest ended REMOVE run makes room, else the start is refused. */
  private async makeRoom(accountId: string): Promise<void> {
    const max = this.d.quotas.maxRetainedRuns;
    while ((await this.d.db.runs.count(accountId)) >= max) {
      const oldest = await this.d.db.runs.oldestRemovable(accountId);
      if (!oldest) throw new QuotaExceededError(`The account keeps ${max} runs, the most it may; delete runs (or start them with retentionMode REMOVE) to start more.`);
      await this.remove(oldest);
    }
  }

  private async remove(r: RunRecord): Promise<void> {
    await this.d.db.atomically(async (tx) => {
      await tx.runs.delete(r.accountId, r.id);
      await tx.tags.deleteAll(this.view(r).arn);
    });
    await this.d.db.runs.deleteTasks(r.id);
  }

  private async record(accountId: string, id: string): Promise<RunRecord> {
    const r = await this.d.db.runs.get(accountId, id);
    if (!r) throw new NotFoundError(`Run ${id} not found.`);
    return r;
  }

  async get(accountId: string, id: string): Promise<RunView> {
    return this.view(await this.record(accountId, id));
  }

  async list(accountId: string, q: RunQuery, page: PageRequest): Promise<Page<RunView>> {
    const res = await this.d.db.runs.list(accountId, q, page);
    return { items: res.items.map((r) => this.view(r)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  /** CancelRun: allowed while PENDING, STARTING, RUNNING or STOPPING; the worker stops the engine and its containers. */
  async cancel(accountId: string, id: string): Promise<void> {
    const r = await this.record(accountId, id);
    const ok = await this.d.db.runs.update(accountId, id, { status: 'CANCELLED', statusMessage: 'Cancelled by CancelRun.', stopTime: this.d.now() }, ACTIVE_RUN_STATUSES);
    if (!ok) throw new ConflictError(`Run ${id} is ${r.status}; only PENDING, STARTING, RUNNING or STOPPING runs can be cancelled.`);
  }

  /** DeleteRun: a COMPLETED, FAILED or CANCELLED run's metadata (its outputs and logs stay). */
  async delete(accountId: string, id: string): Promise<void> {
    const r = await this.record(accountId, id);
    if (ACTIVE_RUN_STATUSES.includes(r.status)) throw new ConflictError(`Run ${id} is ${r.status}; cancel it or let it end before deleting it.`);
    await this.remove(r);
  }

  async getTask(accountId: string, runId: string, taskId: string): Promise<TaskRecord> {
    await this.record(accountId, runId);
    const t = await this.d.db.runs.getTask(runId, taskId);
    if (!t) throw new NotFoundError(`Task ${taskId} of run ${runId} not found.`);
    return t;
  }

  async listTasks(accountId: string, runId: string, q: { status?: string }, page: PageRequest): Promise<Page<TaskRecord>> {
    await this.record(accountId, runId);
    return this.d.db.runs.listTasks(runId, q, page);
  }
}

/** STATIC run storage is rounded up to a multiple of 1200 GiB (spec §4.9). */
export function roundStaticCapacity(gib: number): number {
  return Math.max(1200, Math.ceil(gib / 1200) * 1200);
}
