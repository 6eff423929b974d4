// `openomics download` against a stand-in endpoint (node:http on loopback) that answers GetReadSetMetadata and the S3
// view's HEAD and GETs: with Range honoured the file arrives whole and its CRC32 checks; a server that ignores Range
// (a 200 with the whole object for every piece) fails the command and never writes past a piece's end.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CLI } from './helpers/server.js';
import { checksumHeaderValue } from '../src/core/checksums.js';

const MIB = 1024 * 1024;

describe('openomics download against a stand-in endpoint', () => {
  const data = randomBytes(20 * MIB + 12345); // three 8 MiB pieces
  let server: Server;
  let url: string;
  let honourRange = true;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openomics-dl-'));
    server = createServer((req, res) => {
      if (req.url === '/sequencestore/1111111111/readset/2222222222/metadata') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'ACTIVE', files: { source1: { contentLength: data.length, partSize: 100 * MIB, s3Access: { s3Uri: 's3://bucket-s3alias/k/reads.bam' } } } }));
        return;
      }
      if (req.url !== '/bucket-s3alias/k/reads.bam') {
        res.writeHead(404).end();
        return;
      }
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-length': data.length, 'x-amz-checksum-crc32': checksumHeaderValue(crc32(data)), 'x-amz-checksum-type': 'FULL_OBJECT' }).end();
        return;
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (!honourRange || !m) {
        res.writeHead(200, { 'content-length': data.length }).end(data);
        return;
      }
      const slice = data.subarray(Number(m[1]), Number(m[2]) + 1);
      res.writeHead(206, { 'content-length': slice.length, 'content-range': `bytes ${m[1]}-${m[2]}/${data.length}` }).end(slice);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const download = (to: string) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const env = { PATH: process.env['PATH'], HOME: dir, AWS_ENDPOINT_URL: url, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null' };
      const child = spawn(process.execPath, [CLI, 'download', '--sequence-store-id', '1111111111', '--id', '2222222222', '--to', to, '--via', 's3'], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });

  it('fetches the pieces and checks the CRC32 where Range is honoured', async () => {
    honourRange = true;
    const to = join(dir, 'good.bam');
    const r = await download(to);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { file: to, bytes: data.length, via: 's3', pieces: 3, verified: 'CRC32' });
    assert.ok(readFileSync(to).equals(data));
  });

  it('fails, writing nothing past a piece, when the server ignores Range', async () => {
    honourRange = false;
    const to = join(dir, 'bad.bam');
    const r = await download(to);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /piece \d: Error: more than the \d+ bytes asked for came/);
    // The last piece starts at 16 MiB: had it written the whole 20 MiB answer, the file would be 36 MiB.
    assert.ok(statSync(to).size <= data.length, `the file is ${statSync(to).size} bytes`);
  });
});
