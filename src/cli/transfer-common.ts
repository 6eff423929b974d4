import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';

/**
 * What the transfer commands share that loads nothing heavy (no AWS SDK client): connection options and where
 * they point, progress lines, retries. `openomics download` is built on this alone, so it starts quickly.
 */
export const MIB = 1024 * 1024;

export interface Conn {
  endpointUrl?: string;
  profile?: string;
  region?: string;
}

/**
 * Endpoint, region and which credentials, as the AWS CLI resolves them (flags, then AWS_* variables and the shared
 * files); with none configured, a local server's own files: `<data dir>/credentials` (profile `openomics`; data
 * dir from OPENOMICS_DATA_DIR or ./openomics-data) and http://127.0.0.1:8080.
 */
export function connectionTarget(o: Conn): { region: string; endpoint?: string; localCredentials?: string; profile?: string } {
  const local = join(process.env['OPENOMICS_DATA_DIR'] ?? 'openomics-data', 'credentials');
  const configured =
    o.profile !== undefined || process.env['AWS_PROFILE'] || process.env['AWS_ACCESS_KEY_ID'] || process.env['AWS_SHARED_CREDENTIALS_FILE'] ||
    existsSync(join(homedir(), '.aws', 'credentials'));
  const useLocal = !configured && existsSync(local);
  const endpoint = o.endpointUrl ?? process.env['AWS_ENDPOINT_URL_OMICS'] ?? process.env['AWS_ENDPOINT_URL'] ?? (useLocal ? 'http://127.0.0.1:8080' : undefined);
  const profile = o.profile ?? process.env['AWS_PROFILE'];
  return {
    region: o.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? profileRegion(useLocal ? undefined : profile) ?? 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    ...(useLocal ? { localCredentials: local } : profile ? { profile } : {}),
  };
}

/**
 * The keys and values of an AWS shared file's sections named `names` (the first of them wins a key; names are
 * lower-cased keys), as the AWS CLI reads `config` and `credentials`; undefined when the file is missing.
 */
export function sharedFileSection(file: string, names: string[]): Record<string, string> | undefined {
  if (!existsSync(file)) return undefined;
  const out: Record<string, string> = {};
  let inSection = false;
  for (const raw of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    const section = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (section) inSection = names.includes(section[1]!);
    else if (inSection) {
      const kv = /^([\w.-]+)\s*=\s*(.*)$/.exec(line);
      if (kv) out[kv[1]!.toLowerCase()] ??= kv[2]!.trim();
    }
  }
  return out;
}

/**
 * The region of `profile` (or `default`) in the shared config file, as the AWS CLI reads it: `~/.aws/config`
 * or AWS_CONFIG_FILE, sections `[default]` and `[profile name]`.
 */
export function profileRegion(profile = 'default'): string | undefined {
  const file = process.env['AWS_CONFIG_FILE'] ?? join(homedir(), '.aws', 'config');
  const region = sharedFileSection(file, profile === 'default' ? ['default', 'profile default'] : [`profile ${profile}`])?.['region'];
  return region || undefined;
}

/** "100MiB", "64KiB", "1048576" -> bytes. */
export function parseSize(v: string): number {
  const m = /^(\d+)(B|KiB|MiB|GiB|KB|MB|GB)?$/i.exec(v.trim());
  if (!m) throw new Error(`${v} is not a size like 100MiB`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const mult = { b: 1, kib: 1024, mib: MIB, gib: 1024 * MIB, kb: 1e3, mb: 1e6, gb: 1e9 }[unit]!;
  return Number(m[1]) * mult;
}

/** Progress on stderr: a bar on a terminal, a plain line per second otherwise (parseable: `progress <done> <total> <MB/s> <eta s>`). */
export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private lastLine = 0;
  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly tty = Boolean(process.stderr.isTTY),
  ) {}
  add(n: number): void {
    this.done += n;
    this.render(false);
  }
  render(final: boolean): void {
    const now = Date.now();
    if (!final && now - this.lastLine < (this.tty ? 100 : 1000)) return;
    this.lastLine = now;
    const secs = Math.max(0.001, (now - this.started) / 1000);
    const rate = this.done / secs / 1e6;
    const eta = rate > 0 ? Math.max(0, (this.total - this.done) / 1e6 / rate) : 0;
    const pct = this.total ? Math.floor((100 * this.done) / this.total) : 100;
    if (this.tty) {
      const width = 30;
      const fill = Math.round((width * pct) / 100);
      process.stderr.write(`\r${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${(this.done / 1e6).toFixed(1)}/${(this.total / 1e6).toFixed(1)} MB ${rate.toFixed(1)} MB/s ETA ${eta.toFixed(0)}s${final ? '\n' : ''}`);
    } else {
      process.stderr.write(`progress ${this.done} ${this.total} ${rate.toFixed(1)} ${eta.toFixed(0)}\n`);
    }
  }
}

/**
 * Retries a part transfer whose body must be produced again for each attempt (a file range to read, a
 * response to stream to disk): up to `attempts` tries in all, full-jitter exponential backoff, client errors
 * (4xx but 429) not retried. The client used inside has the SDK's own retries off. The error thrown names the
 * part and keeps the last one as its `cause`, with its `$metadata` (request id, status).
 */
export async function withRetries<T>(what: string, fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const err = e as Error & { $metadata?: { httpStatusCode?: number } };
      const status = err.$metadata?.httpStatusCode ?? 0;
      if (i >= attempts || (status >= 400 && status < 500 && status !== 429)) {
        throw Object.assign(new Error(`${what}: ${err.name}: ${err.message}`, { cause: err }), { $metadata: err.$metadata });
      }
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(20_000, 250 * 2 ** i)));
    }
  }
}

export const conn = (c: Command) =>
  c
    .option('--endpoint-url <url>', 'the OpenOmics endpoint (default: AWS_ENDPOINT_URL)')
    .option('--profile <name>', 'credentials profile (default: AWS_PROFILE)')
    .option('--region <region>', 'region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)');
