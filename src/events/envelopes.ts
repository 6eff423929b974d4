import { createHash } from 'node:crypto';
import { readSetArn, referenceStoreArn, runArn, sequenceStoreArn, taskArn, workflowArn, type Partition } from '../core/arn.js';
import type { EventRow } from '../db/event-records.js';
import type { MetadataStore } from '../db/metadata-store.js';

/** An event as EventBridge delivers it (spec workflows §7.3, storage §7.1). */
export interface EventEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: 'aws.omics';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

const OMICS_VERSION = '1.0.0';

/** Job kinds that have events, and their detail-type (storage §7.1, analytics §7). */
const JOB_EVENTS: Record<string, { type: string; store: string }> = {
  ReadSetImport: { type: 'Read Set Import Job Status Change', store: 'sequenceStoreId' },
  ReadSetExport: { type: 'Read Set Export Job Status Change', store: 'sequenceStoreId' },
  ReadSetActivation: { type: 'Read Set Activation Job Status Change', store: 'sequenceStoreId' },
  ReferenceImport: { type: 'Reference Import Job Status Change', store: 'referenceStoreId' },
  VariantImport: { type: 'Variant Import Job Status Change', store: 'storeName' },
  AnnotationImport: { type: 'Annotation Import Job Status Change', store: 'storeName' },
};

const SHARE_EVENTS: Record<string, string> = {
  WORKFLOW: 'Workflow Share Status Change',
  VARIANT_STORE: 'Variant Store Share Status Change',
  ANNOTATION_STORE: 'Annotation Store Share Status Change',
};

/**
 * The event's id: a UUID derived from the deployment's event sequence number, so a delivery repeated after a
 * failure carries the same id (receivers deduplicate on it).
 */
export function eventId(seq: number): string {
  const h = createHash('sha256').update(`openomics-event:${seq}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The EventBridge envelope of a recorded status change. Names of runs and workflows are read now (a deleted
 * one is left out); what identifies the resource was recorded with the change.
 */
export async function envelopeOf(e: EventRow, db: MetadataStore, p: Partition): Promise<EventEnvelope> {
  const r = e.record;
  const base = { version: '0' as const, id: eventId(e.seq), source: 'aws.omics' as const, account: e.accountId, time: new Date(e.time).toISOString().replace(/\.\d{3}Z$/, 'Z'), region: p.region };
  const workflowName = async (owner: string, id: string) => (await db.workflows.get(owner, id, ''))?.name ?? undefined;
  switch (e.source) {
    case 'runs': {
      const arn = runArn(p, e.accountId, r['id']!);
      const owner = r['workflowOwnerId'] ?? e.accountId;
      return {
        ...base,
        'detail-type': 'Run Status Change',
        resources: [arn],
        detail: {
          omicsVersion: OMICS_VERSION,
          arn,
          status: e.status,
          uuid: r['uuid'],
          runId: r['id'],
          runName: r['name'] ?? undefined,
          runOutputUri: r['runOutputUri'],
          workflowId: r['workflowId'],
          workflowName: await workflowName(owner, r['workflowId']!),
        },
      };
    }
    case 'run_tasks': {
      const arn = taskArn(p, e.accountId, r['id']!);
      const run = await db.runs.get(e.accountId, r['runId']!);
      return {
        ...base,
        'detail-type': 'Task Status Change',
        resources: [arn],
        detail: {
          omicsVersion: OMICS_VERSION,
          arn,
          status: e.status,
          runArn: runArn(p, e.accountId, r['runId']!),
          runId: r['runId'],
          runUuid: run?.uuid,
          runName: run?.name ?? undefined,
          workflowId: run?.workflowId,
          workflowName: run ? await workflowName(run.workflowOwnerId ?? e.accountId, run.workflowId) : undefined,
        },
      };
    }
    case 'workflows': {
      const arn = workflowArn(p, e.accountId, r['id']!, r['versionName'] || undefined);
      return {
        ...base,
        'detail-type': 'Workflow Status Change',
        resources: [arn],
        detail: { omicsVersion: OMICS_VERSION, arn, status: e.status, workflowId: r['id'], workflowName: r['name'] ?? undefined, ...(r['versionName'] ? { versionName: r['versionName'] } : {}) },
      };
    }
    case 'shares':
      return {
        ...base,
        'detail-type': SHARE_EVENTS[r['resourceType']!] ?? 'Share Status Change',
        resources: [r['resourceArn']!],
        detail: {
          omicsVersion: OMICS_VERSION,
          shareId: r['id'],
          status: e.status,
          resourceArn: r['resourceArn'],
          ownerId: r['ownerId'],
          principalSubscriber: r['subscriberId'],
          shareName: r['name'] ?? undefined,
        },
      };
    case 'read_sets': {
      const arn = readSetArn(p, e.accountId, r['sequenceStoreId']!, r['id']!);
      return {
        ...base,
        'detail-type': 'Read Set Status Change',
        resources: [arn],
        detail: { omicsVersion: OMICS_VERSION, arn, sequenceStoreId: r['sequenceStoreId'], id: r['id'], status: e.status },
      };
    }
    default: {
      // jobs (the triggers record only the kinds JOB_EVENTS names)
      const kind = JOB_EVENTS[r['kind']!] ?? { type: `${r['kind']} Job Status Change`, store: 'storeId' };
      const store = r['storeId']!;
      const resources = kind.store === 'sequenceStoreId' ? [sequenceStoreArn(p, e.accountId, store)] : kind.store === 'referenceStoreId' ? [referenceStoreArn(p, e.accountId, store)] : [];
      return { ...base, 'detail-type': kind.type, resources, detail: { omicsVersion: OMICS_VERSION, id: r['id'], jobId: r['id'], status: e.status, [kind.store]: store } };
    }
  }
}
