import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from '../core/errors.js';
import { addBounded, getOrAdd } from '../core/bounded-cache.js';

/**
 * AWS Signature Version 4 verification (Authorization header and presigned
 * query string). Pure: the caller supplies the request parts, the secret and
 * the clock. Canonicalisation follows the SigV4 specification; the omics
 * service (like every service but S3) double-encodes the path.
 */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const MAX_SKEW_MS = 15 * 60 * 1000;

export interface SigningRequest {
  method: string;
  rawPath: string; // as received, percent-encoded, without the query
  rawQuery: string; // as received, without "?"
  headers: Record<string, string | string[] | undefined>; // lower-case names
}

export interface ParsedSignature {
  via: 'header' | 'query';
  accessKeyId: string;
  amzDate: string; // yyyymmddThhmmssZ
  scopeDate: string; // yyyymmdd
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  expiresSeconds?: number;
  securityToken?: string;
  /** x-amz-content-sha256 as sent, if any. */
  contentSha256?: string;
}

const RFC3986 = /[!'()*]/g;
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(RFC3986, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function safeDecode(s: string): string {
  if (!s.includes('%')) return s; // nothing to decode (most names and values)
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function headerValue(h: SigningRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** The last query string split (a request's is split by the signature parser, the edge and the verifier). */
let lastQuery: { raw: string; pairs: readonly (readonly [string, string])[]; map?: ReadonlyMap<string, string> } | undefined;

/** Splits a raw query string into decoded [key, value] pairs (shared: never modified by callers). */
export function queryPairs(rawQuery: string): readonly (readonly [string, string])[] {
  if (!rawQuery) return [];
  if (lastQuery?.raw === rawQuery) return lastQuery.pairs;
  const pairs = splitQuery(rawQuery);
  lastQuery = { raw: rawQuery, pairs };
  return pairs;
}

const NO_QUERY: ReadonlyMap<string, string> = new Map();

/** The query's decoded parameters by name (the last value of a repeated one), shared like queryPairs'. */
export function queryMap(rawQuery: string): ReadonlyMap<string, string> {
  if (!rawQuery) return NO_QUERY;
  const pairs = queryPairs(rawQuery);
  return (lastQuery!.map ??= new Map(pairs));
}

function splitQuery(rawQuery: string): [string, string][] {
  return rawQuery
    .split('&')
    .filter((p) => p.length > 0)
    .map((p) => {
      const i = p.indexOf('=');
      return i < 0 ? [safeDecode(p), ''] : [safeDecode(p.slice(0, i)), safeDecode(p.slice(i + 1))];
    });
}

/**
 * The last signature parsed, by the request's headers object (the server routes by it, then the edge's
 * authenticator asks again for the same request). One entry, not a WeakMap keyed by every request's headers:
 * with the WeakMap, each request's headers and what they reach survived young-generation collections and were
 * promoted to the old generation, to wait for a full collection — 267 KB per scavenge of a 64 KiB GET load
 * against 79 KB without it (--trace-gc-nvp; decision 85). Another request in between only means parsing again.
 */
let lastParsed: { headers: object; method: string; rawQuery: string; sig: ParsedSignature | undefined } | undefined;

/** Finds the signature in the request, or undefined when the request is unsigned. */
export function parseSignature(req: SigningRequest): ParsedSignature | undefined {
  const hit = lastParsed;
  if (hit && hit.headers === req.headers && hit.method === req.method && hit.rawQuery === req.rawQuery) return hit.sig;
  // A presigned URL's signature is all in its query string, which its readers send again and again: parsed once,
  // found again by its X-Amz-Signature value (64 characters to hash, not the whole query) and the same query.
  const at = req.headers['authorization'] === undefined ? req.rawQuery.indexOf('X-Amz-Signature=') : -1;
  const signature = at < 0 ? undefined : req.rawQuery.slice(at + 16, at + 16 + 64);
  const known = signature === undefined ? undefined : presignedQueries.get(signature);
  const sig = known && known.rawQuery === req.rawQuery ? known.sig : readSignature(req);
  if (signature !== undefined && sig && sig !== known?.sig) addBounded(presignedQueries, signature, { rawQuery: req.rawQuery, sig }, 10_000);
  lastParsed = { headers: req.headers, method: req.method, rawQuery: req.rawQuery, sig };
  return sig;
}

/** Presigned query strings already parsed (their signatures are immutable values), by their signature's first 64 characters. */
const presignedQueries = new Map<string, { rawQuery: string; sig: ParsedSignature }>();

function readSignature(req: SigningRequest): ParsedSignature | undefined {
  const auth = headerValue(req.headers, 'authorization');
  if (auth !== undefined) {
    if (!auth.startsWith('AWS4-HMAC-SHA256')) {
      throw new AuthenticationError('IncompleteSignatureException', 'Only the AWS4-HMAC-SHA256 signature algorithm is supported.');
    }
    const fields: Record<string, string> = {};
    for (const part of auth.slice('AWS4-HMAC-SHA256'.length).split(',')) {
      const [k, ...v] = part.trim().split('=');
      if (k) fields[k] = v.join('=');
    }
    const cred = fields['Credential'];
    const sh = fields['SignedHeaders'];
    const sig = fields['Signature'];
    const amzDate = headerValue(req.headers, 'x-amz-date') ?? '';
    if (!cred || !sh || !sig) {
      throw new AuthenticationError(
        'IncompleteSignatureException',
        `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.`,
      );
    }
    if (!/^\d{8}T\d{6}Z$/.test(amzDate)) {
      throw new AuthenticationError('IncompleteSignatureException', 'Authorization header requires existence of either a \'X-Amz-Date\' or a \'Date\' header.');
    }
    const contentSha256 = headerValue(req.headers, 'x-amz-content-sha256');
    const securityToken = headerValue(req.headers, 'x-amz-security-token');
    return {
      via: 'header',
      ...splitCredential(cred),
      amzDate,
      signedHeaders: sh.split(';'),
      signature: sig,
      ...(contentSha256 !== undefined ? { contentSha256 } : {}),
      ...(securityToken !== undefined ? { securityToken } : {}),
    };
  }
  const q = new Map(queryPairs(req.rawQuery));
  if (!q.has('X-Amz-Algorithm') && !q.has('X-Amz-Signature')) return undefined;
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
    throw new AuthenticationError('IncompleteSignatureException', 'X-Amz-Algorithm must be AWS4-HMAC-SHA256.');
  }
  const cred = q.get('X-Amz-Credential');
  const amzDate = q.get('X-Amz-Date');
  const sh = q.get('X-Amz-SignedHeaders');
  const sig = q.get('X-Amz-Signature');
  const expires = q.get('X-Amz-Expires');
  if (!cred || !amzDate || !sh || !sig || !expires) {
    throw new AuthenticationError(
      'IncompleteSignatureException',
      'A presigned URL requires X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature.',
    );
  }
  const exp = Number(expires);
  if (!Number.isInteger(exp) || exp < 1 || exp > 604800) {
    throw new AuthenticationError('IncompleteSignatureException', 'X-Amz-Expires must be between 1 and 604800 seconds.', 'expiry-too-long');
  }
  if (!/^\d{8}T\d{6}Z$/.test(amzDate)) throw new AuthenticationError('IncompleteSignatureException', 'X-Amz-Date is malformed.');
  const token = q.get('X-Amz-Security-Token');
  return {
    via: 'query',
    ...splitCredential(cred),
    amzDate,
    signedHeaders: sh.split(';'),
    signature: sig,
    expiresSeconds: exp,
    ...(token !== undefined ? { securityToken: token } : {}),
  };
}

function splitCredential(cred: string): Pick<ParsedSignature, 'accessKeyId' | 'scopeDate' | 'region' | 'service'> {
  const parts = cred.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') {
    throw new AuthenticationError('IncompleteSignatureException', `Credential should be scoped to a valid region and service: ${parts.slice(1).join('/')}`);
  }
  return { accessKeyId: parts[0]!, scopeDate: parts[1]!, region: parts[2]!, service: parts[3]! };
}

export function amzDateToMs(amzDate: string): number {
  return Date.UTC(
    Number(amzDate.slice(0, 4)),
    Number(amzDate.slice(4, 6)) - 1,
    Number(amzDate.slice(6, 8)),
    Number(amzDate.slice(9, 11)),
    Number(amzDate.slice(11, 13)),
    Number(amzDate.slice(13, 15)),
  );
}

function toAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Rejects signatures outside the clock-skew window or past their expiry. */
export function checkTime(sig: ParsedSignature, nowMs: number): void {
  const t = amzDateToMs(sig.amzDate);
  if (sig.amzDate.slice(0, 8) !== sig.scopeDate) {
    throw new AuthenticationError('InvalidSignatureException', 'The credential scope date does not match X-Amz-Date.', 'scope');
  }
  if (sig.via === 'header') {
    if (t < nowMs - MAX_SKEW_MS) {
      throw new AuthenticationError(
        'InvalidSignatureException',
        `Signature expired: ${sig.amzDate} is now earlier than ${toAmzDate(nowMs - MAX_SKEW_MS)} (${toAmzDate(nowMs)} - 15 min.)`,
        'skewed',
      );
    }
    if (t > nowMs + MAX_SKEW_MS) {
      throw new AuthenticationError(
        'InvalidSignatureException',
        `Signature not yet current: ${sig.amzDate} is still later than ${toAmzDate(nowMs + MAX_SKEW_MS)} (${toAmzDate(nowMs)} + 15 min.)`,
        'skewed',
      );
    }
  } else {
    if (t > nowMs + MAX_SKEW_MS) {
      throw new AuthenticationError('InvalidSignatureException', `Signature not yet current: ${sig.amzDate}.`, 'not-yet-valid');
    }
    if (nowMs > t + sig.expiresSeconds! * 1000) {
      throw new AuthenticationError('InvalidSignatureException', `Signature expired: the presigned URL expired at ${toAmzDate(t + sig.expiresSeconds! * 1000)}.`, 'expired');
    }
  }
}

export function canonicalPath(rawPath: string, doubleEncode: boolean): string {
  if (!doubleEncode) return rawPath || '/';
  return (rawPath || '/')
    .split('/')
    .map((seg) => uriEncode(seg))
    .join('/');
}

export function canonicalQuery(rawQuery: string, excludeSignature: boolean): string {
  const pairs = queryPairs(rawQuery)
    .filter(([k]) => !(excludeSignature && k === 'X-Amz-Signature'))
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as [string, string]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

export function canonicalRequest(req: SigningRequest, sig: ParsedSignature, payloadHash: string, doubleEncodePath: boolean): string {
  const headers = sig.signedHeaders
    .map((name) => {
      const v = headerValue(req.headers, name);
      if (v === undefined) {
        throw new AuthenticationError('SignatureDoesNotMatch', `The request does not carry the signed header ${name}.`);
      }
      return `${name}:${v.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  return [
    req.method,
    canonicalPath(req.rawPath, doubleEncodePath),
    canonicalQuery(req.rawQuery, sig.via === 'query'),
    headers,
    sig.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

const signingKeyCache = new Map<string, Buffer>();

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return getOrAdd(signingKeyCache, `${secret}\0${date}\0${region}\0${service}`, 10_000, () => {
    const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
    const kRegion = createHmac('sha256', kDate).update(region).digest();
    const kService = createHmac('sha256', kRegion).update(service).digest();
    return createHmac('sha256', kService).update('aws4_request').digest();
  });
}

export function stringToSign(sig: ParsedSignature, canonical: string): string {
  return [
    'AWS4-HMAC-SHA256',
    sig.amzDate,
    `${sig.scopeDate}/${sig.region}/${sig.service}/aws4_request`,
    createHash('sha256').update(canonical).digest('hex'),
  ].join('\n');
}

/** What a verified presigned request's signature covered, with the secret it was checked with. */
interface VerifiedPresigned {
  method: string;
  rawPath: string;
  rawQuery: string;
  headerValues: (string | undefined)[];
  payloadHash: string;
  doubleEncodePath: boolean;
  secret: string;
}

/**
 * Presigned requests already verified, by their signature: a presigned URL is replayed as-is (htslib, IGV and the
 * S3 view's readers ask for many ranges of one URL, and the Range header is not signed), so its canonical request
 * and HMAC need computing once. A hit must match everything the signature covers and the secret, field by field
 * (string comparisons, no key built and hashed per request); anything else is verified in full. Expiry is checked
 * on every use (checkTime).
 */
const verifiedPresigned = new Map<string, VerifiedPresigned>();

function sameAsVerified(v: VerifiedPresigned, req: SigningRequest, sig: ParsedSignature, secret: string, payloadHash: string, doubleEncodePath: boolean): boolean {
  if (v.method !== req.method || v.rawPath !== req.rawPath || v.rawQuery !== req.rawQuery || v.payloadHash !== payloadHash) return false;
  if (v.doubleEncodePath !== doubleEncodePath || v.secret !== secret || v.headerValues.length !== sig.signedHeaders.length) return false;
  for (let i = 0; i < sig.signedHeaders.length; i++) if (v.headerValues[i] !== headerValue(req.headers, sig.signedHeaders[i]!)) return false;
  return true;
}

/** Checks the signature; `payloadHash` is what the client must have signed. */
export function verifySignature(req: SigningRequest, sig: ParsedSignature, secret: string, payloadHash: string, doubleEncodePath: boolean): boolean {
  if (!sig.signedHeaders.includes('host')) {
    throw new AuthenticationError('SignatureDoesNotMatch', 'The host header must be signed.');
  }
  const known = sig.via === 'query' ? verifiedPresigned.get(sig.signature) : undefined;
  if (known && sameAsVerified(known, req, sig, secret, payloadHash, doubleEncodePath)) return true;
  const canonical = canonicalRequest(req, sig, payloadHash, doubleEncodePath);
  const expected = createHmac('sha256', signingKey(secret, sig.scopeDate, sig.region, sig.service)).update(stringToSign(sig, canonical)).digest();
  const given = Buffer.from(sig.signature, 'hex');
  const ok = given.length === expected.length && timingSafeEqual(given, expected);
  if (ok && sig.via === 'query') {
    const headerValues = sig.signedHeaders.map((h) => headerValue(req.headers, h));
    addBounded(verifiedPresigned, sig.signature, { method: req.method, rawPath: req.rawPath, rawQuery: req.rawQuery, headerValues, payloadHash, doubleEncodePath, secret }, 10_000);
  }
  return ok;
}

/** Static credentials, as a signer needs them. */
export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Signs a request in the header form, as the AWS SDKs sign it: `headers` (lower-case names, `host` among them) are
 * all signed; `x-amz-date` (and `x-amz-security-token` for temporary credentials) are added with `authorization`.
 * The canonical request is the one `verifySignature` checks (S3 signs the path as sent, other services escape it
 * once more); test/sigv4.test.ts compares it with the SDK's signer. Used by the CLI's commands that must
 * start quickly: loading the SDK's signer costs ~70 ms.
 */
export function signRequest(
  req: { method: string; rawPath: string; rawQuery: string; headers: Record<string, string> },
  credentials: SigningCredentials,
  scope: { region: string; service: string },
  payloadHash: string,
  nowMs: number,
): Record<string, string> {
  const amzDate = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const headers: Record<string, string> = { ...req.headers, 'x-amz-date': amzDate };
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  const sig: ParsedSignature = {
    via: 'header',
    accessKeyId: credentials.accessKeyId,
    amzDate,
    scopeDate: amzDate.slice(0, 8),
    region: scope.region,
    service: scope.service,
    signedHeaders: Object.keys(headers).sort(),
    signature: '',
  };
  const canonical = canonicalRequest({ ...req, headers }, sig, payloadHash, scope.service !== 's3');
  const signature = createHmac('sha256', signingKey(credentials.secretAccessKey, sig.scopeDate, sig.region, sig.service)).update(stringToSign(sig, canonical)).digest('hex');
  headers['authorization'] = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${sig.scopeDate}/${sig.region}/${sig.service}/aws4_request, SignedHeaders=${sig.signedHeaders.join(';')}, Signature=${signature}`;
  return headers;
}
