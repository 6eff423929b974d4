import { variantStoreArn } from '../../core/arn.js';
import type { Principal } from '../../iam/identity.js';
import type { JobRecord } from '../../db/job-records.js';
import { itemStatus } from '../../analytics/import-jobs.js';
import type { VariantImportPayload } from '../../analytics/variant-imports.js';
import type { VariantStoreView } from '../../analytics/variant-stores.js';
import type { AnnotationStoreVersionView, AnnotationStoreView } from '../../analytics/annotation-stores.js';
import type { AnnotationImportPayload } from '../../analytics/annotation-imports.js';
import type { TsvOptions } from '../../analytics/entities.js';
import type { ShareRecord } from '../../shares/entities.js';
import { date, maybeDate, page } from './wire-values.js';
import type { OperationTable, Services } from './operation-types.js';
import type { AnnotationImportJobItem, AnnotationStoreItem, AnnotationStoreVersionItem, FormatOptions, ShareDetails, TsvStoreOptions, VariantImportJobItem, VariantStoreItem } from './wire-shapes.js';

/**
 * The analytics operations (host prefix `analytics-`): variant stores and variant import jobs. Same shape as
 * operations.ts. Stores are named by name in paths and ARNs (spec analytics §1).
 */
const storeArn = (p: Principal, s: Services, name: string) => variantStoreArn(s.partition, p.accountId, name);

/** The List* filters of stores and import jobs, as the services take them. */
const storeFilter = (i: { ids?: string[]; filter?: { status?: string } }) => ({ ...(i.ids ? { ids: i.ids } : {}), ...(i.filter?.status ? { status: i.filter.status } : {}) });
const jobFilter = (i: { ids?: string[]; filter?: { status?: string; storeName?: string } }) => ({ ...storeFilter(i), ...(i.filter?.storeName ? { storeName: i.filter.storeName } : {}) });

function storeItem(v: VariantStoreView): VariantStoreItem {
  return {
    id: v.id,
    reference: { referenceArn: v.referenceArn },
    status: v.status,
    storeArn: v.arn,
    name: v.name,
    description: v.description ?? '',
    sseConfig: { type: v.sseType, ...(v.sseKeyArn ? { keyArn: v.sseKeyArn } : {}) },
    creationTime: date(v.creationTime),
    updateTime: date(v.updateTime),
    statusMessage: v.statusMessage ?? '',
    storeSizeBytes: v.sizeBytes,
  };
}

function importItem(j: JobRecord<VariantImportPayload | AnnotationImportPayload>): VariantImportJobItem {
  return {
    id: j.id,
    destinationName: j.payload.storeName,
    roleArn: j.payload.roleArn,
    status: j.status === 'CANCELLING' ? 'CANCELLED' : j.status,
    creationTime: date(j.creationTime),
    updateTime: date(j.completionTime ?? j.creationTime),
    completionTime: maybeDate(j.completionTime),
    runLeftNormalization: j.payload.runLeftNormalization,
    ...(j.payload.annotationFields ? { annotationFields: j.payload.annotationFields } : {}),
  };
}

export const ANALYTICS_OPERATIONS = {
  CreateVariantStore: {
    resource: (i, p, s) => storeArn(p, s, i.name ?? '*'),
    handle: async (i, p, s) => {
      const v = await s.variantStores.create(p.accountId, {
        referenceArn: i.reference.referenceArn!,
        ...(i.name !== undefined ? { name: i.name } : {}),
        ...(i.description !== undefined ? { description: i.description } : {}),
        ...(i.sseConfig ? { sseConfig: i.sseConfig } : {}),
        ...(i.tags ? { tags: i.tags } : {}),
      });
      return { id: v.id, reference: { referenceArn: v.referenceArn }, status: v.status, name: v.name, creationTime: date(v.creationTime) };
    },
  },
  GetVariantStore: {
    resource: (i, p, s) => storeArn(p, s, i.name),
    handle: async (i, p, s) => {
      const v = await s.variantStores.get(p.accountId, i.name);
      return { ...storeItem(v), tags: await s.tags.list(p.accountId, v.arn) };
    },
  },
  UpdateVariantStore: {
    resource: (i, p, s) => storeArn(p, s, i.name),
    handle: async (i, p, s) => {
      const v = await s.variantStores.update(p.accountId, i.name, i.description);
      const { storeArn: _, sseConfig: _s, statusMessage: _m, storeSizeBytes: _b, ...rest } = storeItem(v);
      return rest;
    },
  },
  DeleteVariantStore: {
    resource: (i, p, s) => storeArn(p, s, i.name),
    handle: async (i, p, s) => {
      await s.variantStores.delete(p.accountId, i.name, i.force ?? false);
      return { status: 'DELETING' as const };
    },
  },
  ListVariantStores: {
    resource: (_i, p, s) => storeArn(p, s, '*'),
    handle: async (i, p, s) => {
      const res = await s.variantStores.list(p.accountId, storeFilter(i), page(i));
      return { variantStores: res.items.map(storeItem), nextToken: res.nextToken };
    },
  },
  StartVariantImportJob: {
    resource: (i, p, s) => storeArn(p, s, i.destinationName),
    handle: async (i, p, s) => ({ jobId: await s.variantImports.start(p.accountId, i) }),
  },
  GetVariantImportJob: {
    resource: (_i, p, s) => storeArn(p, s, '*'),
    handle: async (i, p, s) => {
      const j = await s.variantImports.get(p.accountId, i.jobId);
      return {
        ...importItem(j),
        runLeftNormalization: j.payload.runLeftNormalization,
        statusMessage: j.statusMessage ?? '',
        items: j.payload.items.map((x) => ({ source: x.source, jobStatus: itemStatus(x), ...(x.statusMessage ? { statusMessage: x.statusMessage } : {}) })),
      };
    },
  },
  ListVariantImportJobs: {
    resource: (_i, p, s) => storeArn(p, s, '*'),
    handle: async (i, p, s) => {
      const res = await s.variantImports.list(p.accountId, jobFilter(i), page(i));
      return { variantImportJobs: res.items.map(importItem), nextToken: res.nextToken };
    },
  },
  CancelVariantImportJob: {
    resource: (_i, p, s) => storeArn(p, s, '*'),
    handle: async (i, p, s) => {
      await s.variantImports.cancel(p.accountId, i.jobId);
      return {};
    },
  },
} satisfies OperationTable;

const annotationArn = (p: Principal, s: Services, name: string, versionName?: string) =>
  `arn:${s.partition.partition}:omics:${s.partition.region}:${p.accountId}:annotationStore/${name}${versionName ? `/version/${versionName}` : ''}`;

function annotationStoreItem(v: AnnotationStoreView): AnnotationStoreItem {
  return {
    id: v.id,
    reference: v.referenceArn ? { referenceArn: v.referenceArn } : {},
    status: v.status,
    storeArn: v.arn,
    name: v.name,
    storeFormat: v.storeFormat,
    description: v.description ?? '',
    sseConfig: { type: v.sseType, ...(v.sseKeyArn ? { keyArn: v.sseKeyArn } : {}) },
    creationTime: date(v.creationTime),
    updateTime: date(v.updateTime),
    statusMessage: v.statusMessage ?? '',
    storeSizeBytes: v.sizeBytes,
  };
}

const tsv = (o: TsvOptions | null) => (o ? (o as TsvStoreOptions) : undefined);

function versionItem(v: AnnotationStoreVersionView): AnnotationStoreVersionItem {
  return {
    storeId: v.storeId,
    id: v.id,
    status: v.status,
    versionArn: v.arn,
    name: v.name,
    versionName: v.versionName,
    description: v.description ?? '',
    creationTime: date(v.creationTime),
    updateTime: date(v.updateTime),
    statusMessage: v.statusMessage ?? '',
    versionSizeBytes: v.sizeBytes,
  };
}

function annotationImportItem(j: JobRecord<AnnotationImportPayload>): AnnotationImportJobItem {
  return { ...importItem(j), versionName: j.payload.versionName };
}

export const ANNOTATION_OPERATIONS = {
  CreateAnnotationStore: {
    resource: (i, p, s) => annotationArn(p, s, i.name ?? '*'),
    handle: async (i, p, s) => {
      const v = await s.annotationStores.create(p.accountId, {
        storeFormat: i.storeFormat,
        ...(i.reference?.referenceArn ? { referenceArn: i.reference.referenceArn } : {}),
        ...(i.name !== undefined ? { name: i.name } : {}),
        ...(i.description !== undefined ? { description: i.description } : {}),
        ...(i.versionName !== undefined ? { versionName: i.versionName } : {}),
        ...(i.storeOptions?.tsvStoreOptions ? { tsvStoreOptions: i.storeOptions.tsvStoreOptions } : {}),
        ...(i.sseConfig ? { sseConfig: i.sseConfig } : {}),
        ...(i.tags ? { tags: i.tags } : {}),
      });
      return {
        id: v.id,
        ...(v.referenceArn ? { reference: { referenceArn: v.referenceArn } } : {}),
        storeFormat: v.storeFormat,
        ...(v.storeOptions ? { storeOptions: { tsvStoreOptions: tsv(v.storeOptions) } } : {}),
        status: v.status,
        name: v.name,
        versionName: v.versionName,
        creationTime: date(v.creationTime),
      };
    },
  },
  GetAnnotationStore: {
    resource: (i, p, s) => annotationArn(p, s, i.name),
    handle: async (i, p, s) => {
      const v = await s.annotationStores.get(p.accountId, i.name);
      return { ...annotationStoreItem(v), ...(v.storeOptions ? { storeOptions: { tsvStoreOptions: tsv(v.storeOptions) } } : {}), tags: await s.tags.list(p.accountId, v.arn), numVersions: v.numVersions };
    },
  },
  UpdateAnnotationStore: {
    resource: (i, p, s) => annotationArn(p, s, i.name),
    handle: async (i, p, s) => {
      const v = await s.annotationStores.update(p.accountId, i.name, i.description);
      const { storeArn: _, sseConfig: _s, statusMessage: _m, storeSizeBytes: _b, ...rest } = annotationStoreItem(v);
      return { ...rest, ...(v.storeOptions ? { storeOptions: { tsvStoreOptions: tsv(v.storeOptions) } } : {}) };
    },
  },
  DeleteAnnotationStore: {
    resource: (i, p, s) => annotationArn(p, s, i.name),
    handle: async (i, p, s) => {
      await s.annotationStores.delete(p.accountId, i.name, i.force ?? false);
      return { status: 'DELETING' as const };
    },
  },
  ListAnnotationStores: {
    resource: (_i, p, s) => annotationArn(p, s, '*'),
    handle: async (i, p, s) => {
      const res = await s.annotationStores.list(p.accountId, storeFilter(i), page(i));
      return { annotationStores: res.items.map(annotationStoreItem), nextToken: res.nextToken };
    },
  },
  CreateAnnotationStoreVersion: {
    resource: (i, p, s) => annotationArn(p, s, i.name, i.versionName),
    handle: async (i, p, s) => {
      const v = await s.annotationStores.createVersion(p.accountId, i.name, {
        versionName: i.versionName,
        ...(i.description !== undefined ? { description: i.description } : {}),
        ...(i.versionOptions?.tsvVersionOptions ? { tsvVersionOptions: i.versionOptions.tsvVersionOptions } : {}),
        ...(i.tags ? { tags: i.tags } : {}),
      });
      return { id: v.id, versionName: v.versionName, storeId: v.storeId, ...(v.versionOptions ? { versionOptions: { tsvVersionOptions: tsv(v.versionOptions) } } : {}), name: v.name, status: v.status, creationTime: date(v.creationTime) };
    },
  },
  GetAnnotationStoreVersion: {
    resource: (i, p, s) => annotationArn(p, s, i.name, i.versionName),
    handle: async (i, p, s) => {
      const v = await s.annotationStores.version(p.accountId, i.name, i.versionName);
      return { ...versionItem(v), ...(v.versionOptions ? { versionOptions: { tsvVersionOptions: tsv(v.versionOptions) } } : {}), tags: await s.tags.list(p.accountId, v.arn) };
    },
  },
  UpdateAnnotationStoreVersion: {
    resource: (i, p, s) => annotationArn(p, s, i.name, i.versionName),
    handle: async (i, p, s) => {
      const { versionArn: _, statusMessage: _m, versionSizeBytes: _b, ...rest } = versionItem(await s.annotationStores.updateVersion(p.accountId, i.name, i.versionName, i.description));
      return rest;
    },
  },
  ListAnnotationStoreVersions: {
    resource: (i, p, s) => annotationArn(p, s, i.name),
    handle: async (i, p, s) => {
      const res = await s.annotationStores.listVersions(p.accountId, i.name, i.filter?.status, page(i));
      return { annotationStoreVersions: res.items.map(versionItem), nextToken: res.nextToken };
    },
  },
  DeleteAnnotationStoreVersions: {
    resource: (i, p, s) => annotationArn(p, s, i.name),
    handle: async (i, p, s) => ({ errors: await s.annotationStores.deleteVersions(p.accountId, i.name, i.versions, i.force ?? false) }),
  },
  StartAnnotationImportJob: {
    resource: (i, p, s) => annotationArn(p, s, i.destinationName),
    handle: async (i, p, s) => ({ jobId: await s.annotationImports.start(p.accountId, i) }),
  },
  GetAnnotationImportJob: {
    resource: (_i, p, s) => annotationArn(p, s, '*'),
    handle: async (i, p, s) => {
      const j = await s.annotationImports.get(p.accountId, i.jobId);
      return {
        ...annotationImportItem(j),
        runLeftNormalization: j.payload.runLeftNormalization,
        statusMessage: j.statusMessage ?? '',
        completionTime: date(j.completionTime ?? j.creationTime),
        formatOptions: j.payload.formatOptions as FormatOptions,
        items: j.payload.items.map((x) => ({ source: x.source, jobStatus: itemStatus(x) })),
      };
    },
  },
  ListAnnotationImportJobs: {
    resource: (_i, p, s) => annotationArn(p, s, '*'),
    handle: async (i, p, s) => {
      const res = await s.annotationImports.list(p.accountId, jobFilter(i), page(i));
      return { annotationImportJobs: res.items.map(annotationImportItem), nextToken: res.nextToken };
    },
  },
  CancelAnnotationImportJob: {
    resource: (_i, p, s) => annotationArn(p, s, '*'),
    handle: async (i, p, s) => {
      await s.annotationImports.cancel(p.accountId, i.jobId);
      return {};
    },
  },
} satisfies OperationTable;

function shareDetails(r: ShareRecord): ShareDetails {
  return {
    shareId: r.id,
    resourceArn: r.resourceArn,
    resourceId: r.resourceId,
    principalSubscriber: r.subscriberId,
    ownerId: r.ownerId,
    status: r.status,
    ...(r.statusMessage ? { statusMessage: r.statusMessage } : {}),
    ...(r.name ? { shareName: r.name } : {}),
    creationTime: date(r.creationTime),
    updateTime: date(r.updateTime),
  };
}

/** Shares are authorized on the shared resource's ARN where the call names it, else on the share. */
const shareArn = (p: Principal, s: Services, id: string) => `arn:${s.partition.partition}:omics:${s.partition.region}:${p.accountId}:share/${id}`;

export const SHARE_OPERATIONS = {
  CreateShare: {
    resource: (i) => i.resourceArn,
    handle: async (i, p, s) => {
      const r = await s.shares.create(p.accountId, i);
      return { shareId: r.id, status: r.status, ...(r.name ? { shareName: r.name } : {}) };
    },
  },
  AcceptShare: {
    resource: (i, p, s) => shareArn(p, s, i.shareId),
    handle: async (i, p, s) => ({ status: (await s.shares.accept(p.accountId, i.shareId)).status }),
  },
  GetShare: {
    resource: (i, p, s) => shareArn(p, s, i.shareId),
    handle: async (i, p, s) => ({ share: shareDetails(await s.shares.get(p.accountId, i.shareId)) }),
  },
  ListShares: {
    resource: (_i, p, s) => shareArn(p, s, '*'),
    handle: async (i, p, s) => {
      const list = await s.shares.list(p.accountId, i.resourceOwner, { resourceArns: i.filter?.resourceArns, statuses: i.filter?.status, types: i.filter?.type });
      const { items, nextToken } = pageOfList(list, i);
      return { shares: items.map(shareDetails), ...(nextToken ? { nextToken } : {}) };
    },
  },
  DeleteShare: {
    resource: (i, p, s) => shareArn(p, s, i.shareId),
    handle: async (i, p, s) => {
      await s.shares.delete(p.accountId, i.shareId);
      return { status: 'DELETED' as const };
    },
  },
} satisfies OperationTable;

/** A page of an in-memory list (NextToken = the offset): shares are few per account (10 per store). */
function pageOfList<T>(list: T[], i: { maxResults?: number; nextToken?: string }): { items: T[]; nextToken?: string } {
  const start = i.nextToken ? Number(Buffer.from(i.nextToken, 'base64url').toString('utf8')) || 0 : 0;
  const max = i.maxResults ?? 100;
  const items = list.slice(start, start + max);
  return { items, ...(start + max < list.length ? { nextToken: Buffer.from(String(start + max)).toString('base64url') } : {}) };
}
