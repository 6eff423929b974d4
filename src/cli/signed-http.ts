import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { UNSIGNED_PAYLOAD, EMPTY_SHA256, signRequest } from '../iam/sigv4.js';
import { sharedFileSection } from './transfer-common.js';

/**
 * Signed GETs over node:http, for the commands that must start quickly (`openomics download`): loading the SDK's
 * Omics and S3 clients costs ~0.4 s, and even its signer alone (@smithy/signature-v4 and @smithy/core) ~70 ms, more
 * than half of what a 100 MB download takes on a fast link; requests are signed by iam/sigv4.ts' `signRequest`,
 * the mirror of the server's verifier, checked against the SDK's signer in test/sigv4.test.ts. Only what
 * those commands send is here: GET and HEAD, no bodies. Static credentials are read from the environment and the
 * shared credentials file directly; anything else (SSO, assumed roles, credential_process, instance metadata) goes
 * to the SDK's own provider chain, loaded then.
 */

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
  return errorFromAnswer(res.statusCode ?? 0, res.headers, Buffer.concat(chunks));
}

/** The service's error in an answer's status, headers (lower-case names) and body. */
export function errorFromAnswer(status: number, headers: Record<string, string | string[] | undefined>, bodyBytes: Buffer): ServiceError {
  const body = bodyBytes.toString('utf8');
  const requestId = String(headers['x-amzn-requestid'] ?? headers['x-amz-request-id'] ?? '') || undefined;
  const xmlCode = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  if (xmlCode) return new ServiceError(xmlCode, /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? xmlCode, status, requestId);
  const type = String(headers['x-amzn-errortype'] ?? '').split(':')[0];
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
  private identity: AwsCredentialIdentity | undefined;
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

  /** The credentials to sign with: static ones as given, a provider's until five minutes before they expire. */
  private async keys(): Promise<AwsCredentialIdentity> {
    if (typeof this.credentials !== 'function') return this.credentials;
    if (!this.identity || (this.identity.expiration && this.identity.expiration.getTime() - Date.now() < 300_000)) this.identity = await this.credentials();
    return this.identity;
  }

  /**
   * A signed GET or HEAD of `url` (path already percent-encoded); resolves with the response once its status is
   * 2xx, else rejects with the service's error.
   */
  async send(service: string, method: 'GET' | 'HEAD', url: URL, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    const signed = await this.sign(service, method, url, headers);
    const tls = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (tls ? httpsRequest : httpRequest)(
        { method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers: signed, agent: tls ? this.tlsAgent : this.agent },
        (res) => {
          if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) resolve(res);
          else errorOf(res).then(reject, reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** The headers of a signed request of `url` (`host` among them), for a caller that sends it itself. */
  async sign(service: string, method: 'GET' | 'HEAD', url: URL, headers: Record<string, string> = {}): Promise<Record<string, string>> {
    // The payload's hash is sent as the SDK's signer sends it: S3's unsigned payload, else the empty body's hash.
    const payload = service === 's3' ? UNSIGNED_PAYLOAD : EMPTY_SHA256;
    const all = { host: url.host, 'x-amz-content-sha256': payload, ...headers };
    return signRequest({ method, rawPath: url.pathname, rawQuery: url.search.slice(1), headers: all }, await this.keys(), { region: this.region, service }, payload, Date.now());
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
