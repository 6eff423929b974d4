// Worker thread: renders batches of raw BAM records into SAM text (see render-pool.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { BamHeader } from './bam.js';
import { SamOut, writeSam } from './sam-text.js';
import { nativeSamRenderer } from './sam-native.js';

const header = workerData.header as BamHeader;
// htslib's sam_format1 when the addon is built; the JS renderer for what it hands back, and otherwise.
const native = nativeSamRenderer(header);

parentPort!.on('message', (m: { seq: number; data: ArrayBuffer; length: number; firstIndex: number }) => {
  const buf = Buffer.from(m.data, 0, m.length);
  const parts: Buffer[] = [];
  // SAM text is typically ~1.3x the record bytes: one buffer per batch in the common case, a second when
  // the text runs longer (a larger allocation per batch costs garbage-collection time, not just memory).
  const out = new SamOut((b) => parts.push(b), Math.max(1 << 16, Math.ceil(m.length * 1.5)), true);
  let p = 0;
  let n = 0;
  try {
    while (p < buf.length) {
      if (native) {
        const r = native.render(buf, p, buf.length, out);
        p = r.at;
        n += r.rendered;
        if (p >= buf.length) break;
      }
      const end = p + 4 + buf.readInt32LE(p);
      writeSam(buf, p, end, header, out);
      p = end;
      n++;
    }
    out.flush();
    const transfer = parts.map((b) => b.buffer as ArrayBuffer);
    parentPort!.postMessage({ seq: m.seq, parts: parts.map((b, i) => ({ data: transfer[i], offset: b.byteOffset, length: b.length })) }, transfer);
  } catch (e) {
    parentPort!.postMessage({ seq: m.seq, error: (e as Error).message, recordIndex: m.firstIndex + n });
  }
});
