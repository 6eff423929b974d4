import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { runArn, taskArn, workflowArn } from '../core/arn.js';
import type { DeferringJobHandler, GiveUpHandler } from '../jobs/runner.js';
import type { DomainDeps } from '../storage/context.js';
import type { DataLocations, ExportTarget } from '../storage/locations.js';
import { isOmicsUri, type OmicsStorageUris } from '../storage/omics-uris.js';
import { ContainerApiGate } from './container-api-gate.js';
import { unzipDefinition } from './definitions.js';
import type { RunRecord, RunStatus, TaskRecord, WorkflowEngine } from './entities.js';
import { runCommand, stripAnsi, type EngineAdapter, type EngineLaunch, type EngineOutputValue } from './engines/engine.js';
import { LogStreamWriter, logStreams } from './run-logs.js';
import { ACTIVE_RUN_STATUSES, type RunPayload } from './runs.js';
import { admitTask, answerCache, releaseCgroup, walkFiles, type TaskFile, type TaskRunContext } from './task-files.js';
import type { RunGroupService } from './run-groups.js';
import type { RunCacheService } from './run-caches.js';
import type { WorkflowService } from './workflows.js';

/** How this deployment runs workflows (config.workflows). */
export interface RunSettings {
  /** Where runs' working folders are made (the run storage of §4.9; removed when the run ends). */
  runsDir: string;
  containers: 'podman' | 'docker' | 'none';
  /** The real container command the task shim calls. */
  containerCommand: string;
  /** Podman's containers.conf for task containers (CONTAINERS_CONF), if any. */
  containersConf?: string;
  /** Whether task images missing from the runtime are pulled from their registry. */
  pullImages: boolean;
  maxRunMs: number;
  /** The container network the tasks of VPC-mode runs join (RESTRICTED runs' tasks have none). */
  vpcNetwork: string;
  /** The task shim (task-shim.js), started by the engine as its container command. */
  shimScript: string;
  region: string;
}

/** A run's failure, with the reason of spec §6.1. */
class RunFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

interface StagedInput {
  uri: string;
  path: string;
  isDirectory: boolean;
  digest: string | null;
  /** Whether the input still holds what was staged (MODIFIED_INPUT_RESOURCE otherwise). */
  unchanged(): Promise<boolean>;
}

const CANCEL_POLL_MS = 1000;
/** How soon a run that may not start yet asks again (the run's end kicks waiting runs sooner). */
const ADMISSION_RETRY_MS = 1000;
/** How often tasks waiting for their run group's CPUs are reconsidered. */
const TASK_ADMISSION_POLL_MS = 250;

/**
 * Runs one workflow run as a leased job: stage the inputs read-only into the run's folder, translate the
 * parameters, start the engine (its tasks go through the task shim into containers), follow its tasks into the
 * run's task records and log streams, then export the declared outputs under runOutputUri and write the
 * manifest. A run that ends badly ends FAILED with a reason; one cancelled is stopped (engine and containers)
 * and exports nothing. A worker killed mid-run leaves a job whose lease runs out: the next attempt stops what
 * the last one left on this host and runs the run again from the start.
 */
export class RunExecutor {
  constructor(
    private readonly d: DomainDeps,
    private readonly workflows: WorkflowService,
    private readonly locations: DataLocations,
    private readonly omicsUris: OmicsStorageUris,
    private readonly engines: (engine: WorkflowEngine) => EngineAdapter | undefined,
    private readonly runGroups: RunGroupService,
    private readonly runCaches: RunCacheService,
    private readonly s: RunSettings,
    private readonly log: Logger,
    /** Told when a run of a batch has ended (the batch may be PROCESSED now). */
    private readonly batchRunEnded: (accountId: string, batchId: string) => Promise<void> = async () => undefined,
  ) {}

  handler(): DeferringJobHandler<RunPayload> {
    return async (job, ctx) => {
      const done = { status: 'COMPLETED' as const, statusMessage: null, payload: {} };
      const run = await this.d.db.runs.get(job.accountId, job.storeId);
      await this.stopLeftovers(job.payload, run?.uuid);
      if (!run || !ACTIVE_RUN_STATUSES.includes(run.status)) {
        if (run?.batchId) await this.batchRunEnded(run.accountId, run.batchId);
        return done;
      }
      if (run.status === 'PENDING') {
        // Its turn by priority, and room in its run group: else it waits, PENDING, saying why.
        const admission = await this.runGroups.admitRun(run);
        if (!admission.admitted) {
          if (run.statusMessage !== admission.waiting) await this.d.db.runs.update(run.accountId, run.id, { statusMessage: admission.waiting }, ['PENDING']);
          return { deferMs: ADMISSION_RETRY_MS };
        }
      }
      this.log.info({ runId: run.id, jobId: job.id, attempt: job.attempts }, 'run started');
      // One folder per attempt: an attempt that lost its lease cleans up its own, never its successor's.
      const dir = join(this.s.runsDir, `${run.id}-${run.uuid}-${job.attempts}`);
      try {
        await this.execute(run, dir, ctx.signal, async (pid) => ctx.save({ host: hostname(), enginePid: pid }));
      } finally {
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      }
      if (run.batchId) await this.batchRunEnded(run.accountId, run.batchId);
      // An attempt that lost its lease leaves the run to the next attempt: the job is not this attempt's to end.
      if (ctx.signal.aborted) throw ctx.signal.reason;
      return done;
    };
  }

  giveUp(): GiveUpHandler<RunPayload> {
    return async (job, reason) => {
      const run = await this.d.db.runs.get(job.accountId, job.storeId);
      await this.stopLeftovers(job.payload, run?.uuid);
      await this.d.db.runs.update(job.accountId, job.storeId, { status: 'FAILED', failureReason: 'SERVICE_ERROR', statusMessage: reason.slice(0, 1000), stopTime: this.d.now() }, ACTIVE_RUN_STATUSES);
      return { status: 'FAILED', statusMessage: reason, payload: job.payload };
    };
  }

  /** What an earlier attempt left on this host: its engine's process group, and the run's containers. */
  private async stopLeftovers(p: RunPayload, runUuid: string | undefined): Promise<void> {
    if (p.enginePid && p.host === hostname()) killGroup(p.enginePid, 'SIGKILL');
    if (runUuid) await this.removeContainers(runUuid);
  }

  private async removeContainers(runUuid: string): Promise<void> {
    if (this.s.containers === 'none') return;
    const env = this.containerEnv();
    const found = await runCommand(this.s.containerCommand, ['ps', '-a', '--filter', `label=openomics.run=${runUuid}`, '--format', '{{.ID}} {{index .Labels "openomics.task"}}'], { env });
    const containers = found.stdout.split('\n').map((x) => x.trim().split(' ')).filter(([id]) => id);
    if (!containers.length) return;
    await runCommand(this.s.containerCommand, ['rm', '-f', '-t', '0', ...containers.map(([id]) => id!)], { env });
    // A task whose starter was killed with it (cancel, timeout, a lost worker) leaves its cgroup parent behind.
    const root = await this.taskCgroupRoot();
    if (root) await Promise.all(containers.filter(([, task]) => task && /^\d+$/.test(task)).map(([, task]) => releaseCgroup(`${root}/${task}`)));
  }

  private readonly versions = new Map<string, Promise<string>>();
  /** Each engine's version, asked once per process (starting Python to ask costs about 0.4 s). */
  private versionOf(engine: EngineAdapter): Promise<string> {
    let v = this.versions.get(engine.name);
    if (!v) this.versions.set(engine.name, (v = engine.version()));
    return v;
  }

  /** The shim is `podman` (or `docker`) on the engine's PATH, so it calls the real one by its full path. */
  private realContainerCommand(): string {
    const c = this.s.containerCommand;
    if (this.s.containers === 'none' || isAbsolute(c)) return c;
    const found = (process.env['PATH'] ?? '').split(':').map((d) => join(d, c)).find((p) => existsSync(p));
    if (!found) throw new RunFailure('WORKFLOW_RUN_FAILED', `The container runtime ${c} is not installed on this worker (OPENOMICS_CONTAINER_RUNTIME=none runs tasks without containers).`);
    return found;
  }

  private containerEnv(): NodeJS.ProcessEnv {
    return { ...process.env, ...(this.s.containersConf ? { CONTAINERS_CONF: this.s.containersConf } : {}) };
  }

  private async execute(run: RunRecord, dir: string, lost: AbortSignal, started: (pid: number) => Promise<void>): Promise<void> {
    const { db } = this.d;
    const now = this.d.now;
    const runLog = new LogStreamWriter(db, run.accountId, logStreams.run(run.id), now);
    const logOn = run.logLevel !== 'OFF';
    const say = (m: string) => {
      if (logOn) runLog.add(m);
    };
    /** Moves the run on, unless it was cancelled (or deleted) meanwhile. */
    const move = async (status: RunStatus, patch: Partial<RunRecord> = {}): Promise<boolean> => {
      const ok = await db.runs.update(run.accountId, run.id, { status, ...patch }, ACTIVE_RUN_STATUSES);
      if (ok) say(`Run ${run.id} is ${status}${patch.statusMessage ? `: ${patch.statusMessage}` : ''}`);
      await runLog.flush();
      return ok;
    };
    const tasks = new TaskFollower(this.d, run, join(dir, 'tasks'), logOn);
    let engineLog = '';
    let engine: EngineAdapter | undefined;
    let containerApi: { env: Record<string, string>; close(): Promise<void> } | undefined;
    try {
      if (!(await move('STARTING', { startTime: run.startTime ?? now(), statusMessage: null }))) return;
      const gated = await this.runGroups.gatesTasks(run);
      engine = this.engines(run.engine);
      if (!engine) throw new RunFailure('WORKFLOW_RUN_FAILED', `No ${run.engine} engine is installed on this deployment.`);
      const launch = await this.prepare(run, dir);
      const staged = await this.stageInputs(run, join(dir, 'inputs'));
      const digests = Object.fromEntries(staged.filter((s) => s.digest).map((s) => [s.uri, s.digest!]));
      const byUri = new Map(staged.map((s) => [s.uri, s]));
      await writeFile(launch.inputsFile, JSON.stringify(engine.inputs(run.parameters, (uri) => byUri.get(uri), launch)));
      const version = await this.versionOf(engine);
      if (!(await move('RUNNING', { resourceDigests: digests, engineVersion: `${engine.name} ${version}`.slice(0, 64), statusMessage: null }))) return;
      say(`Engine: ${engine.name} ${version}`);
      const { command, args } = engine.command(launch);
      const engineLogFile = createWriteStream(join(dir, 'engine.log'));
      const taskRun = this.taskRun(run, dir, await this.taskCgroupRoot());
      if (engine.containerApiTasks && this.s.containers !== 'none') containerApi = await this.openContainerApi(taskRun, dir, engine.containerApiTasks(launch));
      const env = {
        ...this.engineEnv(taskRun, dir),
        ...(engine.env?.(launch) ?? {}),
        ...(containerApi?.env ?? {}),
        ...(gated ? { OPENOMICS_TASK_GATE: '1' } : {}),
        ...(run.cacheId ? { OPENOMICS_TASK_CACHE: '1' } : {}),
        ...(run.networkingMode === 'VPC' ? { OPENOMICS_TASK_NETWORK: this.s.vpcNetwork } : {}),
      };
      const child = spawn(command, args, { cwd: launch.workDir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr!.on('data', (b: Buffer) => {
        engineLogFile.write(b);
        if (engineLog.length < 16 << 20) engineLog += b.toString();
      });
      const exited = new Promise<number>((resolve) => {
        child.on('error', (e) => {
          engineLog += `\n${e.message}`;
          resolve(127);
        });
        child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
      });
      if (child.pid) await started(child.pid);
      const outcome = await this.follow(run, engine, child, exited, tasks, () => engineLog, lost);
      await new Promise((r) => engineLogFile.end(r));
      await containerApi?.close();
      await tasks.sync(engine.taskNames(engineLog + (await this.extraLogs(launch))), true);
      if (outcome === 'cancelled' || outcome === 'lost') {
        await this.removeContainers(run.uuid);
        if (outcome === 'cancelled') say(`Run ${run.id} was cancelled: the engine and its tasks were stopped; nothing is exported.`);
        await runLog.flush();
        return;
      }
      if (outcome === 'timeout') {
        const limit = await this.timeLimit(run);
        throw new RunFailure('RUN_TIMED_OUT', limit.byGroup ? `Run exceeded its run group's maxDuration of ${limit.ms / 60_000} minutes.` : `Run timed out after ${Math.round(limit.ms / 1000)} seconds.`);
      }
      if (outcome !== 0) {
        const oom = tasks.failed().find((t) => t.failureReason === 'OUT_OF_MEMORY_ERROR');
        const failed = tasks.failed()[0];
        if (oom) throw new RunFailure('OUT_OF_MEMORY_ERROR', `Task ${oom.id} (${oom.name}) ran out of memory (${oom.memory} GiB); give it more memory.`);
        if (failed) throw new RunFailure('RUN_TASK_FAILED', `Task ${failed.id} (${failed.name}) failed${failed.statusMessage ? `: ${failed.statusMessage}` : ''}; its log is stream ${logStreams.task(run.id, failed.id)}.`);
        throw new RunFailure('WORKFLOW_RUN_FAILED', `The ${engine.name} engine failed (exit ${outcome}): ${lastLines(engineLog, 3)} — see log stream ${logStreams.engine(run.id)}.`);
      }
      if (!(await move('STOPPING', { statusMessage: 'Exporting outputs' }))) return;
      for (const s of staged) {
        if (!(await s.unchanged())) throw new RunFailure('MODIFIED_INPUT_RESOURCE', `The input ${s.uri} changed after the run started.`);
      }
      let outputs: Record<string, EngineOutputValue>;
      try {
        outputs = engine.outputs(stdout, launch);
      } catch (e) {
        throw new RunFailure('WORKFLOW_RUN_FAILED', `The engine's outputs could not be read: ${(e as Error).message}`);
      }
      for (const name of engine.unreportedOutputs?.(launch, outputs) ?? []) say(`Output ${name} is not reported: ${engine.name} does not report it (docs/workflows.md)`);
      await this.export(run, outputs, join(dir, 'engine.log'), engine);
      say(`Outputs exported to ${run.runOutputUri}`);
      await this.cacheResults(run, tasks, 'COMPLETED', say);
      await move('COMPLETED', { stopTime: now(), statusMessage: null });
    } catch (e) {
      if (lost.aborted) throw lost.reason;
      const failure =
        e instanceof RunFailure ? e : (this.log.error({ err: e, runId: run.id }, 'run failed unexpectedly'), new RunFailure('SERVICE_ERROR', `The run failed on a service error: ${(e as Error).message}`));
      await this.removeContainers(run.uuid);
      if (engineLog && logOn) {
        const w = new LogStreamWriter(db, run.accountId, logStreams.engine(run.id), now);
        w.add(engineLog);
        await w.flush();
      }
      // The engine log goes to the output location as well, when it can (a failed export cannot).
      if (engineLog && failure.reason !== 'EXPORT_FAILED') {
        await this.locations
          .target(run.runOutputUri, { accountId: run.accountId, roleArn: run.roleArn })
          .then((t) => t.write('logs/engine.log', Readable.from([engineLog])))
          .catch(() => undefined);
      }
      await this.cacheResults(run, tasks, failure.reason, say);
      await move('FAILED', { failureReason: failure.reason, statusMessage: failure.message.slice(0, 1000), stopTime: now() });
    } finally {
      await containerApi?.close();
      await tasks.close();
      await this.writeManifest(run, tasks.all()).catch((err: unknown) => this.log.warn({ err, runId: run.id }, 'could not write the run manifest'));
    }
  }

  /** Unpacks the definition and makes the run's folders; the container command on the engine's PATH is the task shim. */
  private async prepare(run: RunRecord, dir: string): Promise<EngineLaunch> {
    await rm(dir, { recursive: true, force: true });
    for (const sub of ['definition', 'work/tmp', 'work/tmp-out', 'work/task-logs', 'out', 'tasks', 'inputs', 'bin']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
    // A shared workflow is read from its owner's account (the share was checked at StartRun).
    const wf = await this.d.db.workflows.get(run.workflowOwnerId ?? run.accountId, run.workflowId, run.workflowVersionName ?? '');
    if (!wf || wf.uuid !== run.workflowUuid) throw new RunFailure('WORKFLOW_RUN_FAILED', `Workflow ${run.workflowId}${run.workflowVersionName ? ` version ${run.workflowVersionName}` : ''} was deleted before the run started.`);
    const files = unzipDefinition(await this.workflows.definition(wf));
    for (const [name, body] of files) {
      await mkdir(dirname(join(dir, 'definition', name)), { recursive: true });
      await writeFile(join(dir, 'definition', name), body, { mode: 0o444 });
    }
    if (this.s.containers !== 'none') {
      const shim = `#!/bin/sh\nexec "${process.execPath}" "${this.s.shimScript}" "$@"\n`;
      await writeFile(join(dir, 'bin', this.s.containers), shim, { mode: 0o755 });
    }
    return {
      definitionDir: join(dir, 'definition'),
      main: run.main ?? wf.main!,
      workDir: join(dir, 'work'),
      outDir: join(dir, 'out'),
      inputsFile: join(dir, 'inputs.json'),
      containers: this.s.containers,
      pullImages: this.s.pullImages,
    };
  }

  private taskCgroups: Promise<string | undefined> | undefined;
  /**
   * Where task containers' cgroups go, asked of the runtime once per process: `/openomics-tasks/<task id>` when it
   * manages cgroups as folders (cgroupfs), so a task's peak memory outlives its container (see `TaskRunContext`);
   * nothing under systemd, whose cgroup parents must be slices.
   */
  private taskCgroupRoot(): Promise<string | undefined> {
    if (this.s.containers === 'none') return Promise.resolve(undefined);
    const format = this.s.containers === 'podman' ? '{{.Host.CgroupManager}}' : '{{.CgroupDriver}}';
    return (this.taskCgroups ??= runCommand(this.realContainerCommand(), ['info', '--format', format], { env: this.containerEnv(), timeoutMs: 30_000 }).then(
      (r) => (r.code === 0 && r.stdout.trim() === 'cgroupfs' ? '/openomics-tasks' : undefined),
      () => undefined,
    ));
  }

  /** The run as the task starters (task shim, container API gate) see it. */
  private taskRun(run: RunRecord, dir: string, cgroupParent: string | undefined): TaskRunContext {
    return {
      cgroupParent,
      tasksDir: join(dir, 'tasks'),
      runId: run.id,
      runUuid: run.uuid,
      runArn: runArn(this.d.partition, run.accountId, run.id),
      taskArnPrefix: taskArn(this.d.partition, run.accountId, ''),
      region: this.s.region,
    };
  }

  /**
   * The Docker Engine API for an engine that starts containers through it: the runtime's own API (Podman's
   * `podman system service`, or the Docker daemon's socket) behind the container API gate. Sockets live in a
   * short temporary folder (a Unix socket path is limited to 107 bytes). Podman's service exits 30 s after its
   * last connection, so one left by a killed worker goes away by itself; the gate holds a connection while it lives.
   */
  private async openContainerApi(run: TaskRunContext, dir: string, tasks: ReturnType<NonNullable<EngineAdapter['containerApiTasks']>>): Promise<{ env: Record<string, string>; close(): Promise<void> }> {
    const sockets = await mkdtemp(join(tmpdir(), 'openomics-api-'));
    const podman = this.s.containers === 'podman';
    let service: ChildProcess | undefined;
    let upstream = (process.env['DOCKER_HOST'] ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
    if (podman) {
      upstream = join(sockets, 'podman.sock');
      service = spawn(this.realContainerCommand(), ['system', 'service', '--time=30', `unix://${upstream}`], { env: this.containerEnv(), stdio: 'ignore' });
    }
    const gate = new ContainerApiGate({ socketPath: join(sockets, 'docker.sock'), upstream, podman, run, allowedRoot: dir, task: tasks, allowPull: this.s.pullImages });
    let closed: Promise<void> | undefined;
    const close = () =>
      (closed ??= (async () => {
        await gate.close();
        service?.kill('SIGTERM');
        await rm(sockets, { recursive: true, force: true });
      })());
    try {
      if (!(await answers(upstream, 15_000))) throw new RunFailure('WORKFLOW_RUN_FAILED', `The container runtime's API did not answer on ${upstream}.`);
      await gate.start();
    } catch (e) {
      await close();
      throw e;
    }
    return { env: { DOCKER_HOST: `unix://${join(sockets, 'docker.sock')}` }, close };
  }

  private engineEnv(t: TaskRunContext, dir: string): NodeJS.ProcessEnv {
    return {
      ...this.containerEnv(),
      PATH: `${join(dir, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      HOME: join(dir, 'work'),
      TMPDIR: join(dir, 'work', 'tmp'),
      OPENOMICS_TASKS_DIR: t.tasksDir,
      OPENOMICS_CONTAINER_COMMAND: this.realContainerCommand(),
      OPENOMICS_RUN_ID: t.runId,
      OPENOMICS_RUN_UUID: t.runUuid,
      OPENOMICS_RUN_ARN: t.runArn,
      OPENOMICS_TASK_ARN_PREFIX: t.taskArnPrefix,
      OPENOMICS_REGION: t.region,
      OPENOMICS_TASK_CGROUP_PARENT: t.cgroupParent ?? '',
      OPENOMICS_IMAGE_PULL: this.s.pullImages ? 'missing' : 'never',
      OPENOMICS_MONITOR_PID: String(process.pid),
    };
  }

  /** Engine logs kept apart from its stderr (Toil's per-job logs), for task names. */
  private async extraLogs(l: EngineLaunch): Promise<string> {
    const folder = join(l.workDir, 'task-logs');
    const names = await readdir(folder).catch(() => [] as string[]);
    let text = '';
    for (const n of names) text += `\n${await readFile(join(folder, n), 'utf8').catch(() => '')}`;
    return text;
  }

  /**
   * The export phase's cache entries (spec §4.14): every task that succeeded here (not one replayed from the
   * cache), when the behavior asks for this outcome — CACHE_ALWAYS for any run, CACHE_ON_FAILURE for failed runs
   * — and never after a timeout, a failed export, a full disk, or before any task completed. A failure to write
   * is said in the run log; it never changes the run's outcome.
   */
  private async cacheResults(run: RunRecord, tasks: TaskFollower, outcome: string, say: (m: string) => void): Promise<void> {
    if (!run.cacheId) return;
    if (outcome === 'COMPLETED' ? run.cacheBehavior !== 'CACHE_ALWAYS' : ['RUN_TIMED_OUT', 'EXPORT_FAILED', 'FILE_SYSTEM_OUT_OF_SPACE'].includes(outcome)) return;
    for (const t of tasks.files.values()) {
      if (!t.cacheKey || !t.snapshot || t.exitCode !== 0 || t.cacheHit) continue;
      try {
        const entry = await this.runCaches.write(run, t.id, t.cacheKey, t.snapshot, t.workDir ?? '');
        say(`Task ${t.id} cached at ${entry}`);
      } catch (e) {
        say(`Task ${t.id} could not be cached: ${(e as Error).message}`);
      }
    }
  }

  /** The longest the run may take: the deployment's limit, or its run group's maxDuration if shorter (read each time: UpdateRunGroup applies). */
  private async timeLimit(run: RunRecord): Promise<{ ms: number; byGroup: boolean }> {
    const group = await this.runGroups.maxDurationMs(run);
    return group !== undefined && group < this.s.maxRunMs ? { ms: group, byGroup: true } : { ms: this.s.maxRunMs, byGroup: false };
  }

  /** Waits for the engine, syncing tasks (and admitting those waiting for their run group); stops it on cancel, lease loss or timeout. */
  private async follow(run: RunRecord, engine: EngineAdapter, child: ChildProcess, exited: Promise<number>, tasks: TaskFollower, engineLog: () => string, lost: AbortSignal): Promise<number | 'cancelled' | 'lost' | 'timeout'> {
    const started = run.startTime ?? this.d.now();
    for (;;) {
      const fast = tasks.waiting().length > 0 || run.cacheId !== null;
      const code = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(r, fast ? TASK_ADMISSION_POLL_MS : CANCEL_POLL_MS))]);
      if (code !== undefined) return code;
      await tasks.sync(engine.taskNames(engineLog()), false);
      for (const t of tasks.waiting()) {
        if (await this.runGroups.admitTask(run, t.id, t.cpus, t.gpus)) tasks.admit(t.id);
      }
      for (const q of await tasks.cacheRequests()) {
        // A lookup that fails (the bucket unreachable) is a miss: the cache never fails a run (spec §4.14).
        const hit = await this.runCaches.lookup(run, q.taskId, q.key, join(tasks.folder, `${q.taskId}.restore`)).catch(() => undefined);
        answerCache(tasks.folder, q.taskId, hit ? { hit: true, entryUri: hit.entryUri, dir: hit.dir } : { hit: false });
      }
      const current = await this.d.db.runs.get(run.accountId, run.id);
      const timedOut = this.d.now() > started + (await this.timeLimit(run)).ms;
      const stop = !current || !ACTIVE_RUN_STATUSES.includes(current.status) ? 'cancelled' : lost.aborted ? 'lost' : timedOut ? 'timeout' : undefined;
      if (stop) {
        killGroup(child.pid!, 'SIGTERM');
        await this.removeContainers(run.uuid);
        const ended = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(r, 5000))]);
        if (ended === undefined) killGroup(child.pid!, 'SIGKILL');
        await exited;
        return stop;
      }
    }
  }

  /** Every input URI in the parameters, copied read-only into the run's folder (spec §4.5). */
  private async stageInputs(run: RunRecord, folder: string): Promise<StagedInput[]> {
    const uris = new Set<string>();
    const walk = (v: unknown) => {
      if (typeof v === 'string') {
        if (isOmicsUri(v) || v.startsWith('s3://') || v.startsWith('file://')) uris.add(v);
      } else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(run.parameters);
    const staged: StagedInput[] = [];
    let n = 0;
    for (const uri of uris) staged.push(await this.stageOne(run, uri, join(folder, String(n++))));
    return staged;
  }

  private async stageOne(run: RunRecord, uri: string, folder: string): Promise<StagedInput> {
    await mkdir(folder, { recursive: true, mode: 0o700 });
    if (uri.endsWith('/')) return this.stageFolder(run, uri, folder);
    if (isOmicsUri(uri)) {
      let f;
      try {
        f = await this.omicsUris.resolve(run.accountId, uri);
      } catch (e) {
        throw new RunFailure('INVALID_URI_INPUT', (e as Error).message);
      }
      if (!f) throw new RunFailure('INPUT_URI_NOT_FOUND', `Specified URI does not exist: ${uri}`);
      if (f.status !== 'ACTIVE') throw new RunFailure('INACTIVE_OMICS_STORAGE_RESOURCE', `${uri} is ${f.status}, not ACTIVE${f.status === 'ARCHIVED' ? '; activate the read set first' : ''}.`);
      const path = join(folder, f.name);
      await pipeline(await f.open(), createWriteStream(path, { mode: 0o400 }));
      return {
        uri,
        path,
        isDirectory: false,
        digest: f.digest,
        unchanged: async () => {
          const now = await this.omicsUris.resolve(run.accountId, uri).catch(() => undefined);
          return !!now && now.status === 'ACTIVE' && now.digest === f.digest && now.size === f.size;
        },
      };
    }
    const ctx = { accountId: run.accountId, roleArn: run.roleArn };
    let src;
    try {
      src = await this.locations.resolve(uri, ctx);
    } catch (e) {
      throw new RunFailure('INPUT_URI_NOT_FOUND', `Specified URI does not exist or cannot be read: ${uri} (${(e as Error).message})`);
    }
    const path = join(folder, src.name);
    const md5 = createHash('md5');
    await pipeline(
      src.open(),
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          md5.update(chunk);
          cb(null, chunk);
        },
      }),
      createWriteStream(path, { mode: 0o400 }),
    );
    const digest = `etag:${src.etag ?? md5.digest('hex')}`;
    return {
      uri,
      path,
      isDirectory: false,
      digest,
      unchanged: async () => {
        const now = await this.locations.resolve(uri, ctx).catch(() => undefined);
        if (!now || now.size !== src.size) return false;
        return src.etag === undefined || now.etag === src.etag;
      },
    };
  }

  /** A folder input (`s3://bucket/prefix/`, `file:///dir/`): every file under it, staged with its relative path (§4.5). */
  private async stageFolder(run: RunRecord, uri: string, folder: string): Promise<StagedInput> {
    if (isOmicsUri(uri)) throw new RunFailure('INVALID_URI_INPUT', `${uri}: HealthOmics storage URIs name files, not folders.`);
    const ctx = { accountId: run.accountId, roleArn: run.roleArn };
    const list = async () => this.locations.resolveFolder(uri, ctx);
    let files;
    try {
      files = await list();
    } catch (e) {
      throw new RunFailure('INPUT_URI_NOT_FOUND', `Specified URI does not exist or cannot be read: ${uri} (${(e as Error).message})`);
    }
    const root = join(folder, 'folder');
    for (const f of files) {
      const path = join(root, f.relativePath);
      if (!path.startsWith(`${root}/`)) throw new RunFailure('INVALID_URI_INPUT', `${uri}: ${f.relativePath} leaves the folder.`);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await pipeline(f.open(), createWriteStream(path, { mode: 0o400 }));
    }
    // The folder's digest: its files' names, sizes and ETags (an added, removed or changed file changes it).
    const digestOf = (fs: typeof files) => createHash('sha256').update(fs.map((f) => `${f.relativePath}\0${f.size}\0${f.etag ?? ''}`).sort().join('\n')).digest('hex').slice(0, 58);
    const digest = digestOf(files);
    return {
      uri,
      path: root,
      isDirectory: true,
      digest: `sha256:${digest}`,
      unchanged: async () => digestOf(await list().catch(() => [])) === digest,
    };
  }

  /** Declared outputs to `<runOutputUri>/out/`, their summary to `logs/outputs.json`, the engine log to `logs/engine.log`. */
  private async export(run: RunRecord, outputs: Record<string, EngineOutputValue>, engineLogPath: string, engine: EngineAdapter): Promise<void> {
    let target: ExportTarget;
    try {
      target = await this.locations.target(run.runOutputUri, { accountId: run.accountId, roleArn: run.roleArn });
    } catch (e) {
      throw new RunFailure('EXPORT_FAILED', `The output location ${run.outputUri} cannot be written: ${(e as Error).message}`);
    }
    const used = new Set<string>();
    const put = async (key: string, o: Extract<EngineOutputValue, { kind: 'file' }>): Promise<unknown> => {
      let rel = engine.outputLayout === 'by-output' ? `out/${key.replace(/^[^.]*\./, '')}/${o.basename}` : `out/${o.basename}`;
      if (used.has(rel)) rel = `out/${key}/${o.basename}`;
      used.add(rel);
      if (o.isDirectory) {
        for (const f of await walkFiles(o.path)) await target.write(`${rel}/${relative(o.path, f)}`, createReadStream(f));
        return { location: `${run.runOutputUri}/${rel}`, basename: o.basename, class: 'Directory' };
      }
      const { size } = await target.write(rel, createReadStream(o.path));
      return engine.languages.includes('CWL') ? { location: `${run.runOutputUri}/${rel}`, basename: o.basename, class: 'File', size } : `${run.runOutputUri}/${rel}`;
    };
    const summarise = async (key: string, v: EngineOutputValue): Promise<unknown> =>
      v.kind === 'file' ? put(key, v) : v.kind === 'array' ? Promise.all(v.items.map((x) => summarise(key, x))) : v.value;
    try {
      const summary: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(outputs)) summary[k] = await summarise(k, v);
      if (engine.outputsSummary !== false) await target.write('logs/outputs.json', Readable.from([JSON.stringify(summary, null, 2)]));
      await target.write('logs/engine.log', createReadStream(engineLogPath));
    } catch (e) {
      throw new RunFailure('EXPORT_FAILED', `Exporting the outputs to ${run.runOutputUri} failed: ${(e as Error).message}`);
    }
  }

  /** The manifest stream (spec §7.2): the run, then one record per task with what it used. */
  private async writeManifest(run: RunRecord, tasks: TaskRecord[]): Promise<void> {
    const r = await this.d.db.runs.get(run.accountId, run.id);
    if (!r || r.logLevel === 'OFF') return;
    const p = this.d.partition;
    const w = new LogStreamWriter(this.d.db, run.accountId, logStreams.manifest(run.id, run.uuid), this.d.now);
    const iso = (t: number | null) => (t === null ? undefined : new Date(t).toISOString());
    w.add(
      JSON.stringify({
        arn: runArn(p, r.accountId, r.id),
        creationTime: iso(r.creationTime),
        resourceDigests: r.resourceDigests,
        digest: r.digest,
        engine: r.engine,
        main: r.main,
        name: r.name ?? undefined,
        outputUri: r.outputUri,
        parameters: r.parameters,
        roleArn: r.roleArn,
        startedBy: r.startedBy,
        startTime: iso(r.startTime),
        status: r.status,
        stopTime: iso(r.stopTime),
        storageCapacity: r.storageCapacity ?? undefined,
        storageType: r.storageType,
        uuid: r.uuid,
        workflow: workflowArn(p, r.workflowOwnerId ?? r.accountId, r.workflowId, r.workflowVersionName ?? undefined),
        workflowType: 'PRIVATE',
      }),
    );
    for (const t of tasks) {
      w.add(
        JSON.stringify({
          arn: taskArn(p, r.accountId, t.id),
          cpus: t.cpus,
          creationTime: iso(t.creationTime),
          image: t.image ?? undefined,
          imageDigest: t.imageDigest ?? undefined,
          memory: t.memory,
          name: t.name,
          run: runArn(p, r.accountId, r.id),
          startTime: iso(t.startTime),
          status: t.status,
          stopTime: iso(t.stopTime),
          uuid: t.uuid,
          cpusReserved: t.cpus,
          gpusReserved: t.gpus,
          memoryReservedGiB: t.memory,
          ...(t.utilization ?? {}),
        }),
      );
    }
    await w.flush();
  }
}

/**
 * Follows the task shim's files: each task's record (created, then finished) into run_tasks, its output into
 * its log stream.
 */
class TaskFollower {
  private readonly known = new Map<string, TaskRecord>();
  private readonly logs = new Map<string, { writer: LogStreamWriter; offset: number }>();
  private readonly admitted = new Set<string>();
  /** Each task's file as last read (what the cache keeps of it). */
  readonly files = new Map<string, TaskFile>();
  private readonly asked = new Set<string>();

  constructor(
    private readonly d: DomainDeps,
    private readonly run: RunRecord,
    readonly folder: string,
    private readonly logOn: boolean,
  ) {}

  /** Tasks asking the run cache for their results, not yet answered. */
  async cacheRequests(): Promise<{ taskId: string; key: string }[]> {
    const names = (await readdir(this.folder).catch(() => [] as string[])).filter((f) => f.endsWith('.cache-request'));
    const out: { taskId: string; key: string }[] = [];
    for (const n of names) {
      const taskId = n.slice(0, -'.cache-request'.length);
      if (this.asked.has(taskId)) continue;
      this.asked.add(taskId);
      out.push({ taskId, key: (JSON.parse(await readFile(join(this.folder, n), 'utf8')) as { key: string }).key });
    }
    return out;
  }

  all(): TaskRecord[] {
    return [...this.known.values()];
  }
  failed(): TaskRecord[] {
    return this.all().filter((t) => t.status === 'FAILED');
  }
  /** Tasks waiting for their run group's admission (PENDING, not yet admitted). */
  waiting(): TaskRecord[] {
    return this.all().filter((t) => t.status === 'PENDING' && !this.admitted.has(t.id));
  }
  /** Lets a waiting task start (the shim waits for this). */
  admit(id: string): void {
    this.admitted.add(id);
    admitTask(this.folder, id);
  }

  async sync(names: Map<string, string>, final: boolean): Promise<void> {
    const files = (await readdir(this.folder).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
    for (const f of files) {
      const known = this.known.get(f.slice(0, -'.json'.length));
      // An ended task changes no more until the final look (which may learn its name from logs written at the end).
      if (!final && known && known.status !== 'RUNNING' && known.status !== 'PENDING') continue;
      let t: TaskFile;
      try {
        t = JSON.parse(await readFile(join(this.folder, f), 'utf8')) as TaskFile;
      } catch {
        continue; // being written
      }
      const name = t.name ?? (t.cidfile && names.get(t.cidfile)) ?? t.command[0] ?? t.image;
      const ended = t.stopTime !== undefined;
      const oom = !!t.oomKilled;
      const status = ended ? (t.exitCode === 0 ? 'COMPLETED' : 'FAILED') : final ? 'FAILED' : t.waiting ? 'PENDING' : 'RUNNING';
      const rec: TaskRecord = {
        runId: this.run.id,
        id: t.id,
        uuid: t.uuid,
        name: name.slice(0, 128),
        status,
        statusMessage: ended
          ? t.exitCode === 0
            ? null
            : oom
              ? `The task ran out of memory (${t.memoryGiB} GiB) and was stopped.`
              : `The task exited with code ${t.exitCode}.`
          : final
            ? 'The task did not finish (the run stopped).'
            : t.waiting
              ? "Waiting for room in the run group (maxCpus, maxGpus)."
              : null,
        failureReason: oom ? 'OUT_OF_MEMORY_ERROR' : status === 'FAILED' ? 'RUN_TASK_FAILED' : null,
        cpus: t.cpus,
        memory: t.memoryGiB,
        gpus: 0,
        image: t.image,
        imageDigest: t.imageDigest ?? null,
        exitCode: t.exitCode ?? null,
        utilization: t.utilization ?? null,
        cacheHit: t.cacheHit === true,
        cacheS3Uri: t.cacheS3Uri ?? null,
        creationTime: t.creationTime,
        startTime: t.waiting ? null : t.startTime,
        stopTime: t.stopTime ?? (final ? this.d.now() : null),
      };
      this.files.set(t.id, t);
      const prev = this.known.get(t.id);
      if (!prev) await this.d.db.runs.putTask(rec);
      else if (prev.status !== rec.status || prev.name !== rec.name) await this.d.db.runs.updateTask(this.run.id, t.id, rec);
      this.known.set(t.id, rec);
      await this.copyLog(t.id, status !== 'RUNNING');
    }
  }

  /**
   * Appends what the task wrote since the last look to its stream `run/<id>/task/<taskId>`: whole lines only,
   * unless `final` (the task or run has ended), when a last line without a newline goes too.
   */
  private async copyLog(taskId: string, final: boolean): Promise<void> {
    if (!this.logOn) return;
    let l = this.logs.get(taskId);
    if (!l) this.logs.set(taskId, (l = { writer: new LogStreamWriter(this.d.db, this.run.accountId, logStreams.task(this.run.id, taskId), this.d.now), offset: 0 }));
    const fh = await open(join(this.folder, `${taskId}.log`), 'r').catch(() => undefined);
    if (!fh) return;
    try {
      const size = (await fh.stat()).size;
      if (size <= l.offset) return;
      const buf = Buffer.alloc(size - l.offset);
      await fh.read(buf, 0, buf.length, l.offset);
      const end = final ? buf.length : buf.lastIndexOf(0x0a) + 1;
      if (end === 0) return;
      l.offset += end;
      l.writer.add(buf.subarray(0, end).toString('utf8'));
      await l.writer.flush();
    } finally {
      await fh.close();
    }
  }

  /** The last of every task's log. */
  async close(): Promise<void> {
    for (const id of this.logs.keys()) await this.copyLog(id, true);
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function lastLines(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => stripAnsi(l).trim())
    .filter(Boolean)
    .slice(-n)
    .join(' | ')
    .slice(0, 600);
}


/** Whether a Docker-compatible API answers `_ping` on the socket within the time given. */
async function answers(socketPath: string, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const r = request({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      r.on('error', () => resolve(false));
      r.on('timeout', () => r.destroy());
      r.end();
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
