import { availableParallelism } from 'node:os';
import { WorkerPool } from '../core/worker-pool.js';
import { CorruptBlobError, type ChunkRun } from './sealed-chunks.js';

/**
 * Opens runs of sealed chunks on worker threads (decrypt-worker.ts), so a
 * large read decrypts on another core while the main thread reads the next
 * run and writes the last one to the socket. Callers keep results in order
 * and bound the runs in flight (memory stays flat).
 */
export class DecryptPool {
  private readonly pool: WorkerPool<{ id: number; error?: string; plain: ArrayBuffer; length: number }>;

  // Two workers even on two cores: while one opens a run the other can take the next (the main thread mostly
  // waits on the disk and the socket).
  constructor(size = Math.max(2, Math.min(4, availableParallelism()))) {
    this.pool = new WorkerPool(new URL('./decrypt-worker.js', import.meta.url), size);
  }

  /**
   * Opens the first `length` bytes of `sealed`, which is handed over (moved to
   * the worker, unusable here after); the plaintext comes back in the same
   * memory.
   */
  async open(run: ChunkRun, sealed: ArrayBuffer, length: number): Promise<Buffer> {
    // Own copies: a view is cloned with its whole backing store, which for a pooled Buffer is 8 KiB or more.
    const job = { key: new Uint8Array(run.key), prefix: new Uint8Array(run.prefix), chunkSize: run.chunkSize, firstIndex: run.firstIndex, lastIndexOfBlob: run.lastIndexOfBlob, sealed, length };
    try {
      const r = await this.pool.run(job, [sealed]);
      return Buffer.from(r.plain, 0, r.length);
    } catch (e) {
      throw new CorruptBlobError((e as Error).message);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

let shared: DecryptPool | undefined;
/** One pool per process, created on first large read. */
export function sharedDecryptPool(): DecryptPool {
  shared ??= new DecryptPool();
  return shared;
}
