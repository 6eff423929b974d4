import { createHash, type Hash } from 'node:crypto';

/** The hash behind an ETag algorithm family (MD5up, SHA256up, SHA512up). */
export type EtagFamily = 'MD5up' | 'SHA256up' | 'SHA512up';

export function familyHash(f: EtagFamily): Hash {
  return createHash(f === 'MD5up' ? 'md5' : f === 'SHA256up' ? 'sha256' : 'sha512');
}

/** Batches text lines before hashing them (hashing many tiny strings is slow). */
export class LineHasher {
  private batch = '';
  constructor(private readonly hash: Hash) {}
  line(s: string): void {
    this.batch += s + '\n';
    if (this.batch.length > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.batch.length) this.hash.update(this.batch, 'latin1');
    this.batch = '';
  }
  digest(): string {
    this.flush();
    return this.hash.digest('hex');
  }
}
