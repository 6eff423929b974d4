import { readBamRuns, type BamHeader } from './bam.js';
import { BaiBuilder, UnsortedError } from './bai.js';
import { malformed } from './errors.js';
import { ThreadedHash, type EtagFamily } from './hashing.js';
import { refSpan } from './sam-text.js';
import { RenderError, RenderPool } from './render-pool.js';

/**
 * Everything the store records about a BAM or uBAM, from one streaming pass:
 * validation, counts, the semantic ETag (hash of `samtools view` output),
 * the header's references, and a BAI when the file is coordinate-sorted.
 *
 * Counts (docs/decisions.md): `readCount` and `baseCount` cover primary
 * records only (flag & 0x900 == 0), as `samtools view -c -F 0x900` counts
 * them; `baseCount` sums their SEQ lengths. `recordCount` counts every record.
 */
export interface BamInfo {
  header: BamHeader;
  sortOrder: string | undefined;
  alignment: 'ALIGNED' | 'UNALIGNED';
  recordCount: number;
  readCount: number;
  baseCount: number;
  mappedCount: number;
  etag: string;
  index?: Buffer;
}

export function headerSortOrder(text: string): string | undefined {
  const hd = text.split('\n').find((l) => l.startsWith('@HD'));
  return hd ? /\tSO:([^\t\r]+)/.exec(hd)?.[1] : undefined;
}

export async function inspectBam(
  source: AsyncIterable<Buffer>,
  opts: { etagFamily?: EtagFamily; buildIndex?: boolean; fileName?: string; renderThreads?: number } = {},
): Promise<BamInfo> {
  const hash = new ThreadedHash(opts.etagFamily ?? 'MD5up');
  let pool: RenderPool | undefined;
  try {
    let header: BamHeader | undefined;
    let sortOrder: string | undefined;
    let bai: BaiBuilder | undefined;
    let recordCount = 0, readCount = 0, baseCount = 0, mappedCount = 0;
    let lastEnd = { c: 0, u: 0 };
    for await (const ev of readBamRuns(source, opts.fileName)) {
      if (ev.kind === 'header') {
        header = ev.header;
        sortOrder = headerSortOrder(header.text);
        // SAM rendering (the costly part) runs on worker threads; text comes back in order for the hash.
        pool = new RenderPool(header, (text) => hash.update(text, true), opts.renderThreads ?? 1);
        continue;
      }
      const run = ev.run;
      const b = run.buf;
      const n = run.starts.length;
      if (!bai && (opts.buildIndex ?? true) && sortOrder === 'coordinate' && recordCount === 0) {
        bai = new BaiBuilder(header!.references.length, { c: run.vc[0]!, u: run.vu[0]! });
      }
      for (let i = 0; i < n; i++) {
        const o = run.starts[i]! + 4;
        const flag = b.readUInt16LE(o + 14);
        const lSeq = b.readInt32LE(o + 16);
        recordCount++;
        if ((flag & 0x900) === 0) {
          readCount++;
          baseCount += lSeq;
        }
        const mapped = (flag & 4) === 0;
        if (mapped) mappedCount++;
        if (bai) {
          const span = mapped ? refSpan(b, o) : 0;
          const pos = b.readInt32LE(o + 4);
          const vEnd = i + 1 < n ? { c: run.vc[i + 1]!, u: run.vu[i + 1]! } : run.vEnd;
          try {
            bai.push(b.readInt32LE(o), pos, pos + (span > 0 ? span : 1), vEnd, mapped);
          } catch (e) {
            if (e instanceof UnsortedError) {
              throw malformed(`the header says SO:coordinate but ${e.message}`, { file: opts.fileName, record: run.firstIndex + i });
            }
            throw e;
          }
        }
      }
      lastEnd = run.vEnd;
      const wait = pool!.addRun(b, run.starts[0]!, run.end, run.firstIndex);
      if (wait) {
        await wait;
        await hash.below(3);
      }
    }
    await pool?.finish();
    let index: Buffer | undefined;
    if (sortOrder === 'coordinate' && (opts.buildIndex ?? true)) {
      // An empty coordinate-sorted BAM still gets an (empty) index.
      bai ??= new BaiBuilder(header!.references.length, lastEnd);
      bai.finish(lastEnd);
      index = bai.serialize();
    }
    return {
      header: header!,
      sortOrder,
      alignment: mappedCount > 0 ? 'ALIGNED' : 'UNALIGNED',
      recordCount,
      readCount,
      baseCount,
      mappedCount,
      etag: await hash.digest(),
      ...(index ? { index } : {}),
    };
  } catch (e) {
    await hash.abort();
    if (e instanceof RenderError) throw malformed(e.message.replace(/^malformed file: /, ''), { file: opts.fileName, record: e.recordIndex });
    throw e;
  } finally {
    await pool?.close();
  }
}
