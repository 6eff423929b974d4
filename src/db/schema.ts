import type { Generated } from 'kysely';
/** Kysely table types. Times are epoch milliseconds; JSON columns are text. */
export interface AccountsTable {
  id: string;
  name: string;
  created_at: number;
}
export interface UsersTable {
  account_id: string;
  user_name: string;
  created_at: number;
}
export interface AccessKeysTable {
  access_key_id: string;
  account_id: string;
  user_name: string | null; // null: the account's root principal
  secret_enc: string;
  status: string; // Active | Inactive
  created_at: number;
}
export interface UserPoliciesTable {
  account_id: string;
  user_name: string;
  policy_name: string;
  document: string;
}
export interface SequenceStoresTable {
  id: string;
  account_id: string;
  name: string;
  description: string | null;
  sse_type: string;
  sse_key_arn: string | null;
  data_key: string; // wrapped per-store data key (JSON envelope)
  fallback_location: string | null;
  etag_algorithm_family: string;
  status: string;
  status_message: string | null;
  propagated_tags: string; // JSON array of keys
  access_log_location: string | null;
  access_point_name: string;
  access_point_alias: string;
  creation_time: number;
  update_time: number;
  s3_access_policy: string | null;
  s3_access_policy_time: number | null;
}
export interface ReferenceStoresTable {
  id: string;
  account_id: string;
  name: string;
  description: string | null;
  sse_type: string;
  sse_key_arn: string | null;
  data_key: string;
  creation_time: number;
}
export interface ReadSetsTable {
  id: string;
  sequence_store_id: string;
  account_id: string;
  status: string;
  status_message: string | null;
  name: string | null;
  description: string | null;
  subject_id: string;
  sample_id: string;
  generated_from: string | null;
  reference_arn: string | null;
  file_type: string;
  creation_type: string;
  creation_job_id: string | null;
  sequence_information: string | null; // JSON
  etag: string | null; // JSON
  files: string; // JSON
  creation_time: number;
  update_time: number;
  last_access_time: number;
}
export interface ReferencesTable {
  id: string;
  reference_store_id: string;
  account_id: string;
  status: string;
  name: string;
  description: string | null;
  md5: string;
  creation_job_id: string | null;
  files: string; // JSON
  sequences: string; // JSON [{name,length,md5}]
  creation_time: number;
  update_time: number;
}
export interface ReadSetUploadsTable {
  id: string;
  sequence_store_id: string;
  account_id: string;
  status: string;
  source_file_type: string;
  subject_id: string;
  sample_id: string;
  name: string;
  generated_from: string | null;
  reference_arn: string | null;
  description: string | null;
  tags: string; // JSON
  read_set_id: string | null;
  creation_time: number;
}
export interface ReadSetUploadPartsTable {
  upload_id: string;
  part_source: string;
  part_number: number;
  part_size: number;
  checksum: string;
  blob_key: string;
  creation_time: number;
  last_updated_time: number;
}
export interface JobsTable {
  id: string;
  kind: string;
  account_id: string;
  store_id: string;
  status: string;
  status_message: string | null;
  payload: string; // JSON
  creation_time: number;
  completion_time: number | null;
  lease_owner: string | null;
  lease_expires: number | null;
  attempts: number;
}
export interface TagsTable {
  resource_arn: string;
  tag_key: string;
  tag_value: string;
}
export interface IdempotencyTable {
  account_id: string;
  operation: string;
  client_token: string;
  request_hash: string;
  resource_id: string;
  created_at: number;
}

export interface StorageConnectionsTable {
  account_id: string;
  name: string;
  config: string; // JSON (no secrets)
  secret_enc: string | null; // sealed secret access key
  created_at: number;
}

export interface Database {
  accounts: AccountsTable;
  users: UsersTable;
  access_keys: AccessKeysTable;
  user_policies: UserPoliciesTable;
  sequence_stores: SequenceStoresTable;
  reference_stores: ReferenceStoresTable;
  read_sets: ReadSetsTable;
  references: ReferencesTable;
  read_set_uploads: ReadSetUploadsTable;
  read_set_upload_parts: ReadSetUploadPartsTable;
  jobs: JobsTable;
  storage_connections: StorageConnectionsTable;
  tags: TagsTable;
  idempotency: IdempotencyTable;
  deployment_settings: DeploymentSettingsTable;
  access_log_entries: AccessLogEntriesTable;
  workflows: WorkflowsTable;
  runs: RunsTable;
  run_tasks: RunTasksTable;
  run_groups: RunGroupsTable;
  run_configurations: RunConfigurationsTable;
  run_batches: RunBatchesTable;
  run_caches: RunCachesTable;
  run_cache_entries: RunCacheEntriesTable;
  run_batch_runs: RunBatchRunsTable;
  events: EventsTable;
  event_deliveries: EventDeliveriesTable;
  event_dead_letters: EventDeadLettersTable;
  log_events: LogEventsTable;
  variant_stores: VariantStoresTable;
  annotation_stores: AnnotationStoresTable;
  annotation_store_versions: AnnotationStoreVersionsTable;
  analytics_files: AnalyticsFilesTable;
  query_executions: QueryExecutionsTable;
  shares: SharesTable;
}

export interface AccessLogEntriesTable {
  id: string;
  store_id: string;
  account_id: string;
  time: number;
  line: string;
  batch: string | null;
  claimed_at: number | null;
}

export interface DeploymentSettingsTable {
  name: string;
  value: string;
}

export interface WorkflowsTable {
  account_id: string;
  id: string;
  version_name: string; // '' for the workflow itself (its default version)
  uuid: string;
  name: string | null;
  description: string | null;
  engine: string | null;
  status: string;
  status_message: string | null;
  main: string | null;
  digest: string | null;
  data_key: string;
  definition_key: string | null;
  definition_size: number | null;
  readme_key: string | null;
  readme_path: string | null;
  parameter_template: string | null; // JSON
  template_given: number; // 0 | 1
  storage_type: string;
  storage_capacity: number | null;
  accelerators: string | null;
  container_registry_map: string | null; // JSON
  creation_time: number;
}

export interface RunsTable {
  account_id: string;
  id: string;
  uuid: string;
  workflow_id: string;
  workflow_version_name: string | null;
  workflow_uuid: string;
  name: string | null;
  status: string;
  status_message: string | null;
  failure_reason: string | null;
  role_arn: string;
  started_by: string;
  priority: number;
  parameters: string; // JSON
  storage_type: string;
  storage_capacity: number | null;
  output_uri: string;
  run_output_uri: string;
  log_level: string;
  retention_mode: string;
  engine: string;
  engine_version: string | null;
  digest: string;
  main: string | null;
  resource_digests: string; // JSON
  source_run_id: string | null;
  run_group_id: string | null;
  batch_id: string | null;
  workflow_owner_id: string | null;
  networking_mode: string;
  configuration_name: string | null;
  cache_id: string | null;
  cache_behavior: string | null;
  creation_time: number;
  start_time: number | null;
  stop_time: number | null;
}

export interface RunGroupsTable {
  account_id: string;
  id: string;
  name: string | null;
  max_cpus: number | null;
  max_gpus: number | null;
  max_runs: number | null;
  max_duration: number | null;
  admissions: number;
  creation_time: number;
}

export interface RunConfigurationsTable {
  account_id: string;
  name: string;
  id: string; // the configuration's uuid
  description: string | null;
  security_group_ids: string; // JSON
  subnet_ids: string; // JSON
  status: string;
  creation_time: number;
}

export interface RunCachesTable {
  account_id: string;
  id: string;
  uuid: string;
  name: string | null;
  description: string | null;
  cache_s3_location: string;
  cache_bucket_owner_id: string;
  cache_behavior: string;
  status: string;
  creation_time: number;
}

export interface RunCacheEntriesTable {
  cache_id: string;
  cache_key: string;
  entry_uri: string;
  entry_uuid: string;
  run_id: string;
  task_id: string;
  creation_time: number;
}

export interface EventsTable {
  seq: Generated<number>;
  account_id: string;
  source: string;
  status: string;
  record: string; // JSON
  time: number;
}

export interface EventDeliveriesTable {
  webhook: string;
  delivered_seq: number;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
}

export interface EventDeadLettersTable {
  webhook: string;
  seq: number;
  envelope: string; // JSON
  error: string;
  time: number;
}

export interface RunBatchesTable {
  account_id: string;
  id: string;
  uuid: string;
  name: string | null;
  status: string;
  default_run_setting: string; // JSON
  workflow_id: string;
  run_group_id: string | null;
  settings_uri: string | null;
  settings_etag: string | null;
  total_runs: number | null;
  started_by: string;
  failure_reason: string | null;
  creation_time: number;
  submitted_time: number | null;
  processed_time: number | null;
  failed_time: number | null;
}

export interface RunBatchRunsTable {
  batch_id: string;
  seq: number;
  run_setting_id: string;
  setting: string; // JSON
  start_status: string | null;
  cancel_status: string | null;
  delete_status: string | null;
  submission_status: string | null;
  failure_reason: string | null;
  failure_message: string | null;
  run_id: string | null;
  run_uuid: string | null;
}

export interface RunTasksTable {
  run_id: string;
  id: string;
  uuid: string;
  name: string;
  status: string;
  status_message: string | null;
  failure_reason: string | null;
  cpus: number;
  memory: number;
  gpus: number;
  image: string | null;
  image_digest: string | null;
  exit_code: number | null;
  utilization: string | null; // JSON
  cache_hit: number; // 0 | 1
  cache_s3_uri: string | null;
  creation_time: number;
  start_time: number | null;
  stop_time: number | null;
}

export interface LogEventsTable {
  account_id: string;
  log_group: string;
  log_stream: string;
  seq: number;
  timestamp: number;
  ingestion_time: number;
  message: string;
}

export interface VariantStoresTable {
  account_id: string;
  id: string;
  name: string;
  description: string | null;
  reference_arn: string;
  status: string;
  status_message: string | null;
  sse_type: string;
  sse_key_arn: string | null;
  data_key: string;
  size_bytes: number;
  creation_time: number;
  update_time: number;
}

export interface AnnotationStoresTable {
  account_id: string;
  id: string;
  name: string;
  description: string | null;
  reference_arn: string | null;
  store_format: string;
  store_options: string | null; // JSON
  status: string;
  status_message: string | null;
  sse_type: string;
  sse_key_arn: string | null;
  data_key: string;
  creation_time: number;
  update_time: number;
}

export interface AnnotationStoreVersionsTable {
  store_id: string;
  version_name: string;
  id: string;
  description: string | null;
  version_options: string | null; // JSON
  status: string;
  status_message: string | null;
  size_bytes: number;
  creation_time: number;
  update_time: number;
}

export interface AnalyticsFilesTable {
  store_id: string;
  version_name: string;
  blob_key: string;
  /** JSON array of sample names. */
  samples: string;
  job_id: string;
  rows: number;
  size_bytes: number;
  creation_time: number;
}

export interface QueryExecutionsTable {
  account_id: string;
  id: string;
  query: string;
  database_name: string;
  work_group: string;
  output_location: string | null;
  state: string;
  state_change_reason: string | null;
  columns: string | null; // JSON
  result_key: string | null;
  data_key: string;
  rows: number | null;
  data_scanned_bytes: number | null;
  engine_ms: number | null;
  submission_time: number;
  completion_time: number | null;
}

export interface SharesTable {
  id: string;
  owner_id: string;
  subscriber_id: string;
  resource_arn: string;
  resource_type: string;
  resource_id: string;
  resource_name: string;
  name: string | null;
  status: string;
  status_message: string | null;
  creation_time: number;
  update_time: number;
}
