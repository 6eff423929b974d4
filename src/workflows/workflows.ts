import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { workflowArn } from '../core/arn.js';
import { ConflictError, NotFoundError, NotImplementedError, QuotaExceededError, ValidationError } from '../core/errors.js';
import { newNumericId } from '../core/ids.js';
import type { Page } from '../core/pagination.js';
import type { PageRequest } from '../db/query.js';
import { submittedJob } from '../db/job-records.js';
import type { JobHandler, GiveUpHandler } from '../jobs/runner.js';
import type { ShareService } from '../shares/shares.js';
import type { DomainDeps } from '../storage/context.js';
import { idempotent } from '../storage/idempotency.js';
import type { DataLocations } from '../storage/locations.js';
import { newStoreDataKey, storeBlobs } from '../storage/store-storage.js';
import { checkNewTags } from '../storage/tags.js';
import { definitionDigest, resolveDefinition, unzipDefinition } from './definitions.js';
import type { ParameterTemplate, StorageType, WorkflowEngine, WorkflowRecord } from './entities.js';
import type { EngineAdapter } from './engines/engine.js';
import { DefinitionSyntaxError, discoverTemplate } from './parameter-templates.js';
import type { WorkflowFile, WorkflowFileLinks } from './file-links.js';

export const WORKFLOW_VALIDATION_JOB = 'WorkflowValidation';
export const README_MAX_BYTES = 500 * 1024;
/** Default run storage of a workflow (spec §2.1): STATIC, 1200 GiB. */
const DEFAULT_STATIC_CAPACITY = 1200;

export interface WorkflowView extends WorkflowRecord {
  arn: string;
}

export interface DefinitionInput {
  engine?: WorkflowEngine;
  definitionZip?: Uint8Array;
  definitionUri?: string;
  definitionRepository?: unknown;
  main?: string;
  parameterTemplate?: ParameterTemplate;
  parameterTemplatePath?: string;
  storageType?: StorageType;
  storageCapacity?: number;
  accelerators?: string;
  containerRegistryMap?: unknown;
  containerRegistryMapUri?: string;
  readmeMarkdown?: string;
  readmeUri?: string;
  readmePath?: string;
  description?: string;
  tags?: Record<string, string>;
  requestId: string;
}

export interface ValidationPayload {
  versionName: string;
}

/** Blob keys of a workflow's immutable files: `wf/<id>/<version or _>/...`. */
const blobKey = (id: string, versionName: string, file: 'definition.zip' | 'README.md') => `wf/${id}/${versionName || '_'}/${file}`;

/**
 * Private workflows and their versions (spec workflows §2.1-2.3, §4.16-4.17): the definition is stored
 * encrypted and never changes; the engine checks it and the parameter template is read from it in the
 * background (status CREATING → ACTIVE or FAILED with the engine's message).
 */
export class WorkflowService {
  constructor(
    private readonly d: DomainDeps,
    private readonly locations: DataLocations,
    /** The engine that checks definitions of each language. */
    private readonly validators: (engine: WorkflowEngine) => EngineAdapter | undefined,
    private readonly kick: () => void,
    private readonly links: WorkflowFileLinks,
    private readonly shares: ShareService,
  ) {}

  /** A link that opens a workflow's README or definition for a while (served by the edge, api/workflow-files.ts). */
  async link(r: WorkflowRecord, file: WorkflowFile): Promise<string | undefined> {
    if (file === 'README' ? !r.readmeKey : !r.definitionKey) return undefined;
    return this.links.sign({ accountId: r.accountId, id: r.id, versionName: r.versionName, file }, this.d.now());
  }

  /** The file a link names: its bytes and type, or a NotFoundError (bad or expired link, file gone). */
  async openLink(token: string): Promise<{ body: Buffer; contentType: string; name: string }> {
    const ref = await this.links.verify(token, this.d.now());
    if (ref === 'invalid' || ref === 'expired') throw new NotFoundError(ref === 'expired' ? 'The link has expired; ask GetWorkflow for a new one.' : 'The link is not valid.');
    const r = await this.record(ref.accountId, ref.id, ref.versionName);
    if (ref.file === 'README') {
      const body = await this.readme(r);
      if (!body) throw new NotFoundError('The workflow has no README.');
      return { body, contentType: 'text/markdown; charset=utf-8', name: 'README.md' };
    }
    return { body: await this.definition(r), contentType: 'application/zip', name: 'definition.zip' };
  }

  view(r: WorkflowRecord): WorkflowView {
    return { ...r, arn: workflowArn(this.d.partition, r.accountId, r.id, r.versionName || undefined) };
  }

  async create(accountId: string, input: DefinitionInput & { name?: string }): Promise<WorkflowView> {
    if ((await this.d.db.workflows.countWorkflows(accountId)) >= this.d.quotas.maxWorkflows) {
      throw new QuotaExceededError(`The account has ${this.d.quotas.maxWorkflows} workflows, the most it may have.`);
    }
    const id = await this.define(accountId, 'CreateWorkflow', undefined, '', input);
    return this.get(accountId, id, '');
  }

  async createVersion(accountId: string, workflowId: string, versionName: string, input: DefinitionInput): Promise<WorkflowView> {
    const wf = await this.record(accountId, workflowId, '');
    if (wf.status === 'FAILED') throw new ValidationError(`Workflow ${workflowId} is FAILED; versions can be added to a workflow that is ACTIVE.`);
    if ((await this.d.db.workflows.countVersions(accountId, workflowId)) >= this.d.quotas.maxWorkflowVersions) {
      throw new QuotaExceededError(`Workflow ${workflowId} has ${this.d.quotas.maxWorkflowVersions} versions, the most it may have.`);
    }
    await this.define(accountId, `CreateWorkflowVersion:${workflowId}`, workflowId, versionName, input);
    return this.get(accountId, workflowId, versionName);
  }

  /** Stores a definition and submits its validation; returns the workflow id. */
  private async define(accountId: string, operation: string, workflowId: string | undefined, versionName: string, input: DefinitionInput & { name?: string }): Promise<string> {
    if (input.definitionRepository !== undefined) {
      throw new NotImplementedError('Definitions from a Git repository (definitionRepository) are not supported by OpenOmics: give definitionZip or definitionUri.');
    }
    if (input.containerRegistryMapUri !== undefined) throw new NotImplementedError('containerRegistryMapUri is not supported by OpenOmics: give containerRegistryMap.');
    if ((input.definitionZip ? 1 : 0) + (input.definitionUri ? 1 : 0) !== 1) throw new ValidationError('Give exactly one of definitionZip and definitionUri.');
    checkNewTags(input.tags, this.d.quotas.maxTagsPerResource);
    const storageType = input.storageType ?? 'STATIC';
    const zip = input.definitionZip ? Buffer.from(input.definitionZip) : await this.fetchDefinition(accountId, input.definitionUri!);
    const digest = definitionDigest(zip);
    const definition = resolveDefinition(unzipDefinition(zip), input.main, input.engine);
    let readme: Buffer | undefined;
    if ([input.readmeMarkdown, input.readmeUri, input.readmePath].filter((x) => x !== undefined).length > 1) {
      throw new ValidationError('Give at most one of readmeMarkdown, readmeUri and readmePath.');
    }
    if (input.readmeMarkdown !== undefined) readme = Buffer.from(input.readmeMarkdown);
    else if (input.readmeUri !== undefined) readme = await this.fetchSmall(accountId, input.readmeUri, README_MAX_BYTES, 'README');
    else if (input.readmePath !== undefined) {
      readme = definition.files.get(input.readmePath);
      if (!readme) throw new ValidationError(`The README ${input.readmePath} is not in the definition zip.`);
    } else readme = definition.files.get('README.md');
    if (readme && readme.length > README_MAX_BYTES) throw new ValidationError(`The README is ${readme.length} bytes; the limit is ${README_MAX_BYTES} (500 KiB).`);
    let template = input.parameterTemplate ?? null;
    if (!template && input.parameterTemplatePath) {
      const t = definition.files.get(input.parameterTemplatePath);
      if (!t) throw new ValidationError(`The parameter template ${input.parameterTemplatePath} is not in the definition zip.`);
      try {
        template = JSON.parse(t.toString('utf8')) as ParameterTemplate;
      } catch (e) {
        throw new ValidationError(`The parameter template ${input.parameterTemplatePath} is not JSON: ${(e as Error).message}.`);
      }
    }
    if (template && Object.keys(template).length > 1000) throw new ValidationError('A parameter template has at most 1,000 parameters.');
    // The request as the idempotency check compares it: the zip by its digest.
    const { definitionZip: _, ...rest } = input;
    const request = { ...rest, definition: digest, versionName };
    const { resourceId } = await idempotent(this.d.db, accountId, operation, input.requestId, request, this.d.now(), async () => {
      const id = workflowId ?? newNumericId();
      if (workflowId && (await this.d.db.workflows.get(accountId, id, versionName))) {
        throw new ConflictError(`Workflow ${id} already has a version named ${versionName}.`);
      }
      const key = await newStoreDataKey(this.d, undefined);
      const blobs = storeBlobs(this.d, key.wrapped);
      await blobs.put(blobKey(id, versionName, 'definition.zip'), Readable.from([zip]));
      if (readme) await blobs.put(blobKey(id, versionName, 'README.md'), Readable.from([readme]));
      const rec: WorkflowRecord = {
        accountId,
        id,
        versionName,
        uuid: randomUUID(),
        name: input.name ?? null,
        description: input.description ?? null,
        engine: definition.engine,
        status: 'CREATING',
        statusMessage: null,
        main: definition.main,
        digest,
        dataKey: key.wrapped,
        definitionKey: blobKey(id, versionName, 'definition.zip'),
        definitionSize: zip.length,
        readmeKey: readme ? blobKey(id, versionName, 'README.md') : null,
        readmePath: input.readmePath ?? (readme && !input.readmeMarkdown && !input.readmeUri ? 'README.md' : null),
        parameterTemplate: template,
        templateGiven: template !== null,
        storageType,
        storageCapacity: input.storageCapacity ?? (storageType === 'STATIC' ? DEFAULT_STATIC_CAPACITY : null),
        accelerators: input.accelerators ?? null,
        containerRegistryMap: input.containerRegistryMap ?? null,
        creationTime: this.d.now(),
      };
      await this.d.db.atomically(async (tx) => {
        await tx.workflows.insert(rec);
        if (input.tags && Object.keys(input.tags).length) await tx.tags.put(this.view(rec).arn, input.tags);
        await tx.jobs.insert(submittedJob(newNumericId(), WORKFLOW_VALIDATION_JOB, accountId, id, { versionName } satisfies ValidationPayload, rec.creationTime));
      });
      return id;
    });
    this.kick();
    return resourceId;
  }

  private async fetchSmall(accountId: string, uri: string, max: number, what: string): Promise<Buffer> {
    const src = await this.locations.resolve(uri, { accountId });
    if (src.size > max) throw new ValidationError(`The ${what} at ${uri} is ${src.size} bytes; the limit is ${max}.`);
    return buffer(src.open());
  }

  private async fetchDefinition(accountId: string, uri: string): Promise<Buffer> {
    if (!uri.endsWith('.zip')) throw new ValidationError(`definitionUri ${uri} must name a .zip file (S3 folders are not supported by OpenOmics).`);
    return this.fetchSmall(accountId, uri, 100_000_000, 'definition');
  }

  private async record(accountId: string, id: string, versionName: string): Promise<WorkflowRecord> {
    const r = await this.d.db.workflows.get(accountId, id, versionName);
    if (!r) throw new NotFoundError(versionName ? `Version ${versionName} of workflow ${id} not found.` : `Workflow ${id} not found.`);
    return r;
  }

  async get(accountId: string, id: string, versionName: string): Promise<WorkflowView> {
    return this.view(await this.record(accountId, id, versionName));
  }

  /**
   * A workflow (or version) of `ownerId`, for the caller's account: its own, or one the owner shared with it and
   * it accepted (spec §4.15: every version of a shared workflow is shared). Anything else is not found.
   */
  async getAs(accountId: string, ownerId: string | undefined, id: string, versionName: string): Promise<WorkflowView> {
    if (!ownerId || ownerId === accountId) return this.get(accountId, id, versionName);
    if (!(await this.shares.grants(accountId, workflowArn(this.d.partition, ownerId, id)))) throw new NotFoundError(`Workflow ${id} of account ${ownerId} not found, or not shared with this account.`);
    return this.get(ownerId, id, versionName);
  }

  /** The definition zip, as stored (runs unpack it; GetWorkflow exports it). */
  async definition(r: WorkflowRecord): Promise<Buffer> {
    if (!r.definitionKey) throw new NotFoundError(`Workflow ${r.id} has no definition.`);
    return buffer(await storeBlobs(this.d, r.dataKey).get(r.definitionKey));
  }

  async readme(r: WorkflowRecord): Promise<Buffer | undefined> {
    return r.readmeKey ? buffer(await storeBlobs(this.d, r.dataKey).get(r.readmeKey)) : undefined;
  }

  async list(accountId: string, q: { name?: string }, page: PageRequest): Promise<Page<WorkflowView>> {
    const res = await this.d.db.workflows.list(accountId, q, page);
    return { items: res.items.map((r) => this.view(r)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  async listVersions(accountId: string, id: string, page: PageRequest): Promise<Page<WorkflowView>> {
    await this.record(accountId, id, '');
    const res = await this.d.db.workflows.listVersions(accountId, id, page);
    return { items: res.items.map((r) => this.view(r)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  /** UpdateWorkflow / UpdateWorkflowVersion (spec §4.17): name (workflow only), description, storage defaults, README. */
  async update(
    accountId: string,
    id: string,
    versionName: string,
    patch: { name?: string; description?: string; storageType?: StorageType; storageCapacity?: number; readmeMarkdown?: string },
  ): Promise<void> {
    const r = await this.record(accountId, id, versionName);
    let readmeKey: string | undefined;
    if (patch.readmeMarkdown !== undefined) {
      const body = Buffer.from(patch.readmeMarkdown);
      if (body.length > README_MAX_BYTES) throw new ValidationError(`The README is ${body.length} bytes; the limit is ${README_MAX_BYTES} (500 KiB).`);
      readmeKey = blobKey(id, versionName, 'README.md');
      await storeBlobs(this.d, r.dataKey).put(readmeKey, Readable.from([body]));
    }
    const storageType = patch.storageType ?? r.storageType;
    await this.d.db.workflows.update(accountId, id, versionName, {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      storageType,
      storageCapacity: patch.storageCapacity ?? (storageType === 'DYNAMIC' ? null : (r.storageCapacity ?? DEFAULT_STATIC_CAPACITY)),
      ...(readmeKey ? { readmeKey } : {}),
    });
  }

  /** DeleteWorkflow (ACTIVE or FAILED, no versions left) and DeleteWorkflowVersion; runs in flight go on. */
  async delete(accountId: string, id: string, versionName: string): Promise<void> {
    const r = await this.record(accountId, id, versionName);
    if (r.status !== 'ACTIVE' && r.status !== 'FAILED') throw new ConflictError(`${versionName ? `Version ${versionName}` : `Workflow ${id}`} is ${r.status}; it can be deleted once ACTIVE or FAILED.`);
    if (!versionName && (await this.d.db.workflows.countVersions(accountId, id)) > 0) {
      throw new ConflictError(`Workflow ${id} has versions; delete them first.`);
    }
    const shared = versionName ? [] : await this.shares.holding(this.view(r).arn);
    if (shared.length) throw new ConflictError(`Workflow ${id} is shared (${shared.map((x) => `${x.id} with ${x.subscriberId}, ${x.status}`).join('; ')}); delete its shares first.`);
    await this.d.db.atomically(async (tx) => {
      await tx.workflows.delete(accountId, id, versionName);
      await tx.tags.deleteAll(this.view(r).arn);
    });
    // Runs in flight keep their own unpacked copy; the stored files go with the row.
    for (const key of [r.definitionKey, r.readmeKey]) if (key) await this.d.blobs.delete(key).catch(() => undefined);
  }

  /** The background check of a new definition: the engine validates it and the template is read from it. */
  validationHandler(): JobHandler<ValidationPayload> {
    return async (job) => {
      const r = await this.d.db.workflows.get(job.accountId, job.storeId, job.payload.versionName);
      if (!r || r.status !== 'CREATING') return { status: 'COMPLETED', statusMessage: null, payload: job.payload };
      const verdict = await this.check(r);
      await this.d.db.workflows.update(r.accountId, r.id, r.versionName, verdict);
      return { status: 'COMPLETED', statusMessage: verdict.statusMessage, payload: job.payload };
    };
  }

  validationGiveUp(): GiveUpHandler<ValidationPayload> {
    return async (job, reason) => {
      await this.d.db.workflows.update(job.accountId, job.storeId, job.payload.versionName, { status: 'FAILED', statusMessage: reason.slice(0, 1000) });
      return { status: 'FAILED', statusMessage: reason, payload: job.payload };
    };
  }

  private async check(r: WorkflowRecord): Promise<Pick<WorkflowRecord, 'status' | 'statusMessage' | 'parameterTemplate'>> {
    const engine = r.engine!;
    const files = unzipDefinition(await this.definition(r));
    const main = files.get(r.main!)!;
    let template = r.parameterTemplate;
    if (!r.templateGiven) {
      try {
        template = discoverTemplate(engine, main.toString('utf8'));
      } catch (e) {
        if (e instanceof DefinitionSyntaxError) return { status: 'FAILED', statusMessage: `${r.main}: ${e.message}`, parameterTemplate: null };
        throw e;
      }
    }
    const validator = this.validators(engine);
    if (!validator) {
      return { status: 'ACTIVE', statusMessage: `No ${engine} engine is installed on this deployment to check the definition; runs of it will fail until one is.`, parameterTemplate: template };
    }
    const dir = join(this.d.scratchDir, `definition-${r.uuid}`);
    try {
      for (const [name, body] of files) {
        await mkdir(dirname(join(dir, name)), { recursive: true });
        await writeFile(join(dir, name), body);
      }
      const complaint = await validator.validate(dir, r.main!);
      if (complaint) return { status: 'FAILED', statusMessage: complaint.split(`${dir}/`).join(''), parameterTemplate: template };
      return { status: 'ACTIVE', statusMessage: null, parameterTemplate: template };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
