#!/usr/bin/env node
import { Command, Option } from 'commander';

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

/**
 * The other commands, by the module that defines them. Only the module of the command being run is loaded (the
 * AWS SDK clients they use take ~0.1 s each to load: `openomics download` should not pay for Athena's); help and
 * an unknown command load them all.
 */
const commandModules: Record<string, () => Promise<Command[]>> = {
  admin: async () => [(await import('./admin.js')).adminCommand()],
  upload: async () => (await import('./transfer.js')).transferCommands(),
  download: async () => [(await import('./download.js')).downloadCommand()],
  import: async () => [(await import('./sample-sheet.js')).importCommand()],
  logs: async () => [(await import('./logs.js')).logsCommand()],
  query: async () => [(await import('./query.js')).queryCommand()],
  ls: async () => (await import('./browse.js')).browseCommands(),
  presign: async () => (await import('./browse.js')).browseCommands(),
  status: async () => (await import('./browse.js')).browseCommands(),
  export: async () => (await import('./browse.js')).browseCommands(),
};

async function main(): Promise<void> {
  const name = process.argv[2];
  if (name !== 'serve' && name !== 'worker') {
    const loaders = name !== undefined && commandModules[name] ? [commandModules[name]] : [...new Set(Object.values(commandModules))];
    const added = new Set<string>();
    for (const commands of await Promise.all(loaders.map((load) => load()))) {
      for (const c of commands) {
        if (added.has(c.name())) continue; // ls, presign, status and export come together
        added.add(c.name());
        program.addCommand(c);
      }
    }
  }
  await program.parseAsync(process.argv);
}

main().catch((e: Error) => {
  process.stderr.write(`openomics: ${e.message}\n`);
  process.exit(1);
});
