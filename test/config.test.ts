// Configuration sources (file, environment, flags) and the explicit development switch --no-auth.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { spawnServer } from './helpers/server.js';
import { sendRaw } from './helpers/signing.js';

describe('configuration', () => {
  it('layers defaults < file < environment < flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oo-cfg-'));
    try {
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ port: 9000, region: 'eu-west-1', accountId: '111122223333', quotas: { maxSequenceStores: 7 } }));
      const saved = { ...process.env };
      try {
        process.env['OPENOMICS_PORT'] = '9100';
        delete process.env['OPENOMICS_REGION'];
        const cfg = loadConfig({ configFile: file, accountId: '444455556666' });
        assert.equal(cfg.port, 9100, 'environment over file');
        assert.equal(cfg.region, 'eu-west-1', 'file over default');
        assert.equal(cfg.accountId, '444455556666', 'flag over file');
        assert.equal(cfg.quotas.maxSequenceStores, 7);
        assert.equal(cfg.quotas.maxReferenceStores, 1);
        assert.equal(cfg.auth, true, 'authentication is on by default');
        assert.throws(() => loadConfig({ accountId: '12' }), /12 digits/);
        assert.throws(() => loadConfig({ region: 'moon' }), /region/);
      } finally {
        process.env = saved;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('chooses the native code paths from the file and the environment, and refuses a value it does not know', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oo-cfg-'));
    const saved = { ...process.env };
    try {
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ native: { samRenderer: 'js' } }));
      for (const k of ['OPENOMICS_INFLATE', 'OPENOMICS_SAM_RENDERER', 'OPENOMICS_NATIVE_CRYPTO', 'OPENOMICS_INFLATE_THREADS']) delete process.env[k];
      assert.deepEqual(loadConfig().native, { inflate: 'libdeflate', samRenderer: 'htslib', crypto: 'openssl', inflateThreads: true }, 'the addons by default');
      process.env['OPENOMICS_INFLATE'] = 'zlib';
      process.env['OPENOMICS_NATIVE_CRYPTO'] = '0';
      process.env['OPENOMICS_INFLATE_THREADS'] = '0';
      assert.deepEqual(loadConfig({ configFile: file }).native, { inflate: 'zlib', samRenderer: 'js', crypto: 'node', inflateThreads: false });
      process.env['OPENOMICS_SAM_RENDERER'] = 'htslib';
      assert.equal(loadConfig({ configFile: file }).native.samRenderer, 'htslib', 'environment over file');
      process.env['OPENOMICS_INFLATE'] = 'fast';
      assert.throws(() => loadConfig(), /OPENOMICS_INFLATE must be one of libdeflate, zlib, not "fast"/);
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves unsigned requests only with --no-auth, with the account and region of a config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oo-cfg-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ accountId: '111122223333', region: 'eu-west-1' }));
    const s = await spawnServer({ args: ['--no-auth', '--config', file] });
    try {
      const r = await sendRaw({ endpoint: s.url, method: 'POST', path: '/sequencestore', body: '{"name":"dev"}' });
      assert.equal(r.status, 200, r.body);
      assert.match(JSON.parse(r.body).arn, /^arn:aws:omics:eu-west-1:111122223333:sequenceStore\/\d{10}$/);
      assert.ok(s.logs.some((l) => l.includes('AUTHENTICATION IS OFF')), 'the banner says so');
    } finally {
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps its secrets private in the data dir', async () => {
    const s = await spawnServer();
    try {
      for (const f of ['credentials', 'master.key']) {
        assert.equal(statSync(join(s.dataDir, f)).mode & 0o077, 0, `${f} is readable only by its owner`);
      }
      assert.equal((statSync(s.dataDir).mode & 0o077) === 0, true);
      assert.match(readFileSync(join(s.dataDir, 'credentials'), 'utf8'), /^\[openomics\]\naws_access_key_id = AKIA[A-Z2-7]{16}\naws_secret_access_key = \S{40}\nregion = us-east-1\n$/);
      const files = ['metadata.sqlite', 'metadata.sqlite-wal'].map((f) => join(s.dataDir, f));
      const bytes = Buffer.concat(files.map((f) => { try { return readFileSync(f); } catch { return Buffer.alloc(0); } }));
      assert.ok(bytes.includes(Buffer.from(s.accessKeyId)), 'the database files hold the key id, so this check looks at real rows');
      assert.equal(bytes.includes(Buffer.from(s.secretAccessKey)), false, 'the secret is sealed in the database');
    } finally {
      await s.stop();
    }
  });
});

describe('the CLI resolves its region like the AWS CLI', () => {
  it("reads the profile's region from the shared config file when no flag or variable gives one", async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { profileRegion, omicsFromOptions } = await import('../src/cli/transfer.js');
    const dir = mkdtempSync(join(tmpdir(), 'oo-awsconfig-'));
    const saved = { ...process.env };
    try {
      writeFileSync(join(dir, 'config'), '[default]\nregion = eu-west-1\n\n[profile lab]\noutput = json\nregion=eu-central-1\n');
      process.env['AWS_CONFIG_FILE'] = join(dir, 'config');
      delete process.env['AWS_REGION'];
      delete process.env['AWS_DEFAULT_REGION'];
      assert.equal(profileRegion(), 'eu-west-1');
      assert.equal(profileRegion('lab'), 'eu-central-1');
      assert.equal(profileRegion('absent'), undefined);
      assert.equal(await omicsFromOptions({ profile: 'lab', endpointUrl: 'http://127.0.0.1:1' }).config.region(), 'eu-central-1');
      process.env['AWS_REGION'] = 'us-west-2';
      assert.equal(await omicsFromOptions({ profile: 'lab', endpointUrl: 'http://127.0.0.1:1' }).config.region(), 'us-west-2', 'the variable wins, as in the AWS CLI');
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('openomics download finds credentials like the AWS CLI, without loading the SDK for static keys', () => {
  it('takes a named profile over the environment, then the environment, then the default profile; other profiles go to the SDK', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { resolveCredentials, staticProfileKeys } = await import('../src/cli/signed-http.js');
    const dir = mkdtempSync(join(tmpdir(), 'oo-awscreds-'));
    const saved = { ...process.env };
    try {
      const file = join(dir, 'credentials');
      writeFileSync(
        file,
        '[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s-default\n\n[lab]\naws_access_key_id=AKIDLAB\naws_secret_access_key=s-lab\naws_session_token = tok\n\n' +
          '[role]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = lab\n',
      );
      process.env['AWS_SHARED_CREDENTIALS_FILE'] = file;
      process.env['AWS_ACCESS_KEY_ID'] = 'AKIDENV';
      process.env['AWS_SECRET_ACCESS_KEY'] = 's-env';
      delete process.env['AWS_SESSION_TOKEN'];
      assert.deepEqual(staticProfileKeys(file, 'lab'), { accessKeyId: 'AKIDLAB', secretAccessKey: 's-lab', sessionToken: 'tok' });
      assert.equal(staticProfileKeys(file, 'role'), undefined, 'an assumed role is not static');
      assert.equal(staticProfileKeys(file, 'absent'), undefined);
      assert.deepEqual(await resolveCredentials({ profile: 'lab' }), { accessKeyId: 'AKIDLAB', secretAccessKey: 's-lab', sessionToken: 'tok' });
      assert.deepEqual(await resolveCredentials({}), { accessKeyId: 'AKIDENV', secretAccessKey: 's-env' });
      delete process.env['AWS_ACCESS_KEY_ID'];
      assert.deepEqual(await resolveCredentials({}), { accessKeyId: 'AKIDDEFAULT', secretAccessKey: 's-default' });
      assert.equal(typeof (await resolveCredentials({ profile: 'role' })), 'function', "the SDK's provider resolves an assumed role");
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
