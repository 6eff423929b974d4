/**
 * What the storage service keeps about its aggregates: sequence and reference stores, read sets, references,
 * direct uploads and their parts, and connected storage. Plain data, times in epoch milliseconds; the words of
 * the vocabulary are the API's own (the model's enums), so a status the API cannot show cannot be stored.
 *
 * The domain owns these types; the metadata store (src/db/) persists them and imports this file and nothing
 * else of the domain (the one import .dependency-cruiser.cjs lets a backend make upward: a port's types).
 */

export type SequenceStoreStatus = 'CREATING' | 'ACTIVE' | 'UPDATING' | 'DELETING' | 'FAILED';
export type ReadSetStatus = 'ARCHIVED' | 'ACTIVATING' | 'ACTIVE' | 'DELETING' | 'DELETED' | 'PROCESSING_UPLOAD' | 'UPLOAD_FAILED';
export type ReferenceStatus = 'ACTIVE' | 'DELETING' | 'DELETED';
export type FileType = 'FASTQ' | 'BAM' | 'CRAM' | 'UBAM';
export type EncryptionType = 'KMS';
export type ETagAlgorithmFamily = 'MD5up' | 'SHA256up' | 'SHA512up';
export type ETagAlgorithm = `${'FASTQ' | 'BAM' | 'CRAM'}_${ETagAlgorithmFamily}`;
export type CreationType = 'IMPORT' | 'UPLOAD';
export type ReadSetPartSource = 'SOURCE1' | 'SOURCE2';
export type UploadStatus = 'IN_PROGRESS' | 'COMPLETED' | 'ABORTED';

export interface SequenceStoreRecord {
  id: string;
  accountId: string;
  name: string;
  description: string | null;
  sseType: EncryptionType;
  sseKeyArn: string | null;
  dataKey: string;
  fallbackLocation: string | null;
  eTagAlgorithmFamily: ETagAlgorithmFamily;
  status: SequenceStoreStatus;
  statusMessage: string | null;
  propagatedSetLevelTags: string[];
  accessLogLocation: string | null;
  accessPointName: string;
  accessPointAlias: string;
  creationTime: number;
  updateTime: number;
  /** null: the default policy; '': deleted (no S3 access); else the policy document. */
  s3AccessPolicy: string | null;
  s3AccessPolicyTime: number | null;
}

export type SequenceStorePatch = Partial<
  Pick<SequenceStoreRecord, 'name' | 'description' | 'fallbackLocation' | 'propagatedSetLevelTags' | 'accessLogLocation' | 'status' | 'statusMessage' | 's3AccessPolicy' | 's3AccessPolicyTime'>
> & { updateTime: number };

export interface ReferenceStoreRecord {
  id: string;
  accountId: string;
  name: string;
  description: string | null;
  sseType: EncryptionType;
  sseKeyArn: string | null;
  dataKey: string;
  creationTime: number;
}

/** One stored file of a read set or reference. */
export interface StoredFile {
  blobKey: string;
  /**
   * While the read set is ARCHIVED: its key in the cold tier, unique to the sweep that archived it (so racing
   * sweeps never touch each other's copies). Absent: the cold copy is at `blobKey` (read sets archived before).
   */
  coldBlobKey?: string;
  /** The file name under the S3 view (spec §2.10). */
  name: string;
  contentLength: number;
  partSize: number;
  /**
   * S3's full-object CRC32 of the file's bytes (base64 of the big-endian value), taken as they were stored; what
   * the S3 view answers `x-amz-checksum-crc32` with and `openomics download` checks. Absent for files stored
   * before it was recorded.
   */
  crc32?: string;
}

export interface ReadSetFiles {
  source1?: StoredFile;
  source2?: StoredFile;
  index?: StoredFile;
}

export interface SequenceInformation {
  totalReadCount: number;
  totalBaseCount: number;
  generatedFrom?: string;
  alignment: string;
}

export interface ReadSetETag {
  algorithm: ETagAlgorithm;
  source1: string;
  source2?: string;
}

export interface ReadSetRecord {
  id: string;
  sequenceStoreId: string;
  accountId: string;
  status: ReadSetStatus;
  statusMessage: string | null;
  name: string | null;
  description: string | null;
  subjectId: string;
  sampleId: string;
  generatedFrom: string | null;
  referenceArn: string | null;
  fileType: FileType;
  creationType: CreationType;
  creationJobId: string | null;
  sequenceInformation: SequenceInformation | null;
  etag: ReadSetETag | null;
  files: ReadSetFiles;
  creationTime: number;
  updateTime: number;
  lastAccessTime: number;
}

export type ReadSetPatch = Partial<Pick<ReadSetRecord, 'status' | 'statusMessage' | 'sequenceInformation' | 'etag' | 'files' | 'lastAccessTime'>> & {
  updateTime: number;
};

export interface ReferenceSequenceRecord {
  name: string;
  length: number;
  md5: string;
}

export interface ReferenceRecord {
  id: string;
  referenceStoreId: string;
  accountId: string;
  status: ReferenceStatus;
  name: string;
  description: string | null;
  md5: string;
  creationJobId: string | null;
  files: { source?: StoredFile; index?: StoredFile };
  sequences: ReferenceSequenceRecord[];
  creationTime: number;
  updateTime: number;
}

export interface UploadRecord {
  id: string;
  sequenceStoreId: string;
  accountId: string;
  /** IN_PROGRESS while parts may arrive; COMPLETED or ABORTED afterwards. */
  status: UploadStatus;
  sourceFileType: FileType;
  subjectId: string;
  sampleId: string;
  name: string;
  generatedFrom: string | null;
  referenceArn: string | null;
  description: string | null;
  tags: Record<string, string>;
  readSetId: string | null;
  creationTime: number;
}

export interface PartRecord {
  uploadId: string;
  partSource: ReadSetPartSource;
  partNumber: number;
  partSize: number;
  checksum: string;
  blobKey: string;
  creationTime: number;
  lastUpdatedTime: number;
}

/** A customer's S3-compatible location (connected storage); the secret is sealed by the caller. */
export interface ConnectionRecord {
  accountId: string;
  name: string;
  config: {
    bucket: string;
    prefix: string;
    endpoint?: string;
    region: string;
    forcePathStyle: boolean;
    versioned: boolean;
    sse?: { type: 'SSE-S3' | 'SSE-KMS'; kmsKeyId?: string };
    accessKeyId?: string;
    /** Assume this role (with the external id) using the access key above. */
    roleArn?: string;
    externalId?: string;
    /** Only jobs naming this roleArn use the connection (unset: any job). */
    jobRoleArn?: string;
  };
  secretEnc: string | null;
  createdAt: number;
}
