// aws-chunked (SigV4 streaming) decoding: AWS's published example, and what the real S3 client sends.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { createHmac, createHash, randomBytes } from 'node:crypto';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { AwsChunkedDecoder, streamingMode, type ChunkedOptions } from '../src/iam/aws-chunked.js';
import { parseSignature, signingKey, verifySignature, EMPTY_SHA256 } from '../src/iam/sigv4.js';

async function decode(body: Buffer, opts: ChunkedOptions, pieceSize = 1000): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += pieceSize) pieces.push(body.subarray(i, i + pieceSize));
  const out: Buffer[] = [];
  for await (const c of Readable.from(pieces).pipe(new AwsChunkedDecoder(opts))) out.push(c as Buffer);
  return Buffer.concat(out);
}

// The worked example of the S3 documentation, "Transferring payload in multiple chunks".
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DATE = '20130524T000000Z';
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const SIGS = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];
function exampleBody(sigs = SIGS, data1 = Buffer.alloc(65536, 'a'), data2 = Buffer.alloc(1024, 'a')): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`),
    data1,
    Buffer.from(`\r\n400;chunk-signature=${sigs[1]}\r\n`),
    data2,
    Buffer.from(`\r\n0;chunk-signature=${sigs[2]}\r\n\r\n`),
  ]);
}
const signing = { signingKey: signingKey(SECRET, '20130524', 'us-east-1', 's3'), amzDate: DATE, scope: SCOPE, seedSignature: SEED };

describe('aws-chunked decoding', () => {
  it('verifies the seed signature of the documented example request', () => {
    const req = {
      method: 'PUT',
      rawPath: '/examplebucket/chunkObject.txt',
      rawQuery: '',
      headers: {
        host: 's3.amazonaws.com',
        'x-amz-date': DATE,
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/${SCOPE},SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${SEED}`,
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': '66560',
        'content-length': '66824',
      },
    };
    const sig = parseSignature(req)!;
    assert.equal(verifySignature(req, sig, SECRET, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', false), true);
    assert.equal(streamingMode(sig.contentSha256), 'signed');
    assert.equal(exampleBody().length, 66824);
  });

  it('decodes the documented signed chunks and checks every chunk signature', async () => {
    for (const size of [1, 7, 1000, 70_000]) {
      const out = await decode(exampleBody(), { mode: 'signed', signing, decodedLength: 66560 }, size);
      assert.equal(out.length, 66560);
      assert.ok(out.every((b) => b === 97));
    }
  });

  it('fails on a changed byte, a reordered chunk, a wrong signature, truncation and a wrong length', async () => {
    const tampered = Buffer.alloc(1024, 'a');
    tampered[10] = 98;
    await assert.rejects(decode(exampleBody(SIGS, undefined, tampered), { mode: 'signed', signing }), /chunk signature does not match/);
    await assert.rejects(decode(exampleBody([SIGS[1]!, SIGS[0]!, SIGS[2]!]), { mode: 'signed', signing }), /chunk signature does not match/);
    await assert.rejects(decode(exampleBody(), { mode: 'signed', signing: { ...signing, seedSignature: EMPTY_SHA256 } }), /chunk signature/);
    const body = exampleBody();
    await assert.rejects(decode(body.subarray(0, 40_000), { mode: 'signed', signing }), /truncated/);
    await assert.rejects(decode(body, { mode: 'signed', signing, decodedLength: 66561 }), /decoded-content-length/);
    await assert.rejects(decode(Buffer.from('zz;chunk-signature=00\r\n'), { mode: 'signed', signing }), /bad chunk size/);
    await assert.rejects(decode(Buffer.from('1;chunk-signature=00\r\naXX'), { mode: 'signed', signing }), /not followed by CRLF/);
  });

  it('decodes signed chunks with a signed checksum trailer', async () => {
    const key = signingKey('s3cr3t', '20260101', 'us-east-1', 'omics');
    const ctx = { signingKey: key, amzDate: '20260101T000000Z', scope: '20260101/us-east-1/omics/aws4_request', seedSignature: 'ab'.repeat(32) };
    const data = randomBytes(5000);
    const sign = (prev: string, chunk: Buffer) =>
      createHmac('sha256', key)
        .update(['AWS4-HMAC-SHA256-PAYLOAD', ctx.amzDate, ctx.scope, prev, EMPTY_SHA256, createHash('sha256').update(chunk).digest('hex')].join('\n'))
        .digest('hex');
    const s1 = sign(ctx.seedSignature, data);
    const s2 = sign(s1, Buffer.alloc(0));
    const trailer = `x-amz-checksum-sha256:${createHash('sha256').update(data).digest('base64')}\n`;
    const ts = createHmac('sha256', key)
      .update(['AWS4-HMAC-SHA256-TRAILER', ctx.amzDate, ctx.scope, s2, createHash('sha256').update(trailer).digest('hex')].join('\n'))
      .digest('hex');
    const body = Buffer.concat([
      Buffer.from(`${data.length.toString(16)};chunk-signature=${s1}\r\n`),
      data,
      Buffer.from(`\r\n0;chunk-signature=${s2}\r\n${trailer.trim()}\r\nx-amz-trailer-signature:${ts}\r\n\r\n`),
    ]);
    const opts: ChunkedOptions = { mode: 'signed-trailer', signing: ctx, trailerNames: ['x-amz-checksum-sha256'] };
    assert.ok((await decode(body, opts)).equals(data));
    const badTrailer = Buffer.from(body.toString('latin1').replace(`x-amz-trailer-signature:${ts}`, `x-amz-trailer-signature:${'0'.repeat(64)}`), 'latin1');
    await assert.rejects(decode(badTrailer, opts), /trailer signature/);
  });

  it('decodes exactly what @aws-sdk/client-s3 sends for a streamed PutObject, checksum trailer included', async () => {
    const captured: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
    const server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        captured.push({ headers: req.headers, body: Buffer.concat(parts) });
        res.writeHead(200, { etag: '"x"' }).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' } });
      const data = randomBytes(300_000);
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), ContentLength: data.length }));
      const { headers, body } = captured[0]!;
      const mode = streamingMode(headers['x-amz-content-sha256'] as string);
      assert.ok(mode, `the SDK sent x-amz-content-sha256: ${String(headers['x-amz-content-sha256'])}`);
      assert.equal(headers['content-encoding'], 'aws-chunked');
      const trailerNames = String(headers['x-amz-trailer'] ?? '').split(',').filter(Boolean).map((s) => s.trim().toLowerCase());
      assert.ok(trailerNames.length > 0, 'the SDK announced a checksum trailer');
      const out = await decode(body, { mode: mode!, trailerNames, decodedLength: Number(headers['x-amz-decoded-content-length']) }, 4096);
      assert.ok(out.equals(data));
      const corrupt = Buffer.from(body);
      corrupt[200] ^= 0xff; // inside the first chunk's data
      await assert.rejects(decode(corrupt, { mode: mode!, trailerNames }), /checksum .* does not match/);
    } finally {
      server.close();
    }
  });
});

describe('verifiedBody', async () => {
  const { verifiedBody } = await import('../src/iam/payload.js');
  const principal = { accountId: '123456789012', userName: null, arn: 'arn:aws:iam::123456789012:root', accessKeyId: 'AKIA' };
  const authn = (contentSha256?: string) => ({
    principal,
    signature: {
      via: 'header' as const,
      accessKeyId: 'AKIA',
      amzDate: DATE,
      scopeDate: '20130524',
      region: 'us-east-1',
      service: 's3',
      signedHeaders: ['host'],
      signature: SEED,
      ...(contentSha256 ? { contentSha256 } : {}),
    },
    chunkSigning: signing,
  });
  const readAll = async (r: Readable) => {
    const out: Buffer[] = [];
    for await (const c of r) out.push(c as Buffer);
    return Buffer.concat(out);
  };

  it('checks a hex payload hash while streaming', async () => {
    const data = Buffer.from('payload bytes');
    const good = createHash('sha256').update(data).digest('hex');
    assert.ok((await readAll(verifiedBody(Readable.from([data]), {}, authn(good)))).equals(data));
    await assert.rejects(readAll(verifiedBody(Readable.from([data]), {}, authn(EMPTY_SHA256))), /does not match/);
  });

  it('decodes aws-chunked bodies and passes UNSIGNED-PAYLOAD through', async () => {
    const out = await readAll(verifiedBody(Readable.from([exampleBody()]), { 'x-amz-decoded-content-length': '66560' }, authn('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')));
    assert.equal(out.length, 66560);
    assert.equal((await readAll(verifiedBody(Readable.from([Buffer.from('x')]), {}, authn('UNSIGNED-PAYLOAD')))).toString(), 'x');
    assert.throws(() => verifiedBody(Readable.from([Buffer.from('x')]), { 'content-encoding': 'aws-chunked' }, authn('UNSIGNED-PAYLOAD')), /STREAMING/);
  });
});
