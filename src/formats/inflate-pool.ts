import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { BlockSpan } from './bgzf.js';

/**
 * Inflates groups of BGZF blocks on worker threads (inflate-worker.ts, with libdeflate or
 * zlib: deflate.ts), so decompression runs beside the parsing and hashing on
 * the main thread. Results come back in submission order; the caller bounds
 * how many blocks are in flight (memory stays flat).
 */
type Pending = { resolve: (b: Buffer) => void; reject: (e: Error) => void };

export class InflatePool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private rr = 0;

  constructor(size = Math.max(1, Math.min(4, availableParallelism() - 1))) {
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(new URL('./inflate-worker.js', import.meta.url));
      w.on('message', (m: { id: number; data?: ArrayBuffer; length?: number; error?: string; byte?: number }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error !== undefined) p.reject(Object.assign(new Error(m.error), { byte: m.byte }));
        else p.resolve(Buffer.from(m.data!, 0, m.length));
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

  /**
   * Inflates consecutive blocks, `region` holding them back to back as
   * `blocks` describes: one message per group, not per block. Resolves to
   * their data, back to back (each block's share is its ISIZE).
   */
  inflateGroup(region: Buffer, blocks: BlockSpan[]): Promise<Buffer> {
    const id = this.next++;
    const copy = new Uint8Array(region).buffer; // a private copy the worker can take over
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[this.rr++ % this.workers.length]!.postMessage({ id, region: copy, blocks }, [copy]);
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
