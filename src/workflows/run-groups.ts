import { runGroupArn } from '../core/arn.js';
import { ConflictError, NotFoundError, QuotaExceededError, ValidationError } from '../core/errors.js';
import { newNumericId } from '../core/ids.js';
import type { Page } from '../core/pagination.js';
import type { PageRequest } from '../db/query.js';
import type { DomainDeps } from '../storage/context.js';
import { idempotent } from '../storage/idempotency.js';
import { checkNewTags } from '../storage/tags.js';
import type { RunGroupRecord, RunRecord } from './entities.js';

/** Runs that hold their group's room: admitted and not ended (PENDING runs wait outside it). */
const ADMITTED = ['STARTING', 'RUNNING', 'STOPPING'] as const;
const ACTIVE = ['PENDING', ...ADMITTED] as const;

export interface RunGroupLimits {
  name?: string;
  maxCpus?: number;
  maxGpus?: number;
  maxRuns?: number;
  maxDuration?: number;
}

export interface RunGroupView extends RunGroupRecord {
  arn: string;
}

/** Why a run may not start yet, for its status message. */
export type RunAdmission = { admitted: true } | { admitted: false; waiting: string };

/**
 * Run groups (spec workflows §2.6, §4.11): CRUD, and the admission decisions their limits make. A run starts
 * (PENDING → STARTING) only when it is the next of its group by priority — higher first, then the earliest
 * created; runs outside any group are ranked among themselves — and the group has fewer than maxRuns runs
 * started. A task of a run in a group with maxCpus or maxGpus starts only when the group's running tasks leave
 * room for it (or nothing of the group runs: a task larger than the limit runs alone rather than never). Each
 * decision about a group is one transaction that first takes the group's admission turn, so processes decide
 * one after the other. maxDuration is checked by the run monitor (`maxDurationMs`).
 */
export class RunGroupService {
  constructor(private readonly d: DomainDeps) {}

  view(g: RunGroupRecord): RunGroupView {
    return { ...g, arn: runGroupArn(this.d.partition, g.accountId, g.id) };
  }

  async create(accountId: string, i: RunGroupLimits & { requestId: string; tags?: Record<string, string> }): Promise<RunGroupView> {
    checkNewTags(i.tags, this.d.quotas.maxTagsPerResource);
    const { resourceId } = await idempotent(this.d.db, accountId, 'CreateRunGroup', i.requestId, { ...i, requestId: undefined }, this.d.now(), async () => {
      if ((await this.d.db.runGroups.count(accountId)) >= this.d.quotas.maxRunGroups) {
        throw new QuotaExceededError(`The account has ${this.d.quotas.maxRunGroups} run groups, the most it may; delete one to create another.`);
      }
      const rec: RunGroupRecord = {
        accountId,
        id: newNumericId(),
        name: i.name ?? null,
        maxCpus: i.maxCpus ?? null,
        maxGpus: i.maxGpus ?? null,
        maxRuns: i.maxRuns ?? null,
        maxDuration: i.maxDuration ?? null,
        creationTime: this.d.now(),
      };
      await this.d.db.runGroups.insert(rec);
      if (i.tags && Object.keys(i.tags).length) await this.d.db.tags.put(this.view(rec).arn, i.tags);
      return rec.id;
    });
    return this.get(accountId, resourceId);
  }

  async get(accountId: string, id: string): Promise<RunGroupView> {
    const g = await this.d.db.runGroups.get(accountId, id);
    if (!g) throw new NotFoundError(`Run group ${id} not found.`);
    return this.view(g);
  }

  /** UpdateRunGroup: the name or any limit; runs already started keep going, the next decisions use the new limits. */
  async update(accountId: string, id: string, patch: RunGroupLimits): Promise<void> {
    if (!(await this.d.db.runGroups.update(accountId, id, patch))) throw new NotFoundError(`Run group ${id} not found.`);
  }

  async delete(accountId: string, id: string): Promise<void> {
    const g = await this.get(accountId, id);
    const active = await this.d.db.runs.countInGroup(accountId, id, [...ACTIVE]);
    if (active > 0) throw new ConflictError(`Run group ${id} has ${active} PENDING, STARTING, RUNNING or STOPPING run${active === 1 ? '' : 's'}; wait for them to end or cancel them before deleting it.`);
    await this.d.db.runGroups.delete(accountId, id);
    await this.d.db.tags.deleteAll(g.arn);
  }

  async list(accountId: string, q: { name?: string }, page: PageRequest): Promise<Page<RunGroupView>> {
    const res = await this.d.db.runGroups.list(accountId, q, page);
    return { items: res.items.map((g) => this.view(g)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  /** A run group a StartRun names: it must exist (Ready2Run runs cannot join one, spec §4.18). */
  async checkJoinable(accountId: string, id: string): Promise<void> {
    if (!(await this.d.db.runGroups.get(accountId, id))) throw new ValidationError(`Run group ${id} does not exist.`);
  }

  /**
   * Whether a PENDING run may start now; if so it is STARTING when this returns (the status change is part of
   * the decision, so no other process can admit past the limit meanwhile).
   */
  async admitRun(run: RunRecord): Promise<RunAdmission> {
    return this.d.db.atomically(async (tx) => {
      const group = run.runGroupId && (await tx.runGroups.takeAdmissionTurn(run.accountId, run.runGroupId)) ? await tx.runGroups.get(run.accountId, run.runGroupId) : undefined;
      const next = await tx.runs.nextPending(run.accountId, group ? group.id : null);
      if (next && next.id !== run.id) return { admitted: false, waiting: `Waiting: run ${next.id} (priority ${next.priority}) starts first.` };
      if (group?.maxRuns) {
        const started = await tx.runs.countInGroup(run.accountId, group.id, [...ADMITTED]);
        if (started >= group.maxRuns) return { admitted: false, waiting: `Waiting: run group ${group.id} has ${started} of its maxRuns ${group.maxRuns} runs started.` };
      }
      const now = this.d.now();
      const moved = await tx.runs.update(run.accountId, run.id, { status: 'STARTING', startTime: now, statusMessage: null }, ['PENDING']);
      return moved ? { admitted: true } : { admitted: false, waiting: 'The run is no longer PENDING.' };
    });
  }

  /**
   * Whether a task of `run` needing `cpus` and `gpus` may start now against its group's maxCpus and maxGpus; if
   * so the task is STARTING (and counts against the group) when this returns.
   */
  async admitTask(run: RunRecord, taskId: string, cpus: number, gpus: number): Promise<boolean> {
    if (!run.runGroupId) return true;
    return this.d.db.atomically(async (tx) => {
      if (!(await tx.runGroups.takeAdmissionTurn(run.accountId, run.runGroupId!))) return true;
      const group = (await tx.runGroups.get(run.accountId, run.runGroupId!))!;
      const used = await tx.runs.groupTaskUsage(run.accountId, group.id);
      const fits = (limit: number | null, using: number, wanted: number) => !limit || wanted === 0 || using + wanted <= limit;
      const idle = used.cpus === 0 && used.gpus === 0;
      if (!idle && !(fits(group.maxCpus, used.cpus, cpus) && fits(group.maxGpus, used.gpus, gpus))) return false;
      await tx.runs.updateTask(run.id, taskId, { status: 'STARTING' });
      return true;
    });
  }

  /** The longest the run may take, by its group's maxDuration (minutes), if it is in a group with one. */
  async maxDurationMs(run: RunRecord): Promise<number | undefined> {
    if (!run.runGroupId) return undefined;
    const g = await this.d.db.runGroups.get(run.accountId, run.runGroupId);
    return g?.maxDuration ? g.maxDuration * 60_000 : undefined;
  }

  /** Whether the run's tasks must wait for admission (its group limits CPUs or GPUs). */
  async gatesTasks(run: RunRecord): Promise<boolean> {
    if (!run.runGroupId) return false;
    const g = await this.d.db.runGroups.get(run.accountId, run.runGroupId);
    return !!(g?.maxCpus || g?.maxGpus);
  }
}
