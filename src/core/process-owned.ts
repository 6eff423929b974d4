import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * Names of temporary files and folders that say which process writes them
 * (`<host>.<pid>.<random>`), so that leftovers of a killed process can be
 * proven orphaned and removed at once by any other process on the same
 * machine, instead of waiting for an age limit: the writer is on this host
 * and its pid is no longer alive. Names from other hosts (shared storage) or
 * without an owner are judged by age only.
 */
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_');

export function ownedName(): string {
  return `${HOST}.${process.pid}.${randomBytes(6).toString('hex')}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What is known of the writer of `name`: `ended` (made by `ownedName()` in a process of this host that is gone),
 * `alive` (such a process still runs: never remove), or `unknown` (another host's, or no owner in the name).
 */
export function writerState(name: string): 'ended' | 'alive' | 'unknown' {
  const m = /^(.+)\.(\d+)\.[0-9a-f]{12}$/.exec(name);
  if (!m || m[1] !== HOST) return 'unknown';
  const pid = Number(m[2]);
  return pid === process.pid || alive(pid) ? 'alive' : 'ended';
}

/** True when `name` was made by `ownedName()` in a process of this host that has ended. */
export function writerEnded(name: string): boolean {
  return writerState(name) === 'ended';
}
