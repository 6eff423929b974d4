import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { Config } from './config/config.js';
import { openMetadataStore } from './db/open.js';
import { checkDeployment } from './deployment-check.js';
import { ioBuffers } from './core/buffer-recycler.js';
import { chooseNative } from './core/native-addon.js';
import type { Logger } from 'pino';
import type { MetadataStore } from './db/metadata-store.js';
import { LocalKeyProvider } from './keys/local-key-provider.js';
import { KmsKeyProvider } from './keys/kms-key-provider.js';
import type { KeyProvider } from './keys/key-provider.js';
import { SecretBox } from './keys/secret-box.js';
import { LocalBlobStore } from './blob/local-blob-store.js';
import { CountedBlobStore } from './blob/counted-blob-store.js';
import { S3BlobStore } from './blob/s3-blob-store.js';
import type { BlobStore } from './blob/blob-store.js';
import { IdentityService } from './iam/identity.js';
import { ConnectionService } from './storage/connections.js';

/**
 * The composition root's lower half: config -> master key -> metadata store
 * -> key provider -> blob store -> identity. Shared by `serve` and `admin`.
 */
export interface Core {
  config: Config;
  db: MetadataStore;
  keys: KeyProvider;
  blobs: BlobStore;
  /** Where archived read sets' bytes live (spec §1.2.1): another directory, or the bucket under `cold/` in a colder storage class. */
  coldBlobs: BlobStore;
  identity: IdentityService;
  connections: ConnectionService;
  secrets: SecretBox;
  partition: { partition: string; region: string };
  close(): Promise<void>;
}

export function loadMasterKey(config: Config): Buffer {
  if (config.masterKey) {
    const k = Buffer.from(config.masterKey, 'base64');
    if (k.length !== 32) throw new Error('OPENOMICS_MASTER_KEY must be 32 bytes, base64-encoded');
    return k;
  }
  const file = config.masterKeyFile ?? join(config.dataDir, 'master.key');
  if (!existsSync(file)) {
    if (config.masterKeyFile) throw new Error(`OPENOMICS_MASTER_KEY_FILE: ${file} does not exist`);
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  }
  const k = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (k.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
  return k;
}

/**
 * What the server writes is private whatever the umask or a pre-created data dir say: the data dir is made
 * 0700 and the SQLite database 0600 before SQLite opens it (its -wal and -shm files take the database's mode).
 */
function makePrivate(config: Config): void {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  if (!config.databaseUrl) {
    const db = join(config.dataDir, 'metadata.sqlite');
    closeSync(openSync(db, 'a', 0o600));
    for (const f of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  }
}

export async function openCore(config: Config, log?: Logger): Promise<Core> {
  makePrivate(config);
  ioBuffers.configure({ enabled: config.recycleBuffers, poison: config.poisonReturnedBuffers });
  chooseNative(config.native);
  const masterKey = loadMasterKey(config);
  if (!config.masterKey && !config.masterKeyFile) {
    log?.warn(
      { file: join(config.dataDir, 'master.key') },
      'the master key is kept in the data folder, beside the data it protects: fine on a laptop; in production set OPENOMICS_MASTER_KEY or OPENOMICS_MASTER_KEY_FILE to a key kept elsewhere',
    );
  }
  const partition = { partition: config.partition, region: config.region };
  const db = await openMetadataStore(
    config.databaseUrl
      ? { kind: 'postgres', url: config.databaseUrl, ...(config.databaseSchema ? { schema: config.databaseSchema } : {}) }
      : { kind: 'sqlite', file: join(config.dataDir, 'metadata.sqlite') },
    log ? { onConnectionError: (err) => log.warn({ err }, 'database connection lost; reconnecting on the next query') } : {},
  );
  try {
    await checkDeployment(db, config, masterKey);
  } catch (e) {
    await db.close();
    throw e;
  }
  const keys: KeyProvider =
    config.keys.kind === 'kms'
      ? new KmsKeyProvider({
          region: config.keys.region,
          defaultKeyId: config.keys.keyId,
          ...(config.keys.endpoint ? { endpoint: config.keys.endpoint } : {}),
          ...(config.keys.accessKeyId && config.keys.secretAccessKey
            ? { credentials: { accessKeyId: config.keys.accessKeyId, secretAccessKey: config.keys.secretAccessKey } }
            : {}),
        })
      : new LocalKeyProvider(masterKey, config.partition, config.region, config.accountId);
  const s3Blobs = (prefix: string, storageClass?: string) =>
    config.blob.kind === 's3'
      ? new S3BlobStore({
          bucket: config.blob.bucket,
          region: config.blob.region,
          prefix: config.blob.prefix + prefix,
          ...(storageClass ? { storageClass } : {}),
          timeouts: config.objectStoreTimeouts,
          forcePathStyle: config.blob.forcePathStyle,
          ...(config.blob.endpoint ? { endpoint: config.blob.endpoint } : {}),
          ...(config.blob.accessKeyId && config.blob.secretAccessKey
            ? { credentials: { accessKeyId: config.blob.accessKeyId, secretAccessKey: config.blob.secretAccessKey } }
            : {}),
        })
      : undefined;
  // One server process per core (the default): small reads stay on each process's event loop (decision 78).
  const smallReadsOnLoop = config.processes >= availableParallelism();
  const blobs: BlobStore = new CountedBlobStore(s3Blobs('') ?? new LocalBlobStore(join(config.dataDir, 'blobs'), smallReadsOnLoop), 'hot');
  const coldBlobs: BlobStore = new CountedBlobStore(
    s3Blobs('cold/', config.archive.storageClass) ?? new LocalBlobStore(config.archive.coldDir ?? join(config.dataDir, 'cold-blobs')),
    'cold',
  );
  const secrets = new SecretBox(masterKey);
  const identity = new IdentityService(db, secrets, partition);
  return { config, db, keys, blobs, coldBlobs, identity, connections: new ConnectionService(db, secrets, config.objectStoreTimeouts), secrets, partition, close: () => db.close() };
}

/**
 * Makes sure the configured account and a root access key exist, and that
 * `<dataDir>/credentials` holds it (profile `openomics`). Returns the key.
 */
export async function bootstrapRootCredentials(core: Core): Promise<{ accessKeyId: string; secretAccessKey: string; file: string }> {
  const { config, db, identity, secrets } = core;
  await identity.ensureAccount(config.accountId, 'root');
  const file = join(config.dataDir, 'credentials');
  const existing = (await db.identity.listAccessKeys(config.accountId, null)).find((k) => k.status === 'Active');
  const key = existing
    ? { accessKeyId: existing.accessKeyId, secretAccessKey: secrets.open(existing.secretEnc, `access-key:${existing.accessKeyId}`) }
    : await identity.createAccessKey(config.accountId, null);
  if (!existsSync(file)) {
    writeFileSync(
      file,
      `[openomics]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\nregion = ${config.region}\n`,
      { mode: 0o600 },
    );
    chmodSync(file, 0o600);
  }
  return { ...key, file };
}
