import { availableParallelism } from 'node:os';
import { WorkerPool } from '../core/worker-pool.js';

/** One BGZF block inside a region handed to the pool: its offset there, its size, its offset in the file. */
export interface BlockSpan {
  at: number;
  size: number;
  coffset: number;
}

/**
 * Inflates groups of BGZF blocks on worker threads (inflate-worker.ts, with
 * libdeflate or zlib: deflate.ts), so decompression runs beside the parsing
 * and hashing on the main thread. The caller keeps results in order and
 * bounds how many groups are in flight (memory stays flat).
 */
export class InflatePool {
  private readonly pool: WorkerPool<{ id: number; error?: string; byte?: number; data: ArrayBuffer; length: number }>;

  constructor(size = Math.max(1, Math.min(4, availableParallelism() - 1))) {
    this.pool = new WorkerPool(new URL('./inflate-worker.js', import.meta.url), size);
  }

  /**
   * Inflates consecutive blocks, `region` holding them back to back as
   * `blocks` describes: one message per group, not per block. Resolves to
   * their data, back to back (each block's share is its ISIZE); a bad block
   * rejects with its file offset as the error's `byte`.
   */
  async inflateGroup(region: Buffer, blocks: BlockSpan[]): Promise<Buffer> {
    const copy = new Uint8Array(region).buffer; // a private copy the worker can take over
    const r = await this.pool.run({ region: copy, blocks }, [copy]);
    return Buffer.from(r.data, 0, r.length);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

let shared: InflatePool | undefined;
/** One pool per process, created on first use. */
export function sharedInflatePool(): InflatePool {
  shared ??= new InflatePool();
  return shared;
}
