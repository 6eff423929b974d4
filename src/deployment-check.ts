import { createHmac } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config/config.js';
import type { MetadataStore } from './db/metadata-store.js';

/**
 * Every process of one deployment (servers and workers on one database) must
 * use the same master key, blob store and key provider. The first process to
 * start records them in the database; any later one that differs refuses to
 * start, naming the setting, instead of failing later with an opaque
 * decryption error or writing read sets where no other process looks.
 */
export async function checkDeployment(db: MetadataStore, config: Config, masterKey: Buffer): Promise<void> {
  const keyCheck = createHmac('sha256', masterKey).update('openomics master key check v1').digest('hex').slice(0, 32);
  const blobs =
    config.blob.kind === 's3'
      ? `s3://${config.blob.bucket}/${config.blob.prefix}`
      : `local:${realpathSync(config.dataDir)}${config.archive.coldDir ? ` cold:${config.archive.coldDir}` : ''}`;
  const keys = config.keys.kind === 'kms' ? `kms:${config.keys.keyId}` : 'local';
  const expect = async (name: string, mine: string, explain: (recorded: string) => string) => {
    const recorded = await db.settleDeploymentSetting(name, mine);
    if (recorded !== mine) throw new DeploymentMismatchError(explain(recorded));
  };
  await expect(
    'master-key-check',
    keyCheck,
    () =>
      `the master key is not the one this deployment's database was set up with (${config.masterKey ? 'OPENOMICS_MASTER_KEY' : (config.masterKeyFile ?? join(config.dataDir, 'master.key'))}): every server and worker of a deployment needs the same key (set OPENOMICS_MASTER_KEY on each).`,
  );
  await expect(
    'blob-store',
    blobs,
    (recorded) =>
      recorded.startsWith('s3://')
        ? `the deployment keeps its blobs in ${recorded}, but this process is configured for ${blobs}: set OPENOMICS_BLOB_S3_BUCKET, OPENOMICS_BLOB_S3_PREFIX, OPENOMICS_BLOB_S3_ENDPOINT and its credentials as on the other processes.`
        : `the deployment keeps its blobs on local disk at ${recorded.slice('local:'.length)}, but this process is configured for ${blobs}: processes that share a database must share the blob store (one data dir on shared storage, or an S3 bucket for all).`,
  );
  await expect(
    'key-provider',
    keys,
    (recorded) => `the deployment wraps data keys with ${recorded === 'local' ? 'the local master key' : `the KMS key ${recorded.slice(4)}`}, but this process is configured for ${keys === 'local' ? 'the local master key' : `the KMS key ${keys.slice(4)}`}: set OPENOMICS_KMS_KEY_ID (and its endpoint) as on the other processes.`,
  );
}

export class DeploymentMismatchError extends Error {}
