import { EXIT } from './exit-codes.js';
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { Core } from '../app.js';

/**
 * `openomics admin ...`: accounts, users, access keys and identity policies,
 * applied directly to the metadata store of the configured data dir or
 * database (run it where the server's configuration is).
 */
async function withCore<T>(cmd: Command, fn: (core: Core) => Promise<T>): Promise<void> {
  const g = cmd.optsWithGlobals() as { dataDir?: string; config?: string; json?: boolean };
  // The core (database, keys, blobs) loads only when an admin command runs.
  const [{ loadConfig }, { openCore }] = await Promise.all([import('../config/config.js'), import('../app.js')]);
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
      return withCore(this, (core) => core.db.identity.listAccounts());
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
      return withCore(this, (core) => core.db.identity.listUsers(o.account ?? core.config.accountId));
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
        (await core.db.identity.listAccessKeys(o.account ?? core.config.accountId, o.user ?? null)).map((k) => ({
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
        (await core.db.identity.listUserPolicies(o.account ?? core.config.accountId, userName)).map((p) => ({ policyName: p.policyName, document: JSON.parse(p.document) })),
      );
    });
  const connection = admin.command('connection').description('connected storage: customer S3-compatible buckets for imports, exports and fallback');
  connection
    .command('add <name>')
    .description(
      [
        'add (or replace) a storage connection; s3:// import sources and export destinations in that bucket (and prefix) use it',
        '  the secret can come from OPENOMICS_CONNECTION_SECRET_ACCESS_KEY instead of the command line',
        '  e.g. openomics admin connection add lab-bucket --bucket lab-data --region eu-west-1 \\',
        '         --access-key-id AKIA... --secret-access-key ... --prefix runs/ --sse SSE-KMS --kms-key-id arn:aws:kms:...',
        '  e.g. openomics admin connection add vendor --bucket shared --region us-east-1 --endpoint https://minio.example:9000 \\',
        '         --access-key-id ... --role-arn arn:aws:iam::111122223333:role/OmicsAccess --external-id abc123 --job-role-arn arn:aws:iam::123456789012:role/Import',
      ].join('\n'),
    )
    .requiredOption('--bucket <bucket>', 'bucket name')
    .requiredOption('--region <region>', 'the bucket region')
    .option('--endpoint <url>', 'S3-compatible endpoint (default: AWS)')
    .option('--prefix <prefix>', 'only keys under this prefix', '')
    .option('--virtual-hosted', 'virtual-hosted-style addressing (default: path style)')
    .option('--versioned', 'the bucket is versioned: sources are read at the version seen when the job starts reading them')
    .option('--sse <type>', 'encryption of written objects: SSE-S3 or SSE-KMS')
    .option('--kms-key-id <id>', 'the KMS key for SSE-KMS')
    .option('--access-key-id <id>', 'access key id')
    .option('--secret-access-key <secret>', 'secret access key (or OPENOMICS_CONNECTION_SECRET_ACCESS_KEY)')
    .option('--role-arn <arn>', 'a role to assume with the access key')
    .option('--external-id <id>', 'the external id the role requires')
    .option('--job-role-arn <arn>', 'only jobs whose roleArn is this use the connection')
    .option('--account <id>', 'account id (default: the configured account)')
    .option('--check', 'check the connection after adding it (exit status 3 if it fails)')
    .action(function (this: Command, name: string, o: Record<string, string | boolean | undefined>) {
      return withCore(this, async (core) => {
        const str = (k: string) => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);
        const secret = str('secretAccessKey') ?? process.env['OPENOMICS_CONNECTION_SECRET_ACCESS_KEY'];
        const sse = str('sse');
        if (sse && sse !== 'SSE-S3' && sse !== 'SSE-KMS') throw new Error('--sse is SSE-S3 or SSE-KMS');
        const accountId = str('account') ?? core.config.accountId;
        const view = await core.connections.add(accountId, {
          name,
          bucket: str('bucket')!,
          region: str('region')!,
          prefix: str('prefix') ?? '',
          forcePathStyle: !o['virtualHosted'],
          versioned: Boolean(o['versioned']),
          ...(str('endpoint') ? { endpoint: str('endpoint')! } : {}),
          ...(sse ? { sse: { type: sse as 'SSE-S3' | 'SSE-KMS', ...(str('kmsKeyId') ? { kmsKeyId: str('kmsKeyId')! } : {}) } } : {}),
          ...(str('accessKeyId') ? { accessKeyId: str('accessKeyId')! } : {}),
          ...(secret ? { secretAccessKey: secret } : {}),
          ...(str('roleArn') ? { roleArn: str('roleArn')! } : {}),
          ...(str('externalId') ? { externalId: str('externalId')! } : {}),
          ...(str('jobRoleArn') ? { jobRoleArn: str('jobRoleArn')! } : {}),
        });
        if (!o['check']) return view;
        const check = await core.connections.check(accountId, name);
        if (!check.ok) process.exitCode = EXIT.checkFailed;
        return { ...view, check };
      });
    });
  connection
    .command('list')
    .option('--account <id>', 'account id')
    .action(function (this: Command, o: { account?: string }) {
      return withCore(this, (core) => core.connections.list(o.account ?? core.config.accountId));
    });
  connection
    .command('remove <name>')
    .option('--account <id>', 'account id')
    .action(function (this: Command, name: string, o: { account?: string }) {
      return withCore(this, async (core) => {
        await core.connections.remove(o.account ?? core.config.accountId, name);
        return { removed: name };
      });
    });
  connection
    .command('check <name>')
    .description('try credentials, bucket, listing (and with --write, a write and delete) and say where access fails (exit status 3)\n  e.g. openomics admin connection check lab-bucket --write')
    .option('--write', 'also write and delete a small probe object under the prefix')
    .option('--account <id>', 'account id')
    .action(function (this: Command, name: string, o: { account?: string; write?: boolean }) {
      return withCore(this, async (core) => {
        const res = await core.connections.check(o.account ?? core.config.accountId, name, { write: Boolean(o.write) });
        if (!res.ok) process.exitCode = EXIT.checkFailed;
        return res;
      });
    });
  return admin;
}
