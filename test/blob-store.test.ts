// Conformance suite for BlobStore, run against local disk and S3 (moto), plain and encrypted.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { S3Client, CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { LocalBlobStore } from '../src/blob/local-blob-store.js';
import { S3BlobStore } from '../src/blob/s3-blob-store.js';
import { EncryptedBlobStore, CHUNK_SIZE } from '../src/blob/encrypted-blob-store.js';
import { BlobNotFoundError, type BlobStore } from '../src/blob/blob-store.js';
import { openChunksAsync, openChunksWithNodeCrypto, sealChunk, sealedChunksAddon, type ChunkRun } from '../src/blob/sealed-chunks.js';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startMoto, MOTO_CREDENTIALS, type Moto } from './helpers/moto.js';

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

let moto: Moto;
let dir: string;
const DATA_KEY = randomBytes(32);

before(async () => {
  moto = await startMoto();
  dir = mkdtempSync(join(tmpdir(), 'oo-blob-'));
  const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: 'blobs' }));
});
after(async () => {
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const s3Store = (prefix: string) =>
  new S3BlobStore({ endpoint: moto.endpoint, region: 'us-east-1', bucket: 'blobs', prefix, credentials: MOTO_CREDENTIALS });

const IMPLEMENTATIONS: [string, () => BlobStore][] = [
  ['local', () => new LocalBlobStore(join(dir, 'plain'))],
  ['local, small reads on the event loop', () => new LocalBlobStore(join(dir, 'plain-loop'), true)],
  ['s3', () => s3Store('plain/')],
  ['encrypted(local)', () => new EncryptedBlobStore(new LocalBlobStore(join(dir, 'enc')), DATA_KEY)],
  ['encrypted(local, small reads on the event loop)', () => new EncryptedBlobStore(new LocalBlobStore(join(dir, 'enc-loop'), true), DATA_KEY)],
  ['encrypted(s3)', () => new EncryptedBlobStore(s3Store('enc/'), DATA_KEY)],
];

for (const [name, make] of IMPLEMENTATIONS) {
  describe(`BlobStore conformance: ${name}`, () => {
    it('puts, heads and gets whole blobs of awkward sizes', async () => {
      const b = make();
      for (const size of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17]) {
        const data = randomBytes(size);
        const { size: written } = await b.put(`t/size-${size}`, Readable.from([data]));
        assert.equal(written, size);
        assert.equal((await b.head(`t/size-${size}`))?.size, size);
        assert.ok((await readAll(await b.get(`t/size-${size}`))).equals(data), `round trip of ${size} bytes`);
      }
    });

    it('serves ranges, including ranges across chunk boundaries', async () => {
      const b = make();
      const data = randomBytes(5 * CHUNK_SIZE + 123);
      await b.put('t/ranged', Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
      const ranges: [number, number][] = [
        [0, 0],
        [0, 99],
        [CHUNK_SIZE - 10, CHUNK_SIZE + 10],
        [CHUNK_SIZE, 2 * CHUNK_SIZE - 1],
        [2 * CHUNK_SIZE + 5, 4 * CHUNK_SIZE + 7],
        [data.length - 50, data.length - 1],
        [12345, 12345],
      ];
      for (const [start, end] of ranges) {
        const got = await readAll(await b.get('t/ranged', { start, end }));
        assert.ok(got.equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
      }
    });

    it('reads ranges into memory, as get streams them', async () => {
      const b = make();
      const data = randomBytes(3 * CHUNK_SIZE + 99);
      await b.put('t/read', Readable.from([data]));
      for (const [start, end] of [
        [0, 0],
        [CHUNK_SIZE - 3, CHUNK_SIZE + 3],
        [5, 2 * CHUNK_SIZE + 7],
        [data.length - 10, data.length - 1],
      ] as [number, number][]) {
        assert.ok((await b.read('t/read', { start, end })).equals(data.subarray(start, end + 1)), `read ${start}-${end}`);
      }
      assert.ok((await b.read('t/read', { start: data.length - 4, end: data.length + 100 })).equals(data.subarray(data.length - 4)), 'cut at the end');
      // A replaced blob is read anew, a deleted one is gone (no stale descriptor or header).
      const next = randomBytes(data.length);
      await b.put('t/read', Readable.from([next]));
      assert.ok((await b.read('t/read', { start: 10, end: 20 })).equals(next.subarray(10, 21)));
      await b.delete('t/read');
      await assert.rejects(b.read('t/read', { start: 0, end: 1 }), BlobNotFoundError);
    });

    it('streams a large blob (decrypted off the main thread when encrypted) and ranges of it', async () => {
      const b = make();
      const data = randomBytes(6 * 1024 * 1024 + 12345);
      await b.put('t/large', Readable.from([data.subarray(0, 3_000_000), data.subarray(3_000_000)]));
      assert.ok((await readAll(await b.get('t/large'))).equals(data), 'whole');
      const start = 1_000_003;
      const end = data.length - 77;
      assert.ok((await readAll(await b.get('t/large', { start, end }))).equals(data.subarray(start, end + 1)), 'range');
    });

    it('replaces, lists, composes and deletes', async () => {
      const b = make();
      await b.put('c/part1', Readable.from([Buffer.from('hello ')]));
      await b.put('c/part2', Readable.from([Buffer.from('old')]));
      await b.put('c/part2', Readable.from([Buffer.from('world')]));
      const listed = [];
      for await (const x of b.list('c/')) listed.push(x);
      assert.deepEqual(listed, [
        { key: 'c/part1', size: 6 },
        { key: 'c/part2', size: 5 },
      ]);
      const { size } = await b.compose('c/whole', ['c/part1', 'c/part2']);
      assert.equal(size, 11);
      assert.equal((await readAll(await b.get('c/whole'))).toString(), 'hello world');
      await b.delete('c/part1');
      await b.delete('c/part1');
      assert.equal(await b.head('c/part1'), undefined);
      await assert.rejects(b.get('c/part1'));
    });

    it('refuses keys that could escape its namespace', async () => {
      const b = make();
      for (const bad of ['../x', 'a/../../x', '/abs', 'a//b', 'a/./b', '']) {
        await assert.rejects(b.put(bad, Readable.from([Buffer.from('x')])), /invalid blob key/);
      }
    });

    it('does not keep a partial blob when the source stream fails', async () => {
      const b = make();
      const failing = new Readable({
        read() {
          this.push(randomBytes(1024));
          this.destroy(new Error('source broke'));
        },
      });
      await assert.rejects(b.put('t/broken', failing));
      assert.equal(await b.head('t/broken'), undefined);
    });
  });
}

describe('encryption at rest is visible', () => {
  it('stores ciphertext on disk, not the plaintext', async () => {
    const root = join(dir, 'visible');
    const b = new EncryptedBlobStore(new LocalBlobStore(root), DATA_KEY);
    const text = Buffer.from('@read1\nACGTACGTACGTACGT\n+\nIIIIIIIIIIIIIIII\n'.repeat(5000));
    await b.put('seq/1/file', Readable.from([text]));
    const raw = readFileSync(join(root, 'seq', '1', 'file'));
    assert.ok(raw.length > text.length, 'ciphertext carries headers and tags');
    assert.equal(raw.indexOf(Buffer.from('ACGTACGTACGT')), -1, 'plaintext is not visible on disk');
    const got = await readAll(await b.get('seq/1/file', { start: 100_000, end: 100_099 }));
    assert.ok(got.equals(text.subarray(100_000, 100_100)));
  });

  it('stores ciphertext in the S3 bucket, not the plaintext', async () => {
    const b = new EncryptedBlobStore(s3Store('visible/'), DATA_KEY);
    const text = Buffer.from('GATTACA'.repeat(50_000));
    await b.put('x', Readable.from([text]));
    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    const raw = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'blobs', Key: 'visible/x' }))).Body!.transformToByteArray());
    assert.equal(raw.indexOf(Buffer.from('GATTACAGATTACA')), -1);
    assert.ok((await readAll(await b.get('x', { start: 7, end: 13 }))).equals(Buffer.from('GATTACA')));
  });

  it('detects tampering, truncation and the wrong key', async () => {
    const root = join(dir, 'tamper');
    const b = new EncryptedBlobStore(new LocalBlobStore(root), DATA_KEY);
    const data = randomBytes(3 * CHUNK_SIZE);
    await b.put('f', Readable.from([data]));
    const file = join(root, 'f');
    const raw = readFileSync(file);

    const flipped = Buffer.from(raw);
    flipped[CHUNK_SIZE + 100] ^= 1;
    await new LocalBlobStore(root).put('f', Readable.from([flipped]));
    await assert.rejects(readAll(await b.get('f')), /failed authentication/);
    await assert.rejects(b.read('f', { start: CHUNK_SIZE + 50, end: CHUNK_SIZE + 60 }), /failed authentication/);
    assert.ok((await b.read('f', { start: 0, end: 9 })).equals(data.subarray(0, 10)), 'untouched chunks still read');

    // Drop the last sealed chunk: the new last chunk is not flagged final.
    await new LocalBlobStore(root).put('f', Readable.from([raw.subarray(0, 16 + 2 * (CHUNK_SIZE + 16))]));
    await assert.rejects(readAll(await b.get('f')), /failed authentication|truncated/);

    await new LocalBlobStore(root).put('f', Readable.from([raw]));
    const other = new EncryptedBlobStore(new LocalBlobStore(root), randomBytes(32));
    await assert.rejects(readAll(await other.get('f')), /failed authentication/);
    assert.ok((await readAll(await b.get('f'))).equals(data));
    assert.ok(statSync(file).size > 0 && readdirSync(root).includes('f'));
  });

  it('detects tampering on the off-main-thread path of a large read', async () => {
    const root = join(dir, 'tamper-large');
    const b = new EncryptedBlobStore(new LocalBlobStore(root), DATA_KEY);
    const data = randomBytes(8 * 1024 * 1024);
    await b.put('f', Readable.from([data]));
    const raw = readFileSync(join(root, 'f'));
    const flipped = Buffer.from(raw);
    flipped[raw.length - 5 * (CHUNK_SIZE + 16)] ^= 1; // a chunk well past the first runs
    await new LocalBlobStore(root).put('f', Readable.from([flipped]));
    await assert.rejects(readAll(await b.get('f')), /failed authentication/);
    await new LocalBlobStore(root).put('f', Readable.from([raw.subarray(0, raw.length - 1000)]));
    await assert.rejects(readAll(await b.get('f')), /failed authentication|truncated/);
  });

  it('closes the descriptors of local read streams stopped midway (after the read in flight, never under it)', async () => {
    const root = join(dir, 'stopped');
    const b = new EncryptedBlobStore(new LocalBlobStore(root), DATA_KEY);
    await b.put('f', Readable.from([randomBytes(12 * 1024 * 1024)]));
    const openFds = () => readdirSync('/proc/self/fd').length;
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      const s = await b.get('f');
      await new Promise<void>((resolve, reject) => {
        s.once('data', () => {
          s.destroy();
          resolve();
        });
        s.once('error', reject);
      });
    }
    // Closing happens after the read in flight, on the thread pool: on a loaded machine that can take a while.
    // A leak stays open however long we wait.
    const deadline = Date.now() + 5000;
    while (openFds() > before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(openFds(), before);
  });

  it('refuses a header whose chunk size was damaged before sizing any buffer by it', async () => {
    const root = join(dir, 'damaged-header');
    const b = new EncryptedBlobStore(new LocalBlobStore(root), DATA_KEY);
    await b.put('f', Readable.from([randomBytes(1000)]));
    const raw = readFileSync(join(root, 'f'));
    raw.writeUInt32BE(0xffffffff, 4);
    await new LocalBlobStore(root).put('f', Readable.from([raw]));
    const fresh = new EncryptedBlobStore(new LocalBlobStore(root), DATA_KEY); // no cached header
    await assert.rejects(fresh.get('f'), /damaged header \(chunk size 4294967295\)/);
    await assert.rejects(fresh.read('f', { start: 0, end: 9 }), /damaged header/);
  });

  it('refuses a plaintext object where an encrypted blob is expected', async () => {
    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    await s3.send(new PutObjectCommand({ Bucket: 'blobs', Key: 'enc/plain-object', Body: 'just some text here' }));
    const b = new EncryptedBlobStore(s3Store('enc/'), DATA_KEY);
    await assert.rejects(b.get('plain-object'), /not an encrypted blob/);
  });
});

describe('sealed chunks opened by the addon (OpenSSL EVP, in place) and by node:crypto', () => {
  const chunkSize = 1000;
  const seal = (plain: Buffer, run: Omit<ChunkRun, 'firstIndex'>): Buffer => {
    const pieces: Buffer[] = [];
    for (let i = 0; i <= run.lastIndexOfBlob; i++) {
      pieces.push(sealChunk(run.key, run.prefix, i, i === run.lastIndexOfBlob, plain.subarray(i * chunkSize, (i + 1) * chunkSize)));
    }
    return Buffer.concat(pieces);
  };
  const plain = randomBytes(5 * chunkSize + 321);
  const base = { key: randomBytes(32), prefix: randomBytes(8), chunkSize, lastIndexOfBlob: 5 };
  const sealed = seal(plain, base);
  const sealedSize = chunkSize + 16;
  // Each case: a run (from chunk `first`, `count` chunks, possibly damaged) and what opening it must give.
  const cases: { name: string; first: number; bytes: (s: Buffer) => Buffer; key?: Buffer; last?: number; expect: Buffer | RegExp }[] = [
    { name: 'the whole blob', first: 0, bytes: (s) => s, expect: plain },
    { name: 'a middle run', first: 2, bytes: (s) => s.subarray(2 * sealedSize, 4 * sealedSize), expect: plain.subarray(2 * chunkSize, 4 * chunkSize) },
    { name: 'the short last chunk alone', first: 5, bytes: (s) => s.subarray(5 * sealedSize), expect: plain.subarray(5 * chunkSize) },
    { name: 'a flipped ciphertext byte', first: 0, bytes: (s) => flip(s, 3 * sealedSize + 7), expect: /chunk 3 failed authentication/ },
    { name: 'a flipped tag byte', first: 0, bytes: (s) => flip(s, sealedSize - 1), expect: /chunk 0 failed authentication/ },
    { name: 'chunks out of order', first: 1, bytes: (s) => Buffer.concat([s.subarray(2 * sealedSize, 3 * sealedSize), s.subarray(sealedSize, 2 * sealedSize)]), expect: /chunk 1 failed authentication/ },
    { name: 'a cut-off blob (the new last chunk is not flagged final)', first: 0, bytes: (s) => s.subarray(0, 5 * sealedSize), expect: /chunk 4 failed authentication/, last: 4 },
    { name: 'a piece shorter than a tag', first: 5, bytes: (s) => s.subarray(5 * sealedSize, 5 * sealedSize + 9), expect: /chunk 5 is truncated/ },
    { name: 'the wrong key', first: 0, bytes: (s) => s, key: randomBytes(32), expect: /chunk 0 failed authentication/ },
  ];
  function flip(s: Buffer, at: number): Buffer {
    const c = Buffer.from(s);
    c[at] ^= 1;
    return c;
  }

  it('is built where CI runs (guard: otherwise only the node:crypto path would be tested)', () => {
    if (process.env['CI'] === 'true') assert.ok(sealedChunksAddon(), 'build/Release/openomics_crypto.node is missing: install libssl-dev before npm ci');
  });

  for (const c of cases) {
    it(`${c.name}: the same result both ways`, { skip: !sealedChunksAddon() && 'the addon is not built (libssl-dev missing; the guard above fails in CI)' }, async () => {
      const run: ChunkRun = { ...base, key: c.key ?? base.key, firstIndex: c.first, lastIndexOfBlob: c.last ?? base.lastIndexOfBlob };
      const outcomes: (Buffer | Error)[] = [];
      const js = Buffer.from(c.bytes(sealed));
      const attempt = (f: () => Buffer) => Promise.resolve().then(f).catch((e: Error) => e);
      outcomes.push(await attempt(() => Buffer.from(openChunksWithNodeCrypto(run, js))));
      const nativeSync = Buffer.from(c.bytes(sealed));
      outcomes.push(await attempt(() => Buffer.from(nativeSync.subarray(0, sealedChunksAddon()!.open(run.key, run.prefix, run.chunkSize, run.firstIndex, run.lastIndexOfBlob, nativeSync)))));
      const nativeAsync = Buffer.from(c.bytes(sealed));
      outcomes.push(await openChunksAsync(run, nativeAsync)!.then((b) => Buffer.from(b)).catch((e: Error) => e));
      for (const [i, got] of outcomes.entries()) {
        const way = ['node:crypto', 'addon', 'addon on the thread pool'][i];
        if (c.expect instanceof RegExp) assert.match(got instanceof Error ? got.message : 'no error', c.expect, way);
        else assert.ok(Buffer.isBuffer(got) && got.equals(c.expect as Buffer), `${way}: ${got instanceof Error ? got.message : 'wrong bytes'}`);
      }
    });
  }

  it('without the addon (OPENOMICS_NATIVE_CRYPTO=0): large reads decrypt on worker threads and detect tampering', () => {
    const root = join(dir, 'no-addon');
    // The 9 MiB + 77 B blob below: the byte 3 sealed chunks from its end lies in this chunk.
    const size = 9 * 1024 * 1024 + 77;
    const last = Math.ceil(size / CHUNK_SIZE) - 1;
    const tamperedChunk = last - Math.ceil((3 * (CHUNK_SIZE + 16) - (size - last * CHUNK_SIZE + 16)) / (CHUNK_SIZE + 16));
    const script = `
      import { Readable } from 'node:stream';
      import { randomBytes } from 'node:crypto';
      import { readFileSync } from 'node:fs';
      import { LocalBlobStore } from ${JSON.stringify(fileURLToPath(new URL('../src/blob/local-blob-store.js', import.meta.url)))};
      import { EncryptedBlobStore } from ${JSON.stringify(fileURLToPath(new URL('../src/blob/encrypted-blob-store.js', import.meta.url)))};
      import { sealedChunksAddon } from ${JSON.stringify(fileURLToPath(new URL('../src/blob/sealed-chunks.js', import.meta.url)))};
      import { chooseNative } from ${JSON.stringify(fileURLToPath(new URL('../src/core/native-addon.js', import.meta.url)))};
      import { loadConfig } from ${JSON.stringify(fileURLToPath(new URL('../src/config/config.js', import.meta.url)))};
      chooseNative(loadConfig().native);
      const read = async (s) => { const p = []; for await (const c of s) p.push(c); return Buffer.concat(p); };
      const key = randomBytes(32);
      const b = new EncryptedBlobStore(new LocalBlobStore(process.argv[2]), key);
      const data = randomBytes(9 * 1024 * 1024 + 77);
      await b.put('f', Readable.from([data]));
      const whole = (await read(await b.get('f'))).equals(data);
      const range = (await read(await b.get('f', { start: 1234567, end: data.length - 5 }))).equals(data.subarray(1234567, data.length - 4));
      const raw = readFileSync(process.argv[2] + '/f');
      raw[raw.length - 3 * ${CHUNK_SIZE + 16}] ^= 1; // in chunk ${tamperedChunk} (a sealed chunk is CHUNK_SIZE + 16 bytes)
      await new LocalBlobStore(process.argv[2]).put('f', Readable.from([raw]));
      const tamper = await read(await b.get('f')).then(() => 'not detected', (e) => e.message);
      console.log(JSON.stringify({ addon: !!sealedChunksAddon(), whole, range, tamper }));`;
    // A file, not --eval: worker threads inherit the process's flags, and --input-type breaks them.
    const file = join(dir, 'no-addon.mjs');
    writeFileSync(file, script);
    const out = JSON.parse(execFileSync(process.execPath, [file, root], { env: { ...process.env, OPENOMICS_NATIVE_CRYPTO: '0' }, encoding: 'utf8' }).trim());
    assert.deepEqual(out, { addon: false, whole: true, range: true, tamper: `chunk ${tamperedChunk} failed authentication` });
  });
});

describe('sweepIncomplete: what interrupted writes left', () => {
  it('local: removes a killed writer’s partial blob at once, a live writer’s never, an unowned one once old', async () => {
    const root = join(dir, 'sweep');
    const b = new LocalBlobStore(root);
    await b.put('x/one', Readable.from([Buffer.from('done')]));
    const host = (await import('node:os')).hostname().replace(/[^A-Za-z0-9-]/g, '_');
    const dead = execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim(); // a pid that has ended
    const tmp = join(root, '.tmp');
    writeFileSync(join(tmp, `${host}.${dead}.0123456789ab`), 'partial of a killed writer');
    writeFileSync(join(tmp, `${host}.${process.pid}.0123456789ab`), 'partial of a live writer');
    writeFileSync(join(tmp, 'legacy-name'), 'partial, owner unknown');
    assert.equal(await b.sweepIncomplete(3_600_000), 1);
    assert.deepEqual(readdirSync(tmp).sort(), [`${host}.${process.pid}.0123456789ab`, 'legacy-name'].sort());
    assert.equal(await b.sweepIncomplete(0), 1, 'the unowned one, once older than the limit');
    assert.ok((await readAll(await b.get('x/one'))).equals(Buffer.from('done')), 'complete blobs are untouched');
  });

  it('s3: aborts incomplete multipart uploads under its prefix older than the limit, and nothing else', async () => {
    const { CreateMultipartUploadCommand, ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    await s3.send(new CreateMultipartUploadCommand({ Bucket: 'blobs', Key: 'sweep/seq/1/readsets/2/source1' }));
    await s3.send(new CreateMultipartUploadCommand({ Bucket: 'blobs', Key: 'elsewhere/not-ours' }));
    const b = s3Store('sweep/');
    // (moto reports a fixed, long-past Initiated time for every upload, so the age limit itself is not probed here.)
    assert.equal(await b.sweepIncomplete(0), 1);
    const left = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'blobs' }));
    assert.deepEqual((left.Uploads ?? []).map((u) => u.Key), ['elsewhere/not-ours']);
  });
});
