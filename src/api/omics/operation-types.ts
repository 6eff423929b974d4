import type { Partition } from '../../core/arn.js';
import type { Principal } from '../../iam/identity.js';
import type { SequenceStoreService } from '../../storage/sequence-stores.js';
import type { ReferenceStoreService } from '../../storage/reference-stores.js';
import type { TagService } from '../../storage/tags.js';
import type { ReadSetService } from '../../storage/read-sets.js';
import type { ReferenceService } from '../../storage/references.js';
import type { UploadService } from '../../storage/uploads.js';
import type { ReadSetJobService } from '../../storage/read-set-jobs.js';
import type { ArchiveService } from '../../storage/archive.js';
import type { S3AccessPolicyService } from '../../storage/s3-access-policy.js';
import type { WorkflowService } from '../../workflows/workflows.js';
import type { RunService } from '../../workflows/runs.js';
import type { RunGroupService } from '../../workflows/run-groups.js';
import type { ConfigurationService } from '../../workflows/configurations.js';
import type { RunBatchService } from '../../workflows/run-batches.js';
import type { RunCacheService } from '../../workflows/run-caches.js';
import type { RunLogService } from '../../workflows/run-logs.js';
import type { VariantStoreService } from '../../analytics/variant-stores.js';
import type { VariantImportService } from '../../analytics/variant-imports.js';
import type { QueryService } from '../../analytics/queries.js';
import type { ShareService } from '../../shares/shares.js';
import type { AnnotationStoreService } from '../../analytics/annotation-stores.js';
import type { AnnotationImportService } from '../../analytics/annotation-imports.js';
import type { OperationShapes } from './wire-shapes.js';

/**
 * The operations this edge implements: for each, the IAM resource it acts on
 * and a handler that maps the parsed input to a domain call and the domain's
 * answer to the output shape. Everything not listed here answers
 * NotSupportedOperationException naming the operation (see docs/compatibility.md).
 */
export interface Services {
  sequenceStores: SequenceStoreService;
  referenceStores: ReferenceStoreService;
  tags: TagService;
  readSets: ReadSetService;
  uploads: UploadService;
  readSetJobs: ReadSetJobService;
  archive: ArchiveService;
  s3AccessPolicies: S3AccessPolicyService;
  references: ReferenceService;
  workflows: WorkflowService;
  runs: RunService;
  runGroups: RunGroupService;
  configurations: ConfigurationService;
  runBatches: RunBatchService;
  runCaches: RunCacheService;
  runLogs: RunLogService;
  variantStores: VariantStoreService;
  variantImports: VariantImportService;
  annotationStores: AnnotationStoreService;
  annotationImports: AnnotationImportService;
  queries: QueryService;
  shares: ShareService;
  partition: Partition;
}

/** What a handler may know of the request beyond its input: the URL clients reached the server at (for links). */
export interface RequestContext {
  baseUrl: string;
}

export type OperationName = keyof OperationShapes;
/** An operation's input as the serde hands it over: validated against the model, typed from it (wire-shapes.ts). */
export type Input<N extends OperationName> = OperationShapes[N]['input'];
/** What an operation's handler returns: the output shape, required members required. */
export type Output<N extends OperationName> = OperationShapes[N]['output'];

export interface Handler<N extends OperationName> {
  /** The IAM resource the call acts on (authorization happens before `handle`). */
  resource(input: Input<N>, principal: Principal, s: Services): string;
  handle(input: Input<N>, principal: Principal, s: Services, request: RequestContext): Promise<Output<N>>;
  /** Further permissions the call needs beyond `omics:<Operation>` (StartRun: `iam:PassRole` on its roleArn). */
  alsoRequires?(input: Input<N>, principal: Principal, s: Services): { action: string; resource: string }[];
}

/** Handlers by operation name; an operation's entry can only take its own input and return its own output. */
export type OperationTable = { [N in OperationName]?: Handler<N> };
