import { pino } from 'pino';
import { loadConfig, type ConfigOverrides } from '../config/config.js';
import { openCore } from '../app.js';
import { startHttpServer } from '../server/http-server.js';
import { startServices } from '../services.js';
import { installProcessGuard } from './process-guard.js';
import { OpsEndpoints } from '../server/ops-endpoints.js';
import { addonStatus } from '../core/native-addon.js';

/** `openomics serve`: run the server until SIGINT/SIGTERM, then drain and exit. */
export async function serve(flags: ConfigOverrides): Promise<void> {
  const config = loadConfig(flags);
  // Asynchronous stdout: logging must not block the event loop on every request.
  const log = pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: false }));
  installProcessGuard(log, 'server');
  const core = await openCore(config, log);
  const server = await startHttpServer(core, log);
  const lines = [
    `OpenOmics is serving the HealthOmics API on ${server.url}`,
    `  data: ${config.dataDir} (${config.databaseUrl ? 'PostgreSQL' : 'SQLite'} metadata, ${config.blob.kind === 's3' ? 'S3' : 'local-disk'} blobs, ${config.keys.kind} keys)`,
    config.auth ? `  root credentials: ${server.credentials.file} (profile openomics)` : '  AUTHENTICATION IS OFF (--no-auth): every request acts as the root principal',
    '',
    'Use it with the AWS CLI, boto3 or the AWS SDKs:',
    `  export AWS_ENDPOINT_URL=${server.url}`,
    '  export AWS_DISABLE_HOST_PREFIX_INJECTION=true',
    `  export AWS_SHARED_CREDENTIALS_FILE=${server.credentials.file}`,
    '  export AWS_PROFILE=openomics',
    `  export AWS_REGION=${config.region} AWS_DEFAULT_REGION=${config.region}`,
    '  aws omics list-sequence-stores',
    'JavaScript SDK: new OmicsClient({ endpoint: process.env.AWS_ENDPOINT_URL, disableHostPrefix: true })',
    '',
  ];
  process.stderr.write(lines.join('\n') + '\n');
  log.info({ addons: addonStatus() }, 'native addons');
  log.info({ url: server.url, ready: '/_openomics/ready', metrics: '/_openomics/metrics' }, 'listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await server.close();
    await core.close();
    log.info('stopped');
    log.flush(() => process.exit(0));
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * `openomics worker`: run background jobs and sweeps only (no HTTP), against
 * the same metadata store and blobs as the servers. Scale out by starting
 * more; run servers with OPENOMICS_WORKERS=0 to keep them request-only.
 */
export async function worker(flags: ConfigOverrides): Promise<void> {
  const config = loadConfig(flags);
  const log = pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: false }));
  installProcessGuard(log, 'worker');
  const core = await openCore(config, log);
  const running = startServices(core, log, { runJobs: true });
  const ops = config.workerPort !== undefined ? await new OpsEndpoints(core).listen(config.host, config.workerPort) : undefined;
  log.info({ addons: addonStatus() }, 'native addons');
  log.info({ owner: running.runner.owner, concurrency: Math.max(1, config.workers), ...(ops ? { health: `${ops.url}/_openomics/ready`, metrics: `${ops.url}/_openomics/metrics` } : {}) }, 'worker started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'worker stopping');
    ops?.server.close();
    await running.stop();
    await core.close();
    log.flush(() => process.exit(0));
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
