import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { ioBuffers } from '../core/buffer-recycler.js';

/**
 * Streams `body` as the response body (headers already set), with
 * backpressure, and hands each chunk back to the I/O recycler once the socket
 * has taken it (pipe() cannot say when that is). A failing body aborts the
 * response (the client sees a short body, never wrong bytes); a client that
 * goes away stops the body.
 */
export function sendStream(res: ServerResponse, body: Readable, onError: (e: Error) => void): void {
  const recycle = (chunk: Buffer) => (e?: Error | null) => {
    if (!e) ioBuffers.give(chunk);
  };
  body.on('data', (chunk: Buffer) => {
    if (!res.write(chunk, recycle(chunk))) body.pause();
  });
  res.on('drain', () => body.resume());
  body.on('end', () => res.end());
  body.on('error', (e) => {
    onError(e);
    res.destroy(e);
  });
  res.on('close', () => {
    if (!body.readableEnded) body.destroy();
  });
}

/**
 * An answer (an error) sent before the request body was read to its end: the
 * client may still be sending it, and the connection cannot carry another
 * request until it has. `Connection: close` tells the client to stop and read
 * the answer, and the server closes the connection after it, so neither side
 * waits on the other (a refused part upload never hangs its client).
 */
export function closeIfBodyUnread(res: ServerResponse): void {
  if (!res.req.complete) res.setHeader('connection', 'close');
}
