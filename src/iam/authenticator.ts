import { createHash } from 'node:crypto';
import { AuthenticationError } from '../core/errors.js';
import type { IdentityService, Principal } from './identity.js';
import { checkTime, EMPTY_SHA256, parseSignature, signingKey, UNSIGNED_PAYLOAD, verifySignature, type ParsedSignature, type SigningRequest } from './sigv4.js';
import type { ChunkSigning } from './aws-chunked.js';
import { parseSignatureV2, verifySignatureV2 } from './sigv2.js';

/** What a protocol edge asks of authentication: who signed this request, for which service. */
export interface AuthenticatedRequest {
  principal: Principal;
  signature: ParsedSignature;
  /** What a streamed (aws-chunked) body's chunk signatures chain from. */
  chunkSigning: ChunkSigning;
}

export class Authenticator {
  constructor(
    private readonly identity: IdentityService,
    private readonly region: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Verifies a SigV4 request. `body` is the buffered payload, or undefined for
   * streamed payloads, whose hash (if signed) the caller checks while reading.
   */
  async authenticate(
    req: SigningRequest,
    expectedService: string,
    body: Buffer | undefined,
    doubleEncodePath: boolean,
  ): Promise<AuthenticatedRequest> {
    const sig = parseSignature(req);
    if (!sig) throw new AuthenticationError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    if (sig.service !== expectedService) {
      throw new AuthenticationError('InvalidSignatureException', `Credential should be scoped to correct service: '${expectedService}'.`, 'scope');
    }
    if (sig.region !== this.region) {
      throw new AuthenticationError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${sig.region}'. This server's region is '${this.region}'.`, 'scope');
    }
    const { principal, secret } = await this.identity.lookup(sig.accessKeyId);
    checkTime(sig, this.now());
    const candidates = payloadHashes(sig, body, req.headers);
    for (const hash of candidates) {
      if (verifySignature(req, sig, secret, hash, doubleEncodePath)) {
        return {
          principal,
          signature: sig,
          chunkSigning: {
            signingKey: signingKey(secret, sig.scopeDate, sig.region, sig.service),
            amzDate: sig.amzDate,
            scope: `${sig.scopeDate}/${sig.region}/${sig.service}/aws4_request`,
            seedSignature: sig.signature,
          },
        };
      }
    }
    throw new AuthenticationError(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
}

/** SigV2 (S3 only): the principal, or undefined when the request carries no SigV2 signature. */
export async function authenticateV2(identity: IdentityService, req: SigningRequest, now: number): Promise<Principal | undefined> {
  const sig = parseSignatureV2(req);
  if (!sig) return undefined;
  const { principal, secret } = await identity.lookup(sig.accessKeyId);
  verifySignatureV2(req, sig, secret, now);
  return principal;
}

/**
 * The payload hashes the client may have signed. UNSIGNED-PAYLOAD is for streamed bodies only (part uploads,
 * the S3 edge): a buffered JSON body must be signed, or it could be changed after signing. A request that
 * declares no hash and carries no body may have signed the empty payload's hash (curl --aws-sigv4 does).
 */
function payloadHashes(sig: ParsedSignature, body: Buffer | undefined, headers: SigningRequest['headers']): string[] {
  const declared = sig.contentSha256;
  if (declared === UNSIGNED_PAYLOAD && body !== undefined && body.length > 0) {
    throw new AuthenticationError(
      'InvalidSignatureException',
      'UNSIGNED-PAYLOAD is not accepted for this operation: sign the request body (x-amz-content-sha256 must be its SHA-256).',
      'unsigned-payload',
    );
  }
  if (declared !== undefined) {
    if (/^[0-9a-f]{64}$/.test(declared) && body !== undefined) {
      const actual = createHash('sha256').update(body).digest('hex');
      if (actual !== declared) {
        throw new AuthenticationError('InvalidSignatureException', 'The provided x-amz-content-sha256 header does not match what was computed.', 'payload-mismatch');
      }
    }
    return [declared];
  }
  if (body === undefined) {
    const noBody = (headers['content-length'] === undefined || headers['content-length'] === '0') && headers['transfer-encoding'] === undefined;
    return noBody ? [UNSIGNED_PAYLOAD, EMPTY_SHA256] : [UNSIGNED_PAYLOAD];
  }
  const computed = body.length === 0 ? EMPTY_SHA256 : createHash('sha256').update(body).digest('hex');
  // Presigned URLs of most SDKs sign the empty payload; S3-style presigners sign UNSIGNED-PAYLOAD.
  return sig.via === 'query' ? [computed, UNSIGNED_PAYLOAD] : [computed];
}
