import type { ConnectionRecord } from '../storage/entities.js';
import { col, json, num, rowMapping, type Db } from './rows.js';
import type { StorageConnectionsTable } from './schema.js';

/** The `storage_connections` table: connected storage locations, the secret sealed by the caller. */
export interface ConnectionRecords {
  put(c: ConnectionRecord): Promise<void>;
  get(accountId: string, name: string): Promise<ConnectionRecord | undefined>;
  list(accountId: string): Promise<ConnectionRecord[]>;
  delete(accountId: string, name: string): Promise<boolean>;
}

const rows = rowMapping<ConnectionRecord, StorageConnectionsTable>({
  accountId: col('account_id'),
  name: col('name'),
  config: json('config'),
  secretEnc: col('secret_enc'),
  createdAt: num('created_at'),
});

export class KyselyConnectionRecords implements ConnectionRecords {
  constructor(private readonly db: Db) {}
  async put(c: ConnectionRecord): Promise<void> {
    const row = rows.toFullRow(c);
    await this.db
      .insertInto('storage_connections')
      .values(row)
      .onConflict((oc) => oc.columns(['account_id', 'name']).doUpdateSet({ config: row.config, secret_enc: row.secret_enc }))
      .execute();
  }
  async get(accountId: string, name: string): Promise<ConnectionRecord | undefined> {
    const r = await this.db.selectFrom('storage_connections').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r && rows.fromRow(r);
  }
  async list(accountId: string): Promise<ConnectionRecord[]> {
    const found = await this.db.selectFrom('storage_connections').selectAll().where('account_id', '=', accountId).orderBy('name').execute();
    return found.map(rows.fromRow);
  }
  async delete(accountId: string, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('storage_connections').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
