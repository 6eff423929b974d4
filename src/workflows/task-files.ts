/**
 * What a task leaves for the run monitor, written by whatever starts task containers (the task shim for engines
 * that call a container command, the container API gate for engines that call the Docker Engine API):
 * `<tasks dir>/<task id>.json` (its record: created, then finished) and `<task id>.log` (its stdout and stderr).
 * Also the task's limits and environment as HealthOmics sets them, and its CPU and memory use sampled from its
 * cgroup. Imports only Node's standard library: the task shim runs as its own small process.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, type Dirent, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TaskFile {
  id: string;
  uuid: string;
  /** The task's name where the starter knows it (else the run monitor asks the engine's log). */
  name?: string;
  image: string;
  cpus: number;
  memoryGiB: number;
  cidfile: string | null;
  command: string[];
  creationTime: number;
  /** Set while the task waits for its run group's room (maxCpus, maxGpus): PENDING, not started. */
  waiting?: boolean;
  startTime: number;
  stopTime?: number;
  exitCode?: number;
  oomKilled?: boolean;
  imageDigest?: string | null;
  utilization?: { cpusAverage: number; cpusMaximum: number; memoryAverageGiB: number; memoryMaximumGiB: number; runningSeconds: number };
}

/** The run a task belongs to, as the run executor hands it to the task starters. */
export interface TaskRunContext {
  tasksDir: string;
  runId: string;
  runUuid: string;
  runArn: string;
  /** The task ARN without its id. */
  taskArnPrefix: string;
  region: string;
  /**
   * Where task cgroups go (`/openomics-tasks`), when the runtime manages cgroups as plain folders (cgroupfs): each
   * task's container then lives under a parent of its own, `<this>/<task id>`, which outlives the container, so its
   * peak memory and OOM kills are read after the container is gone. Unset (systemd-managed cgroups), the sampler's
   * half-second samples are all there is.
   */
  cgroupParent?: string;
}

/** The cgroup parent of one task, if the run has them (see `TaskRunContext.cgroupParent`). */
export function taskCgroupParent(run: TaskRunContext, id: string): string | undefined {
  return run.cgroupParent ? `${run.cgroupParent}/${id}` : undefined;
}

export const GiB = 1024 ** 3;

/** A new task's id (HealthOmics task ids are 10 digits) and UUID. */
export function newTaskId(): { id: string; uuid: string } {
  return { id: String(randomInt(1_000_000_000, 10_000_000_000)), uuid: randomUUID() };
}

/** CPUs and memory as HealthOmics reserves them: rounded up to whole vCPUs and GiB, at least 1 each (§4.7). */
export function taskLimits(cpus: number | undefined, memoryMiB: number | undefined): { cpus: number; memoryGiB: number } {
  return { cpus: Math.max(1, Math.ceil(cpus || 1)), memoryGiB: Math.max(1, Math.ceil((memoryMiB ?? 1024) / 1024)) };
}

/** The container's name and labels: the run's UUID on every task container lets the server find and stop them. */
export function taskContainer(run: TaskRunContext, id: string): { name: string; labels: Record<string, string> } {
  return { name: `openomics-${run.runId}-${id}`, labels: { 'openomics.run': run.runUuid, 'openomics.task': id } };
}

/** The AWS_WORKFLOW_* variables HealthOmics gives every task. */
export function taskEnvironment(run: TaskRunContext, task: { id: string; uuid: string }): Record<string, string> {
  return {
    AWS_REGION: run.region,
    AWS_WORKFLOW_RUN: run.runArn,
    AWS_WORKFLOW_RUN_ID: run.runId,
    AWS_WORKFLOW_RUN_UUID: run.runUuid,
    AWS_WORKFLOW_TASK: `${run.taskArnPrefix}${task.id}`,
    AWS_WORKFLOW_TASK_ID: task.id,
    AWS_WORKFLOW_TASK_UUID: task.uuid,
  };
}

/**
 * A task in a run group with CPU or GPU limits waits, PENDING, until the run monitor admits it: the monitor
 * decides against the group's running tasks (in every process) and answers by creating `<id>.go`.
 */
export async function awaitAdmission(dir: string, id: string): Promise<void> {
  const go = join(dir, `${id}.go`);
  while (!existsSync(go)) await new Promise((r) => setTimeout(r, 100));
}

export function admitTask(dir: string, id: string): void {
  writeFileSync(join(dir, `${id}.go`), '');
}

export function writeTask(dir: string, t: TaskFile): void {
  const path = join(dir, `${t.id}.json`);
  writeFileSync(`${path}.tmp`, JSON.stringify(t));
  renameSync(`${path}.tmp`, path);
}

function readNumber(path: string): number | undefined {
  try {
    const t = readFileSync(path, 'utf8');
    const usage = /usage_usec (\d+)/.exec(t);
    return usage ? Number(usage[1]) * 1000 : Number(t.trim());
  } catch {
    return undefined;
  }
}

function oomKills(path: string): number {
  try {
    return Number(/oom_kill (\d+)/.exec(readFileSync(path, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The container's memory now and at its peak (bytes), CPU time (ns) and OOM kills so far, from its cgroup (v1 or v2). */
function sampleCgroup(cgroup: string): { memory?: number; peak?: number; cpuNs?: number; oomKills: number } {
  const v1 = (file: string) => join('/sys/fs/cgroup/memory', cgroup, file);
  const v1mem = readNumber(v1('memory.usage_in_bytes'));
  if (v1mem !== undefined) {
    return { memory: v1mem, peak: readNumber(v1('memory.max_usage_in_bytes')), cpuNs: readNumber(join('/sys/fs/cgroup/cpuacct', cgroup, 'cpuacct.usage')), oomKills: oomKills(v1('memory.oom_control')) };
  }
  const v2 = (file: string) => join('/sys/fs/cgroup', cgroup, file);
  return { memory: readNumber(v2('memory.current')), peak: readNumber(v2('memory.peak')), cpuNs: readNumber(v2('cpu.stat')), oomKills: oomKills(v2('memory.events')) };
}

/** The cgroup folders of one cgroup path: one per controller hierarchy (v1), or the one unified folder (v2). */
function cgroupFolders(cgroup: string): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return [join('/sys/fs/cgroup', cgroup)];
  let controllers: string[] = [];
  try {
    controllers = readdirSync('/sys/fs/cgroup');
  } catch {
    return [];
  }
  return controllers.map((c) => join('/sys/fs/cgroup', c, cgroup));
}

/** Removes an emptied cgroup and the ones below it (a cgroup folder is removed with rmdir, its files go with it). */
function removeCgroup(cgroup: string): boolean {
  let removed = true;
  const remove = (dir: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) remove(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') removed = false;
    }
  };
  for (const folder of cgroupFolders(cgroup)) remove(folder);
  return removed;
}

/**
 * Removes a task's cgroup parent once the container has left it; the runtime's monitor (conmon) may stay in it a
 * moment after the container ended, so this tries for up to three seconds.
 */
export async function releaseCgroup(cgroup: string): Promise<void> {
  for (let i = 0; i < 30 && !removeCgroup(cgroup); i++) await new Promise((r) => setTimeout(r, 100));
}

/**
 * CPU and memory of a running container, sampled every half second from its cgroup (found by `cgroupOf` once
 * the container exists), summarised when it ends as the manifest's utilisation fields. With a task cgroup parent
 * (`taskCgroupParent`), its peak and OOM kills are read once more when the container has ended, so a task killed
 * before the first sample is still seen, and the parent is then removed.
 */
export class UsageSampler {
  private cgroup: string | undefined;
  private readonly samples: { t: number; memory: number; cpuNs: number }[] = [];
  private peak = 0;
  private oomSeen = false;
  private readonly timer: NodeJS.Timeout;
  private busy = false;

  constructor(
    cgroupOf: () => string | undefined | Promise<string | undefined>,
    private readonly parentCgroup?: string,
  ) {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      void Promise.resolve(this.cgroup ?? cgroupOf())
        .then((cg) => {
          this.cgroup = cg || undefined;
          if (this.cgroup) this.sample(this.cgroup);
        })
        .catch(() => undefined)
        .finally(() => (this.busy = false));
    }, 500);
  }

  private sample(cgroup: string): void {
    const s = sampleCgroup(cgroup);
    this.peak = Math.max(this.peak, s.peak ?? 0, s.memory ?? 0);
    this.oomSeen ||= s.oomKills > 0;
    if (s.memory !== undefined && s.cpuNs !== undefined && Number.isFinite(s.memory)) this.samples.push({ t: Date.now(), memory: s.memory, cpuNs: s.cpuNs });
  }

  /**
   * Stops sampling and completes the task's record. A task killed (137) at its memory limit was killed by the
   * OOM killer even where the runtime does not say so (cgroup v1 kills a child process, not the container's
   * first one, and Podman then reports OOMKilled false).
   */
  finish(task: TaskFile, exitCode: number, runtimeSaysOom: boolean, imageDigest: string | null): TaskFile {
    clearInterval(this.timer);
    const stop = Date.now();
    if (this.parentCgroup) {
      const s = sampleCgroup(this.parentCgroup);
      this.peak = Math.max(this.peak, s.peak ?? 0);
      this.oomSeen ||= s.oomKills > 0;
    }
    const rates: number[] = [];
    for (let i = 1; i < this.samples.length; i++) rates.push((this.samples[i]!.cpuNs - this.samples[i - 1]!.cpuNs) / 1e6 / (this.samples[i]!.t - this.samples[i - 1]!.t));
    const memories = this.samples.map((s) => s.memory / GiB);
    const oomKilled = runtimeSaysOom || (exitCode === 137 && (this.oomSeen || this.peak >= 0.95 * task.memoryGiB * GiB));
    const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return {
      ...task,
      stopTime: stop,
      exitCode,
      oomKilled,
      imageDigest: imageDigest?.startsWith('sha') ? imageDigest : null,
      utilization: {
        cpusAverage: round(avg(rates)),
        cpusMaximum: round(Math.max(0, ...rates)),
        memoryAverageGiB: round(avg(memories)),
        memoryMaximumGiB: round(Math.max(this.peak / GiB, ...memories)),
        runningSeconds: round((stop - task.startTime) / 1000),
      },
    };
  }

  /** Removes the task's cgroup parent (`releaseCgroup`). */
  release(): Promise<void> {
    return this.parentCgroup ? releaseCgroup(this.parentCgroup) : Promise.resolve();
  }
}
