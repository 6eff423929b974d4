import type { Kysely } from 'kysely';
import { col, num, rowMapping } from './rows.js';
import type { AccessKeysTable, Database } from './schema.js';

/**
 * The identity tables: accounts, IAM users, access keys (the secret sealed by the caller) and users' inline
 * policies. The identity layer (src/iam/) owns what they mean; this file only keeps them.
 */
export interface AccessKeyRecord {
  accessKeyId: string;
  accountId: string;
  userName: string | null;
  secretEnc: string;
  status: 'Active' | 'Inactive';
  createdAt: number;
}

export interface IdentityRecords {
  ensureAccount(id: string, name: string, now: number): Promise<void>;
  accountExists(id: string): Promise<boolean>;
  listAccounts(): Promise<{ id: string; name: string; createdAt: number }[]>;
  createUser(accountId: string, userName: string, now: number): Promise<boolean>;
  userExists(accountId: string, userName: string): Promise<boolean>;
  listUsers(accountId: string): Promise<string[]>;
  deleteUser(accountId: string, userName: string): Promise<void>;
  putAccessKey(key: AccessKeyRecord): Promise<void>;
  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  listAccessKeys(accountId: string, userName: string | null): Promise<AccessKeyRecord[]>;
  setAccessKeyStatus(accessKeyId: string, status: 'Active' | 'Inactive'): Promise<boolean>;
  deleteAccessKey(accessKeyId: string): Promise<boolean>;
  putUserPolicy(accountId: string, userName: string, policyName: string, document: string): Promise<void>;
  deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<boolean>;
  listUserPolicies(accountId: string, userName: string): Promise<{ policyName: string; document: string }[]>;
}

const keyRows = rowMapping<AccessKeyRecord, AccessKeysTable>({
  accessKeyId: col('access_key_id'),
  accountId: col('account_id'),
  userName: col('user_name'),
  secretEnc: col('secret_enc'),
  status: col('status'),
  createdAt: num('created_at'),
});

export class KyselyIdentityRecords implements IdentityRecords {
  constructor(private readonly db: Kysely<Database>) {}

  async ensureAccount(id: string, name: string, now: number): Promise<void> {
    await this.db
      .insertInto('accounts')
      .values({ id, name, created_at: now })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }
  async accountExists(id: string): Promise<boolean> {
    return (await this.db.selectFrom('accounts').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
  }
  async listAccounts() {
    const rows = await this.db.selectFrom('accounts').selectAll().orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: Number(r.created_at) }));
  }
  async createUser(accountId: string, userName: string, now: number): Promise<boolean> {
    const res = await this.db
      .insertInto('users')
      .values({ account_id: accountId, user_name: userName, created_at: now })
      .onConflict((oc) => oc.columns(['account_id', 'user_name']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }
  async userExists(accountId: string, userName: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('users')
      .select('user_name')
      .where('account_id', '=', accountId)
      .where('user_name', '=', userName)
      .executeTakeFirst();
    return row !== undefined;
  }
  async listUsers(accountId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('users').select('user_name').where('account_id', '=', accountId).orderBy('user_name').execute();
    return rows.map((r) => r.user_name);
  }
  async deleteUser(accountId: string, userName: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('access_keys').where('account_id', '=', accountId).where('user_name', '=', userName).execute();
      await trx.deleteFrom('user_policies').where('account_id', '=', accountId).where('user_name', '=', userName).execute();
      await trx.deleteFrom('users').where('account_id', '=', accountId).where('user_name', '=', userName).execute();
    });
  }
  async putAccessKey(k: AccessKeyRecord): Promise<void> {
    await this.db
      .insertInto('access_keys')
      .values(keyRows.toFullRow(k))
      .execute();
  }
  async getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    const r = await this.db.selectFrom('access_keys').selectAll().where('access_key_id', '=', accessKeyId).executeTakeFirst();
    return r && keyRows.fromRow(r);
  }
  async listAccessKeys(accountId: string, userName: string | null): Promise<AccessKeyRecord[]> {
    let q = this.db.selectFrom('access_keys').selectAll().where('account_id', '=', accountId);
    q = userName === null ? q.where('user_name', 'is', null) : q.where('user_name', '=', userName);
    return (await q.orderBy('created_at').execute()).map(keyRows.fromRow);
  }
  async setAccessKeyStatus(accessKeyId: string, status: 'Active' | 'Inactive'): Promise<boolean> {
    const r = await this.db.updateTable('access_keys').set({ status }).where('access_key_id', '=', accessKeyId).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('access_keys').where('access_key_id', '=', accessKeyId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async putUserPolicy(accountId: string, userName: string, policyName: string, document: string): Promise<void> {
    await this.db
      .insertInto('user_policies')
      .values({ account_id: accountId, user_name: userName, policy_name: policyName, document })
      .onConflict((oc) => oc.columns(['account_id', 'user_name', 'policy_name']).doUpdateSet({ document }))
      .execute();
  }
  async deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('user_policies')
      .where('account_id', '=', accountId)
      .where('user_name', '=', userName)
      .where('policy_name', '=', policyName)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async listUserPolicies(accountId: string, userName: string) {
    const rows = await this.db
      .selectFrom('user_policies')
      .select(['policy_name', 'document'])
      .where('account_id', '=', accountId)
      .where('user_name', '=', userName)
      .orderBy('policy_name')
      .execute();
    return rows.map((r) => ({ policyName: r.policy_name, document: r.document }));
  }
}
