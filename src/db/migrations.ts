import { Kysely, PostgresAdapter, sql, type Migration, type MigrationProvider } from 'kysely';

/** The tables whose rows processes cache (store, read set, tag and identity lookups of the S3 view and the edges). */
export const CACHED_TABLES = ['accounts', 'users', 'access_keys', 'user_policies', 'sequence_stores', 'read_sets', 'tags'] as const;

/** The PostgreSQL channel a committed change to a cached table is announced on. */
export const CHANGE_CHANNEL = 'openomics_metadata_changed';

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
  '0002_read_sets_references_uploads_jobs': {
    // 0001's read_sets and references were placeholders that nothing could
    // write through the API; they are recreated with their full columns.
    async up(db: Kysely<any>) {
      // S3 access policy of a store: NULL = the default policy (spec §3.4), '' = deleted (no S3 access).
      await db.schema.alterTable('sequence_stores').addColumn('s3_access_policy', 'text').execute();
      await db.schema.alterTable('sequence_stores').addColumn('s3_access_policy_time', 'bigint').execute();
      await db.schema.dropTable('read_sets').execute();
      await db.schema.dropTable('references').execute();
      await db.schema
        .createTable('read_sets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sequence_store_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('name', 'text')
        .addColumn('description', 'text')
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('sample_id', 'text', (c) => c.notNull())
        .addColumn('generated_from', 'text')
        .addColumn('reference_arn', 'text')
        .addColumn('file_type', 'text', (c) => c.notNull())
        .addColumn('creation_type', 'text', (c) => c.notNull())
        .addColumn('creation_job_id', 'text')
        .addColumn('sequence_information', 'text')
        .addColumn('etag', 'text')
        .addColumn('files', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('update_time', 'bigint', (c) => c.notNull())
        .addColumn('last_access_time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('read_sets_store').on('read_sets').columns(['sequence_store_id', 'creation_time', 'id']).execute();
      await db.schema.createIndex('read_sets_reference').on('read_sets').columns(['reference_arn']).execute();
      await db.schema.createIndex('read_sets_sample').on('read_sets').columns(['sequence_store_id', 'sample_id', 'creation_time', 'id']).execute();
      await db.schema.createIndex('read_sets_subject').on('read_sets').columns(['sequence_store_id', 'subject_id', 'creation_time', 'id']).execute();
      await db.schema.createIndex('read_sets_idle').on('read_sets').columns(['status', 'last_access_time']).execute();
      await db.schema
        .createTable('references')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('reference_store_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('md5', 'text', (c) => c.notNull())
        .addColumn('creation_job_id', 'text')
        .addColumn('files', 'text', (c) => c.notNull())
        .addColumn('sequences', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('update_time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('references_store').on('references').columns(['reference_store_id', 'creation_time', 'id']).execute();
      await db.schema
        .createTable('read_set_uploads')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sequence_store_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('source_file_type', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('sample_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('generated_from', 'text')
        .addColumn('reference_arn', 'text')
        .addColumn('description', 'text')
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('read_set_id', 'text')
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('read_set_uploads_store').on('read_set_uploads').columns(['sequence_store_id', 'creation_time', 'id']).execute();
      await db.schema
        .createTable('read_set_upload_parts')
        .addColumn('upload_id', 'text', (c) => c.notNull())
        .addColumn('part_source', 'text', (c) => c.notNull())
        .addColumn('part_number', 'integer', (c) => c.notNull())
        .addColumn('part_size', 'bigint', (c) => c.notNull())
        .addColumn('checksum', 'text', (c) => c.notNull())
        .addColumn('blob_key', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('last_updated_time', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('read_set_upload_parts_pk', ['upload_id', 'part_source', 'part_number'])
        .execute();
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('store_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('completion_time', 'bigint')
        .addColumn('lease_owner', 'text')
        .addColumn('lease_expires', 'bigint')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('jobs_store').on('jobs').columns(['kind', 'store_id', 'creation_time', 'id']).execute();
      await db.schema
        .createTable('storage_connections')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('secret_enc', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('storage_connections_pk', ['account_id', 'name'])
        .execute();
      await db.schema.createIndex('jobs_runnable').on('jobs').columns(['status', 'lease_expires']).execute();
    },
  },
  '0003_deployment_settings': {
    async up(db: Kysely<any>) {
      // What every process of one deployment must agree on (which master key, which blob store), recorded by
      // the first process to start and checked by every later one.
      await db.schema
        .createTable('deployment_settings')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0004_access_log_entries': {
    async up(db: Kysely<any>) {
      // S3 access log lines written ahead of delivery: a line is committed as its request finishes, and
      // removed once a batch holding it has been written to the store's log location.
      await db.schema
        .createTable('access_log_entries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('store_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('time', 'bigint', (c) => c.notNull())
        .addColumn('line', 'text', (c) => c.notNull())
        .addColumn('batch', 'text')
        .addColumn('claimed_at', 'bigint')
        .execute();
      await db.schema.createIndex('access_log_entries_store').on('access_log_entries').columns(['store_id', 'time']).execute();
      await db.schema.createIndex('access_log_entries_batch').on('access_log_entries').column('batch').execute();
    },
  },
  '0005_workflows_runs_logs': {
    async up(db: Kysely<any>) {
      // Workflows and their versions in one table (the workflow itself has version_name ''), runs, their
      // tasks, and the log events of runs (the CloudWatch Logs subset reads them).
      await db.schema
        .createTable('workflows')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('version_name', 'text', (c) => c.notNull())
        .addColumn('uuid', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text')
        .addColumn('description', 'text')
        .addColumn('engine', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('main', 'text')
        .addColumn('digest', 'text')
        .addColumn('data_key', 'text', (c) => c.notNull())
        .addColumn('definition_key', 'text')
        .addColumn('definition_size', 'bigint')
        .addColumn('readme_key', 'text')
        .addColumn('readme_path', 'text')
        .addColumn('parameter_template', 'text')
        .addColumn('template_given', 'integer', (c) => c.notNull())
        .addColumn('storage_type', 'text', (c) => c.notNull())
        .addColumn('storage_capacity', 'bigint')
        .addColumn('accelerators', 'text')
        .addColumn('container_registry_map', 'text')
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('workflows_pk', ['account_id', 'id', 'version_name'])
        .execute();
      await db.schema
        .createTable('runs')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('uuid', 'text', (c) => c.notNull().unique())
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('workflow_version_name', 'text')
        .addColumn('workflow_uuid', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('failure_reason', 'text')
        .addColumn('role_arn', 'text', (c) => c.notNull())
        .addColumn('started_by', 'text', (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('parameters', 'text', (c) => c.notNull())
        .addColumn('storage_type', 'text', (c) => c.notNull())
        .addColumn('storage_capacity', 'bigint')
        .addColumn('output_uri', 'text', (c) => c.notNull())
        .addColumn('run_output_uri', 'text', (c) => c.notNull())
        .addColumn('log_level', 'text', (c) => c.notNull())
        .addColumn('retention_mode', 'text', (c) => c.notNull())
        .addColumn('engine', 'text', (c) => c.notNull())
        .addColumn('engine_version', 'text')
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('main', 'text')
        .addColumn('resource_digests', 'text', (c) => c.notNull())
        .addColumn('source_run_id', 'text')
        .addColumn('run_group_id', 'text')
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('start_time', 'bigint')
        .addColumn('stop_time', 'bigint')
        .addPrimaryKeyConstraint('runs_pk', ['account_id', 'id'])
        .execute();
      await db.schema.createIndex('runs_list').on('runs').columns(['account_id', 'creation_time', 'id']).execute();
      await db.schema
        .createTable('run_tasks')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('uuid', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('failure_reason', 'text')
        .addColumn('cpus', 'integer', (c) => c.notNull())
        .addColumn('memory', 'integer', (c) => c.notNull())
        .addColumn('gpus', 'integer', (c) => c.notNull())
        .addColumn('image', 'text')
        .addColumn('image_digest', 'text')
        .addColumn('exit_code', 'integer')
        .addColumn('utilization', 'text')
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('start_time', 'bigint')
        .addColumn('stop_time', 'bigint')
        .addPrimaryKeyConstraint('run_tasks_pk', ['run_id', 'id'])
        .execute();
      await db.schema
        .createTable('log_events')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('log_group', 'text', (c) => c.notNull())
        .addColumn('log_stream', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('timestamp', 'bigint', (c) => c.notNull())
        .addColumn('ingestion_time', 'bigint', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('log_events_pk', ['account_id', 'log_group', 'log_stream', 'seq'])
        .execute();
    },
  },
  '0006_analytics_stores': {
    async up(db: Kysely<any>) {
      // Variant and annotation stores (addressed by name, unique per account), annotation store versions, and the
      // Parquet files of their rows (one per sample or version and import item; a row appears only when its job
      // published it).
      await db.schema
        .createTable('variant_stores')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('reference_arn', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('sse_type', 'text', (c) => c.notNull())
        .addColumn('sse_key_arn', 'text')
        .addColumn('data_key', 'text', (c) => c.notNull())
        .addColumn('size_bytes', 'bigint', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('update_time', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('variant_stores_pk', ['account_id', 'name'])
        .execute();
      await db.schema
        .createTable('annotation_stores')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('reference_arn', 'text')
        .addColumn('store_format', 'text', (c) => c.notNull())
        .addColumn('store_options', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('sse_type', 'text', (c) => c.notNull())
        .addColumn('sse_key_arn', 'text')
        .addColumn('data_key', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('update_time', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('annotation_stores_pk', ['account_id', 'name'])
        .execute();
      await db.schema
        .createTable('annotation_store_versions')
        .addColumn('store_id', 'text', (c) => c.notNull())
        .addColumn('version_name', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text')
        .addColumn('version_options', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('size_bytes', 'bigint', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('update_time', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('annotation_store_versions_pk', ['store_id', 'version_name'])
        .execute();
      await db.schema
        .createTable('analytics_files')
        .addColumn('store_id', 'text', (c) => c.notNull())
        .addColumn('version_name', 'text', (c) => c.notNull())
        .addColumn('blob_key', 'text', (c) => c.notNull())
        .addColumn('samples', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('rows', 'bigint', (c) => c.notNull())
        .addColumn('size_bytes', 'bigint', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('analytics_files_pk', ['store_id', 'blob_key'])
        .execute();
    },
  },
  '0007_query_executions': {
    async up(db: Kysely<any>) {
      // Query executions of the Athena subset (run as jobs; results as encrypted CSV blobs).
      await db.schema
        .createTable('query_executions')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull().primaryKey())
        .addColumn('query', 'text', (c) => c.notNull())
        .addColumn('database_name', 'text', (c) => c.notNull())
        .addColumn('work_group', 'text', (c) => c.notNull())
        .addColumn('output_location', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('state_change_reason', 'text')
        .addColumn('columns', 'text')
        .addColumn('result_key', 'text')
        .addColumn('data_key', 'text', (c) => c.notNull())
        .addColumn('rows', 'bigint')
        .addColumn('data_scanned_bytes', 'bigint')
        .addColumn('engine_ms', 'bigint')
        .addColumn('submission_time', 'bigint', (c) => c.notNull())
        .addColumn('completion_time', 'bigint')
        .execute();
      await db.schema.createIndex('query_executions_account').on('query_executions').columns(['account_id', 'submission_time']).execute();
    },
  },
  '0008_shares': {
    async up(db: Kysely<any>) {
      // Analytics stores shared with other accounts.
      await db.schema
        .createTable('shares')
        .addColumn('id', 'text', (c) => c.notNull().primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('subscriber_id', 'text', (c) => c.notNull())
        .addColumn('resource_arn', 'text', (c) => c.notNull())
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('resource_id', 'text', (c) => c.notNull())
        .addColumn('resource_name', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('update_time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('shares_owner').on('shares').columns(['owner_id', 'resource_arn']).execute();
      await db.schema.createIndex('shares_subscriber').on('shares').columns(['subscriber_id']).execute();
    },
  },
  '0009_change_generation': {
    async up(db: Kysely<any>) {
      // Every process caches rows of CACHED_TABLES and must see a committed change to them at once, whichever
      // process made it. SQLite: triggers count changes in one row that a lookup reads (a few microseconds);
      // PostgreSQL: statement triggers announce the change with NOTIFY (db/change-generation.ts listens).
      if (db.getExecutor().adapter instanceof PostgresAdapter) {
        await sql.raw(`CREATE OR REPLACE FUNCTION openomics_metadata_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('${CHANGE_CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$`).execute(db);
        for (const t of CACHED_TABLES) {
          await sql.raw(`CREATE TRIGGER ${t}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "${t}" FOR EACH STATEMENT EXECUTE FUNCTION openomics_metadata_changed()`).execute(db);
        }
        return;
      }
      await db.schema.createTable('metadata_generation').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('n', 'bigint', (c) => c.notNull()).execute();
      await db.insertInto('metadata_generation').values({ id: 1, n: 0 }).execute();
      for (const t of CACHED_TABLES) {
        for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
          await sql.raw(`CREATE TRIGGER ${t}_${op.toLowerCase()}_changed AFTER ${op} ON "${t}" BEGIN UPDATE metadata_generation SET n = n + 1 WHERE id = 1; END`).execute(db);
        }
      }
    },
  },
  '0010_read_set_filter_indexes': {
    async up(db: Kysely<any>) {
      // ListReadSets filters by name and status in stores of a million read sets: without these, a filter that
      // matches little walks the whole store's (creation_time, id) index (decision 71).
      await db.schema.createIndex('read_sets_name').on('read_sets').columns(['sequence_store_id', 'name', 'creation_time', 'id']).execute();
      await db.schema.createIndex('read_sets_status').on('read_sets').columns(['sequence_store_id', 'status', 'creation_time', 'id']).execute();
    },
  },
  '0011_workflows_ii': {
    async up(db: Kysely<any>) {
      // Run groups, configurations, and what runs now record of them (and of batches and shared workflows).
      await db.schema
        .createTable('run_groups')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('max_cpus', 'integer')
        .addColumn('max_gpus', 'integer')
        .addColumn('max_runs', 'integer')
        .addColumn('max_duration', 'integer')
        // Bumped by every admission decision first thing in its transaction: PostgreSQL's row lock (SQLite's
        // single writer) makes two processes' decisions for one group happen one after the other.
        .addColumn('admissions', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_groups_pk', ['account_id', 'id'])
        .execute();
      await db.schema
        .createTable('run_configurations')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text')
        .addColumn('security_group_ids', 'text', (c) => c.notNull())
        .addColumn('subnet_ids', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_configurations_pk', ['account_id', 'name'])
        .execute();
      for (const column of ['batch_id', 'workflow_owner_id', 'configuration_name']) await db.schema.alterTable('runs').addColumn(column, 'text').execute();
      await db.schema.alterTable('runs').addColumn('networking_mode', 'text', (c) => c.notNull().defaultTo('RESTRICTED')).execute();
      await db.schema.createIndex('runs_group_status').on('runs').columns(['account_id', 'run_group_id', 'status']).execute();
      await db.schema.createIndex('runs_status_priority').on('runs').columns(['account_id', 'status', 'priority']).execute();
      await db.schema.createIndex('runs_batch').on('runs').columns(['account_id', 'batch_id', 'status']).execute();
      // Run batches and their runs (one row per run setting, with what became of its start, cancel and delete).
      await db.schema
        .createTable('run_batches')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('uuid', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('default_run_setting', 'text', (c) => c.notNull())
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('run_group_id', 'text')
        .addColumn('settings_uri', 'text')
        .addColumn('settings_etag', 'text')
        .addColumn('total_runs', 'integer')
        .addColumn('started_by', 'text', (c) => c.notNull())
        .addColumn('failure_reason', 'text')
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('submitted_time', 'bigint')
        .addColumn('processed_time', 'bigint')
        .addColumn('failed_time', 'bigint')
        .addPrimaryKeyConstraint('run_batches_pk', ['account_id', 'id'])
        .execute();
      await db.schema.createIndex('run_batches_list').on('run_batches').columns(['account_id', 'creation_time', 'id']).execute();
      await db.schema
        .createTable('run_batch_runs')
        .addColumn('batch_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('run_setting_id', 'text', (c) => c.notNull())
        .addColumn('setting', 'text', (c) => c.notNull())
        .addColumn('start_status', 'text')
        .addColumn('cancel_status', 'text')
        .addColumn('delete_status', 'text')
        .addColumn('submission_status', 'text')
        .addColumn('failure_reason', 'text')
        .addColumn('failure_message', 'text')
        .addColumn('run_id', 'text')
        .addColumn('run_uuid', 'text')
        .addPrimaryKeyConstraint('run_batch_runs_pk', ['batch_id', 'seq'])
        .execute();
      await db.schema.createIndex('run_batch_runs_setting').on('run_batch_runs').columns(['batch_id', 'run_setting_id']).unique().execute();
      await db.schema.createIndex('run_batch_runs_status').on('run_batch_runs').columns(['batch_id', 'submission_status', 'seq']).execute();
    },
  },
  '0012_events': {
    async up(db: Kysely<any>) {
      // The event outbox (decision 75): triggers record every status change of the tables events are about, in
      // the transaction that makes it, whichever code path and process made it; events/ delivers them in order.
      const pg = db.getExecutor().adapter instanceof PostgresAdapter;
      await db.schema
        .createTable('events')
        .addColumn('seq', pg ? 'bigserial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('record', 'text', (c) => c.notNull())
        .addColumn('time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('event_deliveries')
        .addColumn('webhook', 'text', (c) => c.primaryKey())
        .addColumn('delivered_seq', 'bigint', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .execute();
      await db.schema
        .createTable('event_dead_letters')
        .addColumn('webhook', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('envelope', 'text', (c) => c.notNull())
        .addColumn('error', 'text', (c) => c.notNull())
        .addColumn('time', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('event_dead_letters_pk', ['webhook', 'seq'])
        .execute();
      for (const source of EVENT_SOURCES) {
        for (const op of ['INSERT', 'UPDATE', 'DELETE'] as const) {
          if (!source.on.includes(op)) continue;
          const row = op === 'DELETE' ? 'OLD' : 'NEW';
          const status = op === 'DELETE' ? "'DELETED'" : 'NEW.status';
          const record = (pg ? 'json_build_object(' : 'json_object(') + Object.entries(source.columns).map(([k, c]) => `'${k}', ${row}.${c}`).join(', ') + ')' + (pg ? '::text' : '');
          const now = pg ? '(extract(epoch from clock_timestamp()) * 1000)::bigint' : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
          const inserts = source.accounts
            .map((a) => `INSERT INTO events (account_id, source, status, record, time) VALUES (${a.replaceAll('R.', `${row}.`)}, '${source.table}', ${status}, ${record}, ${now});`)
            .join(' ');
          const when = source.when?.replaceAll('R.', `${row}.`);
          // PostgreSQL allows no subquery in a trigger's WHEN: the row condition goes in the function instead.
          const conditions = [op === 'UPDATE' ? (pg ? 'OLD.status IS DISTINCT FROM NEW.status' : 'OLD.status IS NOT NEW.status') : '', pg ? '' : (when ?? '')].filter(Boolean);
          const name = `events_${source.table}_${op.toLowerCase()}`;
          const event = op === 'UPDATE' ? 'UPDATE OF status' : op;
          if (pg) {
            const body = when ? `IF ${when} THEN ${inserts} END IF;` : inserts;
            await sql.raw(`CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${body} RETURN NULL; END $$`).execute(db);
            await sql.raw(`CREATE TRIGGER ${name} AFTER ${event} ON "${source.table}" FOR EACH ROW ${conditions.length ? `WHEN (${conditions.join(' AND ')})` : ''} EXECUTE FUNCTION ${name}()`).execute(db);
          } else {
            await sql.raw(`CREATE TRIGGER ${name} AFTER ${event} ON "${source.table}" ${conditions.length ? `WHEN ${conditions.join(' AND ')}` : ''} BEGIN ${inserts} END`).execute(db);
          }
        }
      }
    },
  },
  '0013_run_caches': {
    async up(db: Kysely<any>) {
      // Run caches, the index of their entries (by task cache key), and what runs and tasks record of them.
      await db.schema
        .createTable('run_caches')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('uuid', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text')
        .addColumn('description', 'text')
        .addColumn('cache_s3_location', 'text', (c) => c.notNull())
        .addColumn('cache_bucket_owner_id', 'text', (c) => c.notNull())
        .addColumn('cache_behavior', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_caches_pk', ['account_id', 'id'])
        .execute();
      await db.schema
        .createTable('run_cache_entries')
        .addColumn('cache_id', 'text', (c) => c.notNull())
        .addColumn('cache_key', 'text', (c) => c.notNull())
        .addColumn('entry_uri', 'text', (c) => c.notNull())
        .addColumn('entry_uuid', 'text', (c) => c.notNull().primaryKey())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('run_cache_entries_key').on('run_cache_entries').columns(['cache_id', 'cache_key', 'creation_time']).execute();
      for (const column of ['cache_id', 'cache_behavior']) await db.schema.alterTable('runs').addColumn(column, 'text').execute();
      await db.schema.alterTable('run_tasks').addColumn('cache_hit', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('run_tasks').addColumn('cache_s3_uri', 'text').execute();
    },
  },
};

/**
 * What the event triggers of migration 0012 record: per table, the account(s) an event goes to (SQL over the row
 * `R.`), the row's columns kept with it (enough to describe the event after the row is gone), which changes count.
 */
const EVENT_SOURCES: { table: string; accounts: string[]; columns: Record<string, string>; on: ('INSERT' | 'UPDATE' | 'DELETE')[]; when?: string }[] = [
  {
    table: 'runs',
    accounts: ['R.account_id'],
    columns: { id: 'id', uuid: 'uuid', name: 'name', runOutputUri: 'run_output_uri', workflowId: 'workflow_id', workflowOwnerId: 'workflow_owner_id' },
    on: ['INSERT', 'UPDATE'],
  },
  {
    table: 'run_tasks',
    accounts: ['(SELECT account_id FROM runs WHERE runs.id = R.run_id LIMIT 1)'],
    columns: { runId: 'run_id', id: 'id' },
    on: ['INSERT', 'UPDATE'],
    when: 'EXISTS (SELECT 1 FROM runs WHERE runs.id = R.run_id)',
  },
  { table: 'workflows', accounts: ['R.account_id'], columns: { id: 'id', versionName: 'version_name', name: 'name' }, on: ['UPDATE', 'DELETE'] },
  {
    table: 'shares',
    accounts: ['R.owner_id', 'R.subscriber_id'],
    columns: { id: 'id', ownerId: 'owner_id', subscriberId: 'subscriber_id', resourceArn: 'resource_arn', resourceType: 'resource_type', name: 'name' },
    on: ['INSERT', 'UPDATE', 'DELETE'],
  },
  { table: 'read_sets', accounts: ['R.account_id'], columns: { id: 'id', sequenceStoreId: 'sequence_store_id' }, on: ['INSERT', 'UPDATE'] },
  {
    table: 'jobs',
    accounts: ['R.account_id'],
    columns: { id: 'id', kind: 'kind', storeId: 'store_id' },
    on: ['INSERT', 'UPDATE'],
    when: "R.kind IN ('ReadSetImport', 'ReadSetExport', 'ReadSetActivation', 'ReferenceImport', 'VariantImport', 'AnnotationImport')",
  },
];

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
