import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { s3Failure, type ConnectionService, type S3Object } from './connections.js';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { ValidationError } from '../core/errors.js';
import { lazyReadable } from '../core/streams.js';

/**
 * Where jobs read sources from and write exports to. A location URI is either
 *  - `file:///abs/path` under one of the configured import (or export) roots
 *    (the embedded default; symlinks and `..` that leave the roots are refused), or
 *  - `s3://bucket/key`, through a connected storage location.
 */
export interface SourceFile {
  uri: string;
  /** The original file name (kept as the read set's file name, spec §2.10). */
  name: string;
  size: number;
  /** The object version read, for versioned S3 sources. */
  versionId?: string;
  open(): Readable;
}

export interface ExportTarget {
  uri: string;
  /** Streams `body` to `<destination>/<relativeKey>`; visible only once complete. */
  write(relativeKey: string, body: Readable): Promise<{ size: number }>;
}

function under(real: string, roots: (string | undefined)[]): boolean {
  return roots.some((r) => r !== undefined && (real === r || real.startsWith(r.endsWith(sep) ? r : r + sep)));
}

/** Who is asking: connections belong to an account, and a job's roleArn can select one. */
export interface LocationContext {
  accountId: string;
  roleArn?: string;
}

function parseS3(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new ValidationError(`${uri} is not an s3://bucket/key URI.`);
  return { bucket: m[1]!, key: m[2]! };
}

export class DataLocations {
  constructor(
    private readonly importRoots: string[],
    private readonly exportRoots: string[] = [],
    private readonly connections?: ConnectionService,
  ) {}

  private async s3(uri: string, ctx: LocationContext): Promise<S3Object> {
    const { bucket, key } = parseS3(uri);
    const c = await this.connections?.find(ctx.accountId, bucket, key, ctx.roleArn);
    if (!c) {
      throw new ValidationError(
        `${uri}: no storage connection covers s3://${bucket}/${key}${ctx.roleArn ? ` for role ${ctx.roleArn}` : ''}; the operator adds one with "openomics admin connection add".`,
      );
    }
    return { client: await this.connections!.client(c), connection: c, bucket, key };
  }

  /** Checks a URI's form when a job is submitted (existence is checked when the job runs). */
  checkForm(uri: string): void {
    if (uri.startsWith('file:///') || uri.startsWith('s3://')) return;
    throw new ValidationError(`${uri} is not an s3:// or file:/// URI.`);
  }

  async resolve(uri: string, ctx: LocationContext): Promise<SourceFile> {
    if (uri.startsWith('s3://')) {
      const o = await this.s3(uri, ctx);
      if (o.key === '' || o.key.endsWith('/')) throw new ValidationError(`${uri} names a folder, not a file.`);
      const obj = await this.connections!.open(o);
      return {
        uri,
        name: basename(o.key),
        size: obj.size,
        ...(obj.versionId ? { versionId: obj.versionId } : {}),
        // Each open is a new GET, made when the stream is first read; a fault while reading is a storage error.
        open: () =>
          lazyReadable(async function* () {
            let body: Readable;
            try {
              body = await obj.open();
            } catch (e) {
              throw s3Failure(uri, e);
            }
            yield* body as AsyncIterable<Buffer>;
          }),
      };
    }
    if (!uri.startsWith('file:///')) throw new ValidationError(`${uri} is not an s3:// or file:/// URI.`);
    let path: string;
    try {
      path = resolve(fileURLToPath(uri));
    } catch {
      throw new ValidationError(`${uri} is not a valid file URI.`);
    }
    let real: string;
    try {
      real = await realpath(path);
    } catch {
      throw new ValidationError(`${uri}: no such file.`);
    }
    const roots = await Promise.all(this.importRoots.map((r) => realpath(r).catch(() => undefined)));
    if (!under(real, roots)) {
      throw new ValidationError(`${uri} is outside the server's import roots; the operator can add a root with OPENOMICS_IMPORT_ROOTS.`);
    }
    const st = await stat(real);
    if (!st.isFile()) throw new ValidationError(`${uri} is not a regular file.`);
    return { uri, name: basename(path), size: st.size, open: () => createReadStream(real, { highWaterMark: 1 << 20 }) };
  }

  /** An export destination (`file:///dir/` under an export root, or s3://). */
  async target(uri: string, ctx: LocationContext): Promise<ExportTarget> {
    if (uri.startsWith('s3://')) {
      const o = await this.s3(uri, ctx);
      const base = o.key === '' || o.key.endsWith('/') ? o.key : `${o.key}/`;
      return {
        uri,
        write: async (relativeKey, body) => {
          try {
            return await this.connections!.write({ ...o, key: base + relativeKey }, body);
          } catch (e) {
            throw s3Failure(uri, e);
          }
        },
      };
    }
    if (!uri.startsWith('file:///')) throw new ValidationError(`${uri} is not an s3:// or file:/// URI.`);
    const dir = resolve(fileURLToPath(uri));
    const roots = await Promise.all(this.exportRoots.map((r) => realpath(r).catch(() => undefined)));
    // The destination may not exist yet: check its nearest existing ancestor.
    let probe = dir;
    let real: string | undefined;
    while (!real) {
      real = await realpath(probe).catch(() => undefined);
      if (!real) {
        if (dirname(probe) === probe) break;
        probe = dirname(probe);
      }
    }
    if (!real || !under(real, roots)) {
      throw new ValidationError(`${uri} is outside the server's export roots; the operator can add a root with OPENOMICS_EXPORT_ROOTS.`);
    }
    return {
      uri,
      write: async (relativeKey, body) => {
        const path = resolve(dir, relativeKey);
        if (!path.startsWith(dir + sep)) throw new ValidationError(`${relativeKey} leaves the export destination.`);
        await mkdir(dirname(path), { recursive: true });
        const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.part`);
        try {
          await pipeline(body, createWriteStream(tmp, { flags: 'wx' }));
          await rename(tmp, path);
        } catch (e) {
          await rm(tmp, { force: true });
          throw e;
        }
        return { size: (await stat(path)).size };
      },
    };
  }
}
