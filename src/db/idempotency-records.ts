import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The `idempotency` table: what a client token created, and a hash of the request that created it. */
export interface IdempotencyRecord {
  requestHash: string;
  resourceId: string;
}

export interface IdempotencyRecords {
  find(accountId: string, operation: string, clientToken: string): Promise<IdempotencyRecord | undefined>;
  record(accountId: string, operation: string, clientToken: string, rec: IdempotencyRecord, now: number): Promise<void>;
}

export class KyselyIdempotencyRecords implements IdempotencyRecords {
  constructor(private readonly db: Kysely<Database>) {}

  async find(accountId: string, operation: string, clientToken: string): Promise<IdempotencyRecord | undefined> {
    const r = await this.db
      .selectFrom('idempotency')
      .select(['request_hash', 'resource_id'])
      .where('account_id', '=', accountId)
      .where('operation', '=', operation)
      .where('client_token', '=', clientToken)
      .executeTakeFirst();
    return r && { requestHash: r.request_hash, resourceId: r.resource_id };
  }
  async record(accountId: string, operation: string, clientToken: string, rec: IdempotencyRecord, now: number): Promise<void> {
    await this.db
      .insertInto('idempotency')
      .values({ account_id: accountId, operation, client_token: clientToken, request_hash: rec.requestHash, resource_id: rec.resourceId, created_at: now })
      .onConflict((oc) => oc.columns(['account_id', 'operation', 'client_token']).doNothing())
      .execute();
  }
}
