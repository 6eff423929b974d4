import { readSetArn, referenceArn, referenceStoreArn, sequenceStoreArn } from '../../core/arn.js';
import { date, maybeDate, opt, page } from './wire-values.js';
import type { JobRecord } from '../../db/job-records.js';
import type { StoredFile, UploadRecord } from '../../storage/entities.js';
import type { ReadSetView } from '../../storage/read-sets.js';
import type { ReferenceImportPayload, ReferenceView } from '../../storage/references.js';
import { totalParts } from '../../storage/read-set-files.js';
import type { ReadSetActivationPayload } from '../../storage/archive.js';
import type { ReadSetExportPayload, ReadSetImportPayload } from '../../storage/read-set-jobs.js';
import type { OperationTable, Output, Services } from './operation-types.js';
import type {
  ActivateReadSetJobItem,
  ExportReadSetJobDetail,
  FileInformation,
  ImportReadSetJobItem,
  ImportReferenceJobItem,
  MultipartReadSetUploadListItem,
  ReadSetListItem,
  ReferenceListItem,
} from './wire-shapes.js';
import type { Principal } from '../../iam/identity.js';

/**
 * The data-plane operations: direct upload, read sets, references and their
 * import jobs. Same shape as operations.ts: an IAM resource and a handler that
 * maps the parsed input to a domain call and the answer to the output shape.
 */
const range = (f: { createdAfter?: Date; createdBefore?: Date } | undefined) => ({
  ...(f?.createdAfter ? { after: f.createdAfter.getTime() } : {}),
  ...(f?.createdBefore ? { before: f.createdBefore.getTime() } : {}),
});

function fileOut(f: StoredFile | undefined, s3Uri?: string): FileInformation | undefined {
  if (!f) return undefined;
  return { totalParts: totalParts(f), partSize: f.partSize, contentLength: f.contentLength, ...(s3Uri ? { s3Access: { s3Uri } } : {}) };
}

function readSetItem(r: ReadSetView): ReadSetListItem {
  return {
    id: r.id,
    arn: r.arn,
    sequenceStoreId: r.sequenceStoreId,
    subjectId: r.subjectId,
    sampleId: r.sampleId,
    status: r.status,
    name: opt(r.name),
    description: opt(r.description),
    referenceArn: opt(r.referenceArn),
    fileType: r.fileType,
    sequenceInformation: opt(r.sequenceInformation),
    creationTime: date(r.creationTime),
    statusMessage: opt(r.statusMessage),
    creationType: r.creationType,
    etag: opt(r.etag),
  };
}

function readSetMetadata(r: ReadSetView): Output<'GetReadSetMetadata'> {
  const files =
    r.status === 'PROCESSING_UPLOAD' || r.status === 'UPLOAD_FAILED'
      ? undefined
      : {
          source1: fileOut(r.files.source1, r.s3Uris.source1),
          source2: fileOut(r.files.source2, r.s3Uris.source2),
          index: fileOut(r.files.index, r.s3Uris.index),
        };
  return { ...readSetItem(r), files, creationJobId: opt(r.creationJobId) };
}

function referenceItem(r: ReferenceView): ReferenceListItem {
  return {
    id: r.id,
    arn: r.arn,
    referenceStoreId: r.referenceStoreId,
    md5: r.md5,
    status: r.status,
    name: r.name,
    description: opt(r.description),
    creationTime: date(r.creationTime),
    updateTime: date(r.updateTime),
  };
}

function uploadOut(u: UploadRecord): MultipartReadSetUploadListItem {
  return {
    sequenceStoreId: u.sequenceStoreId,
    uploadId: u.id,
    sourceFileType: u.sourceFileType,
    subjectId: u.subjectId,
    sampleId: u.sampleId,
    generatedFrom: opt(u.generatedFrom),
    referenceArn: opt(u.referenceArn),
    name: u.name,
    description: opt(u.description),
    tags: u.tags,
    creationTime: date(u.creationTime),
  };
}

/** What every job's output has: id, status and times (the store and the rest are the caller's). */
const jobTimes = (j: JobRecord<unknown>) => ({ id: j.id, status: j.status, creationTime: date(j.creationTime), completionTime: maybeDate(j.completionTime) });
/** What a job's Get output adds: its status message. */
const jobMessage = (j: JobRecord<unknown>) => ({ statusMessage: opt(j.statusMessage) });

/** An item as the API shows it: the id of what it created only once it FINISHED. */
function itemOut<T extends { status: string }, K extends keyof T>(item: T, createdKey: K): Omit<T, K> & Partial<Pick<T, K>> {
  const { [createdKey]: created, ...rest } = item;
  return { ...rest, ...(item.status === 'FINISHED' && created !== undefined ? { [createdKey]: created } : {}) } as Omit<T, K> & Partial<Pick<T, K>>;
}

const referenceImportJob = (j: JobRecord<ReferenceImportPayload>): ImportReferenceJobItem => ({ ...jobTimes(j), referenceStoreId: j.storeId, roleArn: j.payload.roleArn });
const importJob = (j: JobRecord<ReadSetImportPayload>): ImportReadSetJobItem => ({ ...jobTimes(j), sequenceStoreId: j.storeId, roleArn: j.payload.roleArn });
const exportJob = (j: JobRecord<ReadSetExportPayload>): ExportReadSetJobDetail => ({ ...jobTimes(j), sequenceStoreId: j.storeId, destination: j.payload.destination });
const activationJob = (j: JobRecord<ReadSetActivationPayload>): ActivateReadSetJobItem => ({ ...jobTimes(j), sequenceStoreId: j.storeId });

const seqArn = (p: Principal, s: Services, id: string) => sequenceStoreArn(s.partition, p.accountId, id);
const rsArn = (p: Principal, s: Services, storeId: string, id: string) => readSetArn(s.partition, p.accountId, storeId, id);
const refStoreArn = (p: Principal, s: Services, id: string) => referenceStoreArn(s.partition, p.accountId, id);
const refArn = (p: Principal, s: Services, storeId: string, id: string) => referenceArn(s.partition, p.accountId, storeId, id);

export const DATA_OPERATIONS = {
  // ---- direct upload
  CreateMultipartReadSetUpload: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => {
      const { sequenceStoreId, ...rest } = i;
      return uploadOut(await s.uploads.create(p.accountId, sequenceStoreId, rest));
    },
  },
  UploadReadSetPart: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => ({ checksum: await s.uploads.uploadPart(p.accountId, i.sequenceStoreId, i.uploadId, i.partSource, i.partNumber, i.payload) }),
  },
  ListReadSetUploadParts: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => {
      const res = await s.uploads.listParts(p.accountId, i.sequenceStoreId, i.uploadId, i.partSource, range(i.filter), page(i));
      return {
        parts: res.items.map((x) => ({
          partNumber: x.partNumber,
          partSize: x.partSize,
          partSource: x.partSource,
          checksum: x.checksum,
          creationTime: date(x.creationTime),
          lastUpdatedTime: date(x.lastUpdatedTime),
        })),
        nextToken: res.nextToken,
      };
    },
  },
  ListMultipartReadSetUploads: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => {
      const res = await s.uploads.listUploads(p.accountId, i.sequenceStoreId, page(i));
      return {
        uploads: res.items.map(uploadOut),
        nextToken: res.nextToken,
      };
    },
  },
  CompleteMultipartReadSetUpload: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => ({ readSetId: await s.uploads.complete(p.accountId, i.sequenceStoreId, i.uploadId, i.parts) }),
  },
  AbortMultipartReadSetUpload: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => {
      await s.uploads.abort(p.accountId, i.sequenceStoreId, i.uploadId);
      return {};
    },
  },

  // ---- read sets
  GetReadSet: {
    resource: (i, p, s) => rsArn(p, s, i.sequenceStoreId, i.id),
    handle: async (i, p, s) => ({ payload: await s.readSets.openPart(p.accountId, i.sequenceStoreId, i.id, i.file ?? 'SOURCE1', i.partNumber) }),
  },
  GetReadSetMetadata: {
    resource: (i, p, s) => rsArn(p, s, i.sequenceStoreId, i.id),
    handle: async (i, p, s) => readSetMetadata(await s.readSets.get(p.accountId, i.sequenceStoreId, i.id)),
  },
  ListReadSets: {
    resource: (i, p, s) => rsArn(p, s, i.sequenceStoreId, '*'),
    handle: async (i, p, s) => {
      const f = i.filter ?? {};
      const res = await s.readSets.list(
        p.accountId,
        i.sequenceStoreId,
        {
          name: f.name,
          status: f.status,
          referenceArn: f.referenceArn,
          created: range(f),
          sampleId: f.sampleId,
          subjectId: f.subjectId,
          generatedFrom: f.generatedFrom,
          creationType: f.creationType,
        },
        page(i),
      );
      return { readSets: res.items.map(readSetItem), nextToken: res.nextToken };
    },
  },
  BatchDeleteReadSet: {
    resource: (i, p, s) => rsArn(p, s, i.sequenceStoreId, '*'),
    handle: async (i, p, s) => {
      const errors = await s.readSets.batchDelete(p.accountId, i.sequenceStoreId, i.ids);
      return errors.length ? { errors } : {};
    },
  },

  // ---- read set import and export jobs
  StartReadSetImportJob: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) =>
      importJob(await s.readSetJobs.startImport(p.accountId, i.sequenceStoreId, { roleArn: i.roleArn, clientToken: i.clientToken, sources: i.sources })),
  },
  GetReadSetImportJob: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => {
      const j = await s.readSetJobs.getImport(p.accountId, i.sequenceStoreId, i.id);
      return { ...importJob(j), ...jobMessage(j), sources: j.payload.items.map((x) => itemOut(x, 'readSetId')) };
    },
  },
  ListReadSetImportJobs: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => {
      const f = i.filter ?? {};
      const res = await s.readSetJobs.listImports(p.accountId, i.sequenceStoreId, { status: f.status, created: range(f) }, page(i));
      return { importJobs: res.items.map(importJob), nextToken: res.nextToken };
    },
  },
  StartReadSetExportJob: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) =>
      exportJob(await s.readSetJobs.startExport(p.accountId, i.sequenceStoreId, { roleArn: i.roleArn, destination: i.destination, clientToken: i.clientToken, sources: i.sources })),
  },
  GetReadSetExportJob: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => {
      const j = await s.readSetJobs.getExport(p.accountId, i.sequenceStoreId, i.id);
      return { ...exportJob(j), ...jobMessage(j), readSets: j.payload.items.map((x) => ({ id: x.readSetId, status: x.status, statusMessage: x.statusMessage })) };
    },
  },
  ListReadSetExportJobs: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => {
      const f = i.filter ?? {};
      const res = await s.readSetJobs.listExports(p.accountId, i.sequenceStoreId, { status: f.status, created: range(f) }, page(i));
      return { exportJobs: res.items.map(exportJob), nextToken: res.nextToken };
    },
  },

  StartReadSetActivationJob: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => activationJob(await s.archive.startActivation(p.accountId, i.sequenceStoreId, { clientToken: i.clientToken, sources: i.sources })),
  },
  GetReadSetActivationJob: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => {
      const j = await s.archive.getActivation(p.accountId, i.sequenceStoreId, i.id);
      return { ...activationJob(j), ...jobMessage(j), sources: j.payload.items.map((x) => ({ readSetId: x.readSetId, status: x.status, statusMessage: x.statusMessage })) };
    },
  },
  ListReadSetActivationJobs: {
    resource: (i, p, s) => seqArn(p, s, i.sequenceStoreId),
    handle: async (i, p, s) => {
      const f = i.filter ?? {};
      const res = await s.archive.listActivations(p.accountId, i.sequenceStoreId, { status: f.status, created: range(f) }, page(i));
      return { activationJobs: res.items.map(activationJob), nextToken: res.nextToken };
    },
  },

  // ---- S3 access policies (the access point ARN is the resource)
  PutS3AccessPolicy: {
    resource: (i) => i.s3AccessPointArn,
    handle: async (i, p, s) => {
      const r = await s.s3AccessPolicies.put(p.accountId, i.s3AccessPointArn, i.s3AccessPolicy);
      return { s3AccessPointArn: i.s3AccessPointArn, storeId: r.storeId, storeType: 'SEQUENCE_STORE' };
    },
  },
  GetS3AccessPolicy: {
    resource: (i) => i.s3AccessPointArn,
    handle: async (i, p, s) => {
      const r = await s.s3AccessPolicies.get(p.accountId, i.s3AccessPointArn);
      return { s3AccessPointArn: i.s3AccessPointArn, storeId: r.storeId, storeType: 'SEQUENCE_STORE', updateTime: date(r.updateTime), s3AccessPolicy: r.policy };
    },
  },
  DeleteS3AccessPolicy: {
    resource: (i) => i.s3AccessPointArn,
    handle: async (i, p, s) => {
      await s.s3AccessPolicies.delete(p.accountId, i.s3AccessPointArn);
      return {};
    },
  },

  // ---- references
  StartReferenceImportJob: {
    resource: (i, p, s) => refStoreArn(p, s, i.referenceStoreId),
    handle: async (i, p, s) => {
      const j = await s.references.startImportJob(p.accountId, i.referenceStoreId, { roleArn: i.roleArn, clientToken: i.clientToken, sources: i.sources });
      return referenceImportJob(j);
    },
  },
  GetReferenceImportJob: {
    resource: (i, p, s) => refStoreArn(p, s, i.referenceStoreId),
    handle: async (i, p, s) => {
      const j = await s.references.getImportJob(p.accountId, i.referenceStoreId, i.id);
      return { ...referenceImportJob(j), ...jobMessage(j), sources: j.payload.items.map((x) => itemOut(x, 'referenceId')) };
    },
  },
  ListReferenceImportJobs: {
    resource: (i, p, s) => refStoreArn(p, s, i.referenceStoreId),
    handle: async (i, p, s) => {
      const f = i.filter ?? {};
      const res = await s.references.listImportJobs(p.accountId, i.referenceStoreId, { status: f.status, created: range(f) }, page(i));
      return { importJobs: res.items.map(referenceImportJob), nextToken: res.nextToken };
    },
  },
  GetReferenceMetadata: {
    resource: (i, p, s) => refArn(p, s, i.referenceStoreId, i.id),
    handle: async (i, p, s) => {
      const r = await s.references.get(p.accountId, i.referenceStoreId, i.id);
      return {
        ...referenceItem(r),
        files: { source: fileOut(r.files.source), index: fileOut(r.files.index) },
        creationType: 'IMPORT',
        creationJobId: opt(r.creationJobId),
      };
    },
  },
  GetReference: {
    resource: (i, p, s) => refArn(p, s, i.referenceStoreId, i.id),
    handle: async (i, p, s) => ({ payload: await s.references.open(p.accountId, i.referenceStoreId, i.id, i.file ?? 'SOURCE', i.partNumber, i.range) }),
  },
  ListReferences: {
    resource: (i, p, s) => refArn(p, s, i.referenceStoreId, '*'),
    handle: async (i, p, s) => {
      const f = i.filter ?? {};
      const res = await s.references.list(p.accountId, i.referenceStoreId, { name: f.name, md5: f.md5, created: range(f) }, page(i));
      return { references: res.items.map(referenceItem), nextToken: res.nextToken };
    },
  },
  DeleteReference: {
    resource: (i, p, s) => refArn(p, s, i.referenceStoreId, i.id),
    handle: async (i, p, s) => {
      await s.references.delete(p.accountId, i.referenceStoreId, i.id);
      return {};
    },
  },
} satisfies OperationTable;
