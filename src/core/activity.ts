import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What this process is doing on the current asynchronous path: the job. The job runner sets it; the last-resort
 * error handler reads it, so a crash names the job that caused it.
 */
export interface Activity {
  jobId?: string;
  jobKind?: string;
}

export const activity = new AsyncLocalStorage<Activity>();

/**
 * The requests this process is serving, by id: named by the last-resort error handler (cli/process-guard.ts) when
 * an error nothing handled ends the process. Requests are not run in `activity` (AsyncLocalStorage's promise hooks
 * on every promise: ~6% of small S3 reads per second at one connection, decision 84); jobs are.
 */
export const requestsInFlight = new Set<string>();
