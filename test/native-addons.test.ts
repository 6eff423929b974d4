// The native addons defend themselves instead of trusting their JS callers: a typed array of another kind is
// refused (its length counts elements, not bytes), a BAM record that bam_read1 would refuse (negative l_seq, a
// reference id past the header's) is handed back to the JS path rather than formatted, and a run of randomly
// mutated records never crashes the process: each call renders, hands back or throws.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { sealChunk } from '../src/blob/sealed-chunks.js';
import { loadAddon } from '../src/core/native-addon.js';

interface SamAddon {
  header(names: string[], lengths: number[]): object;
  format(header: object, records: Uint8Array, start: number, end: number, out: Uint8Array, outStart: number, state: Float64Array): number;
}
interface DeflateAddon {
  inflateRaw(input: Uint8Array, output: Uint8Array): number;
  crc32(data: Uint8Array): number;
}

interface CryptoAddon {
  open(key: Buffer, prefix: Buffer, chunkSize: number, firstIndex: number, lastIndexOfBlob: number, sealed: Buffer): number;
}

// scripts/sanitized-addons.sh runs this file against an ASan/UBSan build of the addons in another folder.
const dir = process.env['OPENOMICS_TEST_ADDON_DIR'];
const sam = loadAddon<SamAddon>('openomics_sam', dir);
const deflate = loadAddon<DeflateAddon>('openomics_deflate', dir);
const crypto = loadAddon<CryptoAddon>('openomics_crypto', dir);
const CI = process.env['CI'] === 'true';

/** One unmapped-style BAM record (with its block_size): name "r", 4 bases, given reference ids and l_seq. */
function record(o: { tid?: number; mtid?: number; lSeq?: number } = {}): Buffer {
  const name = Buffer.from('r\0');
  const lSeq = o.lSeq ?? 4;
  const seqBytes = Math.max(0, Math.ceil(Math.max(0, lSeq) / 2));
  const body = Buffer.alloc(32 + name.length + seqBytes + Math.max(0, lSeq));
  body.writeInt32LE(o.tid ?? 0, 0);
  body.writeInt32LE(99, 4); // pos
  body.writeUInt32LE((4680 << 16) | (30 << 8) | name.length, 8); // bin, mapq, l_read_name
  body.writeUInt32LE((0 << 16) | 0, 12); // flag, n_cigar_op
  body.writeInt32LE(lSeq, 16);
  body.writeInt32LE(o.mtid ?? -1, 20);
  body.writeInt32LE(-1, 24);
  body.writeInt32LE(0, 28);
  name.copy(body, 32);
  body.fill(0x12, 32 + name.length, 32 + name.length + seqBytes); // "AC" pairs
  body.fill(30, 32 + name.length + seqBytes);
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32LE(body.length, 0);
  body.copy(out, 4);
  return out;
}

describe('native addons defend themselves', () => {
  it('are built where CI runs (guard: otherwise these checks would not run)', () => {
    if (CI) assert.ok(sam && deflate && crypto, 'the SAM, libdeflate and crypto addons are built in CI');
  });

  it('libdeflate: refuses typed arrays that are not bytes', { skip: deflate ? false : 'the libdeflate addon is not built here (the guard above fails in CI)' }, () => {
    assert.throws(() => deflate!.crc32(new Float64Array(4) as unknown as Uint8Array), /Uint8Array/);
    assert.throws(() => deflate!.inflateRaw(new Uint16Array(8) as unknown as Uint8Array, Buffer.alloc(8)), /Uint8Array/);
    assert.equal(deflate!.crc32(Buffer.from('abc')), 0x352441c2);
  });

  it('sam: hands back what bam_read1 refuses, and refuses non-byte arrays', { skip: sam ? false : 'the SAM addon is not built here (the guard above fails in CI)' }, () => {
    const h = sam!.header(['chr1'], [1000]);
    const state = new Float64Array(3);
    const out = Buffer.alloc(1 << 16);
    const good = record();
    assert.equal(sam!.format(h, good, 0, good.length, out, 0, state), 0);
    assert.equal(state[2], 1, 'a sound record renders');
    for (const bad of [record({ tid: 1 }), record({ mtid: 7 }), record({ tid: -2 }), record({ lSeq: -1 })]) {
      state.fill(0);
      assert.equal(sam!.format(h, bad, 0, bad.length, out, 0, state), 1, 'handed back');
      assert.equal(state[2], 0);
    }
    assert.throws(() => sam!.format(h, new Float64Array(8) as unknown as Uint8Array, 0, 8, out, 0, state), /Uint8Array/);
  });

  it('sam: 20,000 randomly mutated records never crash the process', { skip: sam ? false : 'the SAM addon is not built here (the guard above fails in CI)' }, () => {
    const h = sam!.header(['chr1', 'chr2'], [1000, 2000]);
    const state = new Float64Array(3);
    const out = Buffer.alloc(1 << 16);
    const seed = record();
    let rendered = 0;
    let handedBack = 0;
    for (let i = 0; i < 20_000; i++) {
      const r = Buffer.from(seed);
      const flips = 1 + (i % 4);
      const noise = randomBytes(flips * 2);
      for (let k = 0; k < flips; k++) r[4 + (noise[2 * k]! % (r.length - 4))] = noise[2 * k + 1]!;
      try {
        state.fill(0);
        if (sam!.format(h, r, 0, r.length, out, 0, state) === 1) handedBack++;
        else rendered += state[2]!;
      } catch {
        // a JS error is an acceptable answer; a crash is not
      }
    }
    assert.ok(handedBack > 0 && rendered > 0, `both outcomes were seen (${rendered} rendered, ${handedBack} handed back)`);
  });

  it('libdeflate: 10,000 mutated DEFLATE streams into exact and short buffers never crash the process', { skip: deflate ? false : 'the libdeflate addon is not built here (the guard above fails in CI)' }, () => {
    const plain = Buffer.from('ACGTNACGTTTGCA'.repeat(300));
    const seed = deflateRawSync(plain);
    let inflated = 0;
    let refused = 0;
    for (let i = 0; i < 10_000; i++) {
      const c = Buffer.from(seed);
      const noise = randomBytes(8);
      for (let k = 0; k < 1 + (i % 4); k++) c[noise[2 * k]! % c.length] = noise[2 * k + 1]!;
      const cut = i % 5 === 0 ? c.subarray(0, noise[7]! % c.length) : c; // truncated streams too
      const out = Buffer.alloc(i % 3 === 0 ? plain.length >> 1 : plain.length);
      try {
        const n = deflate!.inflateRaw(cut, out);
        if (n >= 0 && n <= out.length) inflated++;
        else refused++;
      } catch {
        refused++;
      }
    }
    assert.ok(inflated + refused === 10_000 && refused > 0, `${inflated} inflated, ${refused} refused`);
  });

  it('crypto: 2,000 mutated sealed chunks are refused without a crash, the sound one opens', { skip: crypto ? false : 'the crypto addon is not built here (the guard above fails in CI)' }, () => {
    const key = randomBytes(32);
    const prefix = randomBytes(8);
    const chunkSize = 4096;
    const plain = randomBytes(chunkSize);
    const sealed = Buffer.concat([sealChunk(key, prefix, 0, false, plain), sealChunk(key, prefix, 1, true, plain.subarray(0, 100))]);
    const sound = Buffer.from(sealed);
    assert.equal(crypto!.open(key, prefix, chunkSize, 0, 1, sound), chunkSize + 100);
    assert.ok(sound.subarray(0, chunkSize).equals(plain));
    let refused = 0;
    for (let i = 0; i < 2_000; i++) {
      const c = Buffer.from(sealed);
      const noise = randomBytes(4);
      c[noise.readUInt16LE(0) % c.length] ^= 1 + (noise[2]! % 255);
      const cut = i % 4 === 0 ? c.subarray(0, 1 + noise[3]! * 16) : c; // ends inside the first chunk
      try {
        crypto!.open(key, prefix, chunkSize, 0, 1, cut);
      } catch {
        refused++;
      }
    }
    assert.equal(refused, 2_000, 'every damaged run fails authentication');
  });
});

describe('the JS paths the addons stand in for', () => {
  it('OPENOMICS_INFLATE=zlib runs BGZF through node:zlib, with the same results as libdeflate', async () => {
    const { execFileSync } = await import('node:child_process');
    const { join } = await import('node:path');
    const { tinyCorpus } = await import('./helpers/corpus.js');
    const { ROOT } = await import('./helpers/server.js');
    const script = `
      const { createReadStream } = await import('node:fs');
      const { inspectBam } = await import(${JSON.stringify(join(ROOT, 'dist/src/formats/bam-inspect.js'))});
      const { addonStatus, chooseNative } = await import(${JSON.stringify(join(ROOT, 'dist/src/core/native-addon.js'))});
      const { loadConfig } = await import(${JSON.stringify(join(ROOT, 'dist/src/config/config.js'))});
      chooseNative(loadConfig().native); // what the server does at start (app.ts): the environment through the typed config
      const info = await inspectBam(createReadStream(${JSON.stringify(join(tinyCorpus(), 'sample.bam'))}), { etagFamily: 'MD5up', buildIndex: true });
      console.log(JSON.stringify({ reads: info.readCount, etag: info.etag, index: info.index?.length, deflate: addonStatus()['openomics_deflate'] }));`;
    // A process of its own, outside the test runner's context.
    const { NODE_TEST_CONTEXT: _, ...parentEnv } = process.env;
    // A script file, not --eval: worker threads (the inflate pool) inherit the process's execArgv.
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'oo-inflate-'));
    writeFileSync(join(dir, 'inspect.mjs'), script);
    const run = (env: Record<string, string>) =>
      JSON.parse(execFileSync(process.execPath, [join(dir, 'inspect.mjs')], { env: { ...parentEnv, ...env }, encoding: 'utf8' }).trim().split('\n').pop()!);
    const zlib = run({ OPENOMICS_INFLATE: 'zlib' });
    assert.match(zlib.deflate, /^off/);
    const native = run({});
    if (CI) assert.equal(native.deflate, 'loaded');
    assert.deepEqual({ ...zlib, deflate: undefined }, { ...native, deflate: undefined });
    rmSync(dir, { recursive: true, force: true });
  });
});
