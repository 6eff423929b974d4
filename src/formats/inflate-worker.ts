// Worker thread: inflates and checks groups of BGZF blocks for inflate-pool.ts.
import { parentPort } from 'node:worker_threads';
import { inflateGroup, type BlockSpan } from './bgzf.js';
import { FormatError } from './errors.js';

parentPort!.on('message', ({ id, region, blocks }: { id: number; region: ArrayBuffer; blocks: BlockSpan[] }) => {
  try {
    const data = inflateGroup(Buffer.from(region), blocks);
    const out = data.buffer as ArrayBuffer; // allocated whole by inflateGroup: it can move
    parentPort!.postMessage({ id, data: out, length: data.length }, [out]);
  } catch (e) {
    parentPort!.postMessage({ id, error: e instanceof FormatError ? e.detail : String((e as Error).message), byte: e instanceof FormatError ? e.position.byte : undefined });
  }
});
