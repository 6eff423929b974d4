import { referenceStoreArn, sequenceStoreArn } from '../../core/arn.js';
import { DEFAULT_PAGE_SIZE } from '../../core/pagination.js';
import type { Principal } from '../../iam/identity.js';
import type { SequenceStoreView } from '../../storage/sequence-stores.js';
import type { ReferenceStoreView } from '../../storage/reference-stores.js';
import { DATA_OPERATIONS } from './data-operations.js';
import type { In, OperationImpl, Services } from './operation-types.js';

export type { Services, OperationImpl } from './operation-types.js';

const date = (ms: number | null | undefined) => (ms === null || ms === undefined ? undefined : new Date(ms));
const range = (after?: Date, before?: Date) => ({
  ...(after ? { after: after.getTime() } : {}),
  ...(before ? { before: before.getTime() } : {}),
});
const page = (input: In) => ({ maxResults: input.maxResults ?? DEFAULT_PAGE_SIZE, ...(input.nextToken ? { nextToken: input.nextToken } : {}) });

function sequenceStoreOut(s: SequenceStoreView, withS3: boolean) {
  return {
    id: s.id,
    arn: s.arn,
    name: s.name,
    description: s.description ?? undefined,
    sseConfig: { type: s.sseType, ...(s.sseKeyArn ? { keyArn: s.sseKeyArn } : {}) },
    creationTime: date(s.creationTime),
    updateTime: date(s.updateTime),
    fallbackLocation: s.fallbackLocation ?? undefined,
    eTagAlgorithmFamily: s.eTagAlgorithmFamily,
    status: s.status,
    statusMessage: s.statusMessage ?? undefined,
    ...(withS3
      ? {
          propagatedSetLevelTags: s.propagatedSetLevelTags,
          s3Access: {
            s3Uri: s.s3Uri,
            s3AccessPointArn: s.s3AccessPointArn,
            ...(s.accessLogLocation ? { accessLogLocation: s.accessLogLocation } : {}),
          },
        }
      : {}),
  };
}

function referenceStoreOut(s: ReferenceStoreView) {
  return {
    id: s.id,
    arn: s.arn,
    name: s.name,
    description: s.description ?? undefined,
    sseConfig: { type: s.sseType, ...(s.sseKeyArn ? { keyArn: s.sseKeyArn } : {}) },
    creationTime: date(s.creationTime),
  };
}

const seqArn = (p: Principal, s: Services, id: string) => sequenceStoreArn(s.partition, p.accountId, id);
const refArn = (p: Principal, s: Services, id: string) => referenceStoreArn(s.partition, p.accountId, id);

const STORE_OPERATIONS: Record<string, OperationImpl> = {
  CreateSequenceStore: {
    resource: (_i, p, s) => seqArn(p, s, '*'),
    handle: async (i, p, s) => {
      // CreateSequenceStoreResponse has no updateTime (the model; the strict output check holds us to it).
      const { updateTime: _, ...created } = sequenceStoreOut(await s.sequenceStores.create(p.accountId, i as any), true);
      return created;
    },
  },
  GetSequenceStore: {
    resource: (i, p, s) => seqArn(p, s, i.id),
    handle: async (i, p, s) => sequenceStoreOut(await s.sequenceStores.get(p.accountId, i.id), true),
  },
  UpdateSequenceStore: {
    resource: (i, p, s) => seqArn(p, s, i.id),
    handle: async (i, p, s) => {
      const { id, ...rest } = i;
      return sequenceStoreOut(await s.sequenceStores.update(p.accountId, id, rest), true);
    },
  },
  DeleteSequenceStore: {
    resource: (i, p, s) => seqArn(p, s, i.id),
    handle: async (i, p, s) => {
      await s.sequenceStores.delete(p.accountId, i.id);
      return {};
    },
  },
  ListSequenceStores: {
    resource: (_i, p, s) => seqArn(p, s, '*'),
    handle: async (i, p, s) => {
      const f = i.filter ?? {};
      const res = await s.sequenceStores.list(
        p.accountId,
        { name: f.name, status: f.status, created: range(f.createdAfter, f.createdBefore), updated: range(f.updatedAfter, f.updatedBefore) },
        page(i),
      );
      return { sequenceStores: res.items.map((x) => sequenceStoreOut(x, false)), nextToken: res.nextToken };
    },
  },
  CreateReferenceStore: {
    resource: (_i, p, s) => refArn(p, s, '*'),
    handle: async (i, p, s) => referenceStoreOut(await s.referenceStores.create(p.accountId, i as any)),
  },
  GetReferenceStore: {
    resource: (i, p, s) => refArn(p, s, i.id),
    handle: async (i, p, s) => referenceStoreOut(await s.referenceStores.get(p.accountId, i.id)),
  },
  DeleteReferenceStore: {
    resource: (i, p, s) => refArn(p, s, i.id),
    handle: async (i, p, s) => {
      await s.referenceStores.delete(p.accountId, i.id);
      return {};
    },
  },
  ListReferenceStores: {
    resource: (_i, p, s) => refArn(p, s, '*'),
    handle: async (i, p, s) => {
      const f = i.filter ?? {};
      const res = await s.referenceStores.list(p.accountId, { name: f.name, created: range(f.createdAfter, f.createdBefore) }, page(i));
      return { referenceStores: res.items.map(referenceStoreOut), nextToken: res.nextToken };
    },
  },
  TagResource: {
    resource: (i) => i.resourceArn,
    handle: async (i, p, s) => {
      await s.tags.tag(p.accountId, i.resourceArn, i.tags);
      return {};
    },
  },
  UntagResource: {
    resource: (i) => i.resourceArn,
    handle: async (i, p, s) => {
      await s.tags.untag(p.accountId, i.resourceArn, i.tagKeys);
      return {};
    },
  },
  ListTagsForResource: {
    resource: (i) => i.resourceArn,
    handle: async (i, p, s) => ({ tags: await s.tags.list(p.accountId, i.resourceArn) }),
  },
};

export const OPERATIONS: Record<string, OperationImpl> = { ...STORE_OPERATIONS, ...DATA_OPERATIONS };
