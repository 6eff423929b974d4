import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, createHash } from 'node:crypto';
import { KeyUnavailableError } from '../core/errors.js';
import { parseEnvelope, type DataKey, type Envelope, type KeyProvider } from './key-provider.js';

/**
 * Wraps data keys with AES-256-GCM under a key-encryption key derived (HKDF)
 * from a 32-byte master key and the key ARN. The master key lives in the
 * data dir (`master.key`, mode 0600) or comes from OPENOMICS_MASTER_KEY, so a
 * customer "key ARN" selects a distinct KEK without a KMS.
 */
export class LocalKeyProvider implements KeyProvider {
  readonly name = 'local' as const;
  private readonly defaultArn: string;

  constructor(
    private readonly masterKey: Buffer,
    partition: string,
    region: string,
    account: string,
  ) {
    if (masterKey.length !== 32) throw new Error('the master key must be 32 bytes');
    // A stable key id per installation, shaped like a KMS key ARN.
    const h = createHash('sha256').update(masterKey).update('openomics-default-key').digest('hex');
    const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
    this.defaultArn = `arn:${partition}:kms:${region}:${account}:key/${uuid}`;
  }

  defaultKeyArn(): string {
    return this.defaultArn;
  }

  async describeKey(_keyArn: string): Promise<void> {
    // Every key ARN names a derivable KEK locally.
  }

  private kek(keyArn: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.masterKey, Buffer.alloc(0), `openomics-kek:${keyArn}`, 32));
  }

  async generateDataKey(keyArn: string): Promise<DataKey> {
    const plaintext = randomBytes(32);
    return { plaintext, wrapped: this.wrap(plaintext, keyArn), keyArn };
  }

  wrap(plaintext: Buffer, keyArn: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.kek(keyArn), iv);
    cipher.setAAD(Buffer.from(keyArn));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const env: Envelope = { v: 1, p: 'local', k: keyArn, c: Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64') };
    return JSON.stringify(env);
  }

  async unwrap(wrapped: string): Promise<Buffer> {
    const env = parseEnvelope(wrapped);
    if (env.p !== 'local') throw new KeyUnavailableError(`data key was wrapped by the ${env.p} key provider, which is not configured`);
    const raw = Buffer.from(env.c, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.kek(env.k), raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(env.k));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
    } catch {
      throw new KeyUnavailableError(`the data key for ${env.k} cannot be unwrapped with this server's master key`);
    }
  }
}
