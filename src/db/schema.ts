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
  creation_time: number;
}
export interface ReferencesTable {
  id: string;
  reference_store_id: string;
  account_id: string;
  status: string;
  creation_time: number;
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

export interface Database {
  accounts: AccountsTable;
  users: UsersTable;
  access_keys: AccessKeysTable;
  user_policies: UserPoliciesTable;
  sequence_stores: SequenceStoresTable;
  reference_stores: ReferenceStoresTable;
  read_sets: ReadSetsTable;
  references: ReferencesTable;
  tags: TagsTable;
  idempotency: IdempotencyTable;
}
