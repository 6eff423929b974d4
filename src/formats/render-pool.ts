import { Worker } from 'node:worker_threads';
import { nativeChoices } from '../core/native-addon.js';
import type { BamHeader } from './bam.js';

/**
 * Renders BAM records to SAM text on worker threads, in batches, returning
 * the rendered batches in submission order. The caller copies whole raw
 * records into a batch (`add`), and receives the text through `onText`.
 */
export class RenderError extends Error {
  constructor(
    message: string,
    readonly recordIndex: number,
  ) {
    super(message);
  }
}

export class RenderPool {
  private readonly workers: Worker[];
  private batch: Buffer;
  private batchLen = 0;
  private batchFirstRecord = 1;
  private nextSeq = 0;
  private nextToEmit = 0;
  private rr = 0;
  private readonly done = new Map<number, { parts?: Buffer[]; error?: RenderError }>();
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;

  constructor(
    header: BamHeader,
    private readonly onText: (bytes: Buffer) => void,
    size = 2,
    private readonly batchSize = 1 << 20,
    private readonly maxInFlight = 6,
  ) {
    this.batch = Buffer.allocUnsafeSlow(batchSize);
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(new URL('./render-worker.js', import.meta.url), { workerData: { header, native: nativeChoices() } });
      w.on('message', (m: { seq: number; parts?: { data: ArrayBuffer; offset: number; length: number }[]; error?: string; recordIndex?: number }) => {
        if (m.error !== undefined) {
          this.done.set(m.seq, { error: new RenderError(m.error, m.recordIndex!) });
        } else {
          this.done.set(m.seq, { parts: m.parts!.map((p) => Buffer.from(p.data, p.offset, p.length)) });
        }
        const wake = this.waiter;
        this.waiter = undefined;
        wake?.();
      });
      w.on('error', (e) => {
        this.failure = e;
        this.waiter?.();
      });
      return w;
    });
  }

  /**
   * Adds raw records buf[start, end) (whole records with their block_size),
   * the first of which is record number `firstIndex`. Returns a promise only
   * when a batch was sent and the caller should wait for the pipeline to drain.
   */
  addRun(buf: Buffer, start: number, end: number, firstIndex: number): Promise<void> | undefined {
    const n = end - start;
    let pending: Promise<void> | undefined;
    if (this.batchLen > 0 && this.batchLen + n > this.batch.length) pending = this.send();
    if (n > this.batch.length - this.batchLen) {
      // A run larger than the batch buffer gets a buffer of its own.
      if (this.batchLen === 0) this.batch = Buffer.allocUnsafeSlow(n);
    }
    if (this.batchLen === 0) this.batchFirstRecord = firstIndex;
    buf.copy(this.batch, this.batchLen, start, end);
    this.batchLen += n;
    return pending;
  }

  private async send(): Promise<void> {
    if (this.batchLen === 0) return;
    const seq = this.nextSeq++;
    const ab = this.batch.buffer as ArrayBuffer;
    this.workers[this.rr++ % this.workers.length]!.postMessage({ seq, data: ab, length: this.batchLen, firstIndex: this.batchFirstRecord }, [ab]);
    this.batch = Buffer.allocUnsafeSlow(this.batchSize);
    this.batchLen = 0;
    await this.emitReady(this.maxInFlight);
  }

  /** Emits finished batches in order until at most `inFlight` are outstanding. */
  private async emitReady(inFlight: number): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      const r = this.done.get(this.nextToEmit);
      if (r) {
        this.done.delete(this.nextToEmit);
        this.nextToEmit++;
        if (r.error) throw r.error;
        for (const part of r.parts!) this.onText(part);
        continue;
      }
      if (this.nextSeq - this.nextToEmit <= inFlight) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Sends the last batch and waits until every rendered batch has been emitted. */
  async finish(): Promise<void> {
    await this.send();
    await this.emitReady(0);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
