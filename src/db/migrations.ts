import { Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * Numbered migrations, written once with Kysely's schema builder so that the
 * same file runs on SQLite and PostgreSQL. Never edit a migration that has
 * landed; add the next number.
 */
const migrations: Record<string, Migration> = {
  '0001_identity_and_stores': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('users')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('users_pk', ['account_id', 'user_name'])
        .execute();
      await db.schema
        .createTable('access_keys')
        .addColumn('access_key_id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text')
        .addColumn('secret_enc', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('user_policies')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('policy_name', 'text', (c) => c.notNull())
        .addColumn('document', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('user_policies_pk', ['account_id', 'user_name', 'policy_name'])
        .execute();
      await db.schema
        .createTable('sequence_stores')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('sse_type', 'text', (c) => c.notNull())
        .addColumn('sse_key_arn', 'text')
        .addColumn('data_key', 'text', (c) => c.notNull())
        .addColumn('fallback_location', 'text')
        .addColumn('etag_algorithm_family', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('propagated_tags', 'text', (c) => c.notNull())
        .addColumn('access_log_location', 'text')
        .addColumn('access_point_name', 'text', (c) => c.notNull())
        .addColumn('access_point_alias', 'text', (c) => c.notNull().unique())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('update_time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('sequence_stores_account_time')
        .on('sequence_stores')
        .columns(['account_id', 'creation_time', 'id'])
        .execute();
      await db.schema
        .createTable('reference_stores')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('sse_type', 'text', (c) => c.notNull())
        .addColumn('sse_key_arn', 'text')
        .addColumn('data_key', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('reference_stores_account_time')
        .on('reference_stores')
        .columns(['account_id', 'creation_time', 'id'])
        .execute();
      await db.schema
        .createTable('read_sets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sequence_store_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('read_sets_store').on('read_sets').columns(['sequence_store_id', 'creation_time', 'id']).execute();
      await db.schema
        .createTable('references')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('reference_store_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('references_store').on('references').columns(['reference_store_id', 'creation_time', 'id']).execute();
      await db.schema
        .createTable('tags')
        .addColumn('resource_arn', 'text', (c) => c.notNull())
        .addColumn('tag_key', 'text', (c) => c.notNull())
        .addColumn('tag_value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tags_pk', ['resource_arn', 'tag_key'])
        .execute();
      await db.schema
        .createTable('idempotency')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('client_token', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('resource_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_pk', ['account_id', 'operation', 'client_token'])
        .execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
