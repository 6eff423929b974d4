import { inspectBam } from './bam-inspect.js';
import { inspectCram } from './cram.js';
import { FormatError, inFile, malformed } from './errors.js';
import { inspectFastq, inspectFastqPair } from './fastq.js';
import type { EtagFamily } from './hashing.js';
import { checkAgainstReference, headerReferences, type HeaderReference, type ReferenceSequence } from './reference-check.js';
import { checkDeclaredType, type DeclaredFileType } from './sniff.js';

/**
 * The one call the ingest path makes: a read set's source file(s) of a
 * declared type -> what the store records (sequence information, ETags,
 * generated index), after checking that the content is what was declared and
 * that an aligned file matches its linked reference.
 */
export interface ReadSetInspection {
  fileType: DeclaredFileType;
  sequenceInformation: { totalReadCount: number; totalBaseCount: number; alignment: 'ALIGNED' | 'UNALIGNED' };
  etag: { algorithm: `${'FASTQ' | 'BAM' | 'CRAM'}_${EtagFamily}`; source1: string; source2?: string };
  index?: { format: 'BAI' | 'CRAI'; bytes: Buffer };
  references?: HeaderReference[];
}

export interface NamedSource {
  name: string;
  data: AsyncIterable<Buffer>;
}

/** Reads the first bytes of a stream (for sniffing) and gives back a stream that still yields everything. */
export async function peek(source: AsyncIterable<Buffer>, want = 64 * 1024): Promise<{ head: Buffer; data: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const taken: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < want) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    taken.push(r.value as Buffer);
    size += (r.value as Buffer).length;
  }
  const data = (async function* () {
    yield* taken;
    if (!done) for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
  })();
  return { head: Buffer.concat(taken).subarray(0, want), data };
}

export async function inspectReadSet(
  fileType: DeclaredFileType,
  sources: { source1: NamedSource; source2?: NamedSource },
  opts: {
    etagFamily?: EtagFamily;
    reference?: ReferenceSequence[];
    /** For CRAM: the linked reference as a local FASTA (with its index) and a private scratch folder. */
    cram?: { referenceFasta: string; scratchDir: string };
  } = {},
): Promise<ReadSetInspection> {
  const family = opts.etagFamily ?? 'MD5up';
  const algorithm = `${fileType === 'UBAM' ? 'BAM' : fileType}_${family}` as const;
  const s1 = await peek(sources.source1.data);
  checkDeclaredType(fileType, s1.head, sources.source1.name);
  if (fileType === 'FASTQ') {
    if (sources.source2) {
      const s2 = await peek(sources.source2.data);
      checkDeclaredType(fileType, s2.head, sources.source2.name);
      const [a, b] = await inspectFastqPair(s1.data, s2.data, { etagFamily: family, fileNames: [sources.source1.name, sources.source2.name] });
      return {
        fileType,
        sequenceInformation: { totalReadCount: a.readCount + b.readCount, totalBaseCount: a.baseCount + b.baseCount, alignment: 'UNALIGNED' },
        etag: { algorithm, source1: a.etag, source2: b.etag },
      };
    }
    const a = await inspectFastq(s1.data, { etagFamily: family, fileName: sources.source1.name }).catch((e: unknown) => {
      throw inFile(e, sources.source1.name);
    });
    return { fileType, sequenceInformation: { totalReadCount: a.readCount, totalBaseCount: a.baseCount, alignment: 'UNALIGNED' }, etag: { algorithm, source1: a.etag } };
  }
  if (sources.source2) throw malformed(`a ${fileType} read set has a single source file; source2 is only for paired FASTQ`, { file: sources.source2.name });
  if (fileType === 'CRAM') {
    if (!opts.cram || !opts.reference) throw new FormatError('ReferenceMismatch', 'a CRAM read set needs a linked reference (referenceArn)', { file: sources.source1.name });
    const info = await inspectCram(s1.data, { ...opts.cram, etagFamily: family, fileName: sources.source1.name });
    const references = headerReferences(info.headerText);
    checkAgainstReference(references, opts.reference, sources.source1.name);
    return {
      fileType,
      sequenceInformation: { totalReadCount: info.readCount, totalBaseCount: info.baseCount, alignment: info.alignment },
      etag: { algorithm, source1: info.etag },
      index: { format: 'CRAI', bytes: info.crai },
      references,
    };
  }
  const info = await inspectBam(s1.data, { etagFamily: family, buildIndex: fileType === 'BAM', fileName: sources.source1.name }).catch((e: unknown) => {
    throw inFile(e, sources.source1.name);
  });
  if (fileType === 'UBAM' && info.mappedCount > 0) {
    throw malformed(`the file was declared UBAM (unaligned) but ${info.mappedCount} of its records are aligned`, { file: sources.source1.name });
  }
  const references = headerReferences(info.header.text);
  if (opts.reference) checkAgainstReference(references, opts.reference, sources.source1.name);
  else if (fileType === 'BAM' && info.mappedCount > 0 && references.length > 0) {
    throw new FormatError('ReferenceMismatch', 'an aligned BAM read set needs a linked reference (referenceArn)', { file: sources.source1.name });
  }
  return {
    fileType,
    sequenceInformation: { totalReadCount: info.readCount, totalBaseCount: info.baseCount, alignment: info.alignment },
    etag: { algorithm, source1: info.etag },
    ...(info.index ? { index: { format: 'BAI' as const, bytes: info.index } } : {}),
    references,
  };
}
