import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** Encrypts small secrets (access key secrets, connection credentials) under the master key. */
export class SecretBox {
  private readonly key: Buffer;
  constructor(masterKey: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'openomics-secret-box', 32));
  }
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(context));
    const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return 'sb1:' + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }
  open(sealed: string, context: string): string {
    if (!sealed.startsWith('sb1:')) throw new Error('unknown secret format');
    const raw = Buffer.from(sealed.slice(4), 'base64');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(context));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  }
}
