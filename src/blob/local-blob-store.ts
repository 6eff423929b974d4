import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative, sep, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, checkBlobKey, concatBlobs, type BlobInfo, type BlobStore, type ByteRange } from './blob-store.js';

/** Blobs as files under a root folder; writes go to a temp file and are renamed into place. */
export class LocalBlobStore implements BlobStore {
  constructor(private readonly root: string) {}

  private path(key: string): string {
    checkBlobKey(key);
    return join(this.root, ...key.split('/'));
  }

  /**
   * Removes temp files a crashed process left behind (older than `ageMs`, so
   * writes in flight in another process are never touched). Run at start-up.
   */
  async sweepTemp(ageMs = 3_600_000): Promise<number> {
    const dir = join(this.root, '.tmp');
    let removed = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const st = await stat(join(dir, name)).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > ageMs) {
        await rm(join(dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    const final = this.path(key);
    await mkdir(dirname(final), { recursive: true });
    const tmp = join(this.root, '.tmp', `${randomBytes(8).toString('hex')}`);
    await mkdir(dirname(tmp), { recursive: true });
    try {
      await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
      await rename(tmp, final);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return { size: (await stat(final)).size };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const p = this.path(key);
    await stat(p).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new BlobNotFoundError(key);
      throw e;
    });
    return createReadStream(p, range ? { start: range.start, end: range.end, highWaterMark: 1 << 20 } : { highWaterMark: 1 << 20 });
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
