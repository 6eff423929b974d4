import { Worker } from 'node:worker_threads';


/** The hash behind an ETag algorithm family (MD5up, SHA256up, SHA512up). */
export type EtagFamily = 'MD5up' | 'SHA256up' | 'SHA512up';

/** node:crypto's name for a family's hash. */
export function hashAlgorithm(family: EtagFamily): 'md5' | 'sha256' | 'sha512' {
  return family === 'MD5up' ? 'md5' : family === 'SHA256up' ? 'sha256' : 'sha512';
}

const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const h = createHash(workerData.algorithm);
parentPort.on('message', (m) => {
  if (m.data) {
    h.update(Buffer.from(m.data, m.offset || 0, m.length === undefined ? m.data.byteLength : m.length));
    parentPort.postMessage({ ack: true });
  } else parentPort.postMessage({ digest: h.digest('hex') });
});
`;

/**
 * A hash computed on a worker thread: buffers are handed over (transferred,
 * not copied) in order, so hashing runs beside the producer.
 */
export class ThreadedHash {
  private readonly worker: Worker;
  private outstanding = 0;
  private waiter: (() => void) | undefined;
  private digestWaiter: ((hex: string) => void) | undefined;
  private failure: Error | undefined;

  constructor(family: EtagFamily) {
    this.worker = new Worker(HASH_WORKER, {
      eval: true,
      workerData: { algorithm: hashAlgorithm(family) },
    });
    this.worker.on('message', (m: { ack?: boolean; digest?: string }) => {
      if (m.ack) {
        this.outstanding--;
        const w = this.waiter;
        this.waiter = undefined;
        w?.();
      } else if (m.digest !== undefined) this.digestWaiter?.(m.digest);
    });
    this.worker.on('error', (e) => (this.failure = e));
    // The worker keeps the process alive until digest() or abort() ends it: every user ends it in a finally.
  }

  /** Resolves once at most `n` buffers are waiting to be hashed (backpressure). */
  async below(n: number): Promise<void> {
    while (this.outstanding > n) {
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
  /**
   * Queues `bytes` for hashing. With `transfer` the caller gives up the whole
   * backing ArrayBuffer (it must own it alone: Buffer.allocUnsafeSlow), which
   * moves to the worker without a copy; otherwise the bytes are copied.
   */
  update(bytes: Buffer, transfer = false): void {
    this.outstanding++;
    if (transfer) {
      // The whole backing store moves; the worker hashes only this view of it.
      const ab = bytes.buffer as ArrayBuffer;
      this.worker.postMessage({ data: ab, offset: bytes.byteOffset, length: bytes.length }, [ab]);
    } else {
      const ab = new Uint8Array(bytes).buffer;
      this.worker.postMessage({ data: ab }, [ab]);
    }
  }
  async digest(): Promise<string> {
    const result = new Promise<string>((resolve) => (this.digestWaiter = resolve));
    this.worker.postMessage({});
    const hex = await result;
    await this.worker.terminate();
    return hex;
  }
  async abort(): Promise<void> {
    await this.worker.terminate();
  }
}
