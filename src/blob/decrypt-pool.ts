import { availableParallelism } from 'node:os';
import { WorkerPool } from '../core/worker-pool.js';
import { ioBuffers } from '../core/buffer-recycler.js';
import { CorruptBlobError, openChunksAsync, sealedChunksAddon, type ChunkRun } from './sealed-chunks.js';

/**
 * Opens runs of sealed chunks off the main thread, so a large read decrypts
 * on another core while the main thread reads the next run and writes the
 * last one to the socket. Callers keep results in order and bound the runs in
 * flight (memory stays flat). The plaintext comes back in the run's own memory.
 */
export interface DecryptPool {
  /** Whether `open` moves the run's memory to another thread (it must then be a whole ArrayBuffer of its own). */
  readonly movesMemory: boolean;
  open(run: ChunkRun, sealed: Buffer): Promise<Buffer>;
}

/** The addon on libuv's thread pool: no messages, no transfers. */
class ThreadPoolDecrypter implements DecryptPool {
  readonly movesMemory = false;
  open(run: ChunkRun, sealed: Buffer): Promise<Buffer> {
    return openChunksAsync(run, sealed)!;
  }
}

/** node:crypto on worker threads (decrypt-worker.ts), when the addon is not built. */
class WorkerDecryptPool implements DecryptPool {
  readonly movesMemory = true;
  private readonly pool: WorkerPool<{ id: number; error?: string; plain: ArrayBuffer; length: number }>;

  // Two workers even on two cores: while one opens a run the other can take the next (the main thread mostly
  // waits on the disk and the socket).
  constructor(size = Math.max(2, Math.min(4, availableParallelism()))) {
    this.pool = new WorkerPool(new URL('./decrypt-worker.js', import.meta.url), size);
  }

  /** `sealed` must start its ArrayBuffer, which nothing else uses: that memory moves to the worker and comes back opened. */
  async open(run: ChunkRun, sealed: Buffer): Promise<Buffer> {
    if (sealed.byteOffset !== 0) throw new Error('a run handed to a worker must start its memory');
    const memory = sealed.buffer as ArrayBuffer;
    // Own copies: a view is cloned with its whole backing store, which for a pooled Buffer is 8 KiB or more.
    const job = { key: new Uint8Array(run.key), prefix: new Uint8Array(run.prefix), chunkSize: run.chunkSize, firstIndex: run.firstIndex, lastIndexOfBlob: run.lastIndexOfBlob, sealed: memory, length: sealed.length };
    try {
      const r = await this.pool.run(job, [memory]);
      ioBuffers.adopt(r.plain); // the run's memory, back: recyclable as before it moved
      return Buffer.from(r.plain, 0, r.length);
    } catch (e) {
      throw new CorruptBlobError((e as Error).message);
    }
  }
}

let shared: DecryptPool | undefined;
/** One per process, created on first large read: the addon's when it is built, else worker threads. */
export function sharedDecryptPool(): DecryptPool {
  shared ??= sealedChunksAddon() ? new ThreadPoolDecrypter() : new WorkerDecryptPool();
  return shared;
}
