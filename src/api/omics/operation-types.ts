import type { Partition } from '../../core/arn.js';
import type { Principal } from '../../iam/identity.js';
import type { SequenceStoreService } from '../../domain/sequence-stores.js';
import type { ReferenceStoreService } from '../../domain/reference-stores.js';
import type { TagService } from '../../domain/tags.js';
import type { ReadSetService } from '../../domain/read-sets.js';
import type { ReferenceService } from '../../domain/references.js';
import type { UploadService } from '../../domain/uploads.js';
import type { ReadSetJobService } from '../../domain/read-set-jobs.js';
import type { ArchiveService } from '../../domain/archive.js';
import type { S3AccessPolicyService } from '../../domain/s3-access-policy.js';

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
  partition: Partition;
}

/** A parsed input, as the model-driven serde gives it (typed per operation: issue 13, not yet). */
export type In = Record<string, any>;
export interface OperationImpl {
  resource(input: In, principal: Principal, s: Services): string;
  handle(input: In, principal: Principal, s: Services): Promise<Record<string, unknown> | undefined>;
}
