import { PassThrough, type Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { checksumHeaderValue } from '../core/checksums.js';
import type { BlobStore } from '../blob/blob-store.js';

/**
 * One read, two consumers: the chunks of `source` are written to a blob and
 * handed to a reader (the format engine) in step, so a file is stored and
 * inspected in a single pass with bounded memory (the slower side sets the pace).
 */
export interface BlobTee {
  /** The chunks, for the reader. */
  data: AsyncIterable<Buffer>;
  /** Reads whatever the reader left unread, then waits until the blob is stored: its size and checksum. */
  finish(): Promise<StoredBytes>;
  /** Stops: the blob is not stored. */
  abort(err: Error): Promise<void>;
}

/** What a stored file is: its length and S3's full-object CRC32 of its bytes (base64, `checksumHeaderValue`). */
export interface StoredBytes {
  size: number;
  crc32: string;
}

export function teeIntoBlob(source: Readable, blobs: BlobStore, key: string): BlobTee {
  const sink = new PassThrough({ highWaterMark: 4 << 20 });
  // The sink's errors are its reader's (the blob store's put, observed through `stored`); this listener
  // keeps one destroyed after the put has given up from being an unheard 'error' event.
  sink.on('error', () => undefined);
  const stored = blobs.put(key, sink);
  stored.catch(() => undefined); // observed by finish()/abort()
  const waitDrain = () =>
    new Promise<void>((resolve, reject) => {
      const done = () => {
        sink.off('drain', done);
        sink.off('close', closed);
        resolve();
      };
      const closed = () => {
        sink.off('drain', done);
        reject(new Error('the blob write stopped'));
      };
      sink.once('drain', done);
      sink.once('close', closed);
    });
  let crc = 0; // of every byte written, in order: the blob's content is exactly these chunks
  const data = (async function* () {
    for await (const c of source) {
      const chunk = c as Buffer;
      if (sink.destroyed) throw new Error('the blob write stopped');
      crc = crc32(chunk, crc);
      if (!sink.write(chunk)) await waitDrain();
      yield chunk;
    }
    sink.end();
  })();
  return {
    data,
    async finish() {
      for (let r = await data.next(); !r.done; r = await data.next());
      const { size } = await stored;
      return { size, crc32: checksumHeaderValue(crc) };
    },
    async abort(err: Error) {
      sink.destroy(err);
      // A tee never read (the other source failed first) has not started its source: stop it here.
      source.destroy();
      await data.return(undefined).catch(() => undefined);
      await stored.catch(() => undefined);
    },
  };
}

/** What a job attempt that writes blobs needs of its lease (JobContext): its loss signal and a check. */
export interface WriteLease {
  signal: AbortSignal;
  holdsLease(): Promise<boolean>;
}

/**
 * Writes blobs under a job's lease: `work` gets the tees to register; if the lease is lost they are aborted at
 * once (another worker does this work now). On failure the attempt's `keys` are removed only if this attempt
 * still holds the job (a worker that lost its lease would delete what the new holder wrote and published), and
 * a lost lease is what is thrown. Without a lease (no job), a failure removes the keys.
 */
export async function writeUnderLease<T>(blobs: BlobStore, keys: string[], lease: WriteLease | undefined, work: (tees: BlobTee[]) => Promise<T>): Promise<T> {
  const tees: BlobTee[] = [];
  const stop = () => void Promise.all(tees.map((t) => t.abort(lease!.signal.reason as Error)));
  lease?.signal.addEventListener('abort', stop, { once: true });
  try {
    return await work(tees);
  } catch (e) {
    await Promise.all(tees.map((t) => t.abort(e as Error)));
    if (!lease || (await lease.holdsLease().catch(() => false))) {
      for (const k of keys) await blobs.delete(k).catch(() => undefined);
    }
    throw lease?.signal.aborted ? lease.signal.reason : e;
  } finally {
    lease?.signal.removeEventListener('abort', stop);
  }
}

