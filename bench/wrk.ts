// wrk (Debian, native) as the benchmarks' HTTP load generator: it saturates the server, not itself, and the same
// client against nginx in the same run gives the ceiling every figure is read against (decision 68).
import { spawnSync } from 'node:child_process';

export interface WrkResult {
  requestsPerSecond: number;
  bytesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** Fails early, before anything is started, when wrk is missing. */
export function requireWrk(): void {
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is not installed (Debian package wrk)');
}

/** One wrk run (1 thread) of `seconds` against `url`; `script` (Lua) shapes the requests, `headers` are sent on each. */
export function wrk(url: string, o: { connections: number; seconds: number; script?: string; headers?: Record<string, string> }): WrkResult {
  const headerArgs = Object.entries(o.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency', ...headerArgs, ...(o.script ? ['-s', o.script] : []), url];
  const r = spawnSync('wrk', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const out = r.stdout;
  if (/Non-2xx or 3xx responses: (\d+)/.test(out) || /Socket errors:/.test(out)) throw new Error(`wrk against ${url.split('?')[0]} saw errors:\n${out}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
  const [, amount, unit] = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out)!;
  const latency = (p: string) => {
    const [, v, u] = new RegExp(`\\s${p}%\\s+([\\d.]+)(\\w+)`).exec(out)!;
    return Number(v) * MS[u!]!;
  };
  return { requestsPerSecond: rps, bytesPerSecond: Number(amount) * UNITS[unit!]!, p50Ms: latency('50'), p99Ms: latency('99') };
}

/** An untimed warm-up run (JIT, thread pools, page cache), then `reps` timed ones. */
export function wrkRuns(url: string, o: Parameters<typeof wrk>[1], reps: number): WrkResult[] {
  wrk(url, o);
  return Array.from({ length: reps }, () => wrk(url, o));
}
