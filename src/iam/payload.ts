import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { AuthenticationError, ValidationError } from '../core/errors.js';
import { AwsChunkedDecoder, streamingMode } from './aws-chunked.js';
import type { AuthenticatedRequest } from './authenticator.js';

/**
 * The payload of a streamed request as the signature vouches for it:
 * aws-chunked bodies are decoded (chunk signatures and checksum trailers
 * verified), a body signed with a hex SHA-256 is checked as it streams, and
 * UNSIGNED-PAYLOAD passes through. Errors fail the stream, so a consumer
 * (a blob put) never completes with bytes the client did not sign.
 */
export function verifiedBody(
  body: Readable,
  headers: Record<string, string | string[] | undefined>,
  authn: AuthenticatedRequest | undefined,
): Readable {
  const declared = authn?.signature.contentSha256;
  const mode = streamingMode(declared);
  const header = (n: string) => {
    const v = headers[n];
    return Array.isArray(v) ? v.join(',') : v;
  };
  if (mode) {
    const decodedLength = header('x-amz-decoded-content-length');
    const decoder = new AwsChunkedDecoder({
      mode,
      ...(mode !== 'unsigned-trailer' ? { signing: authn!.chunkSigning } : {}),
      ...(decodedLength !== undefined ? { decodedLength: Number(decodedLength) } : {}),
      trailerNames: (header('x-amz-trailer') ?? '')
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    });
    return pipeline(body, decoder, () => {});
  }
  if (declared && /^[0-9a-f]{64}$/.test(declared)) return pipeline(body, new Sha256Check(declared), () => {});
  if (header('content-encoding')?.includes('aws-chunked')) {
    throw new ValidationError('An aws-chunked body needs x-amz-content-sha256 set to a STREAMING-* value.');
  }
  return body;
}

class Sha256Check extends Transform {
  private readonly hash = createHash('sha256');
  constructor(private readonly expected: string) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const actual = this.hash.digest('hex');
    cb(actual === this.expected ? null : new AuthenticationError('InvalidSignatureException', 'The provided x-amz-content-sha256 header does not match what was computed.', 'payload-mismatch'));
  }
}
