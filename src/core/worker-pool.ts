import { Worker } from 'node:worker_threads';
import { nativeChoices } from './native-addon.js';

/**
 * Request/response jobs on a few worker threads: a job is one message (with
 * the buffers it hands over), answered by one message carrying the job's id
 * and either its result or `error`. Jobs go round-robin; the workers keep the
 * process alive only while a job is pending, so an idle pool never delays exit.
 * Used by the BGZF inflater (formats/) and the blob decrypter (blob/).
 */
export interface WorkerReply {
  id: number;
  error?: string;
}

export class WorkerPool<Reply extends WorkerReply> {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private next = 0;

  constructor(script: URL, size: number) {
    this.workers = Array.from({ length: size }, () => {
      // The workers use the same native code paths as this thread (core/native-addon.ts reads them there).
      const w = new Worker(script, { workerData: { native: nativeChoices() } });
      w.on('message', (m: Reply) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.settle(m.id);
        // The reply's other fields (a byte offset, say) travel with the error.
        if (m.error !== undefined) p.reject(Object.assign(new Error(m.error), m));
        else p.resolve(m);
      });
      w.on('error', (e) => {
        for (const [id, p] of [...this.pending]) {
          this.settle(id);
          p.reject(e);
        }
      });
      w.unref();
      return w;
    });
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) for (const w of this.workers) w.unref();
  }

  /** Sends `message` (given an `id` here) to the next worker, handing over `transfer`. */
  run(message: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<Reply> {
    const id = this.next++;
    if (this.pending.size === 0) for (const w of this.workers) w.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[id % this.workers.length]!.postMessage({ ...message, id }, transfer);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
