import type { Logger } from 'pino';
import { EXIT } from './exit-codes.js';
import { activity, requestsInFlight } from '../core/activity.js';

/**
 * The last line of defence. An error nothing handled (an unheard stream
 * 'error', a rejected promise nobody awaited) means this process's state can
 * no longer be trusted: it is logged as fatal, with the job it happened in or
 * the requests in flight (at most 20), and the process exits with status 70 (EX_SOFTWARE) for its
 * supervisor to restart. Nothing is half-written by this: blobs become visible
 * only once complete, and jobs in hand resume elsewhere when their lease runs
 * out. Every such error found is a bug to fix where the stream or promise is
 * made; the fault tests fail if one is logged.
 */
export function installProcessGuard(log: Logger, role: 'server' | 'worker'): void {
  let exiting = false;
  const fatal = (kind: string) => (err: unknown) => {
    // The job it happened in, if any; and the requests being served (one of them, if it came from a request).
    const where = activity.getStore() ?? {};
    const requests = [...requestsInFlight].slice(0, 20);
    log.fatal({ err, ...where, ...(requests.length ? { requestsInFlight: requests } : {}), role }, `${kind}: exiting for the supervisor to restart this ${role}`);
    if (exiting) return;
    exiting = true;
    // pino's asynchronous destination: flush what is buffered, then go (at most 1 s later).
    const bye = () => process.exit(EXIT.internalError);
    setTimeout(bye, 1000).unref();
    log.flush(bye);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled promise rejection'));
}
