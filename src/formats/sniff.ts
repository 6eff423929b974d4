import { constants, gunzipSync } from 'node:zlib';
import { FormatError } from './errors.js';

/**
 * Tells a file's format from its first bytes, whatever its name says:
 * CRAM by magic; gzip/BGZF by inflating the beginning (BAM magic, or FASTQ/FASTA
 * text); plain text by its first character.
 */
export type SniffedFormat = 'BAM' | 'CRAM' | 'FASTQ' | 'FASTA' | 'UNKNOWN';
export type DeclaredFileType = 'FASTQ' | 'BAM' | 'UBAM' | 'CRAM';

export function sniffFormat(head: Buffer): SniffedFormat {
  if (head.length >= 4 && head.toString('latin1', 0, 4) === 'CRAM') return 'CRAM';
  let text = head;
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    try {
      text = gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH });
    } catch {
      return 'UNKNOWN';
    }
    if (text.length >= 4 && text.readUInt32LE(0) === 0x014d4142) return 'BAM';
  }
  const first = text.length > 0 ? text[0] : undefined;
  if (first === 0x40) return 'FASTQ';
  if (first === 0x3e) return 'FASTA';
  return 'UNKNOWN';
}

/** Refuses a file whose content is not the declared type. */
export function checkDeclaredType(declared: DeclaredFileType, head: Buffer, fileName?: string): void {
  const actual = sniffFormat(head);
  const where = fileName ? { file: fileName } : {};
  const expected: SniffedFormat = declared === 'UBAM' ? 'BAM' : declared;
  if (actual !== expected) {
    const what = actual === 'UNKNOWN' ? 'not a recognised FASTQ, BAM or CRAM file' : `a ${actual} file`;
    throw new FormatError('MalformedFile', `the file was declared ${declared} but is ${what}`, where);
  }
}
