import { KMSClient, DecryptCommand, DescribeKeyCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { KeyUnavailableError, ValidationError } from '../core/errors.js';
import { parseEnvelope, type DataKey, type Envelope, type KeyProvider } from './key-provider.js';

export interface KmsProviderConfig {
  endpoint?: string;
  region: string;
  defaultKeyId: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Data keys from the AWS KMS API (AWS itself, or any compatible server). */
export class KmsKeyProvider implements KeyProvider {
  readonly name = 'kms' as const;
  private readonly client: KMSClient;

  constructor(private readonly cfg: KmsProviderConfig) {
    this.client = new KMSClient({
      region: cfg.region,
      ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
      ...(cfg.credentials ? { credentials: cfg.credentials } : {}),
    });
  }

  defaultKeyArn(): string {
    return this.cfg.defaultKeyId;
  }

  async describeKey(keyArn: string): Promise<void> {
    try {
      const out = await this.client.send(new DescribeKeyCommand({ KeyId: keyArn }));
      if (out.KeyMetadata?.Enabled === false) throw new ValidationError(`KMS key ${keyArn} is disabled`);
    } catch (e) {
      if (e instanceof ValidationError) throw e;
      throw new ValidationError(`KMS key ${keyArn} cannot be used: ${(e as Error).name}`);
    }
  }

  async generateDataKey(keyArn: string): Promise<DataKey> {
    try {
      const out = await this.client.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256' }));
      const env: Envelope = { v: 1, p: 'kms', k: out.KeyId ?? keyArn, c: Buffer.from(out.CiphertextBlob!).toString('base64') };
      return { plaintext: Buffer.from(out.Plaintext!), wrapped: JSON.stringify(env), keyArn: env.k };
    } catch (e) {
      throw new KeyUnavailableError(`KMS GenerateDataKey with ${keyArn} failed: ${(e as Error).name}`);
    }
  }

  async unwrap(wrapped: string): Promise<Buffer> {
    const env = parseEnvelope(wrapped);
    if (env.p !== 'kms') throw new KeyUnavailableError(`data key was wrapped by the ${env.p} key provider, which is not configured`);
    try {
      const out = await this.client.send(new DecryptCommand({ CiphertextBlob: Buffer.from(env.c, 'base64'), KeyId: env.k }));
      return Buffer.from(out.Plaintext!);
    } catch (e) {
      throw new KeyUnavailableError(`KMS Decrypt with ${env.k} failed: ${(e as Error).name}`);
    }
  }
}
