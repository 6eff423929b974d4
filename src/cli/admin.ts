import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/config.js';
import { openCore, type Core } from '../app.js';

/**
 * `openomics admin ...`: accounts, users, access keys and identity policies,
 * applied directly to the metadata store of the configured data dir or
 * database (run it where the server's configuration is).
 */
async function withCore<T>(cmd: Command, fn: (core: Core) => Promise<T>): Promise<void> {
  const g = cmd.optsWithGlobals() as { dataDir?: string; config?: string; json?: boolean };
  const core = await openCore(loadConfig({ ...(g.dataDir ? { dataDir: g.dataDir } : {}), ...(g.config ? { configFile: g.config } : {}) }));
  try {
    const out = await fn(core);
    if (out !== undefined) process.stdout.write((typeof out === 'string' ? out : JSON.stringify(out, null, 2)) + '\n');
  } finally {
    await core.close();
  }
}

export function adminCommand(): Command {
  const admin = new Command('admin')
    .description('manage accounts, IAM users, access keys and identity policies')
    .option('--data-dir <dir>', 'the server data dir (default ./openomics-data or OPENOMICS_DATA_DIR)')
    .option('--config <file>', 'a JSON config file');

  const account = admin.command('account').description('accounts (each with a root principal)');
  account
    .command('create <accountId>')
    .description('create an account and print its root access key\n  e.g. openomics admin account create 210987654321')
    .option('--name <name>', 'a label for the account', 'account')
    .action(function (this: Command, accountId: string, o: { name: string }) {
      return withCore(this, async (core) => {
        await core.identity.ensureAccount(accountId, o.name);
        return { accountId, ...(await core.identity.createAccessKey(accountId, null)) };
      });
    });
  account
    .command('list')
    .description('list accounts')
    .action(function (this: Command) {
      return withCore(this, (core) => core.db.listAccounts());
    });

  const user = admin.command('user').description('IAM users');
  user
    .command('create <userName>')
    .description('create a user\n  e.g. openomics admin user create alice')
    .option('--account <id>', 'account id (default: the configured account)')
    .action(function (this: Command, userName: string, o: { account?: string }) {
      return withCore(this, async (core) => ({ arn: await core.identity.createUser(o.account ?? core.config.accountId, userName) }));
    });
  user
    .command('delete <userName>')
    .option('--account <id>', 'account id')
    .action(function (this: Command, userName: string, o: { account?: string }) {
      return withCore(this, async (core) => {
        await core.identity.deleteUser(o.account ?? core.config.accountId, userName);
        return { deleted: userName };
      });
    });
  user
    .command('list')
    .option('--account <id>', 'account id')
    .action(function (this: Command, o: { account?: string }) {
      return withCore(this, (core) => core.db.listUsers(o.account ?? core.config.accountId));
    });

  const key = admin.command('access-key').description('access keys');
  key
    .command('create')
    .description('create an access key for a user (or the root principal) and print it once\n  e.g. openomics admin access-key create --user alice')
    .option('--user <userName>', 'the user (default: the account root)')
    .option('--account <id>', 'account id')
    .action(function (this: Command, o: { user?: string; account?: string }) {
      return withCore(this, (core) => core.identity.createAccessKey(o.account ?? core.config.accountId, o.user ?? null));
    });
  key
    .command('list')
    .option('--user <userName>', 'the user (default: the account root)')
    .option('--account <id>', 'account id')
    .action(function (this: Command, o: { user?: string; account?: string }) {
      return withCore(this, async (core) =>
        (await core.db.listAccessKeys(o.account ?? core.config.accountId, o.user ?? null)).map((k) => ({
          accessKeyId: k.accessKeyId,
          status: k.status,
          created: new Date(k.createdAt).toISOString(),
        })),
      );
    });
  for (const [name, status] of [['deactivate', 'Inactive'], ['activate', 'Active']] as const) {
    key.command(`${name} <accessKeyId>`).action(function (this: Command, id: string) {
      return withCore(this, async (core) => {
        await core.identity.setAccessKeyStatus(id, status);
        return { accessKeyId: id, status };
      });
    });
  }
  key.command('delete <accessKeyId>').action(function (this: Command, id: string) {
    return withCore(this, async (core) => {
      await core.identity.deleteAccessKey(id);
      return { deleted: id };
    });
  });

  const policy = admin.command('policy').description('identity policies attached to users');
  policy
    .command('put <userName> <policyName> <file>')
    .description('attach (or replace) an inline identity policy from a JSON file (- for stdin)\n  e.g. openomics admin policy put alice read-only policy.json')
    .option('--account <id>', 'account id')
    .action(function (this: Command, userName: string, policyName: string, file: string, o: { account?: string }) {
      return withCore(this, async (core) => {
        const doc = readFileSync(file === '-' ? 0 : file, 'utf8');
        await core.identity.putUserPolicy(o.account ?? core.config.accountId, userName, policyName, doc);
        return { userName, policyName };
      });
    });
  policy
    .command('delete <userName> <policyName>')
    .option('--account <id>', 'account id')
    .action(function (this: Command, userName: string, policyName: string, o: { account?: string }) {
      return withCore(this, async (core) => {
        await core.identity.deleteUserPolicy(o.account ?? core.config.accountId, userName, policyName);
        return { deleted: policyName };
      });
    });
  policy
    .command('list <userName>')
    .option('--account <id>', 'account id')
    .action(function (this: Command, userName: string, o: { account?: string }) {
      return withCore(this, async (core) =>
        (await core.db.listUserPolicies(o.account ?? core.config.accountId, userName)).map((p) => ({ policyName: p.policyName, document: JSON.parse(p.document) })),
      );
    });
  return admin;
}
