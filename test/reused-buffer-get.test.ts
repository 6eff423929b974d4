// The download's HTTP/1.1 reader (cli/reused-buffer-get.ts) against node:http and raw-socket servers on loopback:
// bodies byte for byte over kept-alive connections, a slow sink pausing the socket, and every framing or protocol
// fault it must refuse; and the CRC32 combination the download checks its pieces with.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { ReusedBufferHttp, UnsupportedResponseError } from '../src/cli/reused-buffer-get.js';
import { crc32Combine } from '../src/core/checksums.js';

const listen = (s: Server | NetServer) => new Promise<string>((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as { port: number }).port}`)));
const close = (s: Server | NetServer) => new Promise((r) => s.close(r));

/** Collects what a sink is given, copying (the reader reuses its buffers), optionally slowly. */
function collector(delayMs = 0) {
  const parts: Buffer[] = [];
  return {
    parts,
    sink: async (chunk: Buffer) => {
      parts.push(Buffer.from(chunk));
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    },
    bytes: () => Buffer.concat(parts),
  };
}

describe('reading GET bodies into reused buffers', () => {
  const data = randomBytes(5 * 1024 * 1024 + 12345);
  let http: Server;
  let url: string;
  const connections = new Set<Socket>();

  before(async () => {
    http = createServer((req, res) => {
      if (req.url === '/chunked') {
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        res.end('hello');
        return;
      }
      if (req.url === '/missing') {
        const body = '<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>The key does not exist</Message></Error>';
        res.writeHead(404, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      const [start, end] = m ? [Number(m[1]), Number(m[2])] : [0, data.length - 1];
      const slice = data.subarray(start, end + 1);
      res.writeHead(m ? 206 : 200, { 'content-length': slice.length, 'x-seen-header': String(req.headers['x-test'] ?? '') });
      // Written in odd pieces, so reads end anywhere.
      let at = 0;
      const step = () => {
        while (at < slice.length) {
          const n = Math.min(slice.length - at, 1 + ((at * 7919) % 300_000));
          const ok = res.write(slice.subarray(at, at + n));
          at += n;
          if (!ok) return void res.once('drain', step);
        }
        res.end();
      };
      step();
    });
    http.on('connection', (s) => {
      connections.add(s);
      s.on('close', () => connections.delete(s));
    });
    url = await listen(http);
  });
  after(() => close(http));

  it('hands over whole bodies byte for byte, ranges in parallel over kept-alive connections', async () => {
    const client = new ReusedBufferHttp({ maxConnections: 3, bodyBufferBytes: 256 * 1024 });
    try {
      const piece = 1024 * 1024;
      const pieces = Array.from({ length: Math.ceil(data.length / piece) }, (_, i) => i);
      const got = await Promise.all(
        pieces.map(async (i) => {
          const c = collector();
          const end = Math.min(data.length, (i + 1) * piece) - 1;
          const r = await client.get(new URL(`${url}/obj`), { host: new URL(url).host, range: `bytes=${i * piece}-${end}`, 'x-test': 'yes' }, c.sink);
          assert.equal(r.status, 206);
          assert.equal(r.headers['x-seen-header'], 'yes', 'the request headers were sent');
          return c.bytes();
        }),
      );
      assert.ok(Buffer.concat(got).equals(data));
      assert.ok(connections.size <= 3, `at most 3 connections (${connections.size})`);
      // A whole body, again over a kept connection.
      const whole = collector();
      await client.get(new URL(`${url}/obj`), { host: new URL(url).host }, whole.sink);
      assert.ok(whole.bytes().equals(data));
    } finally {
      client.close();
    }
  });

  it('pauses reading while a slow sink holds both buffers, and loses nothing', async () => {
    const client = new ReusedBufferHttp({ maxConnections: 1, bodyBufferBytes: 64 * 1024 });
    try {
      const c = collector(5);
      await client.get(new URL(`${url}/obj`), { host: new URL(url).host, range: 'bytes=100-2000099' }, c.sink);
      assert.ok(c.bytes().equals(data.subarray(100, 2000100)));
      assert.ok(c.parts.length >= 2000000 / (64 * 1024), 'handed over in buffer-sized pieces');
    } finally {
      client.close();
    }
  });

  it("returns an error answer's body instead of handing it to the sink", async () => {
    const client = new ReusedBufferHttp({ maxConnections: 1, bodyBufferBytes: 64 * 1024 });
    try {
      const c = collector();
      const r = await client.get(new URL(`${url}/missing`), { host: new URL(url).host }, c.sink);
      assert.equal(r.status, 404);
      assert.match(r.errorBody!.toString(), /<Code>NoSuchKey<\/Code>/);
      assert.equal(c.parts.length, 0);
    } finally {
      client.close();
    }
  });

  it('refuses a chunked answer as unsupported (the download then uses node:http)', async () => {
    const client = new ReusedBufferHttp({ maxConnections: 1, bodyBufferBytes: 64 * 1024 });
    try {
      await assert.rejects(client.get(new URL(`${url}/chunked`), { host: new URL(url).host }, collector().sink), UnsupportedResponseError);
    } finally {
      client.close();
    }
  });

  it('fails on a connection cut mid-body, bytes beyond Content-Length, a malformed status line, oversized headers, a failing sink', async () => {
    const answers: Record<string, (s: Socket) => void> = {
      '/cut': (s) => {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n');
        s.end(Buffer.alloc(5000));
      },
      '/more': (s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabcdefgh'),
      '/garbage': (s) => s.write('SMTP ready\r\n\r\n'),
      '/huge': (s) => s.write(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`),
      '/close-delimited': (s) => s.end('HTTP/1.1 200 OK\r\n\r\nbody until close'),
      '/sink': (s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789'),
    };
    const raw = createNetServer((s) => {
      s.once('data', (d) => {
        const path = /^GET (\S+)/.exec(d.toString('latin1'))![1]!;
        answers[path]!(s);
      });
      s.on('error', () => {});
    });
    const base = await listen(raw);
    const client = new ReusedBufferHttp({ maxConnections: 2, bodyBufferBytes: 64 * 1024 });
    const get = (path: string, sink = collector().sink) => client.get(new URL(`${base}${path}`), { host: new URL(base).host }, sink);
    try {
      await assert.rejects(get('/cut'), /closed before the response was complete/);
      await assert.rejects(get('/more'), /bytes no request asked for|more than/);
      await assert.rejects(get('/garbage'), /not an HTTP\/1\.1 response/);
      await assert.rejects(get('/huge'), /exceed 65536 bytes/);
      await assert.rejects(get('/close-delimited'), UnsupportedResponseError);
      await assert.rejects(
        get('/sink', () => Promise.reject(new Error('disk full'))),
        /disk full/,
      );
      await assert.rejects(client.get(new URL(`${base}/x`), { host: 'h', 'x-bad': 'a\r\nInjected: 1' }, collector().sink), /line break/);
    } finally {
      client.close();
      await close(raw);
    }
  });

  it('combines the CRC32s of pieces into the CRC32 of the whole, as zlib does', () => {
    for (const [a, b] of [[0, 0], [1, 0], [0, 1], [7, 13], [1000, 8 << 20], [65536, 3]] as const) {
      const x = randomBytes(a);
      const y = randomBytes(b);
      assert.equal(crc32Combine(crc32(x), crc32(y), b), crc32(Buffer.concat([x, y])), `${a} + ${b}`);
    }
    // Many pieces, folded left.
    let c = 0;
    const pieces = Array.from({ length: 9 }, (_, i) => randomBytes(1000 + i * 777));
    for (const p of pieces) c = crc32Combine(c, crc32(p), p.length);
    assert.equal(c, crc32(Buffer.concat(pieces)));
  });
});
