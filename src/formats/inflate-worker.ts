// Worker thread: inflates and checks BGZF blocks for inflate-pool.ts.
import { parentPort } from 'node:worker_threads';
import { inflateBlock } from './bgzf.js';
import { FormatError } from './errors.js';

parentPort!.on('message', ({ id, block, coffset }: { id: number; block: ArrayBuffer; coffset: number }) => {
  try {
    const data = inflateBlock(Buffer.from(block), coffset);
    const out = data.buffer.slice(data.byteOffset, data.byteOffset + data.length) as ArrayBuffer;
    parentPort!.postMessage({ id, data: out }, [out]);
  } catch (e) {
    parentPort!.postMessage({ id, error: e instanceof FormatError ? e.detail : String((e as Error).message) });
  }
});
