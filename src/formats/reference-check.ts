import { FormatError } from './errors.js';

/**
 * Checks an alignment file's reference sequences (from its header) against
 * the reference it is linked to: every sequence the file names must exist in
 * the reference with the same length, and where the header carries an M5
 * digest, the same MD5. Extra sequences in the reference are fine.
 */
export interface HeaderReference {
  name: string;
  length: number;
  md5?: string;
}

export interface ReferenceSequence {
  name: string;
  length: number;
  md5: string;
}

/** @SQ lines' SN/LN/M5, in header order. */
export function headerReferences(headerText: string): HeaderReference[] {
  return headerText
    .split('\n')
    .filter((l) => l.startsWith('@SQ\t'))
    .map((l) => {
      const get = (tag: string) => new RegExp(`\\t${tag}:([^\\t\\r]*)`).exec(l)?.[1];
      const md5 = get('M5')?.toLowerCase();
      return { name: get('SN') ?? '', length: Number(get('LN') ?? -1), ...(md5 ? { md5 } : {}) };
    });
}

export function checkAgainstReference(fileRefs: HeaderReference[], reference: ReferenceSequence[], fileName?: string): void {
  const byName = new Map(reference.map((s) => [s.name, s]));
  const byMd5 = new Map(reference.map((s) => [s.md5, s]));
  const where = fileName ? { file: fileName } : {};
  for (const r of fileRefs) {
    const ref = byName.get(r.name) ?? (r.md5 ? byMd5.get(r.md5) : undefined);
    if (!ref) throw new FormatError('ReferenceMismatch', `sequence ${r.name} of the file is not in the linked reference`, where);
    if (ref.length !== r.length) {
      throw new FormatError('ReferenceMismatch', `sequence ${r.name} is ${r.length} bp in the file but ${ref.length} bp in the reference`, where);
    }
    if (r.md5 && r.md5 !== ref.md5) {
      throw new FormatError('ReferenceMismatch', `sequence ${r.name} has M5 ${r.md5} in the file but ${ref.md5} in the reference`, where);
    }
  }
}
