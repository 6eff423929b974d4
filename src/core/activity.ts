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

/**
 * `read` (e.g. the metadata's change generation), read once per request: a request sees what was committed
 * when it first looked, and pays for one read however many lookups it makes. Outside a request, read each time.
 */
export function oncePerRequest(read: () => number): () => number {
  const seen = new WeakMap<Activity, number>();
  return () => {
    const a = activity.getStore();
    if (!a?.requestId) return read();
    let v = seen.get(a);
    if (v === undefined) seen.set(a, (v = read()));
    return v;
  };
}
