import type { BlobStore } from '../blob/blob-store.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { Page } from '../core/pagination.js';
import type { JobQuery, JobRecord, PageRequest, ReadSetRecord } from '../db/data-records.js';
import type { JobHandler } from '../jobs/runner.js';
import type { DomainDeps } from './context.js';
import type { SequenceStoreService } from './sequence-stores.js';
import { JobBook, runItems, type ItemsPayload, type JobItem } from './storage-jobs.js';

export const READ_SET_ACTIVATION_JOB = 'ReadSetActivation';

export interface ActivationItem extends JobItem {
  readSetId: string;
}
export type ReadSetActivationPayload = ItemsPayload<ActivationItem>;

/** Copies a read set's (already encrypted) blobs from one tier to the other, as they are. */
async function copyFiles(rs: ReadSetRecord, from: BlobStore, to: BlobStore): Promise<void> {
  for (const f of Object.values(rs.files)) if (f) await to.put(f.blobKey, await from.get(f.blobKey));
}

async function deleteFiles(rs: ReadSetRecord, tier: BlobStore): Promise<void> {
  for (const f of Object.values(rs.files)) if (f) await tier.delete(f.blobKey);
}

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

  /** Archives read sets idle for longer than `afterMs`. Returns how many moved. */
  async sweep(afterMs: number, limit = 100): Promise<number> {
    const cutoff = this.d.now() - afterMs;
    let moved = 0;
    for (const rs of await this.d.db.readSets.listIdle(cutoff, limit)) {
      // Copy first: until the status flips, readers still find the hot copy.
      await copyFiles(rs, this.d.blobs, this.d.coldBlobs);
      const flipped = await this.d.db.readSets.update(rs.sequenceStoreId, rs.id, { status: 'ARCHIVED', updateTime: this.d.now() }, ['ACTIVE']);
      const still = flipped && (await this.d.db.readSets.get(rs.sequenceStoreId, rs.id));
      if (still && still.lastAccessTime === rs.lastAccessTime) {
        await deleteFiles(rs, this.d.blobs);
        moved++;
      } else {
        // Read (or deleted) while we copied: it stays ACTIVE and hot.
        if (still) await this.d.db.readSets.update(rs.sequenceStoreId, rs.id, { status: 'ACTIVE', updateTime: this.d.now() }, ['ARCHIVED']);
        await deleteFiles(rs, this.d.coldBlobs);
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
          // Re-runnable: copying again after a crash gives the same bytes.
          await copyFiles(rs, this.d.coldBlobs, this.d.blobs);
          const now = this.d.now();
          await this.d.db.readSets.update(job.storeId, rs.id, { status: 'ACTIVE', lastAccessTime: now, updateTime: now }, ['ACTIVATING']);
          await deleteFiles(rs, this.d.coldBlobs);
        },
      });
  }
}
