import { configurationArn, runArn, runGroupArn, workflowArn } from '../../core/arn.js';
import { AccessDeniedError } from '../../core/errors.js';
import { date, maybeDate, opt, page } from './wire-values.js';
import type { Principal } from '../../iam/identity.js';
import type { TaskRecord } from '../../workflows/entities.js';
import type { RunView } from '../../workflows/runs.js';
import type { RunGroupView } from '../../workflows/run-groups.js';
import type { ConfigurationView } from '../../workflows/configurations.js';
import type { WorkflowView } from '../../workflows/workflows.js';
import type { OperationTable, Output, Services } from './operation-types.js';
import type { ConfigurationListItem, RunGroupListItem, RunListItem, TaskListItem, WorkflowListItem, WorkflowVersionListItem } from './wire-shapes.js';

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
    cacheHit: false,
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
        batchId: opt(r.batchId),
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
