import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { CorruptBlobError, type ChunkRun } from './sealed-chunks.js';

/**
 * Opens runs of sealed chunks on worker threads, so a large read decrypts on
 * another core while the main thread reads the next run and writes the last
 * one to the socket. Callers bound the runs in flight (memory stays flat).
 * Workers keep the process alive only while a run is pending.
 */
type Pending = { resolve: (b: Buffer) => void; reject: (e: Error) => void };

export class DecryptPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private next = 0;

  constructor(size = Math.max(2, Math.min(4, availableParallelism()))) {
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(new URL('./decrypt-worker.js', import.meta.url));
      w.on('message', (m: { id: number; plain?: ArrayBuffer; length?: number; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.settled();
        this.pending.delete(m.id);
        if (m.error !== undefined) p.reject(new CorruptBlobError(m.error));
        else p.resolve(Buffer.from(m.plain!, 0, m.length));
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      w.unref();
      return w;
    });
  }

  private settled(): void {
    if (this.pending.size === 1) for (const w of this.workers) w.unref();
  }

  /** Opens the first `length` bytes of `sealed`, which is handed over (moved to the worker, unusable here after). */
  open(run: ChunkRun, sealed: ArrayBuffer, length: number): Promise<Buffer> {
    const id = this.next++;
    if (this.pending.size === 0) for (const w of this.workers) w.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Own copies: a view is cloned with its whole backing store, which for a pooled Buffer is 8 KiB or more.
      const job = { id, key: new Uint8Array(run.key), prefix: new Uint8Array(run.prefix), chunkSize: run.chunkSize, firstIndex: run.firstIndex, lastIndexOfBlob: run.lastIndexOfBlob, sealed, length };
      this.workers[id % this.workers.length]!.postMessage(job, [sealed]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let shared: DecryptPool | undefined;
/** One pool per process, created on first large read. */
export function sharedDecryptPool(): DecryptPool {
  shared ??= new DecryptPool();
  return shared;
}
