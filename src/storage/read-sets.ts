import type { Readable } from 'node:stream';
import { readSetArn } from '../core/arn.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { Page } from '../core/pagination.js';
import type { PageRequest } from '../db/query.js';
import type { ReadSetQuery } from '../db/read-set-records.js';
import type { ReadSetRecord, StoredFile } from './entities.js';
import type { DomainDeps } from './context.js';
import { partRange } from './read-set-files.js';
import type { SequenceStoreService, SequenceStoreView } from './sequence-stores.js';
import { storeBlobs } from './store-storage.js';

export interface ReadSetView extends ReadSetRecord {
  arn: string;
  /** `s3://<alias>/<account>/sequenceStore/<store>/readSet/<id>/<file name>` per file, for ACTIVE read sets. */
  s3Uris: { source1?: string; source2?: string; index?: string };
}

export interface BatchDeleteError {
  id: string;
  code: string;
  message: string;
}

/** A read set counts as accessed when its bytes are read; its last-access time is written at most once per this interval. */
const ACCESS_WRITE_INTERVAL_MS = 60_000;

/**
 * Read sets once they exist (spec §1.2, §2.6, §2.12): metadata, listing,
 * part-wise download and deletion. Creation is in uploads.ts (direct upload)
 * and the import job.
 */
export class ReadSetService {
  constructor(
    private readonly d: DomainDeps,
    private readonly stores: SequenceStoreService,
  ) {}

  private view(store: SequenceStoreView, r: ReadSetRecord): ReadSetView {
    const uri = (f: StoredFile | undefined) =>
      f && r.status === 'ACTIVE' ? `s3://${store.accessPointAlias}/${r.accountId}/sequenceStore/${r.sequenceStoreId}/readSet/${r.id}/${f.name}` : undefined;
    const s3Uris: ReadSetView['s3Uris'] = {};
    for (const k of ['source1', 'source2', 'index'] as const) {
      const u = uri(r.files[k]);
      if (u) s3Uris[k] = u;
    }
    return { ...r, arn: readSetArn(this.d.partition, r.accountId, r.sequenceStoreId, r.id), s3Uris };
  }

  private async record(accountId: string, storeId: string, id: string): Promise<{ store: SequenceStoreView; rs: ReadSetRecord }> {
    const store = await this.stores.get(accountId, storeId);
    const rs = await this.d.db.readSets.get(storeId, id);
    if (!rs || rs.accountId !== accountId) throw new NotFoundError(`Read set ${id} not found in sequence store ${storeId}.`);
    return { store, rs };
  }

  async get(accountId: string, storeId: string, id: string): Promise<ReadSetView> {
    const { store, rs } = await this.record(accountId, storeId, id);
    return this.view(store, rs);
  }

  async list(accountId: string, storeId: string, q: ReadSetQuery, page: PageRequest): Promise<Page<ReadSetView>> {
    const store = await this.stores.get(accountId, storeId);
    const res = await this.d.db.readSets.list(storeId, q, page);
    return { items: res.items.map((r) => this.view(store, r)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  /** One part of one file, as the client asked for it (GetReadSet). */
  async openPart(accountId: string, storeId: string, id: string, file: 'SOURCE1' | 'SOURCE2' | 'INDEX', partNumber: number): Promise<Readable> {
    const { store, rs } = await this.record(accountId, storeId, id);
    if (rs.status !== 'ACTIVE') {
      const why =
        rs.status === 'ARCHIVED'
          ? 'it is ARCHIVED; start a read set activation job first'
          : rs.status === 'PROCESSING_UPLOAD'
            ? 'its upload is still being processed'
            : `it is ${rs.status}`;
      throw new ConflictError(`Read set ${id} cannot be read because ${why}.`);
    }
    const f = rs.files[file === 'SOURCE1' ? 'source1' : file === 'SOURCE2' ? 'source2' : 'index'];
    if (!f) throw new NotFoundError(`Read set ${id} has no ${file} file.`);
    const range = partRange(f, partNumber);
    const now = this.d.now();
    if (now - rs.lastAccessTime > ACCESS_WRITE_INTERVAL_MS) {
      await this.d.db.readSets.update(storeId, id, { lastAccessTime: now, updateTime: rs.updateTime });
    }
    // Served by the edge (sendStream gives each chunk back once written): recycled read buffers.
    return storeBlobs(this.d, store.dataKey).get(f.blobKey, range, { lend: true });
  }

  async batchDelete(accountId: string, storeId: string, ids: string[]): Promise<BatchDeleteError[]> {
    await this.stores.get(accountId, storeId);
    const errors: BatchDeleteError[] = [];
    for (const id of [...new Set(ids)]) {
      const rs = await this.d.db.readSets.get(storeId, id);
      if (!rs || rs.accountId !== accountId) {
        errors.push({ id, code: 'NotFound', message: `Read set ${id} not found in sequence store ${storeId}.` });
        continue;
      }
      if (rs.status === 'PROCESSING_UPLOAD' || rs.status === 'ACTIVATING') {
        errors.push({ id, code: 'Conflict', message: `Read set ${id} is ${rs.status}; delete it when that finishes.` });
        continue;
      }
      if (!(await this.d.db.readSets.delete(storeId, id))) {
        errors.push({ id, code: 'NotFound', message: `Read set ${id} not found in sequence store ${storeId}.` });
        continue;
      }
      await this.d.db.tags.deleteAll(readSetArn(this.d.partition, accountId, storeId, id));
      for (const f of Object.values(rs.files)) {
        if (!f) continue;
        await this.d.blobs.delete(f.blobKey);
        await this.d.coldBlobs.delete(f.coldBlobKey ?? f.blobKey);
      }
    }
    return errors;
  }
}
