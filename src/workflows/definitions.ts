import { createHash } from 'node:crypto';
import { unzipSync } from 'fflate';
import { posix } from 'node:path';
import { ValidationError } from '../core/errors.js';
import type { WorkflowEngine } from './entities.js';

/** A workflow definition: the files of its zip, the main file, the engine that reads it. */
export interface Definition {
  files: Map<string, Buffer>;
  main: string;
  engine: WorkflowEngine;
}

/** API and SDK definitions up to 100 MB (spec §4.1, quotas). */
export const MAX_DEFINITION_BYTES = 100_000_000;
const ENGINE_BY_EXTENSION: Record<string, WorkflowEngine> = { '.wdl': 'WDL', '.cwl': 'CWL', '.nf': 'NEXTFLOW' };

export const definitionDigest = (zip: Buffer): string => `sha256:${createHash('sha256').update(zip).digest('hex')}`;

/** The files of a definition zip: names normalised, anything that would leave the folder refused. */
export function unzipDefinition(zip: Buffer): Map<string, Buffer> {
  if (zip.length > MAX_DEFINITION_BYTES) throw new ValidationError(`The definition is ${zip.length} bytes; the limit is ${MAX_DEFINITION_BYTES}.`);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(new Uint8Array(zip.buffer, zip.byteOffset, zip.length));
  } catch (e) {
    throw new ValidationError(`The workflow definition is not a valid zip file: ${(e as Error).message}.`);
  }
  const files = new Map<string, Buffer>();
  let total = 0;
  for (const [name, data] of Object.entries(entries)) {
    if (name.endsWith('/')) continue;
    const norm = posix.normalize(name.replace(/\\/g, '/'));
    if (norm.startsWith('../') || norm === '..' || posix.isAbsolute(norm)) {
      throw new ValidationError(`The definition zip holds ${JSON.stringify(name)}, a path outside the definition folder.`);
    }
    if (norm.startsWith('__MACOSX/')) continue;
    total += data.length;
    if (total > MAX_DEFINITION_BYTES) throw new ValidationError(`The definition unzips to more than ${MAX_DEFINITION_BYTES} bytes.`);
    files.set(norm, Buffer.from(data.buffer, data.byteOffset, data.length));
  }
  if (files.size === 0) throw new ValidationError('The workflow definition zip is empty.');
  return files;
}

/**
 * The main file and the engine (spec §2.1, §4.1): `main` if given (it must be in the zip); otherwise the one
 * definition file (.wdl, .cwl, .nf), or the one named `main.*`. The engine is the one given, else the main
 * file's language.
 */
export function resolveDefinition(files: Map<string, Buffer>, main: string | undefined, engine: WorkflowEngine | undefined): Definition {
  let chosen: string;
  if (main !== undefined) {
    const norm = posix.normalize(main);
    if (!files.has(norm)) throw new ValidationError(`The main file ${main} is not in the definition zip (it holds ${[...files.keys()].slice(0, 10).join(', ')}).`);
    chosen = norm;
  } else {
    const definitions = [...files.keys()].filter((f) => ENGINE_BY_EXTENSION[posix.extname(f).toLowerCase()]);
    const named = definitions.filter((f) => posix.basename(f, posix.extname(f)) === 'main');
    if (definitions.length === 1) chosen = definitions[0]!;
    else if (named.length === 1) chosen = named[0]!;
    else if (definitions.length === 0) throw new ValidationError('The definition zip holds no workflow file (.wdl, .cwl or .nf).');
    else throw new ValidationError(`The definition zip holds ${definitions.length} workflow files and none is named main: give the main file with "main".`);
  }
  const detected = ENGINE_BY_EXTENSION[posix.extname(chosen).toLowerCase()];
  const resolved = engine ?? detected;
  if (!resolved) throw new ValidationError(`The engine of ${chosen} cannot be told from its name: give "engine" (WDL, CWL or NEXTFLOW).`);
  return { files, main: chosen, engine: resolved };
}
