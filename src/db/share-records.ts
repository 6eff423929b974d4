import type { ShareRecord } from '../shares/entities.js';
import { col, num, rowMapping, type Db } from './rows.js';
import type { SharesTable } from './schema.js';

/** The `shares` table: analytics stores shared with other accounts. */
export interface ShareQuery {
  resourceArns?: string[];
  statuses?: string[];
  types?: string[];
}

export interface ShareRecords {
  insert(rec: ShareRecord): Promise<void>;
  get(id: string): Promise<ShareRecord | undefined>;
  update(id: string, patch: Partial<Pick<ShareRecord, 'status' | 'statusMessage' | 'updateTime'>>): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  /** Shares an account owns (`owner`) or is offered (`subscriber`), newest last. */
  list(side: 'owner' | 'subscriber', accountId: string, q: ShareQuery): Promise<ShareRecord[]>;
  /** Shares of one resource (any status). */
  ofResource(resourceArn: string): Promise<ShareRecord[]>;
  /** Whether another account's resource is shared with `subscriberId` and accepted (ACTIVE): what lets it use it. */
  grants(subscriberId: string, resourceArn: string): Promise<boolean>;
}

const rows = rowMapping<ShareRecord, SharesTable>({
  id: col('id'),
  ownerId: col('owner_id'),
  subscriberId: col('subscriber_id'),
  resourceArn: col('resource_arn'),
  resourceType: col('resource_type'),
  resourceId: col('resource_id'),
  resourceName: col('resource_name'),
  name: col('name'),
  status: col('status'),
  statusMessage: col('status_message'),
  creationTime: num('creation_time'),
  updateTime: num('update_time'),
});

export class KyselyShareRecords implements ShareRecords {
  constructor(private readonly db: Db) {}

  async insert(rec: ShareRecord): Promise<void> {
    await this.db.insertInto('shares').values(rows.toFullRow(rec)).execute();
  }
  async get(id: string): Promise<ShareRecord | undefined> {
    const r = await this.db.selectFrom('shares').selectAll().where('id', '=', id).executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async update(id: string, patch: Partial<Pick<ShareRecord, 'status' | 'statusMessage' | 'updateTime'>>): Promise<boolean> {
    const r = await this.db.updateTable('shares').set(rows.toRow(patch)).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('shares').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async list(side: 'owner' | 'subscriber', accountId: string, q: ShareQuery): Promise<ShareRecord[]> {
    let query = this.db.selectFrom('shares').selectAll().where(side === 'owner' ? 'owner_id' : 'subscriber_id', '=', accountId);
    if (q.resourceArns?.length) query = query.where('resource_arn', 'in', q.resourceArns);
    if (q.statuses?.length) query = query.where('status', 'in', q.statuses);
    if (q.types?.length) query = query.where('resource_type', 'in', q.types);
    return (await query.orderBy('creation_time').orderBy('id').execute()).map(rows.fromRow);
  }
  async ofResource(resourceArn: string): Promise<ShareRecord[]> {
    return (await this.db.selectFrom('shares').selectAll().where('resource_arn', '=', resourceArn).execute()).map(rows.fromRow);
  }
  async grants(subscriberId: string, resourceArn: string): Promise<boolean> {
    return (await this.list('subscriber', subscriberId, { resourceArns: [resourceArn], statuses: ['ACTIVE'] })).length > 0;
  }
}
