import { PassThrough, type Readable } from 'node:stream';
import type { BlobStore } from '../blob/blob-store.js';

/**
 * One read, two consumers: the chunks of `source` are written to a blob and
 * handed to a reader (the format engine) in step, so a file is stored and
 * inspected in a single pass with bounded memory (the slower side sets the pace).
 */
export interface BlobTee {
  /** The chunks, for the reader. */
  data: AsyncIterable<Buffer>;
  /** Reads whatever the reader left unread, then waits until the blob is stored. */
  finish(): Promise<{ size: number }>;
  /** Stops: the blob is not stored. */
  abort(err: Error): Promise<void>;
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
  const data = (async function* () {
    for await (const c of source) {
      const chunk = c as Buffer;
      if (sink.destroyed) throw new Error('the blob write stopped');
      if (!sink.write(chunk)) await waitDrain();
      yield chunk;
    }
    sink.end();
  })();
  return {
    data,
    async finish() {
      for (let r = await data.next(); !r.done; r = await data.next());
      return stored;
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
