import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { activity } from '../core/activity.js';
import { jobAttempts } from '../core/metrics.js';
import type { JobRecord, JobRecords, JobStatus } from '../db/job-records.js';
import type { DataTransaction } from '../db/metadata-store.js';

/**
 * Durable background work. Jobs are rows in the metadata store; any number of
 * workers (threads of this loop, in any number of processes) claim them with
 * a compare-and-set lease, renew the lease while working, and write the final
 * status. A worker that dies simply stops renewing: once its lease expires
 * another worker claims the job and runs it again, so every handler must be
 * safe to re-run from its last saved payload (see docs/decisions.md).
 */
export interface JobContext<P> {
  /** Persists progress (visible to Get*Job while running); throws LeaseLostError if the lease was lost. */
  save(payload: P, statusMessage?: string | null): Promise<void>;
  /**
   * Aborted (with a LeaseLostError) when the heartbeat finds the lease lost: another worker took the job
   * over, or renewals failed for longer than the lease. Long work stops on it.
   */
  signal: AbortSignal;
  /** Renews the lease now: false if another worker holds the job, so what the job writes is no longer this attempt's to clean up. */
  holdsLease(): Promise<boolean>;
  /**
   * Runs `publish` in one transaction with a renewal of the lease (the fencing check): a result is
   * published only by the holder of the lease; otherwise it throws LeaseLostError and nothing is written.
   */
  fenced<T>(publish: (tx: DataTransaction) => Promise<T>): Promise<T>;
}

export interface JobOutcome<P> {
  status: JobStatus;
  statusMessage: string | null;
  payload: P;
}

/**
 * Not now: the job cannot start yet (a run waiting for its run group's room, or for runs of higher priority)
 * and is handed back, to be claimed again after `ms`. A deferral is not an attempt: it never makes a job give up.
 */
export interface JobDeferral {
  deferMs: number;
}

export type JobHandler<P = any> = (job: JobRecord<P>, ctx: JobContext<P>) => Promise<JobOutcome<P>>;
/** A handler whose job may have to wait its turn (see `JobDeferral`). */
export type DeferringJobHandler<P = any> = (job: JobRecord<P>, ctx: JobContext<P>) => Promise<JobOutcome<P> | JobDeferral>;

/**
 * What a job kind does when its attempts are spent (or its last attempt died
 * with its process too often): bring everything the job was making to a
 * terminal state with `reason` (a read set UPLOAD_FAILED, items FAILED), and
 * say the job's final outcome. Without one, the job just ends FAILED.
 */
export type GiveUpHandler<P = any> = (job: JobRecord<P>, reason: string) => Promise<JobOutcome<P>>;

/** Told after an attempt failed and before the next one: the job (and what it makes) says why it waits. */
export type RetryHandler<P = any> = (job: JobRecord<P>, reason: string) => Promise<void>;

/** One kind of job. */
export interface JobKind<P = any> {
  run: JobHandler<P> | DeferringJobHandler<P>;
  /** Its handler may defer (`JobDeferral`): claims are logged at debug level, the handler logs the real start. */
  waitsTurn?: boolean;
  giveUp?: GiveUpHandler<P>;
  retrying?: RetryHandler<P>;
}

export interface JobRunnerOptions {
  jobs: JobRecords;
  /** The metadata store's transactions, for fenced publishing. */
  atomically: <T>(fn: (tx: DataTransaction) => Promise<T>) => Promise<T>;
  /** Every job kind this runner runs: how it runs, and (optionally) how it gives up and how it says it waits. */
  kinds: Record<string, JobKind>;
  /** Describes an attempt's error for users (job and read set status messages). */
  describeError?: (err: unknown) => string;
  log: Logger;
  /** Parallel jobs in this process. */
  concurrency?: number;
  leaseMs?: number;
  pollMs?: number;
  /** After this many claims that ended in an unexpected error, the job gives up. */
  maxAttempts?: number;
  /**
   * Storage faults (`isTransient`) are retried longer: an outage of the object store or a full disk is waited
   * out, up to this many claims in all (with backoff capped at a minute), before the job gives up.
   */
  maxStorageAttempts?: number;
  isTransient?: (err: unknown) => boolean;
  /** The wait before attempt `n + 1` (default: 0.5 s doubling per attempt, at most a minute). */
  backoffMs?: (attempt: number) => number;
  now?: () => number;
}

export class LeaseLostError extends Error {}

export class JobRunner {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private wake: (() => void) | undefined;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly maxAttempts: number;
  private readonly maxStorageAttempts: number;
  private readonly now: () => number;

  constructor(private readonly o: JobRunnerOptions) {
    this.leaseMs = o.leaseMs ?? 30_000;
    this.pollMs = o.pollMs ?? 1_000;
    this.maxAttempts = o.maxAttempts ?? 5;
    this.maxStorageAttempts = Math.max(this.maxAttempts, o.maxStorageAttempts ?? 30);
    this.now = o.now ?? Date.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < (this.o.concurrency ?? 2); i++) this.loops.push(this.loop());
  }

  /** Wakes idle workers now (after a job was submitted in this process). */
  kick(): void {
    this.wake?.();
  }

  /** Stops claiming; waits for jobs in hand to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await Promise.all(this.loops);
  }

  private async sleep(): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, this.pollMs);
      const prev = this.wake;
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        prev?.();
        done();
      };
    });
    this.wake = undefined;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let job: JobRecord | undefined;
      try {
        job = await this.o.jobs.claim(Object.keys(this.o.kinds), this.owner, this.now(), this.leaseMs);
      } catch (err) {
        this.o.log.error({ err }, 'job claim failed');
      }
      if (!job) {
        await this.sleep();
        continue;
      }
      await activity.run({ jobId: job.id, jobKind: job.kind }, () => this.run(job!));
    }
  }

  private async run(job: JobRecord): Promise<void> {
    const { jobs, log } = this.o;
    const handler = this.o.kinds[job.kind]!.run;
    const jlog = log.child({ jobId: job.id, kind: job.kind, attempt: job.attempts });
    const leaseLost = new AbortController();
    const lose = (why: string) => {
      if (leaseLost.signal.aborted) return;
      jlog.warn({ why }, 'lease lost; stopping the work');
      leaseLost.abort(new LeaseLostError(`lost the lease on job ${job.id}: ${why}`));
    };
    let renewedAt = this.now();
    /** Every write under the lease (a renewal, a save, a fenced publish) says whether this worker still holds it. */
    const held = (ok: boolean) => {
      if (ok) renewedAt = this.now();
      else lose('another worker holds the job');
      return ok;
    };
    const lease = () => ({ leaseExpires: this.now() + this.leaseMs });
    // The heartbeat. A process paused past its lease (SIGSTOP, a long GC, a VM pause) finds on its next beat
    // that another worker took the job; one that cannot reach the database gives up once the lease has run out.
    const renew = setInterval(() => {
      if (this.now() - renewedAt > this.leaseMs) lose('no renewal succeeded within the lease');
      jobs.update(job.id, this.owner, lease()).then(held, (err) => jlog.warn({ err }, 'lease renewal failed'));
    }, Math.max(50, Math.floor(this.leaseMs / 3)));
    const ctx: JobContext<unknown> = {
      signal: leaseLost.signal,
      holdsLease: async () => !leaseLost.signal.aborted && held(await jobs.update(job.id, this.owner, lease())),
      fenced: async (publish) => {
        if (leaseLost.signal.aborted) throw leaseLost.signal.reason;
        return this.o.atomically(async (tx) => {
          if (!held(await tx.jobs.update(job.id, this.owner, lease()))) throw leaseLost.signal.reason;
          return publish(tx);
        });
      },
      save: async (payload, statusMessage) => {
        if (leaseLost.signal.aborted) throw leaseLost.signal.reason;
        const ok = await jobs.update(job.id, this.owner, { status: 'IN_PROGRESS', payload, ...(statusMessage !== undefined ? { statusMessage } : {}) });
        if (!held(ok)) throw leaseLost.signal.reason;
      },
    };
    if (job.attempts > this.maxStorageAttempts) {
      // Claimed more often than any retry allows: its attempts ended with their process (killed, out of memory).
      clearInterval(renew);
      await this.giveUp(job, `the job was interrupted ${job.attempts - 1} times`, jlog);
      return;
    }
    try {
      if (job.status === 'SUBMITTED') await ctx.save(job.payload);
      // A job that may wait its turn is claimed every second or so while it waits: its handler says when it starts.
      if (this.o.kinds[job.kind]!.waitsTurn) jlog.debug('job claimed');
      else jlog.info('job started');
      const out = await handler(job, ctx);
      clearInterval(renew);
      if ('deferMs' in out) {
        if (await jobs.defer(job.id, this.owner, this.now() + out.deferMs)) jobAttempts.inc({ kind: job.kind, outcome: 'deferred' });
        return;
      }
      if (await jobs.complete(job.id, this.owner, out.status, out.statusMessage, out.payload, this.now())) {
        jobAttempts.inc({ kind: job.kind, outcome: 'completed' });
        jlog.info({ status: out.status }, 'job finished');
      } else {
        jlog.warn('job finished after its lease was lost; another worker owns it');
      }
    } catch (err) {
      clearInterval(renew);
      if (err instanceof LeaseLostError || leaseLost.signal.aborted) {
        jobAttempts.inc({ kind: job.kind, outcome: 'lease_lost' });
        jlog.warn({ err }, 'lease lost; the attempt stopped without publishing');
        return;
      }
      const reason = this.o.describeError?.(err) ?? 'internal error';
      jlog.error({ err }, 'job attempt failed');
      if (job.attempts >= (this.o.isTransient?.(err) ? this.maxStorageAttempts : this.maxAttempts)) {
        await this.giveUp(job, `failed ${job.attempts} times; the last time: ${reason}`, jlog);
      } else {
        // Back off: let the lease run out a little later than now, then any worker retries.
        const backoff = this.o.backoffMs?.(job.attempts) ?? Math.min(60_000, 500 * 2 ** job.attempts);
        jobAttempts.inc({ kind: job.kind, outcome: 'retry' });
        const waiting = `attempt ${job.attempts} failed (${reason}); retrying`;
        await jobs.update(job.id, this.owner, { leaseExpires: this.now() + backoff, statusMessage: waiting }).catch(() => undefined);
        await this.o.kinds[job.kind]?.retrying?.(job, waiting).catch((e: unknown) => jlog.warn({ err: e }, 'could not record the retry'));
      }
    }
  }

  /** Ends a job whose attempts are spent: its kind's give-up handler makes what it made terminal. */
  private async giveUp(job: JobRecord, reason: string, jlog: Logger): Promise<void> {
    const message = `The job gave up: it ${reason}.`;
    try {
      const give = this.o.kinds[job.kind]?.giveUp;
      const out: JobOutcome<unknown> = give ? await give(job, message) : { status: 'FAILED', statusMessage: message, payload: job.payload };
      if (await this.o.jobs.complete(job.id, this.owner, out.status, out.statusMessage, out.payload, this.now())) {
        jobAttempts.inc({ kind: job.kind, outcome: 'gave_up' });
        jlog.error({ status: out.status, reason }, 'job gave up');
      }
    } catch (e) {
      // Left for another attempt at giving up, once the lease runs out.
      jlog.error({ err: e }, 'could not end the job');
    }
  }
}
