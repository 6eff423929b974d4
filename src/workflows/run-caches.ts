import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { runCacheArn, taskArn } from '../core/arn.js';
import { ConflictError, NotFoundError, QuotaExceededError, ValidationError } from '../core/errors.js';
import { newNumericId } from '../core/ids.js';
import type { Page } from '../core/pagination.js';
import type { PageRequest } from '../db/query.js';
import type { DomainDeps } from '../storage/context.js';
import { idempotent } from '../storage/idempotency.js';
import type { DataLocations } from '../storage/locations.js';
import { checkNewTags } from '../storage/tags.js';
import type { CacheBehavior, RunCacheRecord, RunRecord } from './entities.js';
import { LogStreamWriter } from './run-logs.js';
import { walkFiles } from './task-files.js';

/** Run caches per account (spec §5.2). */
const MAX_RUN_CACHES = 1000;
/** The manifest version (spec §2.7: bumped when a service change invalidates entries). */
export const CACHE_MANIFEST_VERSION = 2;

export interface RunCacheView extends RunCacheRecord {
  arn: string;
}

/** A task's results as a cache entry holds them: the files of its writable folders, its stdout and stderr. */
export interface CachedResult {
  /** The entry's folder URI (the task's `cacheS3Uri`). */
  entryUri: string;
  /** Where the entry's files were copied: `out/<n>/…` per writable folder, `stdout`, `stderr`. */
  dir: string;
}

/** The manifest of an entry (spec §2.7), with where its files are. */
interface EntryManifest {
  arn: string;
  s3uri: string;
  taskArn: string;
  workDir: string;
  files: { name: string; path: string; etag: string }[];
  nextflowContext: Record<string, never>;
  otherOutputs: Record<string, unknown>;
  version: number;
}

/**
 * Run caches (spec §2.7, §4.14): CRUD, and the entries the run monitor reads (a hit) and writes (the export
 * phase). An entry is a folder `<cacheS3Location>/<cache uuid>/<runId>/<taskId>/<entry uuid>/` holding the task's
 * files and `<entry uuid>.json`, the manifest; the database indexes entries by the task's cache key. An entry
 * whose manifest or files are gone (deleted from the bucket) is a miss, never a failure. The cache log stream
 * `runCache/<id>/<uuid>` says CACHE_HIT, CACHE_MISS and CACHE_ENTRY_CREATED.
 */
export class RunCacheService {
  constructor(
    private readonly d: DomainDeps,
    private readonly locations: DataLocations,
  ) {}

  view(c: RunCacheRecord): RunCacheView {
    return { ...c, arn: runCacheArn(this.d.partition, c.accountId, c.id) };
  }

  async create(
    accountId: string,
    i: { name?: string; description?: string; cacheS3Location: string; cacheBucketOwnerId?: string; cacheBehavior?: CacheBehavior; tags?: Record<string, string>; requestId: string },
  ): Promise<RunCacheView> {
    checkNewTags(i.tags, this.d.quotas.maxTagsPerResource);
    if (i.cacheBucketOwnerId !== undefined && i.cacheBucketOwnerId !== accountId) throw new ValidationError(`The cache bucket must be the account's own (${accountId}); cacheBucketOwnerId ${i.cacheBucketOwnerId} is not.`);
    // The location must be usable now (spec §2.7): a storage connection serves its bucket.
    await this.locations.target(i.cacheS3Location, { accountId }).catch((e: unknown) => {
      throw new ValidationError(`cacheS3Location ${i.cacheS3Location} cannot be written: ${(e as Error).message}`);
    });
    const { resourceId } = await idempotent(this.d.db, accountId, 'CreateRunCache', i.requestId, { ...i, requestId: undefined }, this.d.now(), async () => {
      if ((await this.d.db.runCaches.count(accountId)) >= MAX_RUN_CACHES) throw new QuotaExceededError(`The account has ${MAX_RUN_CACHES} run caches, the most it may.`);
      const rec: RunCacheRecord = {
        accountId,
        id: newNumericId(),
        uuid: randomUUID(),
        name: i.name ?? null,
        description: i.description ?? null,
        cacheS3Location: i.cacheS3Location.replace(/\/+$/, ''),
        cacheBucketOwnerId: accountId,
        cacheBehavior: i.cacheBehavior ?? 'CACHE_ON_FAILURE',
        status: 'ACTIVE',
        creationTime: this.d.now(),
      };
      await this.d.db.runCaches.insert(rec);
      if (i.tags && Object.keys(i.tags).length) await this.d.db.tags.put(this.view(rec).arn, i.tags);
      return rec.id;
    });
    return this.get(accountId, resourceId);
  }

  async get(accountId: string, id: string): Promise<RunCacheView> {
    const c = await this.d.db.runCaches.get(accountId, id);
    if (!c) throw new NotFoundError(`Run cache ${id} not found.`);
    return this.view(c);
  }

  /** UpdateRunCache: name, description, behavior — never the location (spec §2.7). */
  async update(accountId: string, id: string, patch: { name?: string; description?: string; cacheBehavior?: CacheBehavior }): Promise<void> {
    if (!(await this.d.db.runCaches.update(accountId, id, patch))) throw new NotFoundError(`Run cache ${id} not found.`);
  }

  /** DeleteRunCache: refused while a run using it has not ended; the entries in the bucket stay (spec §2.7). */
  async delete(accountId: string, id: string): Promise<void> {
    const c = await this.get(accountId, id);
    const active = (await this.d.db.runs.list(accountId, { cacheId: id, active: true }, { maxResults: 1 })).items.length;
    if (active) throw new ConflictError(`Run cache ${id} is used by a run that has not ended; wait for it or cancel it.`);
    await this.d.db.runCaches.delete(accountId, id);
    await this.d.db.tags.deleteAll(c.arn);
  }

  async list(accountId: string, q: { name?: string }, page: PageRequest): Promise<Page<RunCacheView>> {
    const res = await this.d.db.runCaches.list(accountId, q, page);
    return { items: res.items.map((c) => this.view(c)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  /** The cache a StartRun names, and the behavior it runs with. */
  async forRun(accountId: string, cacheId: string, behavior: CacheBehavior | undefined): Promise<{ cacheId: string; cacheBehavior: CacheBehavior }> {
    const c = await this.get(accountId, cacheId);
    if (c.status !== 'ACTIVE') throw new ValidationError(`Run cache ${cacheId} is ${c.status}.`);
    return { cacheId, cacheBehavior: behavior ?? c.cacheBehavior };
  }

  private log(c: RunCacheRecord): LogStreamWriter {
    return new LogStreamWriter(this.d.db, c.accountId, `runCache/${c.id}/${c.uuid}`, this.d.now);
  }

  /**
   * The newest usable entry of `key`, its files copied into `into`; undefined (a miss) if there is none or its
   * files are gone. Logged either way.
   */
  async lookup(run: RunRecord, taskId: string, key: string, into: string): Promise<CachedResult | undefined> {
    const c = run.cacheId ? await this.d.db.runCaches.get(run.accountId, run.cacheId) : undefined;
    if (!c) return undefined;
    const log = this.log(c);
    const task = taskArn(this.d.partition, run.accountId, taskId);
    const ctx = { accountId: run.accountId, roleArn: run.roleArn };
    for (const e of await this.d.db.runCaches.entries(c.id, key, 3)) {
      try {
        const manifestFile = await this.locations.resolve(`${e.entryUri}/${e.entryUuid}.json`, ctx);
        const manifest = JSON.parse((await buffer(manifestFile.open())).toString('utf8')) as EntryManifest;
        if (manifest.version !== CACHE_MANIFEST_VERSION) continue;
        for (const f of manifest.files) {
          const src = await this.locations.resolve(`${e.entryUri}/${f.path}`, ctx);
          const dest = join(into, f.path);
          if (!dest.startsWith(`${into}/`)) throw new Error(`${f.path} leaves the entry`);
          await mkdir(dirname(dest), { recursive: true });
          await pipeline(src.open(), createWriteStream(dest));
        }
        log.add(`CACHE_HIT run: ${run.id}, task: ${task}, entry: ${e.entryUri}, created by task: ${taskArn(this.d.partition, run.accountId, e.taskId)} of run ${e.runId}`);
        await log.flush();
        return { entryUri: e.entryUri, dir: into };
      } catch {
        // An entry whose files were deleted is not used (spec §4.14); an older one may still be whole.
      }
    }
    log.add(`CACHE_MISS run: ${run.id}, task: ${task}, key: ${key}`);
    await log.flush();
    return undefined;
  }

  /** Writes one task's results as an entry (the export phase) and indexes it under `key`. */
  async write(run: RunRecord, taskId: string, key: string, dir: string, workDir: string): Promise<string> {
    const c = await this.get(run.accountId, run.cacheId!);
    const entryUuid = randomUUID();
    const entryUri = `${c.cacheS3Location}/${c.uuid}/${run.id}/${taskId}/${entryUuid}`;
    const target = await this.locations.target(entryUri, { accountId: run.accountId, roleArn: run.roleArn });
    const files: EntryManifest['files'] = [];
    for (const path of await walkFiles(dir)) {
      const rel = relative(dir, path);
      // The ETag (MD5) is taken on the way to the bucket: each file is read once.
      const md5 = createHash('md5');
      const hashed = new Transform({
        transform(chunk: Buffer, _e, cb) {
          md5.update(chunk);
          cb(null, chunk);
        },
      });
      await target.write(rel, createReadStream(path).pipe(hashed));
      files.push({ name: rel.split('/').pop()!, path: rel, etag: md5.digest('hex') });
    }
    const manifest: EntryManifest = {
      arn: `${c.arn}/cacheEntry/${entryUuid}`,
      s3uri: entryUri,
      taskArn: taskArn(this.d.partition, run.accountId, taskId),
      workDir,
      files,
      nextflowContext: {},
      otherOutputs: { cacheKey: key },
      version: CACHE_MANIFEST_VERSION,
    };
    await target.write(`${entryUuid}.json`, Readable.from([JSON.stringify(manifest, null, 2)]));
    await this.d.db.runCaches.putEntry({ cacheId: c.id, cacheKey: key, entryUri, entryUuid, runId: run.id, taskId, creationTime: this.d.now() });
    const log = this.log(c);
    log.add(`CACHE_ENTRY_CREATED run: ${run.id}, task: ${manifest.taskArn}, entry: ${entryUri}`);
    await log.flush();
    return entryUri;
  }
}
