import { isTransientIoError, OpenOmicsError, StorageUnavailableError } from '../core/errors.js';
import { FormatError } from '../formats/errors.js';

/** How the storage jobs tell a file's fault (the item fails) from a fault of the moment (the job retries). */

/** Errors that mean "this file is not acceptable" (the read set fails), as opposed to "try again later". */
export function isContentError(e: unknown): e is Error {
  return e instanceof FormatError || (e instanceof OpenOmicsError && (e.kind === 'Validation' || e.kind === 'NotFound'));
}

/**
 * How a failed job attempt is described to users (job and read set status
 * messages): a connected bucket's own message, a storage fault by its kind
 * only (the server's own endpoints stay out of messages), else "internal error".
 */
export function describeAttemptError(e: unknown): string {
  if (e instanceof StorageUnavailableError) return statusMessageOf(e);
  if (isTransientIoError(e)) {
    let code: unknown;
    for (let x = e as { code?: unknown; name?: unknown; cause?: unknown } | undefined, i = 0; x && !code && i < 4; x = x.cause as typeof x, i++) code = x.code ?? (x.name !== 'Error' ? x.name : undefined);
    return `the storage was unavailable${typeof code === 'string' ? ` (${code})` : ''}`;
  }
  if (e instanceof OpenOmicsError) return statusMessageOf(e);
  return 'internal error (see the server log)';
}

export function statusMessageOf(e: Error): string {
  const m = e.message.replace(/\s+/g, ' ').trim();
  return m.length <= 255 ? m : `${m.slice(0, 252)}...`;
}
