import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const PG_URL = process.env['OPENOMICS_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export type Backend = 'sqlite' | 'postgres';
/** The metadata backends tests run against: both by default (CI); OPENOMICS_TEST_BACKENDS=sqlite for a faster local loop. */
export const BACKENDS: Backend[] = (process.env['OPENOMICS_TEST_BACKENDS'] ?? 'sqlite,postgres').split(',').map((b) => b.trim()).filter((b): b is Backend => b === 'sqlite' || b === 'postgres');

export interface SpawnedServer {
  url: string;
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  env: NodeJS.ProcessEnv;
  child: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
  /** Stops the process but keeps its data (for restart tests). */
  kill(): Promise<void>;
}

export interface SpawnOptions {
  backend?: Backend;
  dataDir?: string;
  pgSchema?: string;
  env?: Record<string, string>;
  args?: string[];
  /** Keep the server's log lines in memory (off for benchmarks). */
  keepLogs?: boolean;
}

export function newPgSchema(): string {
  return `oo_test_${randomBytes(6).toString('hex')}`;
}

export async function dropPgSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** Starts `openomics serve` as a child process on a free port and waits until it listens. */
/** What every test server runs with, spawned or in-process (test/helpers/in-process.ts), then the test's own settings. */
export function testServerEnv(dataDir: string, pgSchema: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OPENOMICS_DATA_DIR: dataDir,
    OPENOMICS_PORT: '0',
    OPENOMICS_LOG_LEVEL: 'info',
    // A read buffer given back too early would put marker bytes into some client's body: every byte-exact check fails.
    OPENOMICS_TEST_POISON_RETURNED_BUFFERS: '1',
    // An output member the model does not have (a misspelt field) or a missing required one fails the request.
    OPENOMICS_STRICT_OUTPUT: '1',
    // One server process (the default is one per core): a test that wants the group says so.
    OPENOMICS_PROCESSES: '1',
    ...(pgSchema ? { OPENOMICS_DATABASE_URL: PG_URL, OPENOMICS_DATABASE_SCHEMA: pgSchema } : {}),
    ...extra,
  };
}

export async function spawnServer(opts: SpawnOptions = {}): Promise<SpawnedServer> {
  const backend = opts.backend ?? 'sqlite';
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'openomics-test-'));
  const ownSchema = backend === 'postgres' && opts.pgSchema === undefined;
  const schema = backend === 'postgres' ? (opts.pgSchema ?? newPgSchema()) : undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, ...testServerEnv(dataDir, schema, opts.env) };
  const child = spawn(process.execPath, [CLI, 'serve', ...(opts.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // a server that never said it listens is not left running
      reject(new Error(`server did not start:\n${logs.join('\n')}`));
    }, 30_000);
    let listening = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (listening && opts.keepLogs === false) return;
      logs.push(line);
      try {
        const j = JSON.parse(line) as { msg?: string; url?: string };
        if (j.msg === 'listening' && j.url) {
          listening = true;
          clearTimeout(timer);
          resolve(j.url);
        }
      } catch {
        /* not JSON */
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${logs.join('\n')}`));
    });
  });
  const creds = await import('node:fs').then((fs) => fs.readFileSync(join(dataDir, 'credentials'), 'utf8'));
  const accessKeyId = /aws_access_key_id = (\S+)/.exec(creds)![1]!;
  const secretAccessKey = /aws_secret_access_key = (\S+)/.exec(creds)![1]!;
  const kill = async () => {
    // Ended already: by itself (exitCode) or by a signal a test sent (signalCode; exitCode stays null then).
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return {
    url,
    dataDir,
    accessKeyId,
    secretAccessKey,
    env,
    child,
    logs,
    kill,
    stop: async () => {
      await kill();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
      if (ownSchema && schema) await dropPgSchema(schema);
    },
  };
}
