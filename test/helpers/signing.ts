import { request } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

/** Signs with the AWS SDK's own signer (@smithy/signature-v4) and sends with node:http. */
export interface RawRequest {
  endpoint: string; // http://127.0.0.1:port
  method: string;
  path: string; // already percent-encoded, as the SDK would send it
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  region?: string;
  service?: string;
  signingDate?: Date;
  hostHeader?: string;
  presignExpires?: number;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The request as signed: path with its query string, and headers. */
export async function signRaw(r: RawRequest): Promise<{ pathAndQuery: string; headers: Record<string, string> }> {
  const url = new URL(r.endpoint);
  const host = r.hostHeader ?? url.host;
  let headers: Record<string, string> = { host, ...(r.headers ?? {}) };
  let query = r.query ?? {};
  if (r.body !== undefined) headers['content-type'] ??= 'application/json';
  if (r.credentials) {
    const signer = new SignatureV4({ credentials: r.credentials, region: r.region ?? 'us-east-1', service: r.service ?? 'omics', sha256: Sha256 });
    const req = { method: r.method, protocol: 'http:', hostname: host, path: r.path, query, headers, ...(r.body !== undefined ? { body: r.body } : {}) };
    if (r.presignExpires !== undefined) {
      const signed = await signer.presign(req, { expiresIn: r.presignExpires, ...(r.signingDate ? { signingDate: r.signingDate } : {}) });
      query = signed.query as Record<string, string>;
      headers = signed.headers as Record<string, string>;
    } else {
      const signed = await signer.sign(req, r.signingDate ? { signingDate: r.signingDate } : {});
      headers = signed.headers as Record<string, string>;
    }
  }
  const qs = new URLSearchParams(query).toString().replace(/\+/g, '%20');
  return { pathAndQuery: r.path + (qs ? `?${qs}` : ''), headers };
}

export async function sendRaw(r: RawRequest): Promise<RawResponse> {
  const url = new URL(r.endpoint);
  const { pathAndQuery, headers } = await signRaw(r);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: r.method, path: pathAndQuery, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}
