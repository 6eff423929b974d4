import { randomBytes } from 'node:crypto';
import type { BlobStore } from '../blob/blob-store.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { Page } from '../core/pagination.js';
import type { JobQuery, JobRecord } from '../db/job-records.js';
import type { PageRequest } from '../db/query.js';
import type { ReadSetRecord, StoredFile } from './entities.js';
import type { GiveUpHandler, JobHandler } from '../jobs/runner.js';
import type { DomainDeps } from './context.js';
import type { SequenceStoreService } from './sequence-stores.js';
import { giveUpItems, JobBook, runItems, type ItemsPayload, type JobItem } from './storage-jobs.js';

export const READ_SET_ACTIVATION_JOB = 'ReadSetActivation';

export interface ActivationItem extends JobItem {
  readSetId: string;
}
export type ReadSetActivationPayload = ItemsPayload<ActivationItem>;

type Files = ReadSetRecord['files'];

/** The read set's files with cold keys of their own, unique to one archiving attempt. */
function withColdKeys(files: Files, attempt: string): Files {
  const out: Files = {};
  for (const [name, f] of Object.entries(files) as [keyof Files, StoredFile][]) if (f) out[name] = { ...f, coldBlobKey: `${f.blobKey}.cold-${attempt}` };
  return out;
}

const coldKey = (f: StoredFile) => f.coldBlobKey ?? f.blobKey;

function withoutColdKeys(files: Files): Files {
  const out: Files = {};
  for (const [name, f] of Object.entries(files) as [keyof Files, StoredFile][]) {
    if (!f) continue;
    const { coldBlobKey: _, ...hot } = f;
    out[name] = hot;
  }
  return out;
}

/** Copies (already encrypted) blobs as they are; `keys` picks each file's key on either side. */
async function copyFiles(files: Files, from: BlobStore, fromKey: (f: StoredFile) => string, to: BlobStore, toKey: (f: StoredFile) => string): Promise<void> {
  for (const f of Object.values(files)) if (f) await to.put(toKey(f), await from.get(fromKey(f)));
}

async function deleteFiles(files: Files, tier: BlobStore, key: (f: StoredFile) => string): Promise<void> {
  for (const f of Object.values(files)) if (f) await tier.delete(key(f));
}

const hotKey = (f: StoredFile) => f.blobKey;

/**
 * Archive and activation (spec §1.2.1). A read set is *accessed* when its
 * bytes are read (GetReadSet, export) or it is created or activated; reading
 * metadata or listing does not count (docs/decisions.md). ACTIVE read sets
 * idle for `afterMs` move to the cold tier and become ARCHIVED; an activation
 * job moves them back to the same keys, so their URIs do not change.
 */
export class ArchiveService {
  private readonly activations: JobBook<ReadSetActivationPayload>;

  constructor(
    private readonly d: DomainDeps,
    private readonly stores: SequenceStoreService,
    onJobSubmitted: () => void = () => {},
  ) {
    this.activations = new JobBook(d, READ_SET_ACTIVATION_JOB, 'Read set activation job', onJobSubmitted);
  }

  /**
   * Archives read sets idle for longer than `afterMs`. Returns how many moved.
   * Any number of sweeps may run at once (every server and worker runs one):
   * each copies to cold keys of its own, then one conditional update (still
   * ACTIVE, not read since it was listed) picks the single winner; only the
   * winner deletes the hot copy, and a loser deletes only the copy it wrote.
   */
  async sweep(afterMs: number, limit = 100): Promise<number> {
    const cutoff = this.d.now() - afterMs;
    let moved = 0;
    for (const rs of await this.d.db.readSets.listIdle(cutoff, limit)) {
      const cold = withColdKeys(rs.files, randomBytes(6).toString('hex'));
      let won = false;
      try {
        // Copy first: until the status flips, readers still find the hot copy.
        await copyFiles(cold, this.d.blobs, hotKey, this.d.coldBlobs, coldKey);
        won = await this.d.db.readSets.update(rs.sequenceStoreId, rs.id, { status: 'ARCHIVED', files: cold, updateTime: this.d.now() }, ['ACTIVE'], rs.lastAccessTime);
      } catch (e) {
        // Another sweep archived it (and removed the hot copy) while this one copied: not an error.
        const now = await this.d.db.readSets.get(rs.sequenceStoreId, rs.id);
        if (now?.status === 'ACTIVE' && now.lastAccessTime === rs.lastAccessTime) throw e;
      } finally {
        // Lost the race, read meanwhile, deleted, or failed: only this attempt's copies go.
        if (!won) await deleteFiles(cold, this.d.coldBlobs, coldKey).catch(() => undefined);
      }
      if (won) {
        await deleteFiles(rs.files, this.d.blobs, hotKey);
        moved++;
      }
    }
    return moved;
  }

  async startActivation(accountId: string, storeId: string, input: { clientToken?: string; sources: { readSetId: string }[] }): Promise<JobRecord<ReadSetActivationPayload>> {
    await this.stores.get(accountId, storeId);
    for (const s of input.sources) {
      const rs = await this.d.db.readSets.get(storeId, s.readSetId);
      if (!rs || rs.accountId !== accountId) throw new NotFoundError(`Read set ${s.readSetId} not found in sequence store ${storeId}.`);
      if (rs.status !== 'ARCHIVED' && rs.status !== 'ACTIVATING' && rs.status !== 'ACTIVE') {
        throw new ConflictError(`Read set ${s.readSetId} is ${rs.status} and cannot be activated.`);
      }
    }
    return this.activations.submit(accountId, storeId, input.clientToken, { ...input }, {
      items: input.sources.map((s) => ({ readSetId: s.readSetId, status: 'NOT_STARTED' as const })),
    });
  }

  async getActivation(accountId: string, storeId: string, id: string): Promise<JobRecord<ReadSetActivationPayload>> {
    await this.stores.get(accountId, storeId);
    return this.activations.get(accountId, storeId, id);
  }

  async listActivations(accountId: string, storeId: string, q: JobQuery, page: PageRequest): Promise<Page<JobRecord<ReadSetActivationPayload>>> {
    await this.stores.get(accountId, storeId);
    return this.activations.list(storeId, q, page);
  }

  /** Gives up an activation: its items fail, and read sets it left ACTIVATING are ARCHIVED again (the cold copy is intact). */
  activationGiveUp(): GiveUpHandler<ReadSetActivationPayload> {
    return async (job, reason) => {
      for (const item of job.payload.items) {
        if (item.status === 'FINISHED' || item.status === 'FAILED') continue;
        await this.d.db.readSets.update(job.storeId, item.readSetId, { status: 'ARCHIVED', updateTime: this.d.now() }, ['ACTIVATING']);
      }
      return giveUpItems(job, reason, async (item) => (await this.d.db.readSets.get(job.storeId, item.readSetId))?.status === 'ACTIVE');
    };
  }

  activationHandler(): JobHandler<ReadSetActivationPayload> {
    return (job, ctx) =>
      runItems(job, ctx, {
        work: async (item) => {
          const rs = await this.d.db.readSets.get(job.storeId, item.readSetId);
          if (!rs) throw new NotFoundError(`Read set ${item.readSetId} no longer exists.`);
          if (rs.status === 'ACTIVE') return;
          if (rs.status === 'ARCHIVED') {
            await this.d.db.readSets.update(job.storeId, rs.id, { status: 'ACTIVATING', updateTime: this.d.now() }, ['ARCHIVED']);
          } else if (rs.status !== 'ACTIVATING') {
            throw new ConflictError(`Read set ${rs.id} is ${rs.status}.`);
          }
          // Re-runnable: copying again after a crash gives the same bytes (puts replace atomically).
          try {
            await copyFiles(rs.files, this.d.coldBlobs, coldKey, this.d.blobs, hotKey);
          } catch (e) {
            // Another activation of the same read set finished first and removed the cold copy.
            if ((await this.d.db.readSets.get(job.storeId, rs.id))?.status === 'ACTIVE') return;
            throw e;
          }
          const now = this.d.now();
          const won = await ctx.fenced((tx) => tx.readSets.update(job.storeId, rs.id, { status: 'ACTIVE', files: withoutColdKeys(rs.files), lastAccessTime: now, updateTime: now }, ['ACTIVATING']));
          // Only the activation that flipped the status removes the cold copy.
          if (won) await deleteFiles(rs.files, this.d.coldBlobs, coldKey);
        },
      });
  }
}
