import { OmicsClient } from '@aws-sdk/client-omics';
import { S3Client } from '@aws-sdk/client-s3';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AthenaClient } from '@aws-sdk/client-athena';

/**
 * Who is signed in: an access key of the server's own IAM (no second auth system). Kept in sessionStorage: it
 * lives as long as the tab, and every request is signed with it in the browser (SigV4, the AWS SDK's signer).
 */
export interface Session {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
}

const KEY = 'openomics.console.session';

export function loadSession(): Session | undefined {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    return undefined;
  }
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

export interface Clients {
  omics: OmicsClient;
  s3: S3Client;
  /** The CloudWatch Logs subset (run and task logs), loaded by the pages that read logs. */
  logs(): Promise<CloudWatchLogsClient>;
  /** The Athena subset (SQL over variant and annotation stores), loaded by the analytics page. */
  athena(): Promise<AthenaClient>;
  /**
   * One call of a JSON 1.1 API of this server that has no SDK client (OpenOmics' connections API): signed with the
   * session's key for SigV4 `service`; a refusal rejects with an Error named by the answer's `__type`.
   */
  json(service: string, target: string, body: object): Promise<unknown>;
}

/** The public API of the server that served this page, signed with the session's key. */
export function clientsFor(s: Session): Clients {
  const credentials = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, ...(s.sessionToken ? { sessionToken: s.sessionToken } : {}) };
  const endpoint = window.location.origin;
  let logs: Promise<CloudWatchLogsClient> | undefined;
  let athena: Promise<AthenaClient> | undefined;
  return {
    omics: new OmicsClient({ endpoint, region: s.region, credentials, disableHostPrefix: true, maxAttempts: 2 }),
    s3: new S3Client({ endpoint, region: s.region, credentials, forcePathStyle: true, maxAttempts: 2 }),
    logs: () => (logs ??= import('@aws-sdk/client-cloudwatch-logs').then((m) => new m.CloudWatchLogsClient({ endpoint, region: s.region, credentials, maxAttempts: 2 }))),
    athena: () => (athena ??= import('@aws-sdk/client-athena').then((m) => new m.AthenaClient({ endpoint, region: s.region, credentials, maxAttempts: 2 }))),
    json: async (service, target, body) => {
      const [{ SignatureV4 }, { Sha256 }] = await Promise.all([import('@smithy/signature-v4'), import('@aws-crypto/sha256-browser')]);
      const url = new URL(endpoint);
      const payload = JSON.stringify(body);
      const signed = await new SignatureV4({ service, region: s.region, credentials, sha256: Sha256 }).sign({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: '/',
        query: {},
        headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
        body: payload,
      });
      const { host: _host, ...headers } = signed.headers; // the browser sends Host itself (the same value)
      const res = await fetch(`${endpoint}/`, { method: 'POST', headers, body: payload });
      const out = (await res.json()) as { __type?: string; message?: string };
      if (!res.ok) throw Object.assign(new Error(out.message ?? res.statusText), { name: out.__type ?? `HTTP ${res.status}`, $metadata: { httpStatusCode: res.status } });
      return out;
    },
  };
}

/** Dispatched on window (detail: the message) when a request finds the session's key wrong or expired. */
export const SIGNED_OUT_EVENT = 'openomics:signed-out';

/** An API error as a sentence for the page: what went wrong and, where it helps, what to do. */
export function describeError(e: unknown): { message: string; signedOut?: boolean } {
  const err = e as Error & { $metadata?: { httpStatusCode?: number } };
  const name = err?.name ?? '';
  if (['UnrecognizedClientException', 'InvalidSignatureException', 'SignatureDoesNotMatch', 'InvalidAccessKeyId', 'InvalidClientTokenId'].includes(name)) {
    return { message: 'The access key is not accepted: its ID or secret is not right, or it was deactivated or deleted. Check both and sign in again.', signedOut: true };
  }
  if (name === 'ExpiredTokenException' || name === 'ExpiredToken') return { message: 'Your session has expired. Sign in again.', signedOut: true };
  if (name === 'AccessDeniedException' || name === 'AccessDenied') return { message: `You are signed in, but not allowed to do this: ${err.message}` };
  if (err instanceof TypeError && /fetch|network/i.test(err.message)) return { message: 'The server cannot be reached. Check that it is running, then try again.' };
  return { message: `${name || 'Error'}: ${err?.message ?? String(e)}` };
}
