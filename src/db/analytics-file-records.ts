import type { AnalyticsFileRecord } from '../analytics/entities.js';
import { col, json, num, rowMapping, type Db } from './rows.js';
import type { AnalyticsFilesTable } from './schema.js';

/** The `analytics_files` table: the Parquet files of variant and annotation stores' rows. */
export interface AnalyticsFileRecords {
  /** Makes files visible (in the caller's transaction). */
  add(files: AnalyticsFileRecord[]): Promise<void>;
  /** A store's files, or one version's. */
  list(storeId: string, versionName?: string): Promise<AnalyticsFileRecord[]>;
  delete(storeId: string, versionName?: string): Promise<void>;
  /** Whether an import job's files were published. */
  published(storeId: string, jobId: string): Promise<boolean>;
}

const rows = rowMapping<AnalyticsFileRecord, AnalyticsFilesTable>({
  storeId: col('store_id'),
  versionName: col('version_name'),
  blobKey: col('blob_key'),
  samples: json('samples'),
  jobId: col('job_id'),
  rows: num('rows'),
  sizeBytes: num('size_bytes'),
  creationTime: num('creation_time'),
});

export class KyselyAnalyticsFileRecords implements AnalyticsFileRecords {
  constructor(private readonly db: Db) {}

  async add(files: AnalyticsFileRecord[]): Promise<void> {
    if (files.length) await this.db.insertInto('analytics_files').values(files.map((f) => rows.toFullRow(f))).execute();
  }
  async list(storeId: string, versionName?: string): Promise<AnalyticsFileRecord[]> {
    let q = this.db.selectFrom('analytics_files').selectAll().where('store_id', '=', storeId);
    if (versionName !== undefined) q = q.where('version_name', '=', versionName);
    return (await q.orderBy('creation_time').orderBy('blob_key').execute()).map(rows.fromRow);
  }
  async delete(storeId: string, versionName?: string): Promise<void> {
    let q = this.db.deleteFrom('analytics_files').where('store_id', '=', storeId);
    if (versionName !== undefined) q = q.where('version_name', '=', versionName);
    await q.execute();
  }
  async published(storeId: string, jobId: string): Promise<boolean> {
    const r = await this.db.selectFrom('analytics_files').select('blob_key').where('store_id', '=', storeId).where('job_id', '=', jobId).limit(1).executeTakeFirst();
    return r !== undefined;
  }
}
