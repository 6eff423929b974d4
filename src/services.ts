import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ownedName, writerEnded } from './core/process-owned.js';
import type { Logger } from 'pino';
import type { Core } from './app.js';
import type { Services } from './api/omics/operations.js';
import type { DomainDeps } from './storage/context.js';
import { SequenceStoreService } from './storage/sequence-stores.js';
import { ReferenceStoreService } from './storage/reference-stores.js';
import { TagService } from './storage/tags.js';
import { ReadSetService } from './storage/read-sets.js';
import { REFERENCE_IMPORT_JOB, ReferenceService } from './storage/references.js';
import { UploadService } from './storage/uploads.js';
import { DataLocations } from './storage/locations.js';
import { READ_SET_INGEST_JOB, readSetIngestJob } from './storage/ingest.js';
import { describeAttemptError } from './storage/job-errors.js';
import { ArchiveService, READ_SET_ACTIVATION_JOB } from './storage/archive.js';
import { READ_SET_EXPORT_JOB, READ_SET_IMPORT_JOB, ReadSetJobService } from './storage/read-set-jobs.js';
import { JobRunner } from './jobs/runner.js';
import { isTransientIoError } from './core/errors.js';
import { S3ViewService } from './storage/s3-view.js';
import { S3AccessPolicyService } from './storage/s3-access-policy.js';
import { AccessLogService } from './storage/access-logs.js';
import { sweepOrphanBlobs } from './storage/orphan-blobs.js';
import { fileURLToPath } from 'node:url';
import { OmicsStorageUris } from './storage/omics-uris.js';
import { WORKFLOW_VALIDATION_JOB, WorkflowService } from './workflows/workflows.js';
import { RunService, WORKFLOW_RUN_JOB } from './workflows/runs.js';
import { RunExecutor } from './workflows/run-executor.js';
import { RunGroupService } from './workflows/run-groups.js';
import { RUN_BATCH_JOB, RunBatchService } from './workflows/run-batches.js';
import { RunCacheService } from './workflows/run-caches.js';
import { EventDelivery } from './events/event-delivery.js';
import { ConfigurationService } from './workflows/configurations.js';
import { RunLogService } from './workflows/run-logs.js';
import { VariantStoreService } from './analytics/variant-stores.js';
import { VARIANT_IMPORT_JOB, VariantImportService } from './analytics/variant-imports.js';
import { ANALYTICS_QUERY_JOB, QueryService } from './analytics/queries.js';
import { ANNOTATION_IMPORT_JOB, AnnotationStoreService } from './analytics/annotation-stores.js';
import { AnnotationImportService } from './analytics/annotation-imports.js';
import { ShareService } from './shares/shares.js';
import { CwltoolAdapter, ToilCwlAdapter } from './workflows/engines/cwl.js';
import { MiniwdlAdapter } from './workflows/engines/miniwdl.js';
import { NextflowAdapter } from './workflows/engines/nextflow.js';
import { ToilWdlAdapter } from './workflows/engines/toil-wdl.js';
import { WorkflowFileLinks } from './workflows/file-links.js';
import type { EngineAdapter } from './workflows/engines/engine.js';
import type { WorkflowEngine } from './workflows/entities.js';

const DAY_MS = 24 * 3600 * 1000;

/** Whether `command` is on this process's PATH. */
function onPath(command: string): boolean {
  return (process.env['PATH'] ?? '').split(':').some((d) => d && existsSync(join(d, command)));
}

/** The clock plus an offset kept in a file (tests move time forward by writing it). */
function offsetClock(file: string): () => number {
  return () => {
    let offset = 0;
    try {
      offset = Number(readFileSync(file, 'utf8').trim()) || 0;
    } catch {
      // no file: no offset
    }
    return Date.now() + offset;
  };
}

/**
 * Scratch folders of processes that ended (killed mid-CRAM: a decrypted reference, the CRAM itself) are
 * removed; so is anything of the layout before per-process scratch (a shared reference cache, cram-* folders).
 */
function removeOrphanScratch(root: string, log: Logger): void {
  for (const name of readdirSync(root)) {
    if (writerEnded(name) || name === 'references' || /^(cram|ref)-/.test(name)) {
      rmSync(join(root, name), { recursive: true, force: true });
      log.info({ scratch: join(root, name) }, 'removed the scratch space of an ended process');
    }
  }
}

/**
 * The composition root's upper half: the domain services over the core, the
 * job runner with every job kind's handler, and the periodic sweeps (upload
 * expiry, archiving). `serve` runs it with the HTTP edge; `worker` runs it
 * alone, so jobs scale out independently of request handling.
 */
export function startServices(
  core: Core,
  log: Logger,
  opts: { runJobs: boolean },
): { services: Services; s3View: S3ViewService; accessLogs: AccessLogService; runner: JobRunner; stop(): Promise<void> } {
  const { config } = core;
  const deps: DomainDeps = {
    db: core.db,
    keys: core.keys,
    blobs: core.blobs,
    coldBlobs: core.coldBlobs,
    // This process's own scratch space (plaintext while a CRAM decodes), removed when it stops; what a killed
    // process left is removed by the next one to start on this machine.
    scratchDir: join(config.dataDir, 'scratch', ownedName()),
    partition: core.partition,
    quotas: config.quotas,
    now: config.clockOffsetFile ? offsetClock(config.clockOffsetFile) : Date.now,
  };
  mkdirSync(deps.scratchDir, { recursive: true, mode: 0o700 });
  removeOrphanScratch(dirname(deps.scratchDir), log);
  const sequenceStores = new SequenceStoreService(deps);
  const referenceStores = new ReferenceStoreService(deps);
  const kick = () => runner.kick();
  const noRoots = { importRoots: [], exportRoots: [] };
  const locations = new DataLocations(
    (accountId) =>
      accountId === config.accountId
        ? { importRoots: config.importRoots, exportRoots: config.exportRoots }
        : (config.accountRoots[accountId] ?? noRoots),
    core.connections,
  );
  const references = new ReferenceService(deps, referenceStores, locations, kick);
  const archive = new ArchiveService(deps, sequenceStores, kick);
  const readSetJobs = new ReadSetJobService(deps, sequenceStores, references, locations, kick);
  const uploads = new UploadService(deps, sequenceStores, references, kick);
  // Workflows: CWL by cwltool or Toil; definitions are always checked by cwltool (Toil runs cwltool's code).
  const wf = config.workflows;
  const cwlRunner: EngineAdapter = wf.cwlRunner === 'toil' ? new ToilCwlAdapter(wf.toilBatchSystem) : new CwltoolAdapter();
  const cwlValidator = new CwltoolAdapter();
  // WDL by miniwdl when it is installed (not on Debian 12), else by Toil's legacy runner; Nextflow when it is
  // installed (neither is here: both adapters untested, docs/workflows.md).
  const wdl = onPath('miniwdl') ? new MiniwdlAdapter() : onPath('toil-wdl-runner') ? new ToilWdlAdapter() : undefined;
  const nextflow = onPath('nextflow') && onPath('unshare') ? new NextflowAdapter() : undefined;
  const engines = (e: WorkflowEngine): EngineAdapter | undefined => (e === 'CWL' ? cwlRunner : e === 'WDL' || e === 'WDL_LENIENT' ? wdl : e === 'NEXTFLOW' ? nextflow : undefined);
  const shares = new ShareService(deps);
  const workflows = new WorkflowService(deps, locations, (e) => (e === 'CWL' ? cwlValidator : engines(e)), kick, new WorkflowFileLinks(core.db, core.keys), shares);
  const runGroups = new RunGroupService(deps);
  const configurations = new ConfigurationService(deps);
  const runCaches = new RunCacheService(deps, locations);
  const runs = new RunService(deps, workflows, locations, runGroups, configurations, runCaches, () => runRunner.kick());
  const runBatches = new RunBatchService(deps, runs, locations, wf.batchSubmitPerSecond, kick);
  mkdirSync(wf.runsDir, { recursive: true, mode: 0o700 });
  const runExecutor = new RunExecutor(
    deps,
    workflows,
    locations,
    new OmicsStorageUris(deps),
    engines,
    runGroups,
    runCaches,
    {
      runsDir: wf.runsDir,
      containers: wf.containerRuntime,
      containerCommand: wf.containerCommand ?? wf.containerRuntime,
      pullImages: wf.imagePull === 'missing',
      ...(wf.containersConf ? { containersConf: wf.containersConf } : {}),
      maxRunMs: wf.maxRunSeconds * 1000,
      vpcNetwork: wf.vpcNetwork,
      shimScript: fileURLToPath(new URL('./workflows/task-shim.js', import.meta.url)),
      region: config.region,
    },
    log.child({ component: 'runs' }),
    (accountId, batchId) => runBatches.runEnded(accountId, batchId),
  );
  // Analytics: variant stores, their rows written by import jobs (bcftools and DuckDB).
  const variantStores = new VariantStoreService(deps, references);
  const variantImports = new VariantImportService(deps, variantStores, references, locations, kick);
  const annotationStores = new AnnotationStoreService(deps, references);
  const annotationImports = new AnnotationImportService(deps, annotationStores, references, locations, kick);
  const queries = new QueryService(deps, variantStores, annotationStores, shares, locations, kick);
  const services: Services = {
    sequenceStores,
    referenceStores,
    tags: new TagService(deps),
    readSets: new ReadSetService(deps, sequenceStores),
    uploads,
    readSetJobs,
    archive,
    s3AccessPolicies: new S3AccessPolicyService(deps),
    references,
    workflows,
    runs,
    runGroups,
    configurations,
    runBatches,
    runCaches,
    runLogs: new RunLogService(core.db),
    variantStores,
    variantImports,
    annotationStores,
    annotationImports,
    queries,
    shares,
    partition: core.partition,
  };
  const ingest = readSetIngestJob(deps, references, locations, (up) => uploads.removeParts(up));
  const runner = new JobRunner({
    jobs: core.db.jobs,
    atomically: (fn) => core.db.atomically(fn),
    log: log.child({ component: 'jobs' }),
    concurrency: Math.max(1, config.workers),
    leaseMs: config.jobLeaseMs,
    maxAttempts: config.jobMaxAttempts,
    maxStorageAttempts: config.jobMaxStorageAttempts,
    isTransient: isTransientIoError,
    now: deps.now,
    kinds: {
      [READ_SET_INGEST_JOB]: ingest,
      [REFERENCE_IMPORT_JOB]: { run: references.importHandler(), giveUp: references.importGiveUp() },
      [READ_SET_IMPORT_JOB]: { run: readSetJobs.importHandler(), giveUp: readSetJobs.importGiveUp() },
      [READ_SET_EXPORT_JOB]: { run: readSetJobs.exportHandler(), giveUp: readSetJobs.exportGiveUp() },
      [READ_SET_ACTIVATION_JOB]: { run: archive.activationHandler(), giveUp: archive.activationGiveUp() },
      [WORKFLOW_VALIDATION_JOB]: { run: workflows.validationHandler(), giveUp: workflows.validationGiveUp() },
      [RUN_BATCH_JOB]: { run: runBatches.handler(), giveUp: runBatches.giveUp(), waitsTurn: true },
      [VARIANT_IMPORT_JOB]: { run: variantImports.handler(), giveUp: variantImports.giveUp() },
      [ANNOTATION_IMPORT_JOB]: { run: annotationImports.handler(), giveUp: annotationImports.giveUp() },
      [ANALYTICS_QUERY_JOB]: { run: queries.handler() },
    },
    describeError: describeAttemptError,
  });
  // Runs hold a worker for as long as they run: they get a runner (and slots) of their own, so a long run
  // never holds up imports.
  const runRunner = new JobRunner({
    jobs: core.db.jobs,
    atomically: (fn) => core.db.atomically(fn),
    log: log.child({ component: 'runs' }),
    concurrency: config.workers > 0 ? Math.max(1, wf.concurrentRuns) : 0,
    leaseMs: config.jobLeaseMs,
    maxAttempts: config.jobMaxAttempts,
    maxStorageAttempts: config.jobMaxStorageAttempts,
    isTransient: isTransientIoError,
    now: deps.now,
    kinds: { [WORKFLOW_RUN_JOB]: { run: runExecutor.handler(), giveUp: runExecutor.giveUp(), waitsTurn: true } },
    describeError: describeAttemptError,
  });
  const eventDelivery = new EventDelivery(
    core.db,
    core.partition,
    { webhooks: config.events.webhooks, maxAttempts: config.events.maxAttempts, retentionMs: config.events.retentionHours * 3_600_000 },
    log.child({ component: 'events' }),
  );
  const accessLogs = new AccessLogService(core.db, locations, log.child({ component: 's3-access-log' }), config.s3.accessLogFlushMs);
  accessLogs.start();
  const timers: NodeJS.Timeout[] = [];
  if (opts.runJobs) {
    runner.start();
    runRunner.start();
    eventDelivery.start();
    const every = (ms: number, what: string, fn: () => Promise<unknown>) => {
      const t = setInterval(() => fn().catch((err) => log.error({ err }, `${what} failed`)), ms);
      t.unref();
      timers.push(t);
    };
    every(Math.min(60_000, Math.max(1_000, Math.floor(config.uploadExpiryMs / 2))), 'upload sweep', () => uploads.sweep(config.uploadExpiryMs));
    every(config.archive.sweepMs, 'archive sweep', () => archive.sweep(config.archive.afterMs));
    // What interrupted writes left: a killed process's partial blobs at once (its pid is gone), anything else
    // (incomplete multipart uploads in the bucket, whose writer cannot be proven gone) after a day.
    const sweepIncomplete = async () => {
      const removed = (await core.blobs.sweepIncomplete(DAY_MS)) + (await core.coldBlobs.sweepIncomplete(DAY_MS));
      if (removed > 0) log.info({ removed }, 'removed what interrupted blob writes left');
    };
    void sweepIncomplete().catch((err) => log.error({ err }, 'incomplete-writes sweep failed'));
    every(15 * 60_000, 'incomplete-writes sweep', sweepIncomplete);
    // Nothing may stay non-terminal unnoticed: jobs no worker has run for three leases are reported (a worker
    // without the handler or the settings for them, every worker down, a job the runner cannot claim).
    every(Math.max(1_000, config.jobLeaseMs), 'stalled-job check', async () => {
      for (const s of await core.db.jobs.stalled(deps.now() - 3 * config.jobLeaseMs)) {
        log.warn({ kind: s.kind, count: s.count, oldestCreation: new Date(s.oldestCreation).toISOString() }, 'jobs are waiting with no worker running them');
      }
    });
    every(config.orphanSweepMs, 'orphan blob sweep', async () => {
      const { removed } = await sweepOrphanBlobs(deps);
      if (removed > 0) log.warn({ removed }, 'removed blobs nothing refers to (an earlier cleanup failed or its process died)');
    });
  }
  return {
    services,
    s3View: new S3ViewService(deps),
    accessLogs,
    runner,
    stop: async () => {
      for (const t of timers) clearInterval(t);
      await accessLogs.close();
      await runner.stop();
      await runRunner.stop();
      await eventDelivery.stop();
      rmSync(deps.scratchDir, { recursive: true, force: true });
    },
  };
}
