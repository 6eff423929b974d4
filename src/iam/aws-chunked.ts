import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Transform, type TransformCallback } from 'node:stream';
import { Crc32c } from '@aws-crypto/crc32c';
import { AuthenticationError, ValidationError } from '../core/errors.js';
import { checksumHeaderValue } from '../core/checksums.js';
import { EMPTY_SHA256 } from './sigv4.js';

/**
 * Decodes `Content-Encoding: aws-chunked` bodies (SigV4 streaming), as the
 * AWS SDKs send stream uploads:
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]  chunks signed in a chain from the seed signature
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER            unsigned chunks, checksum in a trailer
 * Framing: `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n` ... `0[;chunk-signature=..]\r\n`
 * then trailer lines `name:value\r\n` (and `x-amz-trailer-signature`), then `\r\n`.
 * Emits only the payload bytes; fails the stream on any framing, signature,
 * checksum or length error, so nothing half-verified is stored.
 */
export type StreamingMode = 'signed' | 'signed-trailer' | 'unsigned-trailer';

export function streamingMode(contentSha256: string | undefined): StreamingMode | undefined {
  switch (contentSha256) {
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return 'signed';
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return 'signed-trailer';
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return 'unsigned-trailer';
    default:
      return undefined;
  }
}

export interface ChunkSigning {
  signingKey: Buffer;
  amzDate: string;
  scope: string; // yyyymmdd/region/service/aws4_request
  seedSignature: string;
}

export interface ChunkedOptions {
  mode: StreamingMode;
  signing?: ChunkSigning; // required for the signed modes
  /** x-amz-decoded-content-length, if sent. */
  decodedLength?: number;
  /** Names announced in x-amz-trailer (lower case). */
  trailerNames?: string[];
  maxChunkSize?: number;
}

type Checksummer = { update(b: Buffer): void; digest(): string };

function checksummer(name: string): Checksummer | undefined {
  switch (name) {
    case 'x-amz-checksum-crc32': {
      let c = 0;
      return {
        update: (b) => (c = crc32(b, c)),
        digest: () => checksumHeaderValue(c),
      };
    }
    case 'x-amz-checksum-crc32c': {
      const h = new Crc32c();
      return {
        update: (b) => void h.update(b),
        digest: () => checksumHeaderValue(h.digest()),
      };
    }
    case 'x-amz-checksum-sha1':
    case 'x-amz-checksum-sha256': {
      const h = createHash(name.endsWith('sha1') ? 'sha1' : 'sha256');
      return { update: (b) => void h.update(b), digest: () => h.digest('base64') };
    }
    default:
      return undefined;
  }
}

const MAX_LINE = 4096;

export class AwsChunkedDecoder extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'header' | 'data' | 'data-crlf' | 'final-crlf' | 'trailer' | 'done' = 'header';
  private remaining = 0;
  private chunkSignature: string | undefined;
  private chunkHash = createHash('sha256');
  private previousSignature: string | undefined;
  private decoded = 0;
  private readonly sums = new Map<string, Checksummer>();
  private readonly trailers = new Map<string, string>();
  private readonly trailerLines: string[] = [];

  constructor(private readonly opts: ChunkedOptions) {
    super();
    if (opts.mode !== 'unsigned-trailer' && !opts.signing) throw new Error('signed aws-chunked decoding needs the signing context');
    this.previousSignature = opts.signing?.seedSignature;
    for (const name of opts.trailerNames ?? []) {
      const s = checksummer(name);
      if (!s) throw new ValidationError(`Unsupported trailing checksum ${name}; use CRC32, CRC32C, SHA1 or SHA256.`);
      this.sums.set(name, s);
    }
  }

  private signed(): boolean {
    return this.opts.mode !== 'unsigned-trailer';
  }

  private takeLine(): string | undefined {
    const i = this.buf.indexOf('\r\n');
    if (i < 0) {
      if (this.buf.length > MAX_LINE) throw new ValidationError('aws-chunked framing error: a chunk header or trailer line is too long.');
      return undefined;
    }
    const line = this.buf.subarray(0, i).toString('latin1');
    this.buf = this.buf.subarray(i + 2);
    return line;
  }

  private verifyChunk(): void {
    if (!this.signed()) return;
    const s = this.opts.signing!;
    const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', s.amzDate, s.scope, this.previousSignature, EMPTY_SHA256, this.chunkHash.digest('hex')].join('\n');
    const expected = createHmac('sha256', s.signingKey).update(stringToSign).digest();
    const given = Buffer.from(this.chunkSignature ?? '', 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AuthenticationError('SignatureDoesNotMatch', 'The chunk signature does not match the signature calculated for the chunk.');
    }
    this.previousSignature = this.chunkSignature;
    this.chunkHash = createHash('sha256');
  }

  private step(): void {
    for (;;) {
      switch (this.state) {
        case 'header': {
          const line = this.takeLine();
          if (line === undefined) return;
          const [sizeHex, ...ext] = line.split(';');
          if (!/^[0-9a-fA-F]{1,16}$/.test(sizeHex ?? '')) throw new ValidationError(`aws-chunked framing error: bad chunk size ${JSON.stringify(sizeHex)}.`);
          this.remaining = Number.parseInt(sizeHex!, 16);
          if (this.opts.maxChunkSize !== undefined && this.remaining > this.opts.maxChunkSize) {
            throw new ValidationError(`aws-chunked chunk of ${this.remaining} bytes exceeds ${this.opts.maxChunkSize}.`);
          }
          const sig = ext.map((e) => e.trim()).find((e) => e.startsWith('chunk-signature='));
          this.chunkSignature = sig?.slice('chunk-signature='.length);
          if (this.signed() && !this.chunkSignature) throw new AuthenticationError('IncompleteSignatureException', 'A signed aws-chunked body needs a chunk-signature on every chunk.');
          if (this.remaining === 0) {
            this.verifyChunk();
            this.state = this.opts.mode === 'signed' ? 'final-crlf' : 'trailer';
          } else this.state = 'data';
          break;
        }
        case 'data': {
          if (this.buf.length === 0) return;
          const n = Math.min(this.remaining, this.buf.length);
          const piece = this.buf.subarray(0, n);
          this.buf = this.buf.subarray(n);
          this.remaining -= n;
          this.decoded += n;
          if (this.signed()) this.chunkHash.update(piece);
          for (const s of this.sums.values()) s.update(piece);
          this.push(piece);
          if (this.remaining === 0) this.state = 'data-crlf';
          break;
        }
        case 'data-crlf': {
          if (this.buf.length < 2) return;
          if (this.buf[0] !== 13 || this.buf[1] !== 10) throw new ValidationError('aws-chunked framing error: a chunk is not followed by CRLF.');
          this.buf = this.buf.subarray(2);
          this.verifyChunk();
          this.state = 'header';
          break;
        }
        case 'final-crlf': {
          if (this.buf.length < 2) return;
          if (this.buf[0] !== 13 || this.buf[1] !== 10) throw new ValidationError('aws-chunked framing error: the final chunk is not followed by CRLF.');
          this.buf = this.buf.subarray(2);
          this.state = 'done';
          break;
        }
        case 'trailer': {
          const line = this.takeLine();
          if (line === undefined) return;
          if (line === '') {
            this.finishTrailers();
            this.state = 'done';
            break;
          }
          const i = line.indexOf(':');
          if (i <= 0) throw new ValidationError(`aws-chunked framing error: malformed trailer ${JSON.stringify(line.slice(0, 64))}.`);
          const name = line.slice(0, i).trim().toLowerCase();
          const value = line.slice(i + 1).trim();
          if (name !== 'x-amz-trailer-signature') this.trailerLines.push(`${name}:${value}\n`);
          this.trailers.set(name, value);
          break;
        }
        case 'done':
          if (this.buf.length > 0 && this.buf.toString('latin1').trim() !== '') throw new ValidationError('aws-chunked framing error: data after the final chunk.');
          this.buf = Buffer.alloc(0);
          return;
      }
    }
  }

  private finishTrailers(): void {
    if (this.opts.mode === 'signed-trailer') {
      const s = this.opts.signing!;
      const stringToSign = [
        'AWS4-HMAC-SHA256-TRAILER',
        s.amzDate,
        s.scope,
        this.previousSignature,
        createHash('sha256').update(this.trailerLines.join('')).digest('hex'),
      ].join('\n');
      const expected = createHmac('sha256', s.signingKey).update(stringToSign).digest('hex');
      if (this.trailers.get('x-amz-trailer-signature') !== expected) {
        throw new AuthenticationError('SignatureDoesNotMatch', 'The trailer signature does not match the signature calculated for the trailer.');
      }
    }
    for (const [name, sum] of this.sums) {
      const given = this.trailers.get(name);
      if (given === undefined) throw new ValidationError(`The announced trailer ${name} is missing.`);
      const actual = sum.digest();
      if (given !== actual) throw new ValidationError(`The ${name.slice('x-amz-checksum-'.length).toUpperCase()} checksum ${given} does not match the data received (${actual}).`);
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      this.step();
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.step();
      if (this.state !== 'done') throw new ValidationError('The aws-chunked body ended before its final chunk: the upload is truncated.');
      if (this.opts.decodedLength !== undefined && this.decoded !== this.opts.decodedLength) {
        throw new ValidationError(`x-amz-decoded-content-length says ${this.opts.decodedLength} bytes but the body held ${this.decoded}.`);
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }
}
