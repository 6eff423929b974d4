import { Readable } from 'node:stream';

/**
 * A byte stream that does nothing until it is read: `produce` starts on the
 * first read, its errors reach the reader (never an unheard 'error' event),
 * and destroying the stream stops it (the generator's `finally` runs, which
 * closes whatever it opened). The safe way to hand a stream whose source opens
 * asynchronously to a consumer that may never read it, or may stop early.
 */
export function lazyReadable(produce: () => AsyncGenerator<Buffer>): Readable {
  // An async generator runs nothing until its first next(): calling it here starts no work.
  return Readable.from(produce(), { objectMode: false, highWaterMark: 1 << 20 });
}
