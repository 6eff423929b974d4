/**
 * The workflow service's entities: what the metadata store keeps for workflows, their versions, runs and
 * tasks, and the log events of runs. Enum values are the API's (botocore's omics model).
 */
export type WorkflowEngine = 'WDL' | 'NEXTFLOW' | 'CWL' | 'WDL_LENIENT';
export type WorkflowStatus = 'CREATING' | 'ACTIVE' | 'UPDATING' | 'DELETED' | 'FAILED' | 'INACTIVE';
export type StorageType = 'STATIC' | 'DYNAMIC';
export type RunStatus = 'PENDING' | 'STARTING' | 'RUNNING' | 'STOPPING' | 'COMPLETED' | 'DELETED' | 'CANCELLED' | 'FAILED';
export type TaskStatus = 'PENDING' | 'STARTING' | 'RUNNING' | 'STOPPING' | 'COMPLETED' | 'CANCELLED' | 'FAILED';
export type RunLogLevel = 'OFF' | 'FATAL' | 'ERROR' | 'ALL';
export type RunRetentionMode = 'RETAIN' | 'REMOVE';

export interface WorkflowParameter {
  description?: string;
  optional?: boolean;
}
export type ParameterTemplate = Record<string, WorkflowParameter>;

/**
 * A workflow or one of its versions: one row each, keyed by (account, workflow id, version name); the
 * workflow itself (its default version) has the empty version name.
 */
export interface WorkflowRecord {
  accountId: string;
  id: string;
  versionName: string;
  uuid: string;
  name: string | null;
  description: string | null;
  engine: WorkflowEngine | null;
  status: WorkflowStatus;
  statusMessage: string | null;
  main: string | null;
  /** `sha256:<hex>` of the definition zip as stored. */
  digest: string | null;
  /** The wrapped data key the definition and README blobs are encrypted with. */
  dataKey: string;
  /** Blob key of the definition zip (immutable once written). */
  definitionKey: string | null;
  definitionSize: number | null;
  readmeKey: string | null;
  readmePath: string | null;
  parameterTemplate: ParameterTemplate | null;
  /** True when `parameterTemplate` was given by the user (it overrides what the definition declares). */
  templateGiven: boolean;
  storageType: StorageType;
  storageCapacity: number | null;
  accelerators: string | null;
  containerRegistryMap: unknown;
  creationTime: number;
}

export interface RunRecord {
  accountId: string;
  id: string;
  uuid: string;
  workflowId: string;
  workflowVersionName: string | null;
  workflowUuid: string;
  name: string | null;
  status: RunStatus;
  statusMessage: string | null;
  failureReason: string | null;
  roleArn: string;
  startedBy: string;
  priority: number;
  parameters: Record<string, unknown>;
  storageType: StorageType;
  storageCapacity: number | null;
  outputUri: string;
  runOutputUri: string;
  logLevel: RunLogLevel;
  retentionMode: RunRetentionMode;
  engine: WorkflowEngine;
  engineVersion: string | null;
  digest: string;
  main: string | null;
  resourceDigests: Record<string, string>;
  /** The run this one duplicates (StartRun `runId`). */
  sourceRunId: string | null;
  runGroupId: string | null;
  /** The run batch that submitted this run (StartRunBatch). */
  batchId: string | null;
  /** The account whose workflow this is, when it was shared with the run's account. */
  workflowOwnerId: string | null;
  networkingMode: NetworkingMode;
  /** The configuration named at StartRun (networkingMode VPC). */
  configurationName: string | null;
  /** The run cache its tasks use (StartRun cacheId), and when entries are written. */
  cacheId: string | null;
  cacheBehavior: CacheBehavior | null;
  creationTime: number;
  startTime: number | null;
  stopTime: number | null;
}

export type NetworkingMode = 'RESTRICTED' | 'VPC';
export type CacheBehavior = 'CACHE_ON_FAILURE' | 'CACHE_ALWAYS';

/** A run cache (spec §2.7, §4.14): where task results are kept and reused from, across runs and workflows. */
export interface RunCacheRecord {
  accountId: string;
  id: string;
  uuid: string;
  name: string | null;
  description: string | null;
  cacheS3Location: string;
  cacheBucketOwnerId: string;
  cacheBehavior: CacheBehavior;
  status: 'ACTIVE' | 'DELETED' | 'FAILED';
  creationTime: number;
}

/** One task's results kept in a run cache: found by the task's cache key, read from its folder under the cache location. */
export interface RunCacheEntryRecord {
  cacheId: string;
  cacheKey: string;
  /** `<cacheS3Location>/<cache uuid>/<runId>/<taskId>/<entry uuid>` */
  entryUri: string;
  entryUuid: string;
  runId: string;
  taskId: string;
  creationTime: number;
}

/**
 * A run group (spec §2.6, §4.11): limits over the runs started in it — concurrent runs, concurrent vCPUs and
 * GPUs of their running tasks — and the longest a run may take (minutes).
 */
export interface RunGroupRecord {
  accountId: string;
  id: string;
  name: string | null;
  maxCpus: number | null;
  maxGpus: number | null;
  maxRuns: number | null;
  /** Minutes. */
  maxDuration: number | null;
  creationTime: number;
}

/**
 * A configuration (spec §2.10): in HealthOmics, the VPC a run's tasks reach. Here, a run started with
 * networkingMode VPC and this configuration gets a container network for its tasks (docs/workflows.md).
 */
export interface ConfigurationRecord {
  accountId: string;
  name: string;
  uuid: string;
  description: string | null;
  securityGroupIds: string[];
  subnetIds: string[];
  status: 'ACTIVE' | 'DELETED';
  creationTime: number;
}

export type BatchStatus = 'CREATING' | 'PENDING' | 'SUBMITTING' | 'INPROGRESS' | 'STOPPING' | 'CANCELLED' | 'FAILED' | 'PROCESSED' | 'RUNS_DELETING' | 'RUNS_DELETED';

/** StartRun's input (spec §2.4). */
export interface StartRunInput {
  workflowId?: string;
  workflowType?: string;
  runId?: string;
  roleArn: string;
  name?: string;
  cacheId?: string;
  cacheBehavior?: string;
  runGroupId?: string;
  priority?: number;
  parameters?: unknown;
  storageCapacity?: number;
  outputUri: string;
  logLevel?: RunLogLevel;
  tags?: Record<string, string>;
  requestId: string;
  retentionMode?: RunRetentionMode;
  storageType?: StorageType;
  workflowOwnerId?: string;
  workflowVersionName?: string;
  networkingMode?: string;
  configurationName?: string;
}

/** StartRunBatch's defaultRunSetting: StartRun's settings, merged with each run's own (which win). */
export type DefaultRunSetting = Omit<StartRunInput, 'workflowId' | 'runId' | 'outputUri' | 'tags' | 'requestId'> & {
  workflowId: string;
  outputUri?: string;
  runTags?: Record<string, string>;
  outputBucketOwnerId?: string;
};

/** One run of a batch as given (inlineSettings, or an entry of the s3UriSettings file). */
export interface InlineRunSetting {
  runSettingId: string;
  name?: string;
  outputUri?: string;
  priority?: number;
  parameters?: unknown;
  outputBucketOwnerId?: string;
  runTags?: Record<string, string>;
}

/** A run batch (spec §2.9): many runs of one workflow, submitted gradually by the `RunBatch` job. */
export interface RunBatchRecord {
  accountId: string;
  id: string;
  uuid: string;
  name: string | null;
  status: BatchStatus;
  defaultRunSetting: DefaultRunSetting;
  /** Where the run settings come from when they were not given inline (s3UriSettings). */
  settingsUri: string | null;
  /** The settings file's ETag (or MD5) when the batch started: a changed file fails the batch. */
  settingsEtag: string | null;
  totalRuns: number | null;
  startedBy: string;
  failureReason: string | null;
  creationTime: number;
  submittedTime: number | null;
  processedTime: number | null;
  failedTime: number | null;
}

export type BatchStartStatus = 'SUCCESS' | 'FAILED';
export type BatchSubmissionStatus = BatchStartStatus | 'CANCEL_SUCCESS' | 'CANCEL_FAILED' | 'DELETE_SUCCESS' | 'DELETE_FAILED';

/** One run of a batch: its setting, and what became of its start (and of its cancel and delete, if asked). */
export interface BatchRunRecord {
  batchId: string;
  /** Its place in the batch's settings (0-based). */
  seq: number;
  runSettingId: string;
  setting: InlineRunSetting;
  startStatus: BatchStartStatus | null;
  cancelStatus: 'CANCEL_SUCCESS' | 'CANCEL_FAILED' | null;
  deleteStatus: 'DELETE_SUCCESS' | 'DELETE_FAILED' | null;
  /** The latest of the three (ListRunsInBatch's submissionStatus); null while the start is pending. */
  submissionStatus: BatchSubmissionStatus | null;
  failureReason: string | null;
  failureMessage: string | null;
  runId: string | null;
  runUuid: string | null;
}

export interface TaskUtilization {
  cpusAverage?: number;
  cpusMaximum?: number;
  memoryAverageGiB?: number;
  memoryMaximumGiB?: number;
  runningSeconds?: number;
}

export interface TaskRecord {
  runId: string;
  id: string;
  uuid: string;
  name: string;
  status: TaskStatus;
  statusMessage: string | null;
  failureReason: string | null;
  cpus: number;
  /** GiB. */
  memory: number;
  gpus: number;
  image: string | null;
  imageDigest: string | null;
  exitCode: number | null;
  utilization: TaskUtilization | null;
  /** Its results came from the run cache (the task was not run), at this entry. */
  cacheHit: boolean;
  cacheS3Uri: string | null;
  creationTime: number;
  startTime: number | null;
  stopTime: number | null;
}

/** One line of a log stream (CloudWatch Logs' model: group, stream, events in order). */
export interface LogEvent {
  timestamp: number;
  message: string;
}
