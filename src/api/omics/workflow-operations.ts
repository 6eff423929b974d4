import { configurationArn, runArn, runBatchArn, runCacheArn, runGroupArn, workflowArn } from '../../core/arn.js';
import { AccessDeniedError } from '../../core/errors.js';
import { date, maybeDate, opt, page } from './wire-values.js';
import type { Principal } from '../../iam/identity.js';
import type { TaskRecord } from '../../workflows/entities.js';
import type { RunView } from '../../workflows/runs.js';
import type { RunGroupView } from '../../workflows/run-groups.js';
import type { ConfigurationView } from '../../workflows/configurations.js';
import type { RunBatchSummary, RunBatchView } from '../../workflows/run-batches.js';
import type { RunCacheView } from '../../workflows/run-caches.js';
import type { BatchRunRecord } from '../../workflows/entities.js';
import { wireErrorCode } from './errors.js';
import type { WorkflowView } from '../../workflows/workflows.js';
import type { OperationTable, Output, Services } from './operation-types.js';
import type { BatchListItem, ConfigurationListItem, RunBatchListItem, RunCacheListItem, RunGroupListItem, RunListItem, TaskListItem, WorkflowListItem, WorkflowVersionListItem } from './wire-shapes.js';

/**
 * The workflow operations (host prefix `workflows-`): workflows and versions, runs and tasks. Same shape as
 * operations.ts: an IAM resource and a handler that maps the parsed input to a domain call and back.
 */
const wfArn = (p: Principal, s: Services, id: string, version?: string) => workflowArn(s.partition, p.accountId, id, version);

/** A workflow ARN in its owner's account (`workflowOwnerId`: a workflow shared with the caller). */
const ownedArn = (p: Principal, s: Services, ownerId: string | undefined, id: string, version?: string) => workflowArn(s.partition, ownerId ?? p.accountId, id, version);

/** A workflow's tags, for its owner (a subscriber sees none of the owner's tags). */
const tagsOf = async (s: Services, p: Principal, w: WorkflowView) => (w.accountId === p.accountId ? s.tags.list(p.accountId, w.arn) : {});

/** Links to the README (always, when there is one) and, with export=DEFINITION, the definition zip (never of a shared workflow, spec §4.15). */
async function links(s: Services, p: Principal, w: WorkflowView, exports: string[] | undefined, baseUrl: string) {
  if (exports?.includes('DEFINITION') && w.accountId !== p.accountId) throw new AccessDeniedError(`Workflow ${w.id} is shared with this account by ${w.accountId}; a shared workflow's definition cannot be exported.`);
  const url = async (file: 'README' | 'DEFINITION') => {
    const token = await s.workflows.link(w, file);
    return token ? `${baseUrl}/_openomics/workflow-files/${token}` : undefined;
  };
  return { readme: await url('README'), ...(exports?.includes('DEFINITION') ? { definition: await url('DEFINITION') } : {}) };
}

function workflowDetail(w: WorkflowView, tags: Record<string, string>) {
  return {
    arn: w.arn,
    status: w.status,
    type: 'PRIVATE' as const,
    description: opt(w.description),
    engine: opt(w.engine),
    main: opt(w.main),
    digest: opt(w.digest),
    parameterTemplate: opt(w.parameterTemplate),
    storageCapacity: opt(w.storageCapacity),
    storageType: w.storageType,
    creationTime: date(w.creationTime),
    statusMessage: opt(w.statusMessage),
    tags,
    accelerators: opt(w.accelerators as 'GPU' | null),
    uuid: w.uuid,
    readmePath: opt(w.readmePath),
    ...(w.containerRegistryMap ? { containerRegistryMap: w.containerRegistryMap as Output<'GetWorkflow'>['containerRegistryMap'] } : {}),
  };
}

function workflowItem(w: WorkflowView): WorkflowListItem {
  return { arn: w.arn, id: w.id, name: opt(w.name), status: w.status, type: 'PRIVATE', digest: opt(w.digest), creationTime: date(w.creationTime) };
}

function versionItem(w: WorkflowView): WorkflowVersionListItem {
  return { arn: w.arn, workflowId: w.id, versionName: w.versionName, description: opt(w.description), status: w.status, type: 'PRIVATE', digest: opt(w.digest), creationTime: date(w.creationTime) };
}

function runItem(r: RunView): RunListItem {
  return {
    arn: r.arn,
    id: r.id,
    status: r.status,
    workflowId: r.workflowId,
    name: opt(r.name),
    priority: r.priority,
    storageCapacity: opt(r.storageCapacity),
    creationTime: date(r.creationTime),
    startTime: maybeDate(r.startTime),
    stopTime: maybeDate(r.stopTime),
    storageType: r.storageType,
    workflowVersionName: opt(r.workflowVersionName),
    batchId: opt(r.batchId),
  };
}

function taskItem(t: TaskRecord): TaskListItem {
  return {
    taskId: t.id,
    status: t.status,
    name: t.name,
    cpus: t.cpus,
    memory: t.memory,
    gpus: t.gpus,
    cacheHit: t.cacheHit,
    cacheS3Uri: opt(t.cacheS3Uri),
    creationTime: date(t.creationTime),
    startTime: maybeDate(t.startTime),
    stopTime: maybeDate(t.stopTime),
  };
}

/** A run's configuration as GetRun and StartRun name it (its uuid looked up; absent if it was deleted since). */
function configurationOf(s: Services, r: RunView) {
  if (!r.configurationName) return undefined;
  return { name: r.configurationName, arn: configurationArn(s.partition, r.accountId, r.configurationName) };
}

function runGroupItem(g: RunGroupView): RunGroupListItem {
  return { arn: g.arn, id: g.id, name: opt(g.name), maxCpus: opt(g.maxCpus), maxRuns: opt(g.maxRuns), maxDuration: opt(g.maxDuration), maxGpus: opt(g.maxGpus), creationTime: date(g.creationTime) };
}

function configurationDetail(c: ConfigurationView, tags: Record<string, string>) {
  return {
    arn: c.arn,
    uuid: c.uuid,
    name: c.name,
    description: opt(c.description),
    runConfigurations: { vpcConfig: { securityGroupIds: c.securityGroupIds, subnetIds: c.subnetIds } },
    status: c.status,
    creationTime: date(c.creationTime),
    tags,
  };
}

function configurationItem(c: ConfigurationView): ConfigurationListItem {
  return { arn: c.arn, name: c.name, description: opt(c.description), status: c.status, creationTime: date(c.creationTime) };
}

/** Run groups (spec §2.6) and configurations (spec §2.10). */
export const RUN_GROUP_OPERATIONS = {
  CreateRunGroup: {
    resource: (_i, p, s) => runGroupArn(s.partition, p.accountId, '*'),
    handle: async (i, p, s) => {
      const g = await s.runGroups.create(p.accountId, i);
      return { arn: g.arn, id: g.id, tags: await s.tags.list(p.accountId, g.arn) };
    },
  },
  GetRunGroup: {
    resource: (i, p, s) => runGroupArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      const g = await s.runGroups.get(p.accountId, i.id);
      return { ...runGroupItem(g), tags: await s.tags.list(p.accountId, g.arn) };
    },
  },
  ListRunGroups: {
    resource: (_i, p, s) => runGroupArn(s.partition, p.accountId, '*'),
    handle: async (i, p, s) => {
      const res = await s.runGroups.list(p.accountId, { ...(i.name ? { name: i.name } : {}) }, page(i));
      return { items: res.items.map(runGroupItem), nextToken: res.nextToken };
    },
  },
  UpdateRunGroup: {
    resource: (i, p, s) => runGroupArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      const { id, ...patch } = i;
      await s.runGroups.update(p.accountId, id, patch);
      return {};
    },
  },
  DeleteRunGroup: {
    resource: (i, p, s) => runGroupArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      await s.runGroups.delete(p.accountId, i.id);
      return {};
    },
  },
  CreateConfiguration: {
    resource: (i, p, s) => configurationArn(s.partition, p.accountId, i.name),
    handle: async (i, p, s) => {
      const c = await s.configurations.create(p.accountId, i);
      return configurationDetail(c, await s.tags.list(p.accountId, c.arn));
    },
  },
  GetConfiguration: {
    resource: (i, p, s) => configurationArn(s.partition, p.accountId, i.name),
    handle: async (i, p, s) => {
      const c = await s.configurations.get(p.accountId, i.name);
      return configurationDetail(c, await s.tags.list(p.accountId, c.arn));
    },
  },
  ListConfigurations: {
    resource: (_i, p, s) => configurationArn(s.partition, p.accountId, '*'),
    handle: async (i, p, s) => {
      const res = await s.configurations.list(p.accountId, page(i));
      return { items: res.items.map(configurationItem), nextToken: res.nextToken };
    },
  },
  DeleteConfiguration: {
    resource: (i, p, s) => configurationArn(s.partition, p.accountId, i.name),
    handle: async (i, p, s) => {
      await s.configurations.delete(p.accountId, i.name);
      return {};
    },
  },
} satisfies OperationTable;

const batchArn = (p: Principal, s: Services, id: string) => runBatchArn(s.partition, p.accountId, id);

function batchItem(b: RunBatchView): BatchListItem {
  return { id: b.id, name: opt(b.name), status: b.status, createdAt: date(b.creationTime), totalRuns: opt(b.totalRuns), workflowId: b.defaultRunSetting.workflowId };
}

function batchDetail(b: RunBatchView, sum: RunBatchSummary, tags: Record<string, string>) {
  const n = (m: Record<string, number>, k: string) => m[k] ?? 0;
  return {
    id: b.id,
    arn: b.arn,
    uuid: b.uuid,
    name: opt(b.name),
    status: b.status,
    tags,
    totalRuns: opt(b.totalRuns),
    defaultRunSetting: b.defaultRunSetting as Output<'GetBatch'>['defaultRunSetting'],
    submissionSummary: {
      successfulStartSubmissionCount: n(sum.submissions.start, 'SUCCESS'),
      failedStartSubmissionCount: n(sum.submissions.start, 'FAILED'),
      pendingStartSubmissionCount: n(sum.submissions.start, 'PENDING'),
      successfulCancelSubmissionCount: n(sum.submissions.cancel, 'CANCEL_SUCCESS'),
      failedCancelSubmissionCount: n(sum.submissions.cancel, 'CANCEL_FAILED'),
      successfulDeleteSubmissionCount: n(sum.submissions.delete, 'DELETE_SUCCESS'),
      failedDeleteSubmissionCount: n(sum.submissions.delete, 'DELETE_FAILED'),
    },
    runSummary: {
      pendingRunCount: n(sum.runs, 'PENDING'),
      startingRunCount: n(sum.runs, 'STARTING'),
      runningRunCount: n(sum.runs, 'RUNNING'),
      stoppingRunCount: n(sum.runs, 'STOPPING'),
      completedRunCount: n(sum.runs, 'COMPLETED'),
      deletedRunCount: n(sum.submissions.delete, 'DELETE_SUCCESS'),
      failedRunCount: n(sum.runs, 'FAILED'),
      cancelledRunCount: n(sum.runs, 'CANCELLED'),
    },
    creationTime: date(b.creationTime),
    submittedTime: maybeDate(b.submittedTime),
    processedTime: maybeDate(b.processedTime),
    failedTime: maybeDate(b.failedTime),
    failureReason: opt(b.failureReason),
  };
}

function batchRunItem(s: Services, p: Principal, r: BatchRunRecord): RunBatchListItem {
  return {
    runSettingId: r.runSettingId,
    runId: opt(r.runId),
    runInternalUuid: opt(r.runUuid),
    runArn: r.runId ? runArn(s.partition, p.accountId, r.runId) : undefined,
    submissionStatus: opt(r.submissionStatus),
    submissionFailureReason: r.failureReason ? wireErrorCode(r.failureReason) : undefined,
    submissionFailureMessage: opt(r.failureMessage),
  };
}

function runCacheItem(c: RunCacheView): RunCacheListItem {
  return { arn: c.arn, id: c.id, name: opt(c.name), status: c.status, cacheBehavior: c.cacheBehavior, cacheS3Uri: c.cacheS3Location, creationTime: date(c.creationTime) };
}

/** Run caches (spec §2.7). */
export const RUN_CACHE_OPERATIONS = {
  CreateRunCache: {
    resource: (_i, p, s) => runCacheArn(s.partition, p.accountId, '*'),
    handle: async (i, p, s) => {
      const c = await s.runCaches.create(p.accountId, i);
      return { arn: c.arn, id: c.id, status: c.status, tags: await s.tags.list(p.accountId, c.arn) };
    },
  },
  GetRunCache: {
    resource: (i, p, s) => runCacheArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      const c = await s.runCaches.get(p.accountId, i.id);
      return { ...runCacheItem(c), description: opt(c.description), cacheBucketOwnerId: c.cacheBucketOwnerId, tags: await s.tags.list(p.accountId, c.arn) };
    },
  },
  ListRunCaches: {
    resource: (_i, p, s) => runCacheArn(s.partition, p.accountId, '*'),
    handle: async (i, p, s) => {
      const res = await s.runCaches.list(p.accountId, {}, page(i));
      return { items: res.items.map(runCacheItem), nextToken: res.nextToken };
    },
  },
  UpdateRunCache: {
    resource: (i, p, s) => runCacheArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      const { id, ...patch } = i;
      await s.runCaches.update(p.accountId, id, patch);
      return {};
    },
  },
  DeleteRunCache: {
    resource: (i, p, s) => runCacheArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      await s.runCaches.delete(p.accountId, i.id);
      return {};
    },
  },
} satisfies OperationTable;

/** Run batches (spec §2.9). StartRunBatch needs what StartRun needs of each of its runs. */
export const RUN_BATCH_OPERATIONS = {
  StartRunBatch: {
    resource: (_i, p, s) => batchArn(p, s, '*'),
    alsoRequires: (i, p, s) => [
      { action: 'omics:StartRun', resource: runArn(s.partition, p.accountId, '*') },
      { action: 'iam:PassRole', resource: i.defaultRunSetting.roleArn },
      { action: 'omics:StartRun', resource: workflowArn(s.partition, i.defaultRunSetting.workflowOwnerId ?? p.accountId, i.defaultRunSetting.workflowId, i.defaultRunSetting.workflowVersionName) },
      ...(i.defaultRunSetting.runGroupId ? [{ action: 'omics:StartRun', resource: runGroupArn(s.partition, p.accountId, i.defaultRunSetting.runGroupId) }] : []),
    ],
    handle: async (i, p, s) => {
      const b = await s.runBatches.start(p.accountId, p.arn, i);
      return { id: b.id, arn: b.arn, status: b.status, uuid: b.uuid, tags: await s.tags.list(p.accountId, b.arn) };
    },
  },
  GetBatch: {
    resource: (i, p, s) => batchArn(p, s, i.batchId),
    handle: async (i, p, s) => {
      const b = await s.runBatches.get(p.accountId, i.batchId);
      return batchDetail(b, await s.runBatches.summary(b), await s.tags.list(p.accountId, b.arn));
    },
  },
  ListBatch: {
    resource: (_i, p, s) => batchArn(p, s, '*'),
    handle: async (i, p, s) => {
      const res = await s.runBatches.list(p.accountId, { status: i.status, name: i.name, runGroupId: i.runGroupId }, page({ maxResults: i.maxItems, startingToken: i.startingToken }));
      return { items: res.items.map(batchItem), nextToken: res.nextToken };
    },
  },
  ListRunsInBatch: {
    resource: (i, p, s) => batchArn(p, s, i.batchId),
    handle: async (i, p, s) => {
      const { maxResults, nextToken } = page({ maxResults: i.maxItems, startingToken: i.startingToken });
      const res = await s.runBatches.listRuns(p.accountId, i.batchId, { submissionStatus: i.submissionStatus, runSettingId: i.runSettingId, runId: i.runId }, { maxResults, ...(nextToken ? { nextToken } : {}) });
      return { runs: res.items.map((r) => batchRunItem(s, p, r)), nextToken: res.nextToken };
    },
  },
  CancelRunBatch: {
    resource: (i, p, s) => batchArn(p, s, i.batchId),
    handle: async (i, p, s) => {
      await s.runBatches.cancel(p.accountId, i.batchId);
      return {};
    },
  },
  DeleteRunBatch: {
    resource: (i, p, s) => batchArn(p, s, i.batchId),
    handle: async (i, p, s) => {
      await s.runBatches.deleteRuns(p.accountId, i.batchId);
      return {};
    },
  },
  DeleteBatch: {
    resource: (i, p, s) => batchArn(p, s, i.batchId),
    handle: async (i, p, s) => {
      await s.runBatches.delete(p.accountId, i.batchId);
      return {};
    },
  },
} satisfies OperationTable;

export const WORKFLOW_OPERATIONS = {
  CreateWorkflow: {
    resource: (_i, p, s) => wfArn(p, s, '*'),
    handle: async (i, p, s) => {
      const w = await s.workflows.create(p.accountId, i);
      return { arn: w.arn, id: w.id, status: w.status, tags: await s.tags.list(p.accountId, w.arn), uuid: w.uuid };
    },
  },
  GetWorkflow: {
    resource: (i, p, s) => ownedArn(p, s, i.workflowOwnerId, i.id),
    handle: async (i, p, s, req) => {
      const w = await s.workflows.getAs(p.accountId, i.workflowOwnerId, i.id, '');
      return { ...workflowDetail(w, await tagsOf(s, p, w)), ...(await links(s, p, w, i.export, req.baseUrl)), id: w.id, name: opt(w.name) };
    },
  },
  ListWorkflows: {
    resource: (_i, p, s) => wfArn(p, s, '*'),
    handle: async (i, p, s) => {
      if (i.type === 'READY2RUN') return { items: [] };
      const res = await s.workflows.list(p.accountId, { ...(i.name ? { name: i.name } : {}) }, page(i));
      return { items: res.items.map(workflowItem), nextToken: res.nextToken };
    },
  },
  UpdateWorkflow: {
    resource: (i, p, s) => wfArn(p, s, i.id),
    handle: async (i, p, s) => {
      const { id, ...patch } = i;
      await s.workflows.update(p.accountId, id, '', patch);
      return {};
    },
  },
  DeleteWorkflow: {
    resource: (i, p, s) => wfArn(p, s, i.id),
    handle: async (i, p, s) => {
      await s.workflows.delete(p.accountId, i.id, '');
      return {};
    },
  },
  CreateWorkflowVersion: {
    resource: (i, p, s) => wfArn(p, s, i.workflowId, i.versionName),
    handle: async (i, p, s) => {
      const { workflowId, versionName, ...rest } = i;
      const w = await s.workflows.createVersion(p.accountId, workflowId, versionName, rest);
      return { arn: w.arn, workflowId: w.id, versionName: w.versionName, status: w.status, tags: await s.tags.list(p.accountId, w.arn), uuid: w.uuid };
    },
  },
  GetWorkflowVersion: {
    resource: (i, p, s) => ownedArn(p, s, i.workflowOwnerId, i.workflowId, i.versionName),
    handle: async (i, p, s, req) => {
      const w = await s.workflows.getAs(p.accountId, i.workflowOwnerId, i.workflowId, i.versionName);
      return { ...workflowDetail(w, await tagsOf(s, p, w)), ...(await links(s, p, w, i.export, req.baseUrl)), workflowId: w.id, versionName: w.versionName };
    },
  },
  ListWorkflowVersions: {
    resource: (i, p, s) => ownedArn(p, s, i.workflowOwnerId, i.workflowId),
    handle: async (i, p, s) => {
      const owner = (await s.workflows.getAs(p.accountId, i.workflowOwnerId, i.workflowId, '')).accountId;
      const res = await s.workflows.listVersions(owner, i.workflowId, page(i));
      return { items: res.items.map(versionItem), nextToken: res.nextToken };
    },
  },
  UpdateWorkflowVersion: {
    resource: (i, p, s) => wfArn(p, s, i.workflowId, i.versionName),
    handle: async (i, p, s) => {
      const { workflowId, versionName, ...patch } = i;
      await s.workflows.update(p.accountId, workflowId, versionName, patch);
      return {};
    },
  },
  DeleteWorkflowVersion: {
    resource: (i, p, s) => wfArn(p, s, i.workflowId, i.versionName),
    handle: async (i, p, s) => {
      await s.workflows.delete(p.accountId, i.workflowId, i.versionName);
      return {};
    },
  },
  StartRun: {
    resource: (_i, p, s) => runArn(s.partition, p.accountId, '*'),
    // The run acts with its role: the caller must be allowed to pass it (spec §4.19). StartRun is authorized on
    // the run, the workflow and the run group together, so a policy can tie a workflow to a run group.
    alsoRequires: (i, p, s) => [
      { action: 'iam:PassRole', resource: i.roleArn },
      ...(i.workflowId ? [{ action: 'omics:StartRun', resource: workflowArn(s.partition, i.workflowOwnerId ?? p.accountId, i.workflowId, i.workflowVersionName) }] : []),
      ...(i.runGroupId ? [{ action: 'omics:StartRun', resource: runGroupArn(s.partition, p.accountId, i.runGroupId) }] : []),
    ],
    handle: async (i, p, s) => {
      const r = await s.runs.start(p.accountId, p.arn, i);
      return { arn: r.arn, id: r.id, status: r.status, tags: await s.tags.list(p.accountId, r.arn), uuid: r.uuid, runOutputUri: r.runOutputUri, networkingMode: r.networkingMode, configuration: configurationOf(s, r) };
    },
  },
  GetRun: {
    resource: (i, p, s) => runArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      const r = await s.runs.get(p.accountId, i.id);
      return {
        ...runItem(r),
        uuid: r.uuid,
        engineVersion: opt(r.engineVersion),
        workflowType: 'PRIVATE',
        runId: opt(r.sourceRunId),
        roleArn: r.roleArn,
        digest: r.digest,
        parameters: r.parameters,
        outputUri: r.outputUri,
        logLevel: r.logLevel,
        resourceDigests: r.resourceDigests,
        startedBy: r.startedBy,
        statusMessage: opt(r.statusMessage),
        tags: await s.tags.list(p.accountId, r.arn),
        retentionMode: r.retentionMode,
        failureReason: opt(r.failureReason),
        logLocation: { runLogStream: `run/${r.id}`, ...(r.status === 'FAILED' ? { engineLogStream: `run/${r.id}/engine` } : {}) },
        runOutputUri: r.runOutputUri,
        workflowUuid: r.workflowUuid,
        runGroupId: opt(r.runGroupId),
        cacheId: opt(r.cacheId),
        cacheBehavior: opt(r.cacheBehavior),
        workflowOwnerId: opt(r.workflowOwnerId),
        networkingMode: r.networkingMode,
        configuration: configurationOf(s, r),
      };
    },
  },
  ListRuns: {
    resource: (_i, p, s) => runArn(s.partition, p.accountId, '*'),
    handle: async (i, p, s) => {
      const res = await s.runs.list(
        p.accountId,
        { ...(i.name ? { name: i.name } : {}), ...(i.status ? { status: i.status } : {}), ...(i.runGroupId ? { runGroupId: i.runGroupId } : {}), ...(i.batchId ? { batchId: i.batchId } : {}) },
        page(i),
      );
      return { items: res.items.map(runItem), nextToken: res.nextToken };
    },
  },
  CancelRun: {
    resource: (i, p, s) => runArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      await s.runs.cancel(p.accountId, i.id);
      return {};
    },
  },
  DeleteRun: {
    resource: (i, p, s) => runArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      await s.runs.delete(p.accountId, i.id);
      return {};
    },
  },
  GetRunTask: {
    resource: (i, p, s) => runArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      const t = await s.runs.getTask(p.accountId, i.id, i.taskId);
      return {
        ...taskItem(t),
        statusMessage: opt(t.statusMessage),
        failureReason: opt(t.failureReason),
        logStream: `arn:${s.partition.partition}:logs:${s.partition.region}:${p.accountId}:log-group:/aws/omics/WorkflowLog:log-stream:run/${i.id}/task/${t.id}`,
        ...(t.image ? { imageDetails: { image: t.image, sourceImage: t.image, ...(t.imageDigest ? { imageDigest: t.imageDigest } : {}) } } : {}),
      };
    },
  },
  ListRunTasks: {
    resource: (i, p, s) => runArn(s.partition, p.accountId, i.id),
    handle: async (i, p, s) => {
      const res = await s.runs.listTasks(p.accountId, i.id, { ...(i.status ? { status: i.status } : {}) }, page(i));
      return { items: res.items.map(taskItem), nextToken: res.nextToken };
    },
  },
} satisfies OperationTable;
