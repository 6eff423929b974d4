import { referenceStoreArn, sequenceStoreArn } from '../../core/arn.js';
import { date, opt, page } from './wire-values.js';
import type { Principal } from '../../iam/identity.js';
import type { SequenceStoreView } from '../../storage/sequence-stores.js';
import type { ReferenceStoreView } from '../../storage/reference-stores.js';
import { DATA_OPERATIONS } from './data-operations.js';
import { RUN_BATCH_OPERATIONS, RUN_CACHE_OPERATIONS, RUN_GROUP_OPERATIONS, WORKFLOW_OPERATIONS } from './workflow-operations.js';
import { ANALYTICS_OPERATIONS, ANNOTATION_OPERATIONS, SHARE_OPERATIONS } from './analytics-operations.js';
import type { Handler, OperationName, OperationTable, Services } from './operation-types.js';
import type { GetSequenceStoreResponse, ReferenceStoreDetail, SequenceStoreDetail } from './wire-shapes.js';

export type { Services } from './operation-types.js';

const range = (after?: Date, before?: Date) => ({
  ...(after ? { after: after.getTime() } : {}),
  ...(before ? { before: before.getTime() } : {}),
});

function sequenceStoreOut(s: SequenceStoreView, withS3: boolean): SequenceStoreDetail & Pick<GetSequenceStoreResponse, 'propagatedSetLevelTags' | 's3Access'> {
  return {
    id: s.id,
    arn: s.arn,
    name: s.name,
    description: opt(s.description),
    sseConfig: { type: s.sseType, ...(s.sseKeyArn ? { keyArn: s.sseKeyArn } : {}) },
    creationTime: date(s.creationTime),
    updateTime: date(s.updateTime),
    fallbackLocation: opt(s.fallbackLocation),
    eTagAlgorithmFamily: s.eTagAlgorithmFamily,
    status: s.status,
    statusMessage: opt(s.statusMessage),
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

function referenceStoreOut(s: ReferenceStoreView): ReferenceStoreDetail {
  return {
    id: s.id,
    arn: s.arn,
    name: s.name,
    description: opt(s.description),
    sseConfig: { type: s.sseType, ...(s.sseKeyArn ? { keyArn: s.sseKeyArn } : {}) },
    creationTime: date(s.creationTime),
  };
}

const seqArn = (p: Principal, s: Services, id: string) => sequenceStoreArn(s.partition, p.accountId, id);
const refArn = (p: Principal, s: Services, id: string) => referenceStoreArn(s.partition, p.accountId, id);

const STORE_OPERATIONS = {
  CreateSequenceStore: {
    resource: (_i, p, s) => seqArn(p, s, '*'),
    handle: async (i, p, s) => {
      // CreateSequenceStoreResponse has no updateTime (the model; the strict output check holds us to it).
      const { updateTime: _, ...created } = sequenceStoreOut(await s.sequenceStores.create(p.accountId, i), true);
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
    handle: async (i, p, s) => referenceStoreOut(await s.referenceStores.create(p.accountId, i)),
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
} satisfies OperationTable;

export const OPERATIONS: OperationTable = { ...STORE_OPERATIONS, ...DATA_OPERATIONS, ...WORKFLOW_OPERATIONS, ...RUN_GROUP_OPERATIONS, ...RUN_BATCH_OPERATIONS, ...RUN_CACHE_OPERATIONS, ...ANALYTICS_OPERATIONS, ...ANNOTATION_OPERATIONS, ...SHARE_OPERATIONS };

/** A handler as the edge calls it: with the input the serde parsed and validated against the operation's model shape. */
export interface WireHandler {
  resource(input: Record<string, unknown>, principal: Principal, s: Services): string;
  handle(input: Record<string, unknown>, principal: Principal, s: Services, request: { baseUrl: string }): Promise<object>;
  alsoRequires?(input: Record<string, unknown>, principal: Principal, s: Services): { action: string; resource: string }[];
}

/**
 * The handler of an operation the edge has named from the model, if OpenOmics implements it. The one place the
 * types meet the wire: the serde has checked the input against the same model shape `wire-shapes.ts` was
 * generated from (required members, enums, lengths, patterns), and strict output mode checks what comes back.
 */
export function operationHandler(name: string): WireHandler | undefined {
  return (OPERATIONS as Record<string, Handler<OperationName> | undefined>)[name] as WireHandler | undefined;
}
