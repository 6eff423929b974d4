import { RangeNotSatisfiableError, ValidationError } from '../core/errors.js';
import type { ReadSetFiles, StoredFile } from './entities.js';
import { blobKeys } from './store-storage.js';
import type { StoredBytes } from './tee.js';

/**
 * Download part size of stored files (GetReadSet / GetReference `partNumber`):
 * 100 MiB, as the service reports (spec §1.2 FileInformation).
 */
export const DOWNLOAD_PART_SIZE = 104_857_600;

/** A name made safe for one S3 key segment: no slashes, no control characters. */
export function safeFileName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const s = name.replace(/[/\\\u0000-\u001f\u007f]/g, '_').trim();
  return s === '' || s === '.' || s === '..' ? '_' : s;
}

/** File names of a directly uploaded read set (spec §2.10): `<name>_source1.fastq.gz`, `<name>.bam`, `<name>.cram`. */
export function uploadFileNames(fileType: string, readSetName: string): { source1: string; source2: string } {
  const base = safeFileName(readSetName);
  if (fileType === 'FASTQ') return { source1: `${base}_source1.fastq.gz`, source2: `${base}_source2.fastq.gz` };
  return { source1: `${base}.${fileType === 'CRAM' ? 'cram' : 'bam'}`, source2: '' };
}

/** A read set file: planned (its length known, e.g. from upload parts) or stored (length and checksum as written). */
export function storedFile(blobKey: string, name: string, size: number | StoredBytes): StoredFile {
  if (typeof size === 'number') return { blobKey, name, contentLength: size, partSize: DOWNLOAD_PART_SIZE };
  return { blobKey, name, contentLength: size.size, partSize: DOWNLOAD_PART_SIZE, crc32: size.crc32 };
}

/** The files a direct upload will become (sizes known from its parts). */
export function plannedFiles(storeId: string, readSetId: string, fileType: string, name: string, size1: number, size2?: number): ReadSetFiles {
  const names = uploadFileNames(fileType, name);
  return {
    source1: storedFile(blobKeys.readSetFile(storeId, readSetId, 'source1'), names.source1, size1),
    ...(size2 !== undefined ? { source2: storedFile(blobKeys.readSetFile(storeId, readSetId, 'source2'), names.source2, size2) } : {}),
  };
}

export function totalParts(f: StoredFile): number {
  return Math.max(1, Math.ceil(f.contentLength / f.partSize));
}

/** The inclusive byte range of part `partNumber` (1-based) of a file. */
export function partRange(f: StoredFile, partNumber: number): { start: number; end: number } {
  const parts = totalParts(f);
  if (!Number.isInteger(partNumber) || partNumber < 1) throw new ValidationError(`partNumber must be 1 or more.`);
  if (partNumber > parts) throw new RangeNotSatisfiableError(`The file has ${parts} part(s); part ${partNumber} does not exist.`);
  const start = (partNumber - 1) * f.partSize;
  return { start, end: Math.min(f.contentLength, start + f.partSize) - 1 };
}

/**
 * Applies GetReference's `Range` header to a part: `first-last`, `first-` or
 * `-suffixLength` (the model allows digits and punctuation only, so no `bytes=`;
 * it is tolerated), counted from the start of the part. Returns the inclusive file range.
 */
export function rangeWithinPart(part: { start: number; end: number }, header: string | undefined): { start: number; end: number } {
  if (!header) return part;
  const m = /^(?:bytes=)?(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new ValidationError(`The Range header ${JSON.stringify(header)} is not of the form first-last (the model allows digits and punctuation only).`);
  const len = part.end - part.start + 1;
  let first: number;
  let last: number;
  if (m[1] === '') {
    first = Math.max(0, len - Number(m[2]));
    last = len - 1;
  } else {
    first = Number(m[1]);
    last = m[2] === '' ? len - 1 : Math.min(Number(m[2]), len - 1);
  }
  if (first >= len || last < first) throw new RangeNotSatisfiableError(`The range ${header} is outside the part's ${len} bytes.`);
  return { start: part.start + first, end: part.start + last };
}
