import { constants as fsConstants, createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { s3Failure, type ConnectionService, type S3Object } from './connections.js';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { AccessDeniedError, ValidationError } from '../core/errors.js';
import { lazyReadable } from '../core/streams.js';
import { ownedName, writerEnded } from '../core/process-owned.js';

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
  /** The object's ETag (S3 sources). */
  etag?: string;
  open(): Readable;
}

export interface ExportTarget {
  uri: string;
  /** Streams `body` to `<destination>/<relativeKey>`; visible only once complete. */
  write(relativeKey: string, body: Readable): Promise<{ size: number }>;
  /** Whether nothing is there yet (a missing folder is empty). */
  isEmpty(): Promise<boolean>;
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

/**
 * The local folders an account's jobs may read `file:///` sources from and write exports under. Roots are
 * per account: the operator's configured roots belong to the deployment's own account; another account has
 * none unless the operator maps some to it (decision 59).
 */
export type LocalRoots = (accountId: string) => { importRoots: string[]; exportRoots: string[] };

/** A job acts with a role of its own account only (the real service needs iam:PassRole on it). */
export function checkJobRole(roleArn: string, accountId: string): void {
  const account = /^arn:[^:]+:iam::(\d{12}):role\/./.exec(roleArn)?.[1];
  if (account !== accountId) throw new AccessDeniedError(`${roleArn} is not a role of account ${accountId}: a job can only act with its own account's roles.`);
}

export class DataLocations {
  constructor(
    private readonly roots: LocalRoots,
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
        ...(obj.etag ? { etag: obj.etag } : {}),
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
    // One answer for "does not exist", "outside this account's roots" and "not a file": a job's message
    // must not tell whether some path exists on the server.
    const refused = () =>
      new ValidationError(`${uri} is not a file this account may import: it does not exist, or it is outside the account's import roots (the operator sets them).`);
    const real = await realpath(path).catch(() => undefined);
    const roots = await Promise.all(this.roots(ctx.accountId).importRoots.map((r) => realpath(r).catch(() => undefined)));
    if (!real || !under(real, roots)) throw refused();
    const st = await stat(real).catch(() => undefined);
    if (!st?.isFile()) throw refused();
    return { uri, name: basename(path), size: st.size, open: () => createReadStream(real, { highWaterMark: 1 << 20 }) };
  }

  /**
   * The files under a folder URI (`s3://bucket/prefix/` through a connection, `file:///dir/` under an import
   * root), each with its path relative to the folder (workflow runs stage folder inputs this way).
   */
  async resolveFolder(uri: string, ctx: LocationContext, limit = 10_000): Promise<(SourceFile & { relativePath: string })[]> {
    if (!uri.endsWith('/')) throw new ValidationError(`${uri} is not a folder URI (it must end with /).`);
    if (uri.startsWith('s3://')) {
      const o = await this.s3(uri, ctx);
      const objects = await this.connections!.listObjects(o, limit);
      return Promise.all(objects.map(async (obj) => ({ ...(await this.resolve(`s3://${o.bucket}/${obj.key}`, ctx)), relativePath: obj.key.slice(o.key.length) })));
    }
    if (!uri.startsWith('file:///')) throw new ValidationError(`${uri} is not an s3:// or file:/// URI.`);
    const dir = await realpath(resolve(fileURLToPath(uri))).catch(() => undefined);
    const roots = await Promise.all(this.roots(ctx.accountId).importRoots.map((r) => realpath(r).catch(() => undefined)));
    if (!dir || !under(dir, roots) || !(await stat(dir)).isDirectory()) {
      throw new ValidationError(`${uri} is not a folder this account may import: it does not exist, or it is outside the account's import roots.`);
    }
    const files: (SourceFile & { relativePath: string })[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile()) {
          if (files.length >= limit) throw new ValidationError(`${uri} holds more than ${limit} files.`);
          files.push({ ...(await this.resolve(`file://${p}`, ctx)), relativePath: relative(dir, p) });
        }
      }
    };
    await walk(dir);
    return files;
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
        isEmpty: async () => {
          try {
            return (await this.connections!.listObjects({ ...o, key: base }, 1)).length === 0;
          } catch (e) {
            throw s3Failure(uri, e);
          }
        },
      };
    }
    if (!uri.startsWith('file:///')) throw new ValidationError(`${uri} is not an s3:// or file:/// URI.`);
    const dir = resolve(fileURLToPath(uri));
    const roots = await Promise.all(this.roots(ctx.accountId).exportRoots.map((r) => realpath(r).catch(() => undefined)));
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
      throw new ValidationError(`${uri} is outside this account's export roots (the operator sets them).`);
    }
    const root = roots.find((r) => r !== undefined && (real === r || real.startsWith(r + sep)))!;
    // The destination in real terms: its existing ancestor resolved, the rest as given.
    const realDir = join(real, relative(probe, dir));
    return {
      uri,
      write: async (relativeKey, body) => {
        const path = resolve(realDir, relativeKey);
        if (!path.startsWith(realDir + sep)) throw new ValidationError(`${relativeKey} leaves the export destination.`);
        // Every folder from the root down is made or checked without following links: a link planted in the
        // export tree (by anyone who can write there) cannot send the files elsewhere.
        await makeDirsNoFollow(root, dirname(path), uri);
        await removeOrphanParts(dirname(path), basename(path));
        const tmp = join(dirname(path), `.${basename(path)}.${ownedName()}.part`);
        try {
          const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o640);
          await pipeline(body, fh.createWriteStream());
          // Checked again once written: the folder is still the one under the root (no swap meanwhile).
          if ((await realpath(dirname(path))) !== dirname(path)) throw new ValidationError(`${uri}: the export folder changed while it was written; nothing was exported.`);
          await rename(tmp, path); // replaces a link at `path` itself, never its target
        } catch (e) {
          await rm(tmp, { force: true });
          throw e;
        }
        return { size: (await lstat(path)).size };
      },
      isEmpty: async () => ((await readdir(realDir).catch(() => [])) as string[]).length === 0,
    };
  }
}

/** Makes (or checks) each folder from `root` down to `dir`, refusing any that is a symbolic link or not a folder. */
async function makeDirsNoFollow(root: string, dir: string, uri: string): Promise<void> {
  let at = root;
  for (const part of relative(root, dir).split(sep).filter(Boolean)) {
    at = join(at, part);
    const st = await lstat(at).catch(() => undefined);
    if (!st) {
      await mkdir(at).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      const made = await lstat(at);
      if (!made.isDirectory()) throw new ValidationError(`${uri}: ${at} is not a folder; exports do not follow links.`);
    } else if (!st.isDirectory()) {
      throw new ValidationError(`${uri}: ${st.isSymbolicLink() ? 'a symbolic link' : 'a file'} stands in the export path; exports do not follow links.`);
    }
  }
}

/** Removes `.<name>.<writer>.part` files of `dir` whose writing process has ended (an export killed mid-file). */
async function removeOrphanParts(dir: string, name: string): Promise<void> {
  const prefix = `.${name}.`;
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    if (!entry.startsWith(prefix) || !entry.endsWith('.part')) continue;
    if (writerEnded(entry.slice(prefix.length, -'.part'.length))) await rm(join(dir, entry), { force: true });
  }
}

