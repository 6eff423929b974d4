import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What this process is doing on the current asynchronous path: the request or
 * the job. The edges and the job runner set it; the last-resort error handler
 * reads it, so a crash names the request or job that caused it.
 */
export interface Activity {
  requestId?: string;
  jobId?: string;
  jobKind?: string;
}

export const activity = new AsyncLocalStorage<Activity>();
