import { OpenOmicsError } from '../core/errors.js';

/**
 * One hierarchy for everything wrong with a file's contents, so callers can
 * tell a bad file from an I/O failure. Each carries where it happened.
 */
export type FormatErrorCode = 'MalformedFile' | 'UnsupportedFeature' | 'MismatchedPair' | 'ReferenceMismatch' | 'TruncatedFile';

export interface FormatPosition {
  file?: string;
  /** Byte offset in the (compressed) input. */
  byte?: number;
  /** 1-based record number. */
  record?: number;
}

export class FormatError extends OpenOmicsError {
  constructor(
    readonly code: FormatErrorCode,
    readonly detail: string,
    readonly position: FormatPosition = {},
  ) {
    super('Validation', FormatError.describe(code, detail, position));
    this.name = `${code}Error`;
  }

  static describe(code: FormatErrorCode, detail: string, p: FormatPosition): string {
    const where = [p.file, p.record !== undefined ? `record ${p.record}` : undefined, p.byte !== undefined ? `byte ${p.byte}` : undefined]
      .filter(Boolean)
      .join(', ');
    const what = {
      MalformedFile: 'malformed file',
      UnsupportedFeature: 'unsupported feature',
      MismatchedPair: 'paired files do not match',
      ReferenceMismatch: 'reference mismatch',
      TruncatedFile: 'truncated file',
    }[code];
    return `${what}${where ? ` (${where})` : ''}: ${detail}`;
  }
}

export const malformed = (detail: string, p?: FormatPosition) => new FormatError('MalformedFile', detail, p);
export const truncated = (detail: string, p?: FormatPosition) => new FormatError('TruncatedFile', detail, p);
export const unsupported = (detail: string, p?: FormatPosition) => new FormatError('UnsupportedFeature', detail, p);

/** The same error, naming the file if it did not already (lower layers see only bytes). */
export function inFile(e: unknown, file: string): unknown {
  if (e instanceof FormatError && e.position.file === undefined) return new FormatError(e.code, e.detail, { ...e.position, file });
  return e;
}
