import { readBam, type BamHeader } from './bam.js';
import { BaiBuilder, UnsortedError } from './bai.js';
import { malformed } from './errors.js';
import { ThreadedHash, type EtagFamily } from './hashing.js';
import { fields, SamOut, writeSam } from './sam-text.js';

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
  opts: { etagFamily?: EtagFamily; buildIndex?: boolean; fileName?: string } = {},
): Promise<BamInfo> {
  const hash = new ThreadedHash(opts.etagFamily ?? 'MD5up');
  const out = new SamOut((bytes) => hash.update(bytes, true), 1 << 22, true);
  try {
    return await inspect(source, opts, hash, out);
  } catch (e) {
    await hash.abort();
    throw e;
  }
}

async function inspect(
  source: AsyncIterable<Buffer>,
  opts: { etagFamily?: EtagFamily; buildIndex?: boolean; fileName?: string },
  hash: ThreadedHash,
  out: SamOut,
): Promise<BamInfo> {
  let header: BamHeader | undefined;
  let sortOrder: string | undefined;
  let bai: BaiBuilder | undefined;
  let recordCount = 0, readCount = 0, baseCount = 0, mappedCount = 0;
  let lastEnd = { c: 0, u: 0 };
  for await (const ev of readBam(source, opts.fileName)) {
    if (ev.kind === 'header') {
      header = ev.header;
      sortOrder = headerSortOrder(header.text);
      continue;
    }
    const r = ev.record;
    const f = fields(r.buf, r.start + 4);
    if (!bai && (opts.buildIndex ?? true) && sortOrder === 'coordinate' && recordCount === 0) {
      bai = new BaiBuilder(header!.references.length, r.vStart);
    }
    recordCount++;
    if ((f.flag & 0x900) === 0) {
      readCount++;
      baseCount += f.lSeq;
    }
    const mapped = (f.flag & 4) === 0;
    if (mapped) mappedCount++;
    try {
      writeSam(r.buf, r.start, r.end, header!, out);
    } catch (e) {
      throw malformed((e as Error).message.replace(/^malformed file: /, ''), { file: opts.fileName, record: r.index });
    }
    if (bai) {
      const span = mapped && f.refSpan > 0 ? f.refSpan : 1;
      try {
        bai.push(f.refId, f.pos, f.pos + span, r.vEnd, mapped);
      } catch (e) {
        if (e instanceof UnsortedError) {
          throw malformed(`the header says SO:coordinate but ${e.message}`, { file: opts.fileName, record: r.index });
        }
        throw e;
      }
    }
    lastEnd = r.vEnd;
    if ((recordCount & 1023) === 0) await hash.below(3);
  }
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
    etag: (out.flush(), await hash.digest()),
    ...(index ? { index } : {}),
  };
}
