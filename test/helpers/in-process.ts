// The server inside the test's own process: the same request listener `openomics serve` builds
// (server/http-server.ts#createRequestListener), on a loopback port for clients that need a socket, and callable
// without one (`inject`, light-my-request, as Fastify tests do). For suites where a child process adds nothing:
// no restarts, no signals, no reading the server's log; those keep `spawnServer`.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'light-my-request';
import { pino } from 'pino';
import { openCore } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createRequestListener } from '../../src/server/http-server.js';
import { dropPgSchema, newPgSchema, testServerEnv, type Backend } from './server.js';
import { signRaw, type RawRequest, type RawResponse } from './signing.js';

export interface InProcessServer {
  url: string;
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The server's log lines. */
  logs: string[];
  /** Sends a request to the listener without a socket (signed when `credentials` are given). */
  inject(r: Omit<RawRequest, 'endpoint'>): Promise<RawResponse>;
  stop(): Promise<void>;
}

/** The configuration read the way `serve` reads it, from the environment, without leaving the environment changed. */
function configFromEnv(env: Record<string, string>): Config {
  const saved = { ...process.env };
  try {
    Object.assign(process.env, env);
    return loadConfig();
  } finally {
    process.env = saved;
  }
}

export async function startInProcess(opts: { backend?: Backend; env?: Record<string, string> } = {}): Promise<InProcessServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'openomics-test-'));
  const schema = opts.backend === 'postgres' ? newPgSchema() : undefined;
  const config = configFromEnv(testServerEnv(dataDir, schema, opts.env));
  const logs: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(line.trimEnd()) });
  const core = await openCore(config, log);
  // A listener that fails to build must not leave the database pool and the sweeps holding the test process open.
  const app = await createRequestListener(core, log).catch(async (e: unknown) => {
    await core.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (schema) await dropPgSchema(schema);
    throw e;
  });
  const server = createServer(app.listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    dataDir,
    accessKeyId: app.credentials.accessKeyId,
    secretAccessKey: app.credentials.secretAccessKey,
    logs,
    async inject(r) {
      const signed = await signRaw({ ...r, endpoint: url });
      const res = await inject(app.listener, { method: r.method as 'GET', url: signed.pathAndQuery, headers: signed.headers, ...(r.body !== undefined ? { payload: r.body } : {}) });
      const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]));
      return { status: res.statusCode, headers, body: res.body };
    },
    async stop() {
      app.drain();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await app.stop();
      await core.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (schema) await dropPgSchema(schema);
    },
  };
}
