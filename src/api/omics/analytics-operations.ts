import { variantStoreArn } from '../../core/arn.js';
import type { Principal } from '../../iam/identity.js';
import type { JobRecord } from '../../db/job-records.js';
import { itemStatus } from '../../analytics/import-jobs.js';
import type { VariantImportPayload } from '../../analytics/variant-imports.js';
import type { VariantStoreView } from '../../analytics/variant-stores.js';
import { date, maybeDate, page } from './wire-values.js';
import type { OperationTable, Services } from './operation-types.js';
import type { VariantImportJobItem, VariantStoreItem } from './wire-shapes.js';

/**
 * The analytics operations (host prefix `analytics-`): variant stores and variant import jobs. Same shape as
 * operations.ts. Stores are named by name in paths and ARNs (spec analytics §1).
 */
const storeArn = (p: Principal, s: Services, name: string) => variantStoreArn(s.partition, p.accountId, name);

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

function importItem(j: JobRecord<VariantImportPayload>): VariantImportJobItem {
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
      const res = await s.variantStores.list(p.accountId, { ...(i.ids ? { ids: i.ids } : {}), ...(i.filter?.status ? { status: i.filter.status } : {}) }, page(i));
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
      const res = await s.variantImports.list(p.accountId, { ...(i.ids ? { ids: i.ids } : {}), ...(i.filter?.status ? { status: i.filter.status } : {}), ...(i.filter?.storeName ? { storeName: i.filter.storeName } : {}) }, page(i));
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
