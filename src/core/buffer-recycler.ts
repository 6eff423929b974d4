/**
 * Large I/O buffers lent out and handed back for reuse. Reading a blob for a
 * client allocated one ~1 MiB buffer per MiB served; the garbage collector
 * then ran every few tens of milliseconds ("external memory pressure") and
 * its helper threads took as much CPU as the decryption. A buffer taken here
 * is read into, decrypted in place, written to the socket and given back once
 * the socket has taken it.
 *
 * Rules: only the last holder of a view gives it back, after its last use;
 * a view whose memory was not lent here (or was given back already) is
 * ignored, so a consumer that never gives back merely leaves buffers to the
 * garbage collector. At most `maxFreeBytes` wait for reuse, and none once
 * nothing has been taken for `idleMs`.
 */
declare const lentBrand: unique symbol;
/**
 * A buffer lent by the recycler: its own type, so that only code that took it (or the stream end that is its
 * last holder, through `give`) handles it as recyclable memory, and a plain Buffer is never mistaken for one.
 */
export type LentBuffer = Buffer & { readonly [lentBrand]: true };

export interface RecyclerSettings {
  /** Off: every take allocates, nothing is reused (OPENOMICS_RECYCLE_BUFFERS=0). */
  enabled: boolean;
  /**
   * Tests: fill every buffer given back with 0xDB, so a buffer given back while a client's bytes were still
   * in it shows up as wrong bytes in that client's body (OPENOMICS_TEST_POISON_RETURNED_BUFFERS=1).
   */
  poison: boolean;
}

export const POISON_BYTE = 0xdb;

export class BufferRecycler {
  private readonly free = new Map<number, Buffer[]>();
  private settings: RecyclerSettings = { enabled: true, poison: false };
  private readonly lent = new WeakMap<ArrayBuffer, Buffer>();
  private freeBytes = 0;
  private lastTake = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxFreeBytes = 32 << 20,
    private readonly idleMs = 5000,
  ) {}

  configure(settings: Partial<RecyclerSettings>): void {
    this.settings = { ...this.settings, ...settings };
    if (!this.settings.enabled) {
      this.free.clear();
      this.freeBytes = 0;
    }
  }

  /** A buffer of exactly `size` bytes (contents undefined) that is the whole of its own memory. */
  take(size: number): LentBuffer {
    if (!this.settings.enabled) return Buffer.allocUnsafeSlow(size) as LentBuffer;
    this.lastTake = Date.now();
    const b = this.free.get(size)?.pop();
    if (b) this.freeBytes -= size;
    const out = b ?? Buffer.allocUnsafeSlow(size);
    this.lent.set(out.buffer as ArrayBuffer, out);
    return out as LentBuffer;
  }

  /**
   * A view of `size` bytes on a lent buffer whose size is the next power of two (at least 64 KiB), so reads
   * of varied sizes share a few size classes.
   */
  takeAtLeast(size: number): LentBuffer {
    const cls = Math.max(1 << 16, 2 ** Math.ceil(Math.log2(Math.max(1, size))));
    return this.take(cls).subarray(0, size) as LentBuffer;
  }

  /**
   * Counts `memory` as lent from here: memory that was lent, moved to a worker thread and has come back (a new
   * ArrayBuffer over the same bytes). Only for memory nothing else uses.
   */
  adopt(memory: ArrayBuffer): void {
    if (!this.settings.enabled) return;
    this.lent.set(memory, Buffer.from(memory));
  }

  /** Hands back the buffer behind `view`, if it was lent by take(); the caller must not use `view` after. */
  give(view: Uint8Array): void {
    const memory = view.buffer as ArrayBuffer;
    const whole = this.lent.get(memory);
    if (!whole) return;
    this.lent.delete(memory);
    if (memory.byteLength === 0) return; // moved to another thread meanwhile (detached)
    if (this.settings.poison) whole.fill(POISON_BYTE);
    if (this.freeBytes + whole.length > this.maxFreeBytes) return;
    let list = this.free.get(whole.length);
    if (!list) this.free.set(whole.length, (list = []));
    list.push(whole);
    this.freeBytes += whole.length;
    this.timer ??= setInterval(() => this.dropIfIdle(), this.idleMs).unref();
  }

  /** Whether `view`'s memory is lent from here right now (diagnosis and tests). */
  lends(view: Uint8Array): boolean {
    return this.lent.has(view.buffer as ArrayBuffer);
  }

  /** Bytes waiting for reuse. */
  get idleBytes(): number {
    return this.freeBytes;
  }

  private dropIfIdle(): void {
    if (Date.now() - this.lastTake < this.idleMs) return;
    this.free.clear();
    this.freeBytes = 0;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The process's recycler for blob reads (blob stores take, the HTTP edges give back). */
export const ioBuffers = new BufferRecycler();
