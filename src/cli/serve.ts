import cluster, { type Worker } from 'node:cluster';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config, type ConfigOverrides } from '../config/config.js';
import { bootstrapRootCredentials, openCore } from '../app.js';
import { startHttpServer } from '../server/http-server.js';
import { startServices } from '../services.js';
import { installProcessGuard } from './process-guard.js';
import { OpsEndpoints } from '../server/ops-endpoints.js';
import { addonStatus } from '../core/native-addon.js';

/** The environment variable that tells a server process of `--processes N` which one it is (0: runs the jobs). */
const PROCESS_INDEX = 'OPENOMICS_PROCESS_INDEX';

/**
 * The process's log on stdout. Asynchronous and batched: lines are written once 4 KiB have gathered or 100 ms
 * have passed, so a request does not cost a write(2) of its own (on the S3 path that write was one of the few
 * system calls a ranged GET makes). Stopping flushes; the process guard flushes before exiting; a SIGKILL loses
 * at most those 100 ms.
 */
function processLog(config: Config): Logger {
  return pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100 }));
}

/** `openomics serve`: run the server until SIGINT/SIGTERM, then drain and exit. */
export async function serve(flags: ConfigOverrides): Promise<void> {
  const config = loadConfig(flags);
  const log = processLog(config);
  if (cluster.isPrimary && config.processes > 1) return servePrimary(config, log);
  const index = cluster.isWorker ? Number(process.env[PROCESS_INDEX] ?? 0) : 0;
  // Jobs and sweeps run in one process of a group: the others only answer requests.
  const own = index === 0 ? config : { ...config, workers: 0 };
  const plog = cluster.isWorker ? log.child({ process: index }) : log;
  installProcessGuard(plog, 'server');
  const core = await openCore(own, plog);
  const server = await startHttpServer(core, plog);
  plog.info({ addons: addonStatus() }, 'native addons');
  const stop = async (signal: string) => {
    plog.info({ signal }, 'shutting down');
    await server.close();
    await core.close();
    plog.info('stopped');
    plog.flush(() => process.exit(0));
  };
  if (cluster.isWorker) {
    onceSignalled(stop);
    process.send?.({ listening: server.url });
    return;
  }
  announce(config, server.url, server.credentials.file, log, 1);
  onceSignalled(stop);
}

/** Calls `stop` on the first SIGINT or SIGTERM. */
function onceSignalled(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const on = (signal: string) => {
    if (stopping) return;
    stopping = true;
    void stop(signal);
  };
  process.on('SIGINT', () => on('SIGINT'));
  process.on('SIGTERM', () => on('SIGTERM'));
}

/**
 * `--processes N`: this process prepares the deployment once (migrations, root credentials), then runs N server
 * processes on one port (node:cluster hands each connection to one of them), replaces one that dies, and stops
 * them all on SIGINT/SIGTERM.
 */
async function servePrimary(config: Config, log: Logger): Promise<void> {
  installProcessGuard(log, 'server');
  const core = await openCore({ ...config, workers: 0 }, log);
  const { file } = await bootstrapRootCredentials(core);
  await core.close();
  let stopping = false;
  let url: string | undefined;
  const listening = new Set<number>();
  const start = (index: number): Worker => {
    const w = cluster.fork({ [PROCESS_INDEX]: String(index) });
    w.on('message', (m: { listening?: string }) => {
      if (!m.listening) return;
      listening.add(index);
      if (url === undefined && listening.size === config.processes) {
        url = m.listening;
        announce(config, url, file, log, config.processes);
      }
    });
    w.on('exit', (code, signal) => {
      listening.delete(index);
      if (stopping) return;
      if (url === undefined) {
        // A process that cannot start (port taken, database unreachable) will not start on a second try either.
        log.error({ process: index, code, signal }, 'a server process failed to start');
        void stopAll('startup failure').then(() => process.exit(1));
        return;
      }
      log.error({ process: index, code, signal }, 'a server process ended; starting another');
      // A second apart: a process that keeps failing must not spin the machine.
      setTimeout(() => {
        if (!stopping) workers[index] = start(index);
      }, 1_000);
    });
    return w;
  };
  const workers = Array.from({ length: config.processes }, (_, i) => start(i));
  const stopAll = async (signal: string) => {
    stopping = true;
    log.info({ signal }, 'shutting down');
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
  };
  onceSignalled(async (signal) => {
    await stopAll(signal);
    log.info('stopped');
    log.flush(() => process.exit(0));
  });
}

function announce(config: Config, url: string, credentialsFile: string, log: Logger, processes: number): void {
  const lines = [
    `OpenOmics is serving the HealthOmics API on ${url}${processes > 1 ? ` (${processes} processes)` : ''}`,
    `  data: ${config.dataDir} (${config.databaseUrl ? 'PostgreSQL' : 'SQLite'} metadata, ${config.blob.kind === 's3' ? 'S3' : 'local-disk'} blobs, ${config.keys.kind} keys)`,
    config.auth ? `  root credentials: ${credentialsFile} (profile openomics)` : '  AUTHENTICATION IS OFF (--no-auth): every request acts as the root principal',
    '',
    'Use it with the AWS CLI, boto3 or the AWS SDKs:',
    `  export AWS_ENDPOINT_URL=${url}`,
    '  export AWS_DISABLE_HOST_PREFIX_INJECTION=true',
    `  export AWS_SHARED_CREDENTIALS_FILE=${credentialsFile}`,
    '  export AWS_PROFILE=openomics',
    `  export AWS_REGION=${config.region} AWS_DEFAULT_REGION=${config.region}`,
    '  aws omics list-sequence-stores',
    'JavaScript SDK: new OmicsClient({ endpoint: process.env.AWS_ENDPOINT_URL, disableHostPrefix: true })',
    '',
  ];
  process.stderr.write(lines.join('\n') + '\n');
  log.info({ url, processes, ready: '/_openomics/ready', metrics: '/_openomics/metrics' }, 'listening');
}

/**
 * `openomics worker`: run background jobs and sweeps only (no HTTP), against
 * the same metadata store and blobs as the servers. Scale out by starting
 * more; run servers with OPENOMICS_WORKERS=0 to keep them request-only.
 */
export async function worker(flags: ConfigOverrides): Promise<void> {
  const config = loadConfig(flags);
  const log = processLog(config);
  installProcessGuard(log, 'worker');
  const core = await openCore(config, log);
  const running = startServices(core, log, { runJobs: true });
  const ops = config.workerPort !== undefined ? await new OpsEndpoints(core).listen(config.host, config.workerPort) : undefined;
  log.info({ addons: addonStatus() }, 'native addons');
  log.info({ owner: running.runner.owner, concurrency: Math.max(1, config.workers), ...(ops ? { health: `${ops.url}/_openomics/ready`, metrics: `${ops.url}/_openomics/metrics` } : {}) }, 'worker started');
  onceSignalled(async (signal) => {
    log.info({ signal }, 'worker stopping');
    ops?.server.close();
    await running.stop();
    await core.close();
    log.flush(() => process.exit(0));
  });
}
