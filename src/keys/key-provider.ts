/**
 * Key providers wrap and unwrap the per-store data keys that encrypt blobs.
 * A wrapped key is an opaque JSON envelope string that names its provider,
 * so a store's key stays readable after the default provider changes.
 */
export interface DataKey {
  plaintext: Buffer; // 32 bytes, AES-256
  wrapped: string;
  keyArn: string;
}

export interface KeyProvider {
  readonly name: 'local' | 'kms';
  /** The key ARN reported in `sseConfig` when the caller names none. */
  defaultKeyArn(): string;
  /** Checks that the key exists and is usable (CreateSequenceStore with a customer key). */
  describeKey(keyArn: string): Promise<void>;
  generateDataKey(keyArn: string): Promise<DataKey>;
  unwrap(wrapped: string): Promise<Buffer>;
}

export interface Envelope {
  v: 1;
  p: 'local' | 'kms';
  k: string; // key ARN
  c: string; // base64 ciphertext (for local: iv|tag|ct)
}

export function parseEnvelope(wrapped: string): Envelope {
  const e = JSON.parse(wrapped) as Envelope;
  if (e.v !== 1 || (e.p !== 'local' && e.p !== 'kms')) throw new Error('unknown data key envelope');
  return e;
}
