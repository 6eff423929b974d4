import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from '../core/errors.js';
import type { SigningRequest } from './sigv4.js';
import { queryPairs } from './sigv4.js';

/**
 * AWS Signature Version 2 as S3 defines it (header `Authorization: AWS id:sig`
 * or query `AWSAccessKeyId`/`Signature`/`Expires`). Only the S3 edge accepts
 * it: the AWS CLI v1 presigns S3 URLs with SigV2 by default, and htslib signs
 * with it when HTS_S3_V2 is set. A policy can refuse it with `s3:signatureversion`.
 */
export interface ParsedSignatureV2 {
  accessKeyId: string;
  signature: string;
  via: 'header' | 'query';
  /** Expires (query) or the request's Date (header), as the string that was signed. */
  time: string;
}

/** Sub-resources that are part of the string to sign (S3 REST authentication). */
const SUB_RESOURCES = new Set([
  'acl', 'cors', 'delete', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy', 'requestPayment',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website',
]);

const header = (req: SigningRequest, name: string): string => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
};

export function parseSignatureV2(req: SigningRequest): ParsedSignatureV2 | undefined {
  const auth = header(req, 'authorization');
  if (auth.startsWith('AWS ')) {
    const m = /^AWS ([^:]+):(.+)$/.exec(auth);
    if (!m) throw new AuthenticationError('IncompleteSignatureException', 'The Authorization header is not of the form "AWS AccessKeyId:Signature".');
    return { accessKeyId: m[1]!, signature: m[2]!, via: 'header', time: header(req, 'x-amz-date') ? '' : header(req, 'date') };
  }
  if (!req.rawQuery.includes('AWSAccessKeyId=')) return undefined; // not a SigV2 presigned URL
  const q = new Map(queryPairs(req.rawQuery));
  if (q.has('AWSAccessKeyId') && q.has('Signature')) {
    return { accessKeyId: q.get('AWSAccessKeyId')!, signature: q.get('Signature')!, via: 'query', time: q.get('Expires') ?? '' };
  }
  return undefined;
}

export function stringToSignV2(req: SigningRequest, sig: ParsedSignatureV2): string {
  const amz = Object.keys(req.headers)
    .filter((k) => k.toLowerCase().startsWith('x-amz-'))
    .sort()
    .map((k) => `${k.toLowerCase()}:${header(req, k).trim()}\n`)
    .join('');
  const subs = queryPairs(req.rawQuery)
    .filter(([k]) => SUB_RESOURCES.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`));
  const resource = req.rawPath + (subs.length ? `?${subs.join('&')}` : '');
  return `${req.method}\n${header(req, 'content-md5')}\n${header(req, 'content-type')}\n${sig.time}\n${amz}${resource}`;
}

/** The longest a presigned URL may be valid: SigV4's limit (7 days), also applied to SigV2's absolute Expires. */
export const MAX_PRESIGN_SECONDS = 604_800;

/** Checks the signature and the time (Expires in the future, or a Date within 15 minutes). */
export function verifySignatureV2(req: SigningRequest, sig: ParsedSignatureV2, secret: string, now: number, maxPresignSeconds = MAX_PRESIGN_SECONDS): void {
  if (sig.via === 'query') {
    const expires = Number(sig.time);
    if (!Number.isFinite(expires)) throw new AuthenticationError('IncompleteSignatureException', 'Expires is missing or not a number.');
    if (expires * 1000 < now) throw new AuthenticationError('InvalidSignatureException', 'Request has expired', 'expired');
    // SigV2 URLs carry an absolute expiry and no signing time: cap how far ahead it may be, as SigV4 caps X-Amz-Expires.
    if (expires * 1000 > now + maxPresignSeconds * 1000) {
      throw new AuthenticationError('IncompleteSignatureException', `A presigned URL may be valid for at most ${maxPresignSeconds} seconds; this one expires at ${new Date(expires * 1000).toISOString()}.`, 'expiry-too-long');
    }
  } else {
    const t = Date.parse(sig.time || header(req, 'x-amz-date'));
    if (!Number.isFinite(t)) throw new AuthenticationError('IncompleteSignatureException', 'The request has no valid Date or x-amz-date header.');
    if (Math.abs(now - t) > 15 * 60_000) throw new AuthenticationError('InvalidSignatureException', 'The difference between the request time and the current time is too large.', 'skewed');
  }
  const expected = createHmac('sha1', secret).update(stringToSignV2(req, sig), 'utf8').digest();
  let given: Buffer;
  try {
    given = Buffer.from(sig.signature, 'base64');
  } catch {
    given = Buffer.alloc(0);
  }
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AuthenticationError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }
}
