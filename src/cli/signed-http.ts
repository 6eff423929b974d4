import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { sharedFileSection } from './transfer-common.js';

/**
 * Signed GETs with the AWS SDK's own signer (@smithy/signature-v4) over node:http, for the commands that must
 * start quickly (`openomics download`): loading the SDK's Omics and S3 clients costs ~0.4 s, more than a 100 MB
 * download takes on a fast link. Only what those commands send is here: GET and HEAD, no bodies. Static
 * credentials are read from the environment and the shared credentials file directly; anything else (SSO,
 * assumed roles, credential_process, instance metadata) goes to the SDK's own provider chain, loaded then.
 */

type Source = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Source) => (typeof d === 'string' ? Buffer.from(d) : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));

/** SHA-256 and HMAC-SHA256 from node:crypto, in the shape the signer asks for. */
class NodeSha256 {
  private h: Hash | Hmac;
  constructor(private readonly secret?: Source) {
    this.h = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
  update(data: Source): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
  reset(): void {
    this.h = this.fresh();
  }
}

/** The keys of `profile` in a shared credentials file, if it holds static ones. */
export function staticProfileKeys(file: string, profile: string): AwsCredentialIdentity | undefined {
  const kv = sharedFileSection(file, [profile]) ?? {};
  // A profile that assumes a role, asks a process or names a source is not static: the SDK resolves it.
  if (!kv['aws_access_key_id'] || !kv['aws_secret_access_key'] || kv['role_arn'] || kv['credential_process'] || kv['source_profile']) return undefined;
  return {
    accessKeyId: kv['aws_access_key_id'],
    secretAccessKey: kv['aws_secret_access_key'],
    ...(kv['aws_session_token'] ? { sessionToken: kv['aws_session_token'] } : {}),
  };
}

/**
 * Credentials as the AWS CLI finds them: a named profile (flag or AWS_PROFILE) wins over the environment's keys,
 * then the environment, then the default profile; static keys are read here, the rest by the SDK's chain.
 */
export async function resolveCredentials(t: { localCredentials?: string; profile?: string }): Promise<AwsCredentialIdentity | AwsCredentialIdentityProvider> {
  if (t.localCredentials) {
    const keys = staticProfileKeys(t.localCredentials, 'openomics');
    if (keys) return keys;
  }
  const sharedFile = process.env['AWS_SHARED_CREDENTIALS_FILE'] ?? join(homedir(), '.aws', 'credentials');
  if (t.profile) {
    const keys = staticProfileKeys(sharedFile, t.profile);
    if (keys) return keys;
    const { fromIni } = await import('@aws-sdk/credential-providers');
    return fromIni({ profile: t.profile });
  }
  const id = process.env['AWS_ACCESS_KEY_ID'];
  const secret = process.env['AWS_SECRET_ACCESS_KEY'];
  if (id && secret) return { accessKeyId: id, secretAccessKey: secret, ...(process.env['AWS_SESSION_TOKEN'] ? { sessionToken: process.env['AWS_SESSION_TOKEN'] } : {}) };
  const keys = staticProfileKeys(sharedFile, 'default');
  if (keys) return keys;
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  return fromNodeProviderChain();
}

/** An error answer: its code (S3's `<Code>` or the JSON protocol's error type), message and HTTP status. */
export class ServiceError extends Error {
  readonly $metadata: { httpStatusCode: number; requestId?: string };
  constructor(name: string, message: string, status: number, requestId?: string) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status, ...(requestId ? { requestId } : {}) };
  }
}

async function errorOf(res: IncomingMessage): Promise<ServiceError> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  const status = res.statusCode ?? 0;
  const requestId = String(res.headers['x-amzn-requestid'] ?? res.headers['x-amz-request-id'] ?? '') || undefined;
  const xmlCode = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  if (xmlCode) return new ServiceError(xmlCode, /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? xmlCode, status, requestId);
  const type = String(res.headers['x-amzn-errortype'] ?? '').split(':')[0];
  let message = body;
  try {
    const j = JSON.parse(body) as { message?: string; Message?: string; __type?: string };
    message = j.message ?? j.Message ?? body;
    if (!type && j.__type) return new ServiceError(j.__type.split('#').pop()!, message, status, requestId);
  } catch {
    /* not JSON */
  }
  // A HEAD's error has no body: name it by its status, as the SDKs do.
  const byStatus: Record<number, string> = { 403: 'AccessDenied', 404: 'NotFound', 400: 'BadRequest' };
  return new ServiceError(type || byStatus[status] || `Http${status}`, message || `HTTP ${status}`, status, requestId);
}

export class SignedHttp {
  private readonly signers = new Map<string, SignatureV4>();
  private readonly agent: HttpAgent;
  private readonly tlsAgent: HttpsAgent;

  constructor(
    private readonly region: string,
    private readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider,
    connections: number,
  ) {
    this.agent = new HttpAgent({ keepAlive: true, maxSockets: connections });
    this.tlsAgent = new HttpsAgent({ keepAlive: true, maxSockets: connections });
  }

  private signer(service: string): SignatureV4 {
    let s = this.signers.get(service);
    if (!s) {
      // S3 signs the path as sent; other services escape it once more (the SDKs' uriEscapePath).
      s = new SignatureV4({ credentials: this.credentials, region: this.region, service, sha256: NodeSha256, uriEscapePath: service !== 's3' });
      this.signers.set(service, s);
    }
    return s;
  }

  /**
   * A signed GET or HEAD of `url` (path already percent-encoded); resolves with the response once its status is
   * 2xx, else rejects with the service's error.
   */
  async send(service: string, method: 'GET' | 'HEAD', url: URL, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const all = { host: url.host, ...(service === 's3' ? { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } : {}), ...headers };
    const signed = await this.signer(service).sign({ method, protocol: url.protocol, hostname: url.hostname, path: url.pathname, query, headers: all });
    const tls = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (tls ? httpsRequest : httpRequest)(
        { method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers: signed.headers, agent: tls ? this.tlsAgent : this.agent },
        (res) => {
          if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) resolve(res);
          else errorOf(res).then(reject, reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  async json<T>(service: string, url: URL): Promise<T> {
    const res = await this.send(service, 'GET', url);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
  }

  close(): void {
    this.agent.destroy();
    this.tlsAgent.destroy();
  }
}
