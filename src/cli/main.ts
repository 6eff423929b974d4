#!/usr/bin/env node
import { Command, Option } from 'commander';
import { adminCommand } from './admin.js';
import { transferCommands } from './transfer.js';
import { importCommand } from './sample-sheet.js';
import { browseCommands } from './browse.js';
import { logsCommand } from './logs.js';
import { queryCommand } from './query.js';

const program = new Command('openomics').description('OpenOmics: a self-hostable server that speaks the AWS HealthOmics API');

program
  .command('serve')
  .description('run the server (API, workers) on embedded defaults: SQLite and ./openomics-data')
  .option('--port <port>', 'listen port (OPENOMICS_PORT, default 8080)', (v) => Number.parseInt(v, 10))
  .option('--host <host>', 'listen address (OPENOMICS_HOST, default 127.0.0.1)')
  .option('--data-dir <dir>', 'data folder (OPENOMICS_DATA_DIR, default ./openomics-data)')
  .option('--config <file>', 'JSON config file (OPENOMICS_CONFIG)')
  .option('--account-id <id>', '12-digit account id of the root account (OPENOMICS_ACCOUNT_ID)')
  .option('--region <region>', 'region name (OPENOMICS_REGION, default us-east-1)')
  .option('--database-url <url>', 'postgres://... for PostgreSQL metadata (OPENOMICS_DATABASE_URL)')
  .option('--tls-cert <file>', 'PEM certificate (chain) to serve HTTPS with (OPENOMICS_TLS_CERT); needs --tls-key')
  .option('--tls-key <file>', 'PEM private key of that certificate (OPENOMICS_TLS_KEY)')
  .addOption(new Option('--no-auth', 'DEVELOPMENT ONLY: accept unsigned requests as the root principal'))
  .action(async (o: Record<string, unknown>) => {
    const { serve } = await import('./serve.js'); // the server stack loads only for serve/worker
    await serve({
      ...(o['port'] !== undefined ? { port: o['port'] as number } : {}),
      ...(o['host'] ? { host: o['host'] as string } : {}),
      ...(o['dataDir'] ? { dataDir: o['dataDir'] as string } : {}),
      ...(o['config'] ? { configFile: o['config'] as string } : {}),
      ...(o['accountId'] ? { accountId: o['accountId'] as string } : {}),
      ...(o['region'] ? { region: o['region'] as string } : {}),
      ...(o['databaseUrl'] ? { databaseUrl: o['databaseUrl'] as string } : {}),
      ...(o['auth'] === false ? { auth: false } : {}),
      ...(o['tlsCert'] ? { tlsCert: o['tlsCert'] as string } : {}),
      ...(o['tlsKey'] ? { tlsKey: o['tlsKey'] as string } : {}),
    });
  });

program
  .command('worker')
  .description('run background jobs only (imports, exports, ingest, activation, sweeps) against the configured database and blobs')
  .option('--data-dir <dir>', 'data folder (OPENOMICS_DATA_DIR)')
  .option('--config <file>', 'JSON config file (OPENOMICS_CONFIG)')
  .option('--database-url <url>', 'postgres://... (OPENOMICS_DATABASE_URL)')
  .option('--port <port>', 'health and metrics port: /_openomics/ready, /_openomics/metrics (OPENOMICS_WORKER_PORT; default: none)', (v) => Number.parseInt(v, 10))
  .action(async (o: Record<string, unknown>) => {
    const { worker } = await import('./serve.js');
    await worker({
      ...(o['port'] !== undefined ? { workerPort: o['port'] as number } : {}),
      ...(o['dataDir'] ? { dataDir: o['dataDir'] as string } : {}),
      ...(o['config'] ? { configFile: o['config'] as string } : {}),
      ...(o['databaseUrl'] ? { databaseUrl: o['databaseUrl'] as string } : {}),
    });
  });

program.addCommand(adminCommand());
for (const c of transferCommands()) program.addCommand(c);
program.addCommand(importCommand());
program.addCommand(logsCommand());
program.addCommand(queryCommand());
for (const c of browseCommands()) program.addCommand(c);

program.parseAsync(process.argv).catch((e: Error) => {
  process.stderr.write(`openomics: ${e.message}\n`);
  process.exit(1);
});
