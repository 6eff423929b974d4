/**
 * The analytics service's entities: variant stores and the Parquet files that hold their rows. Enum values are
 * the API's (botocore's omics model).
 */
export type AnalyticsStoreStatus = 'CREATING' | 'UPDATING' | 'DELETING' | 'ACTIVE' | 'FAILED';

export interface VariantStoreRecord {
  accountId: string;
  /** 12 lowercase hex digits (the service's own examples; the model's UUID form is accepted on input). */
  id: string;
  name: string;
  description: string | null;
  referenceArn: string;
  status: AnalyticsStoreStatus;
  statusMessage: string | null;
  sseType: 'KMS';
  sseKeyArn: string | null;
  /** The wrapped data key every file of the store is encrypted with. */
  dataKey: string;
  /** Bytes of the store's files as stored. */
  sizeBytes: number;
  creationTime: number;
  updateTime: number;
}

export type StoreFormat = 'GFF' | 'TSV' | 'VCF';

/** `tsvStoreOptions` / `tsvVersionOptions` (spec analytics §4.3). */
export interface TsvOptions {
  annotationType?: string;
  formatToHeader?: Record<string, string>;
  schema?: Record<string, string>[];
}

export interface AnnotationStoreRecord {
  accountId: string;
  id: string;
  name: string;
  description: string | null;
  referenceArn: string | null;
  storeFormat: StoreFormat;
  storeOptions: TsvOptions | null;
  status: AnalyticsStoreStatus;
  statusMessage: string | null;
  sseType: 'KMS';
  sseKeyArn: string | null;
  dataKey: string;
  creationTime: number;
  updateTime: number;
}

/** A version of an annotation store; creating the store creates its first. */
export interface AnnotationStoreVersionRecord {
  storeId: string;
  versionName: string;
  id: string;
  description: string | null;
  versionOptions: TsvOptions | null;
  status: AnalyticsStoreStatus;
  statusMessage: string | null;
  sizeBytes: number;
  creationTime: number;
  updateTime: number;
}

/**
 * One Parquet file of a store's rows: one sample's (variant stores, partitioned by sample, spec §2.2) or one
 * version's (annotation stores) rows from one import item. Made visible only when its import job publishes.
 */
export interface AnalyticsFileRecord {
  storeId: string;
  /** The annotation store version ('' for variant stores). */
  versionName: string;
  /** The blob key of the (encrypted) Parquet file. */
  blobKey: string;
  /** The samples whose rows the file holds (none for rows without samples: sites-only VCFs, annotations). */
  samples: string[];
  jobId: string;
  rows: number;
  sizeBytes: number;
  creationTime: number;
}

export type QueryState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** A query execution of the Athena subset: the query, where it stands, and where its result is. */
export interface QueryExecutionRecord {
  accountId: string;
  /** A UUID, as Athena's query execution ids are. */
  id: string;
  query: string;
  database: string;
  workGroup: string;
  /** Where the result CSV is also written (`ResultConfiguration.OutputLocation`), if given. */
  outputLocation: string | null;
  state: QueryState;
  stateChangeReason: string | null;
  /** The result's columns, names and Athena type names. */
  columns: { name: string; type: string }[] | null;
  /** The result CSV in the blob store (encrypted with the query's data key). */
  resultKey: string | null;
  dataKey: string;
  rows: number | null;
  dataScannedBytes: number | null;
  engineMs: number | null;
  submissionTime: number;
  completionTime: number | null;
}
