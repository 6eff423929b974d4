import { close, createWriteStream, open, read, readSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative, sep, dirname } from 'node:path';
import { ownedName, writerState } from '../core/process-owned.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ioBuffers } from '../core/buffer-recycler.js';
import { addBounded } from '../core/bounded-cache.js';
import { BlobNotFoundError, checkBlobKey, concatBlobs, type BlobInfo, type BlobStore, type ByteRange, type BlobReadOptions } from './blob-store.js';

/**
 * Descriptors of recently read files, kept open for a moment so a burst of
 * small range reads opens each file once. An entry is dropped when this
 * process replaces or deletes the file; another process's replacement (a new
 * inode under the same name) is seen once the entry has been idle `idleMs`.
 */
class OpenFiles {
  private readonly files = new Map<string, { fd: Promise<number>; users: number; idleSince: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly idleMs = 1000,
    private readonly max = 256,
  ) {}

  async use<T>(path: string, fn: (fd: number) => Promise<T>): Promise<T> {
    let f = this.files.get(path);
    if (!f) {
      const fd = openForReading(path);
      f = { fd, users: 0, idleSince: 0 };
      this.files.set(path, f);
      fd.catch(() => this.files.get(path) === f && this.files.delete(path));
      this.timer ??= setInterval(() => this.sweep(false), this.idleMs).unref();
      if (this.files.size > this.max) this.sweep(true);
    }
    f.users++;
    try {
      return await fn(await f.fd);
    } finally {
      f.users--;
      f.idleSince = Date.now();
      if (f.users === 0 && this.files.get(path) !== f) closeFd(f.fd);
    }
  }

  /** The file at `path` is being replaced or removed: stop reusing its descriptor. */
  forget(path: string): void {
    const f = this.files.get(path);
    if (!f) return;
    this.files.delete(path);
    if (f.users === 0) closeFd(f.fd);
  }

  private sweep(all: boolean): void {
    const now = Date.now();
    for (const [path, f] of this.files) {
      if (f.users === 0 && (all || now - f.idleSince >= this.idleMs)) {
        this.files.delete(path);
        closeFd(f.fd);
      }
    }
    if (this.files.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** A descriptor (the callback API: fs/promises' FileHandle reads are slower on this path). */
function openForReading(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, 'r', (e, fd) => (e ? reject(e) : resolve(fd))));
}

function closeFd(fd: Promise<number>): void {
  fd.then((n) => close(n, () => {})).catch(() => {});
}

/** Reads up to `length` bytes at `position` into a buffer from the I/O recycler (fewer at the end of the file). */
function readAt(fd: number, position: number, length: number): Promise<Buffer> {
  const buf = ioBuffers.takeAtLeast(length);
  return new Promise((resolve, reject) => {
    const step = (filled: number) => {
      if (filled === length) return resolve(buf);
      read(fd, buf, filled, length - filled, position + filled, (e, n) => {
        if (e) reject(e);
        else if (n === 0) resolve(buf.subarray(0, filled));
        else step(filled + n);
      });
    };
    step(0);
  });
}

/**
 * Bytes [start, end] of an open file as a stream of buffers of `readSize`
 * (the last shorter), read into buffers from the I/O recycler; closes the
 * descriptor.
 * A file shorter than the range ends the stream early.
 */
class FileRangeStream extends Readable {
  private position: number;
  /** Called when the read in flight is done (a destroy waits for it: the descriptor must not be closed under it). */
  private readDone: (() => void) | undefined;

  constructor(
    private readonly fd: number,
    start: number,
    private readonly end: number,
    private readonly readSize: number,
    private readonly lend: boolean,
  ) {
    super({ highWaterMark: readSize });
    this.position = start;
  }

  override _read(): void {
    const want = Math.min(this.readSize, this.end + 1 - this.position);
    if (want <= 0) {
      this.push(null);
      return;
    }
    // Only whole-size buffers are recycled (a short read, a blob header, takes its own).
    const buf = this.lend && want === this.readSize ? ioBuffers.take(want) : Buffer.allocUnsafeSlow(want);
    this.readDone = () => {};
    read(this.fd, buf, 0, want, this.position, (e, n) => {
      const done = this.readDone!;
      this.readDone = undefined;
      done();
      if (this.destroyed) return ioBuffers.give(buf);
      if (e) return this.destroy(e);
      if (n === 0) {
        ioBuffers.give(buf);
        this.push(null);
        return;
      }
      this.position += n;
      this.push(buf.subarray(0, n));
    });
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    const closeFd = () => close(this.fd, () => cb(err));
    if (this.readDone) this.readDone = closeFd;
    else closeFd();
  }
}

/** Blobs as files under a root folder; writes go to a temp file and are renamed into place. */
/** As readAt, on the calling thread. */
function readAtNow(fd: number, position: number, length: number): Buffer {
  const buf = ioBuffers.takeAtLeast(length);
  let filled = 0;
  while (filled < length) {
    const n = readSync(fd, buf, filled, length - filled, position + filled);
    if (n === 0) return buf.subarray(0, filled);
    filled += n;
  }
  return buf;
}

/** Reads up to this size may be made on the event loop (LocalBlobStore's `smallReadsOnLoop`). */
const LOOP_READ_MAX = 256 * 1024;

export class LocalBlobStore implements BlobStore {
  private readonly openFiles = new OpenFiles();

  /**
   * @param smallReadsOnLoop `read` of up to 256 KiB with a synchronous pread on the event loop instead of a trip
   *   to libuv's thread pool and back (two thread wake-ups, which cost more than copying a cached range). Right
   *   when each core has a server process of its own (the default): the thread pool's extra core is then taken
   *   anyway. Measured on the S3 view's 64 KiB range GETs (decision 78). The price: a read the page cache cannot
   *   answer holds the process's other requests for one disk access, as nginx's reads do.
   */
  constructor(
    private readonly root: string,
    private readonly smallReadsOnLoop = false,
  ) {}

  /** Keys already checked and joined (a ranged reader asks for one key thousands of times a second). */
  private readonly paths = new Map<string, string>();

  private path(key: string): string {
    let p = this.paths.get(key);
    if (p === undefined) {
      checkBlobKey(key);
      p = join(this.root, ...key.split('/'));
      addBounded(this.paths, key, p, 4096);
    }
    return p;
  }

  /**
   * Removes temp files a crashed process left behind (older than `ageMs`, so
   * writes in flight in another process are never touched). Run at start-up.
   */
  sweepIncomplete(olderThanMs: number): Promise<number> {
    return this.sweepTemp(olderThanMs);
  }

  async sweepTemp(ageMs = 3_600_000): Promise<number> {
    const dir = join(this.root, '.tmp');
    let removed = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const st = await stat(join(dir, name)).catch(() => undefined);
      // A partial blob of a process that has ended goes at once, a running one's never; others (another
      // host's, or named before owners were) once old.
      const writer = writerState(name);
      if (st && (writer === 'ended' || (writer === 'unknown' && Date.now() - st.mtimeMs > ageMs))) {
        await rm(join(dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    const final = this.path(key);
    await mkdir(dirname(final), { recursive: true });
    const tmp = join(this.root, '.tmp', ownedName());
    await mkdir(dirname(tmp), { recursive: true });
    try {
      await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
      await rename(tmp, final);
      this.openFiles.forget(final);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return { size: (await stat(final)).size };
  }

  async get(key: string, range?: ByteRange, opts: BlobReadOptions = {}): Promise<Readable> {
    const p = this.path(key);
    // Opened here (not by the stream) so a missing blob is an error of this call; no separate stat.
    const fd = await openForReading(p).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT' ? new BlobNotFoundError(key) : e;
    });
    return new FileRangeStream(fd, range ? range.start : 0, range ? range.end : Number.MAX_SAFE_INTEGER, opts.readSize ?? 1 << 20, opts.lend ?? false);
  }

  async read(key: string, range: ByteRange): Promise<Buffer> {
    const p = this.path(key);
    try {
      const length = Math.max(0, range.end - range.start + 1);
      if (this.smallReadsOnLoop && length <= LOOP_READ_MAX) return await this.openFiles.use(p, (fd) => Promise.resolve(readAtNow(fd, range.start, length)));
      return await this.openFiles.use(p, (fd) => readAt(fd, range.start, length));
    } catch (e) {
      throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? new BlobNotFoundError(key) : e;
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    try {
      const s = await stat(this.path(key));
      return s.isFile() ? { key, size: s.size } : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    this.openFiles.forget(this.path(key));
    await rm(this.path(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const all: BlobInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const ent of entries) {
        const full = join(dir, ent.name);
        if (ent.isDirectory()) {
          if (dir === this.root && ent.name === '.tmp') continue;
          await walk(full);
        } else if (ent.isFile()) {
          const key = relative(this.root, full).split(sep).join('/');
          if (key.startsWith(prefix)) all.push({ key, size: (await stat(full)).size });
        }
      }
    };
    await walk(this.root);
    all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* all;
  }

  async compose(key: string, sources: string[]): Promise<{ size: number }> {
    return this.put(key, concatBlobs(this, sources));
  }
}
