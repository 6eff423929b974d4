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
