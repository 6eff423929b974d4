// Worker thread: opens runs of sealed chunks for decrypt-pool.ts.
import { parentPort } from 'node:worker_threads';
import { openChunks } from './sealed-chunks.js';

interface Job {
  id: number;
  key: Uint8Array;
  prefix: Uint8Array;
  chunkSize: number;
  firstIndex: number;
  lastIndexOfBlob: number;
  sealed: ArrayBuffer;
  length: number;
}

parentPort!.on('message', (j: Job) => {
  try {
    const plain = openChunks(
      { key: Buffer.from(j.key), prefix: Buffer.from(j.prefix), chunkSize: j.chunkSize, firstIndex: j.firstIndex, lastIndexOfBlob: j.lastIndexOfBlob },
      Buffer.from(j.sealed, 0, j.length),
    );
    // Opened in place: the same memory goes back, the plaintext at its front.
    parentPort!.postMessage({ id: j.id, plain: j.sealed, length: plain.length }, [j.sealed]);
  } catch (e) {
    parentPort!.postMessage({ id: j.id, error: (e as Error).message });
  }
});
