// SigV4 verification against signatures made by the AWS SDK's own signer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { parseSignature, verifySignature, checkTime, canonicalQuery, signRequest, EMPTY_SHA256, UNSIGNED_PAYLOAD } from '../src/iam/sigv4.js';
import { createHash } from 'node:crypto';

const creds = { accessKeyId: 'AKIAEXAMPLEEXAMPLE00', secretAccessKey: 'secret/with+chars' };
const signer = (service = 'omics') => new SignatureV4({ credentials: creds, region: 'us-east-1', service, sha256: Sha256, uriEscapePath: service !== 's3' });

function toWire(req: { path: string; query?: Record<string, string | string[]>; headers: Record<string, string> }) {
  const qs = Object.entries(req.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`))
    .join('&');
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method: 'GET', rawPath: req.path, rawQuery: qs, headers };
}

describe('SigV4 verification', () => {
  it('verifies header signatures over encoded paths and awkward query strings', async () => {
    const arn = encodeURIComponent('arn:aws:omics:us-east-1:123456789012:sequenceStore/1234567890');
    const body = '{"tags":{"a b":"c/d"}}';
    const signed = await signer().sign({
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1:8080',
      path: `/tags/${arn}`,
      query: { tagKeys: ['b', 'a', 'with space', 'ü'], 'x~y': "*'()!" },
      headers: { host: '127.0.0.1:8080', 'content-type': 'application/json', 'x-amz-meta-spaced': '  a   b  ' },
      body,
    });
    const wire = { ...toWire(signed as never), method: 'POST' };
    const sig = parseSignature(wire)!;
    assert.equal(sig.via, 'header');
    assert.equal(sig.service, 'omics');
    const hash = createHash('sha256').update(body).digest('hex');
    assert.equal(verifySignature(wire, sig, creds.secretAccessKey, hash, true), true);
    assert.equal(verifySignature(wire, sig, 'other', hash, true), false);
    assert.equal(verifySignature(wire, sig, creds.secretAccessKey, EMPTY_SHA256, true), false, 'a different body fails');
    assert.equal(verifySignature({ ...wire, method: 'PUT' }, sig, creds.secretAccessKey, hash, true), false, 'a different method fails');
    assert.equal(verifySignature({ ...wire, rawQuery: wire.rawQuery + '&extra=1' }, sig, creds.secretAccessKey, hash, true), false);
  });

  it('verifies S3-style single-encoded paths when asked to', async () => {
    const signed = await signer('s3').sign({ method: 'GET', protocol: 'http:', hostname: 'h', path: '/bucket/a%20b/c', headers: { host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const wire = toWire(signed as never);
    const sig = parseSignature(wire)!;
    assert.equal(verifySignature(wire, sig, creds.secretAccessKey, 'UNSIGNED-PAYLOAD', false), true);
    assert.equal(verifySignature(wire, sig, creds.secretAccessKey, 'UNSIGNED-PAYLOAD', true), false);
  });

  it('verifies presigned URLs and enforces their expiry', async () => {
    const date = new Date('2026-01-01T00:00:00Z');
    const pre = await signer().presign(
      { method: 'GET', protocol: 'http:', hostname: 'h', path: '/sequencestore/1234567890', headers: { host: 'h' }, query: {} },
      { expiresIn: 300, signingDate: date },
    );
    const wire = toWire(pre as never);
    const sig = parseSignature(wire)!;
    assert.equal(sig.via, 'query');
    assert.equal(sig.expiresSeconds, 300);
    assert.equal(verifySignature(wire, sig, creds.secretAccessKey, 'UNSIGNED-PAYLOAD', true) || verifySignature(wire, sig, creds.secretAccessKey, EMPTY_SHA256, true), true);
    checkTime(sig, date.getTime() + 299_000);
    assert.throws(() => checkTime(sig, date.getTime() + 301_000), /expired/);
  });

  it('a presigned URL verified once is not verified again, and nothing else rides on it', async () => {
    const pre = await signer('s3').presign(
      { method: 'GET', protocol: 'http:', hostname: 'h', path: '/bucket/key', headers: { host: 'h' }, query: {} },
      { expiresIn: 300, signingDate: new Date('2026-01-01T00:00:00Z') },
    );
    const wire = toWire(pre as never);
    const check = (w: typeof wire, secret = creds.secretAccessKey) => {
      const sig = parseSignature(w)!;
      return verifySignature(w, sig, secret, EMPTY_SHA256, false);
    };
    assert.equal(check(wire), true);
    assert.equal(check({ ...wire, headers: { ...wire.headers, range: 'bytes=0-9' } }), true, 'the same URL again, another (unsigned) Range: from the cache');
    assert.equal(check({ ...wire, headers: { ...wire.headers } }, 'another secret'), false, 'the secret is part of what was verified');
    assert.equal(check({ ...wire, headers: { host: 'other' } }), false, 'a signed header changed');
    assert.equal(check({ ...wire, rawPath: '/bucket/other-key' }), false, 'another object under the same signature');
    assert.equal(check({ ...wire, method: 'DELETE' }), false, 'another method');
    assert.equal(check({ ...wire, rawQuery: wire.rawQuery.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=600') }), false, 'a longer expiry');
    assert.equal(check({ ...wire, rawQuery: `${wire.rawQuery}&versionId=1` }), false, 'another query under the same X-Amz-Signature');
    assert.equal(check({ ...wire, rawQuery: `versionId=1&${wire.rawQuery}` }), false, 'the same signature found at another place in the query');
    const sig = parseSignature(wire)!;
    assert.equal(verifySignature(wire, sig, creds.secretAccessKey, UNSIGNED_PAYLOAD, false), false, 'another payload hash');
    assert.equal(check(wire), true, 'refused look-alikes leave the verified URL as it was');
  });

  it('enforces the 15-minute clock-skew window on header signatures', async () => {
    const date = new Date('2026-01-01T00:00:00Z');
    const signed = await signer().sign({ method: 'GET', protocol: 'http:', hostname: 'h', path: '/', headers: { host: 'h' } }, { signingDate: date });
    const sig = parseSignature(toWire(signed as never))!;
    checkTime(sig, date.getTime() + 14 * 60_000);
    checkTime(sig, date.getTime() - 14 * 60_000);
    assert.throws(() => checkTime(sig, date.getTime() + 16 * 60_000), /Signature expired/);
    assert.throws(() => checkTime(sig, date.getTime() - 16 * 60_000), /not yet current/);
  });

  it('reports malformed Authorization headers precisely', () => {
    const base = { method: 'GET', rawPath: '/', rawQuery: '', headers: { host: 'h', 'x-amz-date': '20260101T000000Z' } };
    assert.equal(parseSignature(base), undefined);
    assert.throws(() => parseSignature({ ...base, headers: { ...base.headers, authorization: 'AWS AKIA:sig' } }), /AWS4-HMAC-SHA256/);
    assert.throws(() => parseSignature({ ...base, headers: { ...base.headers, authorization: 'AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/omics/aws4_request' } }), /SignedHeaders/);
    assert.throws(
      () => parseSignature({ ...base, headers: { ...base.headers, authorization: 'AWS4-HMAC-SHA256 Credential=AKIA/20260101/omics/aws4_request, SignedHeaders=host, Signature=00' } }),
      /scoped/,
    );
    assert.throws(() => parseSignature({ ...base, rawQuery: 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00' }), /presigned URL requires/);
    assert.throws(
      () =>
        parseSignature({
          ...base,
          rawQuery: 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20260101%2Fus-east-1%2Fomics%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=00',
        }),
      /604800/,
    );
  });

  it('sorts and encodes the canonical query string per the specification', () => {
    assert.equal(canonicalQuery('b=2&a=1&a=0&c=%20x&d', false), 'a=0&a=1&b=2&c=%20x&d=');
    assert.equal(canonicalQuery('X-Amz-Signature=abc&k=v', true), 'k=v');
  });

  it("signs as the AWS SDK's signer signs (the CLI's download signs with signRequest)", async () => {
    const date = new Date('2026-03-04T05:06:07Z');
    const session = { ...creds, sessionToken: 'token/with+chars==' };
    const cases: { service: string; path: string; query: Record<string, string>; headers: Record<string, string> }[] = [
      { service: 'omics', path: '/sequencestore/1234567890/readset/9876543210/metadata', query: {}, headers: { 'x-amz-content-sha256': EMPTY_SHA256 } },
      { service: 'omics', path: '/sequencestore/1234567890/readset/9876543210', query: { file: 'SOURCE1', partNumber: '2' }, headers: { 'x-amz-content-sha256': EMPTY_SHA256 } },
      { service: 's3', path: '/123456789012-1234567890-abcdefghij-s3alias/123456789012/sequenceStore/1234567890/readSet/9876543210/a%20b%2B.bam', query: {}, headers: { 'x-amz-content-sha256': UNSIGNED_PAYLOAD, range: 'bytes=0-8388607' } },
      { service: 's3', path: '/bucket/key', query: { 'x~y': "*'()!", 'with space': 'ü' }, headers: { 'x-amz-content-sha256': UNSIGNED_PAYLOAD, 'x-amz-checksum-mode': 'ENABLED' } },
    ];
    for (const credentials of [creds, session]) {
      for (const c of cases) {
        const headers: Record<string, string> = { host: '127.0.0.1:8080', ...c.headers };
        const sdk = await new SignatureV4({ credentials, region: 'eu-west-2', service: c.service, sha256: Sha256, uriEscapePath: c.service !== 's3' }).sign(
          { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 8080, path: c.path, query: c.query, headers },
          { signingDate: date },
        );
        const rawQuery = new URLSearchParams(c.query).toString().replace(/\+/g, '%20');
        const ours = signRequest({ method: 'GET', rawPath: c.path, rawQuery, headers }, credentials, { region: 'eu-west-2', service: c.service }, c.service === 's3' ? UNSIGNED_PAYLOAD : EMPTY_SHA256, date.getTime());
        assert.equal(ours['authorization'], sdk.headers['authorization'], `${c.service} ${c.path}`);
        assert.equal(ours['x-amz-date'], sdk.headers['x-amz-date']);
        assert.equal(ours['x-amz-security-token'], sdk.headers['x-amz-security-token']);
        // And the server's verifier accepts it.
        const wire = { method: 'GET', rawPath: c.path, rawQuery, headers: ours };
        assert.equal(verifySignature(wire, parseSignature(wire)!, credentials.secretAccessKey, c.service === 's3' ? UNSIGNED_PAYLOAD : EMPTY_SHA256, c.service !== 's3'), true);
      }
    }
  });
});
