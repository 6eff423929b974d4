import { NotFoundError } from '../core/errors.js';
import { newNumericId } from '../core/ids.js';
import type { Page } from '../core/pagination.js';
import { submittedJob, type JobQuery, type JobRecord, type JobStatus } from '../db/job-records.js';
import type { PageRequest } from '../db/query.js';
import type { JobContext, JobOutcome } from '../jobs/runner.js';
import type { DomainDeps } from './context.js';
import { idempotent } from './idempotency.js';
import { isContentError, statusMessageOf } from './job-errors.js';

/**
 * What the storage jobs (reference import, read set import, export,
 * activation) have in common: submitted as a row with a list of items, each
 * item NOT_STARTED -> IN_PROGRESS -> FINISHED | FAILED, progress saved after
 * every item so a re-run (after a crash) resumes where the last one stopped,
 * and a job status derived from the items.
 */
export interface JobItem {
  status: 'NOT_STARTED' | 'IN_PROGRESS' | 'FINISHED' | 'FAILED';
  statusMessage?: string;
}

export interface ItemsPayload<I extends JobItem> {
  items: I[];
}

/** Job status from its items' outcomes. */
export function jobStatusOf(items: JobItem[]): { status: JobStatus; statusMessage: string | null } {
  const failed = items.filter((i) => i.status === 'FAILED').length;
  if (failed === 0) return { status: 'COMPLETED', statusMessage: null };
  if (failed === items.length) return { status: 'FAILED', statusMessage: `Every item failed; see each item's statusMessage.` };
  return { status: 'COMPLETED_WITH_FAILURES', statusMessage: `${failed} of ${items.length} items failed; see each item's statusMessage.` };
}

/**
 * Runs the items of a job in order. `prepare` runs once per item before any
 * work and its changes are saved first (e.g. choosing the id of what the item
 * creates, so a re-run reuses it). `work` throws a content error (the item
 * fails with its message) or anything else (the job attempt fails and is retried).
 */
export async function runItems<P extends ItemsPayload<JobItem>>(
  job: JobRecord<P>,
  ctx: JobContext<P>,
  steps: { prepare?: (item: P['items'][number]) => void; work: (item: P['items'][number]) => Promise<void> },
): Promise<JobOutcome<P>> {
  const payload = structuredClone(job.payload);
  for (const item of payload.items) {
    if (item.status === 'FINISHED' || item.status === 'FAILED') continue;
    if (item.status === 'NOT_STARTED') {
      steps.prepare?.(item);
      item.status = 'IN_PROGRESS';
      await ctx.save(payload);
    }
    try {
      await steps.work(item);
      item.status = 'FINISHED';
      delete item.statusMessage;
    } catch (e) {
      if (!isContentError(e)) throw e;
      item.status = 'FAILED';
      item.statusMessage = statusMessageOf(e);
    }
    await ctx.save(payload);
  }
  return { ...jobStatusOf(payload.items), payload };
}

/**
 * A storage job's give-up: every item not yet FINISHED or FAILED fails with
 * `reason`, except those `isDone` finds already made (an attempt that created
 * the item's result but died before saving its progress).
 */
export async function giveUpItems<P extends ItemsPayload<JobItem>>(
  job: JobRecord<P>,
  reason: string,
  isDone: (item: P['items'][number]) => Promise<boolean> = async () => false,
): Promise<JobOutcome<P>> {
  const payload = structuredClone(job.payload);
  for (const item of payload.items) {
    if (item.status === 'FINISHED' || item.status === 'FAILED') continue;
    if (item.status === 'IN_PROGRESS' && (await isDone(item))) {
      item.status = 'FINISHED';
      continue;
    }
    item.status = 'FAILED';
    item.statusMessage = statusMessageOf(new Error(reason));
  }
  return { ...jobStatusOf(payload.items), payload };
}

/** Submission, lookup and listing of one kind of storage job. */
export class JobBook<P> {
  constructor(
    private readonly d: DomainDeps,
    readonly kind: string,
    /** How the job is named in messages ("Read set import job"). */
    private readonly label: string,
    private readonly onSubmitted: () => void,
  ) {}

  async submit(accountId: string, storeId: string, clientToken: string | undefined, request: Record<string, unknown>, payload: P): Promise<JobRecord<P>> {
    const now = this.d.now();
    const { resourceId } = await idempotent(this.d.db, accountId, `${this.kind}:${storeId}`, clientToken, request, now, async () => {
      const id = newNumericId();
      await this.d.db.jobs.insert(submittedJob(id, this.kind, accountId, storeId, payload, now));
      return id;
    });
    this.onSubmitted();
    return this.get(accountId, storeId, resourceId);
  }

  async get(accountId: string, storeId: string, id: string): Promise<JobRecord<P>> {
    const j = await this.d.db.jobs.get(this.kind, storeId, id);
    if (!j || j.accountId !== accountId) throw new NotFoundError(`${this.label} ${id} not found in store ${storeId}.`);
    return j as JobRecord<P>;
  }

  async list(storeId: string, q: JobQuery, page: PageRequest): Promise<Page<JobRecord<P>>> {
    return (await this.d.db.jobs.list(this.kind, storeId, q, page)) as Page<JobRecord<P>>;
  }
}
