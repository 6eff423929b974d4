// The I/O buffer recycler and the HTTP body writer that gives buffers back once the socket has taken them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { MessageChannel } from 'node:worker_threads';
import { BufferRecycler, ioBuffers, POISON_BYTE } from '../src/core/buffer-recycler.js';
import { sendStream } from '../src/api/send-stream.js';

describe('BufferRecycler', () => {
  it('lends buffers of the asked size and reuses what is given back', () => {
    const r = new BufferRecycler(4 << 20);
    const a = r.take(1000);
    assert.equal(a.length, 1000);
    assert.equal(a.buffer.byteLength, 1000, 'memory of its own');
    r.give(a.subarray(10, 20)); // any view of it gives the whole buffer back
    assert.equal(r.idleBytes, 1000);
    const b = r.take(1000);
    assert.equal(b.buffer, a.buffer, 'reused');
    assert.equal(r.idleBytes, 0);
    assert.notEqual(r.take(1000).buffer, a.buffer, 'a buffer is lent to one holder at a time');
  });

  it('ignores views it did not lend, and a second give of the same buffer', () => {
    const r = new BufferRecycler(4 << 20);
    r.give(Buffer.alloc(1000));
    r.give(Buffer.from('pooled by node'));
    assert.equal(r.idleBytes, 0);
    const a = r.take(1000);
    r.give(a);
    r.give(a);
    assert.equal(r.idleBytes, 1000, 'given back once');
    const b = r.take(1000);
    const c = r.take(1000);
    assert.notEqual(b.buffer, c.buffer, 'the double give did not make it lendable twice');
  });

  it('has an off switch, and in tests poisons what is given back', () => {
    const off = new BufferRecycler(4 << 20);
    off.configure({ enabled: false });
    const a = off.take(1000);
    off.give(a);
    assert.equal(off.idleBytes, 0, 'off: nothing is kept for reuse');
    assert.ok(!off.lends(a), 'off: nothing is lent');
    const poisoned = new BufferRecycler(4 << 20);
    poisoned.configure({ poison: true });
    const b = poisoned.take(1000).fill(7);
    const view = b.subarray(0, 10);
    poisoned.give(b);
    assert.ok(view.every((x) => x === POISON_BYTE), 'a holder that kept a view after giving back sees the marker, not data');
  });

  it('takes back memory that went to a worker thread and came back (adopt)', () => {
    const r = new BufferRecycler(4 << 20);
    const a = r.take(1000);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(a.buffer, [a.buffer as ArrayBuffer]); // moved away: `a` is detached
    port1.close();
    port2.close();
    assert.equal(a.buffer.byteLength, 0);
    r.give(a);
    assert.equal(r.idleBytes, 0, 'a detached buffer is not taken back');
    const back = new ArrayBuffer(1000); // stands for the same memory, returned by the worker
    r.adopt(back);
    r.give(Buffer.from(back, 0, 10));
    assert.equal(r.idleBytes, 1000);
    assert.equal(r.take(1000).buffer, back);
  });

  it('keeps at most maxFreeBytes, and nothing once idle', async () => {
    const r = new BufferRecycler(2500, 50);
    const lent = [r.take(1000), r.take(1000), r.take(1000)];
    for (const b of lent) r.give(b);
    assert.equal(r.idleBytes, 2000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(r.idleBytes, 0);
  });
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

describe('who gets lent buffers', () => {
  it('only reads asked to lend (the edges) get recycled memory; exports, ingest and copies get their own', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { LocalBlobStore } = await import('../src/blob/local-blob-store.js');
    const { EncryptedBlobStore } = await import('../src/blob/encrypted-blob-store.js');
    const dir = mkdtempSync(join(tmpdir(), 'oo-lend-'));
    try {
      const stores = [new LocalBlobStore(join(dir, 'plain')), new EncryptedBlobStore(new LocalBlobStore(join(dir, 'enc')), randomBytes(32))];
      for (const store of stores) {
        await store.put('k', Readable.from([randomBytes(3 << 20)]));
        const chunks = async (lend: boolean) => {
          const out: Buffer[] = [];
          for await (const c of await store.get('k', undefined, { readSize: 1 << 20, lend })) out.push(c as Buffer);
          return out;
        };
        assert.ok((await chunks(false)).every((c) => !ioBuffers.lends(c)), `${store.constructor.name}: nothing lent unless asked`);
        const lent = await chunks(true);
        assert.ok(lent.some((c) => ioBuffers.lends(c)), `${store.constructor.name}: the edges' reads are lent`);
        for (const c of lent) ioBuffers.give(c);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sendStream', () => {
  it('sends every byte in order and gives the chunks back only once written (a slow client, a body reading ahead)', async () => {
    const data = randomBytes(32 << 20);
    const size = 1 << 20;
    const before = ioBuffers.idleBytes;
    const { server, port } = await serve((_req, res) => {
      let at = 0;
      // Reads ahead into recycled buffers: a chunk given back too early would be read into again while the
      // socket still holds it, and the client would see the wrong bytes.
      const body = new Readable({
        highWaterMark: 8 * size,
        read() {
          if (at >= data.length) return this.push(null);
          const b = ioBuffers.take(size);
          data.copy(b, 0, at, at + size);
          at += size;
          setImmediate(() => this.push(b));
        },
      });
      res.writeHead(200, { 'content-length': data.length });
      sendStream(res, body, () => {});
    });
    try {
      const got = await new Promise<Buffer>((resolve, reject) => {
        request(`http://127.0.0.1:${port}/`, (res) => {
          const parts: Buffer[] = [];
          res.pause(); // let the server's socket fill up first
          setTimeout(() => res.resume(), 300);
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve(Buffer.concat(parts)));
          res.on('error', reject);
        }).end();
      });
      assert.equal(got.length, data.length);
      assert.ok(got.equals(data), 'bytes as sent');
      assert.ok(ioBuffers.idleBytes > before, 'chunks came back to the recycler');
    } finally {
      server.close();
    }
  });

  it('aborts the response when the body fails, and stops the body when the client goes away', async () => {
    let destroyed!: () => void;
    const bodyStopped = new Promise<void>((resolve) => (destroyed = resolve));
    const errors: Error[] = [];
    const { server, port } = await serve((req, res) => {
      const failing = req.url === '/fail';
      let n = 0;
      const body = new Readable({
        read() {
          if (failing && n === 3) return this.destroy(new Error('disk went away'));
          n++;
          setTimeout(() => this.push(Buffer.alloc(64 * 1024, 1)), failing ? 0 : 5);
        },
        destroy(e, cb) {
          if (!failing) destroyed();
          cb(e);
        },
      });
      res.writeHead(200, { 'content-length': 100 << 20 });
      sendStream(res, body, (e) => errors.push(e));
    });
    try {
      await assert.rejects((async () => {
        const r = await fetch(`http://127.0.0.1:${port}/fail`);
        await r.arrayBuffer();
      })());
      assert.deepEqual(errors.map((e) => e.message), ['disk went away']);
      await new Promise<void>((resolve, reject) => {
        const req = request(`http://127.0.0.1:${port}/slow`, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => {});
        req.on('close', resolve);
        req.end();
        setTimeout(() => reject(new Error('no data')), 5000);
      });
      await bodyStopped;
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});
