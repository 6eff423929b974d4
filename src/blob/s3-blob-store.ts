import { S3Client, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand, ListObjectsV2Command, ListMultipartUploadsCommand, AbortMultipartUploadCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { BlobNotFoundError, checkBlobKey, concatBlobs, type BlobInfo, type BlobStore, type ByteRange } from './blob-store.js';

export interface S3BlobStoreConfig {
  endpoint?: string;
  region: string;
  bucket: string;
  prefix?: string; // "openomics/" — with a trailing slash, or empty
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** S3 storage class of written objects (the cold tier uses e.g. GLACIER_IR). */
  storageClass?: string;
  timeouts?: ObjectStoreTimeouts;
}

/** How long an object store may take to connect, and stay silent on an open connection, before the request fails. */
export interface ObjectStoreTimeouts {
  connectMs: number;
  idleMs: number;
}

export const DEFAULT_OBJECT_STORE_TIMEOUTS: ObjectStoreTimeouts = { connectMs: 5_000, idleMs: 30_000 };

/**
 * S3 client settings every object-store client of the server shares: a stalled
 * connection fails (TimeoutError, retried like any storage fault) instead of
 * holding a job or a request forever.
 */
export function s3ClientSettings(t: ObjectStoreTimeouts = DEFAULT_OBJECT_STORE_TIMEOUTS) {
  return {
    requestHandler: { connectionTimeout: t.connectMs, socketTimeout: t.idleMs },
    requestChecksumCalculation: 'WHEN_REQUIRED' as const,
    responseChecksumValidation: 'WHEN_REQUIRED' as const,
  };
}

/** Blobs in any S3-compatible bucket; puts stream through multipart uploads. */
export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly cfg: S3BlobStoreConfig) {
    this.client = new S3Client({
      region: cfg.region,
      forcePathStyle: cfg.forcePathStyle ?? true,
      ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
      ...(cfg.credentials ? { credentials: cfg.credentials } : {}),
      ...s3ClientSettings(cfg.timeouts),
    });
    this.prefix = cfg.prefix ?? '';
  }

  private objectKey(key: string): string {
    checkBlobKey(key);
    return this.prefix + key;
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    const Key = this.objectKey(key);
    let size = 0;
    body.on('data', (c: Buffer) => (size += c.length));
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.cfg.bucket, Key, Body: body, ...(this.cfg.storageClass ? { StorageClass: this.cfg.storageClass as 'STANDARD' } : {}) },
      partSize: 8 * 1024 * 1024,
      queueSize: 4,
    });
    await upload.done();
    return { size };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.cfg.bucket,
          Key: this.objectKey(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      return out.Body as Readable;
    } catch (e) {
      if ((e as Error).name === 'NoSuchKey') throw new BlobNotFoundError(key);
      throw e;
    }
  }

  async read(key: string, range: ByteRange): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of await this.get(key, range)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.cfg.bucket, Key: this.objectKey(key) }));
      return { key, size: Number(out.ContentLength ?? 0) };
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'NotFound' || name === 'NoSuchKey') return undefined;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.cfg.bucket, Key: this.objectKey(key) }));
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    let ContinuationToken: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.cfg.bucket, Prefix: this.prefix + prefix, ContinuationToken }),
      );
      for (const o of out.Contents ?? []) {
        yield { key: o.Key!.slice(this.prefix.length), size: Number(o.Size ?? 0) };
      }
      ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /** Aborts this store's incomplete multipart uploads begun before `olderThanMs` ago (a killed writer's). */
  async sweepIncomplete(olderThanMs: number): Promise<number> {
    return abortIncompleteUploads(this.client, this.cfg.bucket, this.prefix, Date.now() - olderThanMs);
  }

  async compose(key: string, sources: string[]): Promise<{ size: number }> {
    return this.put(key, concatBlobs(this, sources));
  }
}

/**
 * Aborts the incomplete multipart uploads under `prefix` (an exact key, or a folder) begun before `before`.
 * Shared by the blob store's sweep and the connected-storage writer, which clears a key's uploads left by an
 * earlier, interrupted attempt before it writes the key again.
 */
export async function abortIncompleteUploads(client: S3Client, bucket: string, prefix: string, before: number, exactKey = false): Promise<number> {
  let aborted = 0;
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  do {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker, UploadIdMarker }));
    for (const u of page.Uploads ?? []) {
      if (exactKey && u.Key !== prefix) continue;
      if (u.Initiated && u.Initiated.getTime() >= before) continue;
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
      aborted++;
    }
    KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    UploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (KeyMarker);
  return aborted;
}

