// Key providers: the local master key and the AWS KMS API (moto's KMS).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { KMSClient, CreateKeyCommand } from '@aws-sdk/client-kms';
import { LocalKeyProvider } from '../src/keys/local-key-provider.js';
import { KmsKeyProvider } from '../src/keys/kms-key-provider.js';
import { SecretBox } from '../src/keys/secret-box.js';
import { KeyUnavailableError } from '../src/core/errors.js';
import { startMoto, MOTO_CREDENTIALS, type Moto } from './helpers/moto.js';

describe('LocalKeyProvider', () => {
  const master = randomBytes(32);
  const p = new LocalKeyProvider(master, 'aws', 'us-east-1', '123456789012');

  it('wraps and unwraps data keys; the wrapped form hides the key', async () => {
    const dk = await p.generateDataKey(p.defaultKeyArn());
    assert.equal(dk.plaintext.length, 32);
    assert.match(p.defaultKeyArn(), /^arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f-]{36}$/);
    assert.equal(dk.wrapped.includes(dk.plaintext.toString('base64')), false);
    assert.ok((await p.unwrap(dk.wrapped)).equals(dk.plaintext));
  });

  it('derives a distinct key per key ARN', async () => {
    const a = await p.generateDataKey('arn:aws:kms:us-east-1:123456789012:key/a');
    const env = JSON.parse(a.wrapped);
    env.k = 'arn:aws:kms:us-east-1:123456789012:key/b';
    await assert.rejects(p.unwrap(JSON.stringify(env)), KeyUnavailableError);
  });

  it('cannot unwrap with another master key', async () => {
    const dk = await p.generateDataKey(p.defaultKeyArn());
    const other = new LocalKeyProvider(randomBytes(32), 'aws', 'us-east-1', '123456789012');
    await assert.rejects(other.unwrap(dk.wrapped), (e: Error) => e instanceof KeyUnavailableError && /cannot be unwrapped/.test(e.message));
  });

  it('refuses an envelope from a provider that is not configured', async () => {
    await assert.rejects(p.unwrap(JSON.stringify({ v: 1, p: 'kms', k: 'arn:x', c: '' })), /kms key provider/);
  });
});

describe('SecretBox', () => {
  it('seals secrets bound to their context', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('wJalrXUtnFEMI/K7MDENG', 'access-key:AKIA1');
    assert.equal(sealed.includes('wJalr'), false);
    assert.equal(box.open(sealed, 'access-key:AKIA1'), 'wJalrXUtnFEMI/K7MDENG');
    assert.throws(() => box.open(sealed, 'access-key:AKIA2'));
  });
});

describe('KmsKeyProvider against moto', () => {
  let moto: Moto;
  let kms: KMSClient;
  let keyArn: string;
  before(async () => {
    moto = await startMoto();
    kms = new KMSClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS });
    keyArn = (await kms.send(new CreateKeyCommand({ Description: 'openomics test' }))).KeyMetadata!.Arn!;
  });
  after(async () => moto?.stop());

  const provider = () => new KmsKeyProvider({ endpoint: moto.endpoint, region: 'us-east-1', defaultKeyId: keyArn, credentials: MOTO_CREDENTIALS });

  it('generates and decrypts data keys', async () => {
    const p = provider();
    await p.describeKey(keyArn);
    const dk = await p.generateDataKey(keyArn);
    assert.equal(dk.plaintext.length, 32);
    assert.equal(dk.keyArn, keyArn);
    assert.ok((await p.unwrap(dk.wrapped)).equals(dk.plaintext));
  });

  it('reports an unknown key as unusable', async () => {
    await assert.rejects(provider().describeKey('arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000'), /cannot be used/);
  });

  // moto's KMS does not refuse Decrypt under a disabled key (and 500s on DisableKey by ARN),
  // so the unusable-key case is shown with a damaged ciphertext and an unknown key.
  it('fails to unwrap a damaged wrapped key', async () => {
    const p = provider();
    const dk = await p.generateDataKey(keyArn);
    const env = JSON.parse(dk.wrapped);
    env.c = Buffer.from('not a ciphertext blob').toString('base64');
    await assert.rejects(p.unwrap(JSON.stringify(env)), KeyUnavailableError);
  });
});
