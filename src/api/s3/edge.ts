import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Readable } from 'node:stream';
import { closeIfBodyUnread, sendStream } from '../send-stream.js';
import { ioBuffers } from '../../core/buffer-recycler.js';
import { getOrAdd } from '../../core/bounded-cache.js';
import { S3Error, toS3Error } from './errors.js';
import { authenticateV2, type Authenticator } from '../../iam/authenticator.js';
import type { IdentityService, Principal } from '../../iam/identity.js';
import { queryMap } from '../../iam/sigv4.js';
import { parseRange, type S3Object, type S3ViewService } from '../../storage/s3-view.js';
import type { S3Authorizer } from '../../storage/s3-authorization.js';
import type { SequenceStoreRecord } from '../../storage/entities.js';
import type { AccessLogEntry } from '../../storage/access-logs.js';

/**
 * The read-only S3 edge over the S3 view of read sets. Path-style addressing
 * (`/<bucket>/<key>`), SigV4 with service `s3` in headers or a presigned query.
 * Request path: name the operation (nameS3Operation) -> authenticate ->
 * resolve the bucket -> the operation's entry in the table, which asks the
 * domain's S3Authorizer (store policy, identity policy, kms:Decrypt) and
 * answers in S3's XML. Writes are refused as the service refuses them.
 */
export interface S3EdgeOptions {
  auth: boolean;
  authenticator: Authenticator;
  identity: IdentityService;
  anonymousPrincipal: Principal;
  view: S3ViewService;
  /** Who may do what (storage/s3-authorization.ts): the edge asks, it decides nothing itself. */
  access: S3Authorizer;
  region: string;
  /** Browser origins allowed (CORS); ['*'] for any. */
  corsOrigins: string[];
  /** Virtual-hosted addressing under this domain (`<bucket>.<baseDomain>`). */
  baseDomain?: string;
  /**
   * Called once per request that named a store, when the response is done (S3 access logs); the entry is made
   * only if the store logs its access (most do not, and a range reader makes thousands of requests a second).
   */
  onAccess?: (store: SequenceStoreRecord, entry: () => AccessLogEntry) => void;
  /** Every finished S3 request, for metrics: its operation, status, duration and the body bytes it sent. */
  onOperation?: (operation: string, status: number, seconds: number, bytesSent: number) => void;
  /**
   * The process's log: a line per request at debug level (a range-reading client makes thousands a second; at
   * info that line cost a third of a GET's CPU, decision 78). Denials are warnings and failures errors, in the
   * request's own log. Per-request records for users are the stores' S3 access logs.
   */
  log: Logger;
}

interface S3Info {
  requestId: string;
  rawPath: string;
  rawQuery: string;
  log: Logger;
}

/** The operations of the S3 edge; every request is named before it is authenticated. */
export type S3OperationName = 'GetObject' | 'HeadObject' | 'GetObjectTagging' | 'ListObjects' | 'ListObjectsV2' | 'HeadBucket' | 'GetBucketLocation' | 'ListBuckets' | 'Write';

/** Operation names as S3 server access logs spell them. */
const REST_NAMES: Record<S3OperationName, string> = {
  GetObject: 'REST.GET.OBJECT',
  HeadObject: 'REST.HEAD.OBJECT',
  GetObjectTagging: 'REST.GET.OBJECT_TAGGING',
  ListObjects: 'REST.GET.BUCKET',
  ListObjectsV2: 'REST.GET.BUCKET',
  HeadBucket: 'REST.HEAD.BUCKET',
  GetBucketLocation: 'REST.GET.LOCATION',
  ListBuckets: 'REST.GET.SERVICE',
  Write: 'REST.PUT.OBJECT',
};

/** Names a request's operation from its method, bucket, key and query alone. */
export function nameS3Operation(method: string, bucket: string, key: string, query: ReadonlyMap<string, string>): S3OperationName {
  if (method !== 'GET' && method !== 'HEAD') return 'Write';
  if (bucket === '') return 'ListBuckets';
  if (key === '') {
    if (query.has('location')) return 'GetBucketLocation';
    if (method === 'HEAD') return 'HeadBucket';
    return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
  }
  if (query.has('tagging')) return 'GetObjectTagging';
  return method === 'HEAD' ? 'HeadObject' : 'GetObject';
}

/** What an operation is served with: the request, its caller, the bucket's store and the object key. */
interface S3Call {
  req: IncomingMessage;
  res: ServerResponse;
  info: S3Info;
  principal: Principal;
  store: SequenceStoreRecord;
  bucket: string;
  key: string;
  query: ReadonlyMap<string, string>;
  signatureVersion: string;
}

const xmlEscape = (s: string) =>
  s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
const tag = (name: string, value: string | number | boolean) => `<${name}>${xmlEscape(String(value))}</${name}>`;
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
/** HTTP dates of the last few Last-Modified times (one object is read many times in a row). */
const httpDates = new Map<number, string>();
const httpDate = (ms: number) => getOrAdd(httpDates, ms, 1_000, () => new Date(ms).toUTCString());
const isoDate = (ms: number) => new Date(ms).toISOString();

export class S3Edge {
  constructor(private readonly o: S3EdgeOptions) {}

  /** The bucket named by a virtual-hosted Host header, if any. */
  virtualBucket(host: string | undefined): string | undefined {
    if (!this.o.baseDomain || !host) return undefined;
    const name = host.replace(/:\d+$/, '').toLowerCase();
    const suffix = `.${this.o.baseDomain}`;
    return name.endsWith(suffix) && name.length > suffix.length ? name.slice(0, -suffix.length) : undefined;
  }

  /** CORS response headers for an allowed Origin (none otherwise). */
  private cors(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    if (!origin) return false;
    const any = this.o.corsOrigins.includes('*');
    if (!any && !this.o.corsOrigins.includes(origin)) return false;
    res.setHeader('access-control-allow-origin', any ? '*' : origin);
    if (!any) res.setHeader('vary', 'Origin');
    res.setHeader('access-control-expose-headers', 'ETag, Content-Length, Content-Range, Accept-Ranges, Last-Modified, x-amz-request-id');
    return true;
  }

  async handle(req: IncomingMessage, res: ServerResponse, info: S3Info): Promise<void> {
    let principal: Principal | undefined;
    let op: S3OperationName | 'Unknown' = 'Unknown';
    const allowedOrigin = this.cors(req, res);
    if (req.method === 'OPTIONS') {
      // A CORS preflight: unsigned by design; answered for allowed origins and read methods only.
      req.resume();
      const wanted = String(req.headers['access-control-request-method'] ?? '');
      if (!allowedOrigin || !['GET', 'HEAD'].includes(wanted)) {
        this.error(res, info, false, new S3Error(403, 'AccessForbidden', 'CORSResponse: This CORS request is not allowed.'));
        return;
      }
      res.writeHead(200, {
        'access-control-allow-methods': 'GET, HEAD',
        'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? 'authorization, range'),
        'access-control-max-age': '3000',
        'x-amz-request-id': info.requestId,
      }).end();
      return;
    }
    const started = Date.now();
    let store: SequenceStoreRecord | undefined;
    let key = '';
    let sigVersion = 'AWS4-HMAC-SHA256';
    let errorCode = '';
    res.once('finish', () => {
      this.o.onOperation?.(op, res.statusCode, (Date.now() - started) / 1000, Number(res.getHeader('content-length') ?? 0));
      if (!store || !this.o.onAccess) return;
      this.o.onAccess(store, () => ({
        time: started,
        remoteIp: req.socket.remoteAddress ?? '-',
        requester: principal?.arn ?? '',
        requestId: info.requestId,
        operation: op === 'Unknown' ? `REST.${req.method}.UNKNOWN` : REST_NAMES[op],
        key,
        requestUri: `${req.method} ${req.url} HTTP/${req.httpVersion}`,
        status: res.statusCode,
        errorCode,
        bytesSent: Number(res.getHeader('content-length') ?? 0),
        objectSize: Number(String(res.getHeader('content-range') ?? '').split('/')[1] ?? res.getHeader('content-length') ?? 0),
        totalMs: Date.now() - started,
        referrer: String(req.headers.referer ?? ''),
        userAgent: String(req.headers['user-agent'] ?? ''),
        signatureVersion: sigVersion === 'AWS' ? 'SigV2' : 'SigV4',
        authType: /X-Amz-Signature=|Signature=/.test(info.rawQuery) ? 'QueryString' : 'AuthHeader',
        hostHeader: String(req.headers.host ?? ''),
        accessPointArn: this.o.view.accessPointArn(store!),
      }));
    });
    try {
      const method = req.method ?? 'GET';
      // Name the operation first (from the request line alone), then authenticate, then serve.
      const path = info.rawPath.startsWith('/') ? info.rawPath.slice(1) : info.rawPath;
      const slash = path.indexOf('/');
      const vhost = this.virtualBucket(req.headers.host);
      const decode = (v: string) => {
        if (!v.includes('%')) return v;
        try {
          return decodeURIComponent(v);
        } catch {
          throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
        }
      };
      const bucket = vhost ?? decode(slash < 0 ? path : path.slice(0, slash));
      key = vhost !== undefined ? decode(path) : slash < 0 ? '' : decode(path.slice(slash + 1));
      const query = queryMap(info.rawQuery);
      const name = nameS3Operation(method, bucket, key, query);
      op = name;
      if (this.o.auth) {
        const signing = { method, rawPath: info.rawPath, rawQuery: info.rawQuery, headers: req.headers };
        const v2 = await authenticateV2(this.o.identity, signing, Date.now());
        if (v2) {
          principal = v2;
          sigVersion = 'AWS';
        } else principal = (await this.o.authenticator.authenticate(signing, 's3', undefined, false)).principal;
      } else principal = this.o.anonymousPrincipal;
      req.resume();
      if (name === 'Write') throw new S3Error(403, 'AccessDenied', 'Access Denied: the S3 view of a sequence store is read-only; write with an import job or a direct upload.');
      if (name === 'ListBuckets') throw new S3Error(403, 'AccessDenied', 'Access Denied');
      store = await this.o.view.bucket(bucket);
      await this.operations[name]({ req, res, info, principal, store, bucket, key, query, signatureVersion: sigVersion });
    } catch (err) {
      const e = toS3Error(err);
      if (!e) {
        info.log.error({ err, operation: op }, 'internal error');
        this.error(res, info, req.method === 'HEAD', new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.'));
        return;
      }
      errorCode = e.code;
      if (e.status === 403) info.log.warn({ operation: op, code: e.code, reason: (err as Error).message, principal: principal?.arn }, 's3 request denied');
      this.error(res, info, req.method === 'HEAD', e);
    } finally {
      this.o.log.debug({ requestId: info.requestId, service: 's3', operation: op, status: res.statusCode, principal: principal?.arn, bytes: res.getHeader('content-length') }, 's3 request');
    }
  }

  /** The operations that read (Write and ListBuckets are refused before a store is looked up). */
  private readonly operations: Record<Exclude<S3OperationName, 'Write' | 'ListBuckets'>, (c: S3Call) => Promise<void>> = {
    GetBucketLocation: async (c) => {
      await this.o.access.authorizeBucket(c.principal, c.store);
      this.xml(c.res, c.info, 200, `${XML_HEAD}<LocationConstraint xmlns="${NS}">${xmlEscape(this.o.region)}</LocationConstraint>`);
    },
    HeadBucket: async (c) => {
      await this.o.access.authorizeBucket(c.principal, c.store);
      c.res.writeHead(200, { 'x-amz-request-id': c.info.requestId, 'x-amz-bucket-region': this.o.region }).end();
    },
    ListObjects: (c) => this.listObjects(c, false),
    ListObjectsV2: (c) => this.listObjects(c, true),
    GetObjectTagging: async (c) => {
      const { tags } = await this.o.access.readObject(c.principal, c.store, c.key, 's3:GetObjectTagging', c.signatureVersion);
      const set = Object.entries(tags)
        .map(([k, v]) => `<Tag>${tag('Key', k)}${tag('Value', v)}</Tag>`)
        .join('');
      this.xml(c.res, c.info, 200, `${XML_HEAD}<Tagging xmlns="${NS}"><TagSet>${set}</TagSet></Tagging>`);
    },
    HeadObject: (c) => this.getObject(c, true),
    GetObject: (c) => this.getObject(c, false),
  };

  private async listObjects(c: S3Call, v2: boolean): Promise<void> {
    await this.o.access.authorizeBucket(c.principal, c.store, { 's3:prefix': c.query.get('prefix') ?? '', 's3:signatureversion': c.signatureVersion });
    await this.list(c.res, c.info, c.store, c.bucket, c.query, v2);
  }

  private async getObject(c: S3Call, head: boolean): Promise<void> {
    const { target } = await this.o.access.readObject(c.principal, c.store, c.key, 's3:GetObject', c.signatureVersion);
    await this.object(c.req, c.res, c.info, c.query, c.store, target.object, head, (r) => this.o.view.open(target, r));
  }

  private async list(res: ServerResponse, info: S3Info, store: SequenceStoreRecord, bucket: string, q: ReadonlyMap<string, string>, v2: boolean): Promise<void> {
    const maxKeys = Math.min(1000, q.has('max-keys') ? Number(q.get('max-keys')) : 1000);
    if (!Number.isInteger(maxKeys) || maxKeys < 0) throw new S3Error(400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range');
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') || undefined;
    let after: string | undefined;
    if (v2) {
      const token = q.get('continuation-token');
      if (token !== undefined) {
        // Base64url decoding never throws: a token is ours only if it encodes back to itself.
        const raw = Buffer.from(token, 'base64url');
        if (raw.toString('base64url') !== token) throw new S3Error(400, 'InvalidArgument', 'The continuation token provided is incorrect');
        after = raw.toString('utf8');
      } else after = q.get('start-after') || undefined;
    } else after = q.get('marker') || undefined;
    const r = await this.o.view.list(store, { prefix, ...(delimiter ? { delimiter } : {}), ...(after !== undefined ? { after } : {}), maxKeys });
    const owner = `<Owner>${tag('ID', store.accountId)}${tag('DisplayName', store.accountId)}</Owner>`;
    const fetchOwner = !v2 || q.get('fetch-owner') === 'true';
    const contents = r.objects
      .map(
        (o: S3Object) =>
          `<Contents>${tag('Key', o.key)}${tag('LastModified', isoDate(o.lastModified))}${tag('ETag', `"${o.etag}"`)}${tag('Size', o.size)}${fetchOwner ? owner : ''}${tag('StorageClass', o.storageClass)}</Contents>`,
      )
      .join('');
    const prefixes = r.commonPrefixes.map((p) => `<CommonPrefixes>${tag('Prefix', p)}</CommonPrefixes>`).join('');
    const common = `${tag('Name', bucket)}${tag('Prefix', prefix)}${delimiter ? tag('Delimiter', delimiter) : ''}${tag('MaxKeys', maxKeys)}${tag('IsTruncated', r.truncated)}`;
    const body = v2
      ? `${common}${tag('KeyCount', r.objects.length + r.commonPrefixes.length)}${q.has('continuation-token') ? tag('ContinuationToken', q.get('continuation-token')!) : ''}${q.has('start-after') ? tag('StartAfter', q.get('start-after')!) : ''}${r.truncated && r.lastKey ? tag('NextContinuationToken', Buffer.from(r.lastKey).toString('base64url')) : ''}`
      : `${common}${tag('Marker', q.get('marker') ?? '')}${r.truncated && r.lastKey ? tag('NextMarker', r.lastKey) : ''}`;
    this.xml(res, info, 200, `${XML_HEAD}<ListBucketResult xmlns="${NS}">${body}${contents}${prefixes}</ListBucketResult>`);
  }

  private async object(
    req: IncomingMessage,
    res: ServerResponse,
    info: S3Info,
    query: ReadonlyMap<string, string>,
    store: SequenceStoreRecord,
    o: S3Object,
    head: boolean,
    open: (range?: { start: number; end: number }) => Promise<Readable | Buffer>,
  ): Promise<void> {
    const etag = `"${o.etag}"`;
    const headers: Record<string, string | number> = {
      'x-amz-request-id': info.requestId,
      etag,
      'last-modified': httpDate(o.lastModified),
      'accept-ranges': 'bytes',
      'content-type': 'binary/octet-stream',
      'x-amz-server-side-encryption': 'aws:kms',
      ...(store.sseKeyArn ? { 'x-amz-server-side-encryption-aws-kms-key-id': store.sseKeyArn } : {}),
    };
    // Conditional requests (RFC 7232 order, as S3 applies them).
    const ifMatch = req.headers['if-match'];
    const ifNoneMatch = req.headers['if-none-match'];
    const modifiedSec = Math.floor(o.lastModified / 1000) * 1000;
    const ifUnmodified = req.headers['if-unmodified-since'];
    const ifModified = req.headers['if-modified-since'];
    const matches = (h: string) => h.split(',').some((t) => t.trim() === '*' || t.trim() === etag);
    if (ifMatch !== undefined ? !matches(ifMatch) : ifUnmodified !== undefined && Date.parse(ifUnmodified) < modifiedSec) {
      throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: ifMatch !== undefined ? 'If-Match' : 'If-Unmodified-Since' });
    }
    if (ifNoneMatch !== undefined ? matches(ifNoneMatch) : ifModified !== undefined && Date.parse(ifModified) >= modifiedSec) {
      res.writeHead(304, { 'x-amz-request-id': info.requestId, etag, 'last-modified': httpDate(o.lastModified) }).end();
      return;
    }
    let range: { start: number; end: number } | undefined;
    try {
      range = parseRange(req.headers.range, o.size);
    } catch (e) {
      res.setHeader('content-range', `bytes */${o.size}`);
      throw e;
    }
    if (range) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${o.size}`;
      headers['content-length'] = range.end - range.start + 1;
    } else {
      headers['content-length'] = o.size;
      // The whole object's checksum, to a caller that asks (header, or a presigned URL's query), as S3 answers it:
      // SDKs and the AWS CLI then check the bytes they received against it.
      if (o.crc32 && checksumModeEnabled(req, query)) {
        headers['x-amz-checksum-crc32'] = o.crc32;
        headers['x-amz-checksum-type'] = 'FULL_OBJECT';
      }
    }
    const status = range ? 206 : 200;
    // setHeader (not writeHead's object) so the access log can read what was sent.
    const send = () => {
      for (const k in headers) res.setHeader(k, headers[k]!);
      res.writeHead(status);
    };
    if (head) {
      send();
      res.end();
      return;
    }
    const body = await open(range);
    send();
    if (Buffer.isBuffer(body)) {
      res.end(body, () => ioBuffers.give(body)); // once the socket has it
      return;
    }
    sendStream(res, body, (e) => info.log.error({ err: e }, 's3 object stream failed'));
  }

  private xml(res: ServerResponse, info: S3Info, status: number, body: string): void {
    const buf = Buffer.from(body);
    res.setHeader('content-type', 'application/xml');
    res.setHeader('content-length', buf.length);
    res.setHeader('x-amz-request-id', info.requestId);
    res.writeHead(status).end(buf);
  }

  private error(res: ServerResponse, info: S3Info, head: boolean, e: S3Error): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const extra = Object.entries(e.extra)
      .map(([k, v]) => tag(k, v))
      .join('');
    const body = `${XML_HEAD}<Error>${tag('Code', e.code)}${tag('Message', e.message)}${extra}${tag('RequestId', info.requestId)}</Error>`;
    const buf = Buffer.from(body);
    closeIfBodyUnread(res);
    res.statusCode = e.status;
    res.setHeader('x-amz-request-id', info.requestId);
    if (head) {
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/xml');
    res.setHeader('content-length', buf.length);
    res.end(buf);
  }
}

/** `x-amz-checksum-mode: ENABLED`, as a header or (presigned URLs carry it there) in the query. */
function checksumModeEnabled(req: IncomingMessage, query: ReadonlyMap<string, string>): boolean {
  const v = req.headers['x-amz-checksum-mode'] ?? query.get('x-amz-checksum-mode');
  return typeof v === 'string' && v.toUpperCase() === 'ENABLED';
}

/** Policy condition keys for an object: its tags as s3:ExistingObjectTag/<key>, and the signature version. */
