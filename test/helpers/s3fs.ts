import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** s3fs needs the s3fs package and a usable /dev/fuse; the reason is printed when it is skipped (a guard test checks it). */
export function skipS3fs(): string | false {
  if (spawnSync('s3fs', ['--version']).status !== 0) return 's3fs is not installed';
  if (spawnSync('test', ['-w', '/dev/fuse']).status !== 0) return '/dev/fuse is not usable here';
  return false;
}

export interface S3fsMount {
  path: string;
  /** The end of s3fs' log (printed when a test using the mount fails). */
  log(): string;
  unmount(): void;
}

export interface S3fsTarget {
  bucket: string;
  prefix?: string;
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * Runs `use` with `bucket[:/prefix]` mounted read-only (the mount point, and a scratch folder beside it); the
 * mount and the folder are gone afterwards, and s3fs' log is printed if `use` fails.
 */
export async function withS3fsMount<T>(o: S3fsTarget, use: (mnt: string, dir: string) => T | Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'openomics-s3fs-'));
  let mount: S3fsMount | undefined;
  try {
    mount = mountS3fs(dir, o);
    return await use(mount.path, dir);
  } catch (e) {
    if (mount) console.error(mount.log());
    throw e;
  } finally {
    mount?.unmount();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mounts `bucket[:/prefix]` of an S3 endpoint read-only with s3fs (FUSE) under `dir`/mnt. */
export function mountS3fs(dir: string, o: S3fsTarget): S3fsMount {
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt, { recursive: true });
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, `${o.accessKeyId}:${o.secretAccessKey}\n`, { mode: 0o600 });
  const logfile = join(dir, 's3fs.log');
  const mount = spawnSync(
    's3fs',
    [`${o.bucket}${o.prefix ? `:/${o.prefix}` : ''}`, mnt, '-o', `passwd_file=${passwd}`, '-o', `url=${o.url}`, '-o', 'use_path_request_style', '-o', 'ro', '-o', 'endpoint=us-east-1', '-o', 'sigv4', '-o', 'nonempty', '-o', 'dbglevel=info', '-o', `logfile=${logfile}`],
    { encoding: 'utf8' },
  );
  if (mount.status !== 0) throw new Error(`s3fs failed: ${mount.stderr}`);
  return {
    path: mnt,
    log: () => {
      try {
        return readFileSync(logfile, 'utf8').split('\n').slice(-60).join('\n');
      } catch {
        return '';
      }
    },
    unmount: () => {
      spawnSync('fusermount', ['-u', mnt]);
      spawnSync('umount', [mnt]);
    },
  };
}
