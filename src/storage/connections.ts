import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { isTransientIoError, NotFoundError, StorageUnavailableError, ValidationError } from '../core/errors.js';
import { abortIncompleteUploads, DEFAULT_OBJECT_STORE_TIMEOUTS, s3ClientSettings, type ObjectStoreTimeouts } from '../blob/s3-blob-store.js';
import type { ConnectionRecord } from './entities.js';
import type { MetadataStore } from '../db/metadata-store.js';
import type { SecretBox } from '../keys/secret-box.js';

/**
 * Connected storage: a customer's S3-compatible location (endpoint, region,
 * bucket, optional prefix, versioning, SSE settings, credentials by access key
 * or by a role assumed with an external id). Import sources, export
 * destinations and fallback locations that are `s3://` URIs resolve through
 * these. Secrets are sealed under the master key.
 */
export interface ConnectionInput {
  name: string;
  bucket: string;
  prefix?: string;
  endpoint?: string;
  region: string;
  forcePathStyle?: boolean;
  versioned?: boolean;
  sse?: { type: 'SSE-S3' | 'SSE-KMS'; kmsKeyId?: string };
  accessKeyId?: string;
  secretAccessKey?: string;
  roleArn?: string;
  externalId?: string;
  jobRoleArn?: string;
}

export type ConnectionView = Omit<ConnectionRecord, 'secretEnc'> & { hasSecret: boolean };

export interface CheckStep {
  step: string;
  ok: boolean;
  detail: string;
}

export interface S3Object {
  client: S3Client;
  connection: ConnectionRecord;
  bucket: string;
  key: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** What went wrong talking to S3, in words an operator can act on. */
export function explainS3Error(e: unknown): string {
  const err = e as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
  const code = err.code ?? err.cause?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'ECONNRESET') return `the endpoint cannot be reached (${code})`;
  const status = err.$metadata?.httpStatusCode;
  switch (err.name) {
    case 'NoSuchBucket':
      return 'the bucket does not exist';
    case 'NoSuchKey':
      return 'the object does not exist';
    case 'InvalidAccessKeyId':
      return 'the access key id is not known to the endpoint';
    case 'SignatureDoesNotMatch':
      return 'the secret access key is wrong';
    case 'AccessDenied':
      return 'access denied by the bucket or its policy';
  }
  if (status === 404) return 'not found (404): the bucket or object does not exist';
  if (status === 403) return 'access denied (403): check the credentials and the bucket policy';
  if (status === 301) return 'the bucket is in another region (301): set the connection region';
  return `${err.name ?? 'error'}: ${err.message ?? String(e)}`;
}

/**
 * What an S3 failure means for a job: the bucket is unreachable or failing for now (a storage error the job
 * retries), or the request itself cannot succeed (missing object, denied access: the item fails).
 */
export function s3Failure(uri: string, e: unknown): Error {
  const message = `${uri}: ${explainS3Error(e)}.`;
  return isTransientIoError(e) ? new StorageUnavailableError(message) : new ValidationError(message);
}

export class ConnectionService {
  private readonly roleProviders = new Map<string, AwsCredentialIdentityProvider>();

  constructor(
    private readonly db: MetadataStore,
    private readonly secrets: SecretBox,
    private readonly timeouts: ObjectStoreTimeouts = DEFAULT_OBJECT_STORE_TIMEOUTS,
  ) {}

  private context = (accountId: string, name: string) => `storage-connection:${accountId}:${name}`;

  async add(accountId: string, input: ConnectionInput, now = Date.now()): Promise<ConnectionView> {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(input.name)) throw new ValidationError('A connection name is 1-64 letters, digits, ".", "_" or "-".');
    if (!BUCKET.test(input.bucket)) throw new ValidationError(`${input.bucket} is not a valid bucket name.`);
    if (input.accessKeyId && !input.secretAccessKey) throw new ValidationError('An access key id needs its secret access key.');
    if (input.externalId && !input.roleArn) throw new ValidationError('An external id is only used with a role to assume.');
    if (input.sse?.type === 'SSE-KMS' && !input.sse.kmsKeyId) throw new ValidationError('SSE-KMS needs a KMS key id.');
    const prefix = (input.prefix ?? '').replace(/^\/+/, '');
    const rec: ConnectionRecord = {
      accountId,
      name: input.name,
      config: {
        bucket: input.bucket,
        prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
        region: input.region,
        forcePathStyle: input.forcePathStyle ?? true,
        versioned: input.versioned ?? false,
        ...(input.endpoint ? { endpoint: input.endpoint } : {}),
        ...(input.sse ? { sse: input.sse } : {}),
        ...(input.accessKeyId ? { accessKeyId: input.accessKeyId } : {}),
        ...(input.roleArn ? { roleArn: input.roleArn } : {}),
        ...(input.externalId ? { externalId: input.externalId } : {}),
        ...(input.jobRoleArn ? { jobRoleArn: input.jobRoleArn } : {}),
      },
      secretEnc: input.secretAccessKey ? this.secrets.seal(input.secretAccessKey, this.context(accountId, input.name)) : null,
      createdAt: now,
    };
    await this.db.connections.put(rec);
    return this.view(rec);
  }

  view(r: ConnectionRecord): ConnectionView {
    const { secretEnc, ...rest } = r;
    return { ...rest, hasSecret: secretEnc !== null };
  }

  async list(accountId: string): Promise<ConnectionView[]> {
    return (await this.db.connections.list(accountId)).map((r) => this.view(r));
  }

  async remove(accountId: string, name: string): Promise<void> {
    if (!(await this.db.connections.delete(accountId, name))) throw new NotFoundError(`No storage connection named ${name}.`);
  }

  /** The connection that covers `s3://bucket/key` for a job running with `jobRoleArn` (one bound to that role wins). */
  async find(accountId: string, bucket: string, key: string, jobRoleArn?: string): Promise<ConnectionRecord | undefined> {
    const covering = (await this.db.connections.list(accountId)).filter((c) => c.config.bucket === bucket && key.startsWith(c.config.prefix));
    return (
      covering.find((c) => jobRoleArn !== undefined && c.config.jobRoleArn === jobRoleArn) ??
      covering.find((c) => c.config.jobRoleArn === undefined)
    );
  }

  /** Static keys, or a provider that assumes the role (with the external id) and refreshes before expiry. */
  private credentials(c: ConnectionRecord): AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined {
    const base = c.config.accessKeyId
      ? { accessKeyId: c.config.accessKeyId, secretAccessKey: this.secrets.open(c.secretEnc!, this.context(c.accountId, c.name)) }
      : undefined;
    if (!c.config.roleArn) return base;
    const cacheKey = `${c.accountId}/${c.name}/${c.createdAt}`;
    let provider = this.roleProviders.get(cacheKey);
    if (!provider) {
      provider = fromTemporaryCredentials({
        params: { RoleArn: c.config.roleArn, RoleSessionName: 'openomics', ...(c.config.externalId ? { ExternalId: c.config.externalId } : {}) },
        ...(base ? { masterCredentials: base } : {}),
        clientConfig: { region: c.config.region, ...(c.config.endpoint ? { endpoint: c.config.endpoint } : {}) },
      });
      this.roleProviders.set(cacheKey, provider);
    }
    return provider;
  }

  async client(c: ConnectionRecord): Promise<S3Client> {
    const credentials = this.credentials(c);
    // Resolve now, so a role that cannot be assumed fails here with its own message.
    if (typeof credentials === 'function') await credentials();
    return new S3Client({
      region: c.config.region,
      forcePathStyle: c.config.forcePathStyle,
      ...(c.config.endpoint ? { endpoint: c.config.endpoint } : {}),
      ...(credentials ? { credentials } : {}),
      ...s3ClientSettings(this.timeouts),
    });
  }

  /** Opens `s3://bucket/key` through its connection: size, version and a stream of the bytes. */
  async open(o: S3Object): Promise<{ size: number; versionId?: string; etag?: string; open(): Promise<Readable> }> {
    const head = await o.client.send(new HeadObjectCommand({ Bucket: o.bucket, Key: o.key })).catch((e: unknown) => {
      throw s3Failure(`s3://${o.bucket}/${o.key}`, e);
    });
    const versionId = o.connection.config.versioned ? head.VersionId : undefined;
    return {
      size: head.ContentLength ?? 0,
      ...(versionId ? { versionId } : {}),
      ...(head.ETag ? { etag: head.ETag.replace(/"/g, '') } : {}),
      // A versioned source is read at the version seen here, whatever is written meanwhile.
      open: async () => {
        const got = await o.client.send(new GetObjectCommand({ Bucket: o.bucket, Key: o.key, ...(versionId ? { VersionId: versionId } : {}) }));
        return got.Body as Readable;
      },
    };
  }

  /** The objects under `o.key` (a prefix ending in `/`), with their sizes and ETags, at most `limit`. */
  async listObjects(o: S3Object, limit: number): Promise<{ key: string; size: number; etag: string }[]> {
    const out: { key: string; size: number; etag: string }[] = [];
    let token: string | undefined;
    do {
      const page = await o.client
        .send(new ListObjectsV2Command({ Bucket: o.bucket, Prefix: o.key, ...(token ? { ContinuationToken: token } : {}) }))
        .catch((e: unknown) => {
          throw s3Failure(`s3://${o.bucket}/${o.key}`, e);
        });
      for (const c of page.Contents ?? []) {
        if (!c.Key || c.Key.endsWith('/')) continue;
        out.push({ key: c.Key, size: c.Size ?? 0, etag: (c.ETag ?? '').replace(/"/g, '') });
        if (out.length > limit) throw new ValidationError(`s3://${o.bucket}/${o.key} holds more than ${limit} objects.`);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Streams `body` to `s3://bucket/key` with the connection's encryption settings. Returns the bytes written. */
  async write(o: S3Object, body: Readable): Promise<{ size: number; versionId?: string }> {
    // A retried export writes the same key again: uploads of it that an interrupted attempt left are its own
    // orphans (best effort: a bucket policy may not allow listing them).
    await abortIncompleteUploads(o.client, o.bucket, o.key, Date.now(), true).catch(() => undefined);
    let size = 0;
    body.on('data', (c: Buffer) => (size += c.length));
    const sse = o.connection.config.sse;
    const upload = new Upload({
      client: o.client,
      params: {
        Bucket: o.bucket,
        Key: o.key,
        Body: body,
        ...(sse?.type === 'SSE-S3' ? { ServerSideEncryption: 'AES256' as const } : {}),
        ...(sse?.type === 'SSE-KMS' ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: sse.kmsKeyId } : {}),
      },
      partSize: 8 * 1024 * 1024,
      queueSize: 4,
    });
    const out = await upload.done();
    return { size, ...(out.VersionId ? { versionId: out.VersionId } : {}) };
  }

  /** Tries the connection step by step and says where it fails. */
  async check(accountId: string, name: string, opts: { write?: boolean } = {}): Promise<{ ok: boolean; steps: CheckStep[] }> {
    const c = await this.db.connections.get(accountId, name);
    if (!c) throw new NotFoundError(`No storage connection named ${name}.`);
    const steps: CheckStep[] = [];
    const attempt = async (step: string, fn: () => Promise<string>): Promise<boolean> => {
      try {
        steps.push({ step, ok: true, detail: await fn() });
        return true;
      } catch (e) {
        steps.push({ step, ok: false, detail: explainS3Error(e) });
        return false;
      }
    };
    let client: S3Client | undefined;
    const ok =
      (await attempt('credentials', async () => {
        client = await this.client(c);
        return c.config.roleArn ? `assumed ${c.config.roleArn}` : c.config.accessKeyId ? `access key ${c.config.accessKeyId}` : 'default credential chain';
      })) &&
      (await attempt('bucket', async () => {
        await client!.send(new HeadBucketCommand({ Bucket: c.config.bucket }));
        return `s3://${c.config.bucket} exists and is reachable`;
      })) &&
      (await attempt('list', async () => {
        const r = await client!.send(new ListObjectsV2Command({ Bucket: c.config.bucket, Prefix: c.config.prefix, MaxKeys: 1 }));
        return `can list s3://${c.config.bucket}/${c.config.prefix} (${r.KeyCount ?? 0} object(s) seen)`;
      })) &&
      (!opts.write ||
        (await attempt('write', async () => {
          const key = `${c.config.prefix}.openomics-check-${Date.now()}`;
          await this.write({ client: client!, connection: c, bucket: c.config.bucket, key }, Readable.from([Buffer.from('openomics connectivity check\n')]));
          await client!.send(new DeleteObjectCommand({ Bucket: c.config.bucket, Key: key }));
          return `can write and delete under s3://${c.config.bucket}/${c.config.prefix}`;
        })));
    return { ok, steps };
  }
}
