import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The libdeflate addon (native/, built by `npm ci` through node-gyp), or undefined if it was not built. */
export const DEFLATE_ADDON = fileURLToPath(new URL('../../../build/Release/openomics_deflate.node', import.meta.url));
export const hasDeflateAddon = () => existsSync(DEFLATE_ADDON);

/**
 * Inflates BGZF blocks on worker threads, so decompression runs beside the
 * parsing and hashing on the main thread. Uses libdeflate (what samtools uses,
 * about twice as fast as zlib) through native/libdeflate_binding.c when built,
 * node:zlib otherwise. Results come back in submission
 * order; the caller bounds how many blocks are in flight (memory stays flat).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
let addon = null;
try { addon = require(workerData.addon); } catch (e) { /* not built: node:zlib */ }
const inflate = addon
  ? (cdata, isize) => { const out = Buffer.allocUnsafe(isize); const n = addon.inflateRaw(cdata, out); return n === isize ? out : out.subarray(0, n); }
  : (cdata) => zlib.inflateRawSync(cdata);
const crc32 = addon ? addon.crc32 : zlib.crc32;
parentPort.on('message', ({ id, block }) => {
  const b = Buffer.from(block);
  try {
    const xlen = b.readUInt16LE(10);
    const crc = b.readUInt32LE(b.length - 8);
    const isize = b.readUInt32LE(b.length - 4);
    const data = isize === 0 ? Buffer.alloc(0) : inflate(b.subarray(12 + xlen, b.length - 8), isize);
    if (data.length !== isize) throw new Error('BGZF block inflates to ' + data.length + ' bytes, its header says ' + isize);
    if ((crc32(data) >>> 0) !== crc) throw new Error('BGZF block CRC32 mismatch (corrupted data)');
    const out = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
    parentPort.postMessage({ id, data: out }, [out]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message || e) });
  }
});
`;

type Pending = { resolve: (b: Buffer) => void; reject: (e: Error) => void };

export class InflatePool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private rr = 0;

  constructor(size = Math.max(1, Math.min(4, availableParallelism() - 1))) {
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { addon: DEFLATE_ADDON } });
      w.on('message', (m: { id: number; data?: ArrayBuffer; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error !== undefined) p.reject(new Error(m.error));
        else p.resolve(Buffer.from(m.data!));
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      w.unref();
      return w;
    });
  }

  private users = 0;

  /**
   * Readers hold the pool while they read: the workers keep the process alive
   * only while someone holds it, so an idle pool never delays exit.
   */
  acquire(): void {
    if (this.users++ === 0) for (const w of this.workers) w.ref();
  }

  release(): void {
    if (--this.users === 0) for (const w of this.workers) w.unref();
  }

  inflate(block: Buffer): Promise<Buffer> {
    const id = this.next++;
    const copy = new Uint8Array(block).buffer; // a private copy the worker can take over
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[this.rr++ % this.workers.length]!.postMessage({ id, block: copy }, [copy]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let shared: InflatePool | undefined;
/** One pool per process, created on first use. */
export function sharedInflatePool(): InflatePool {
  shared ??= new InflatePool();
  return shared;
}
