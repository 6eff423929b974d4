/**
 * What a task leaves for the run monitor, written by whatever starts task containers (the task shim for engines
 * that call a container command, the container API gate for engines that call the Docker Engine API):
 * `<tasks dir>/<task id>.json` (its record: created, then finished) and `<task id>.log` (its stdout and stderr).
 * Also the task's limits and environment as HealthOmics sets them, and its CPU and memory use sampled from its
 * cgroup. Imports only Node's standard library: the task shim runs as its own small process.
 */
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, linkSync, mkdirSync, readdirSync, type Dirent, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
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
  /** Run-cache runs: the task's cache key; on a hit, the entry it came from (the task did not run). */
  cacheKey?: string;
  cacheHit?: boolean;
  cacheS3Uri?: string;
  /** Where the task's results were kept for the cache (`out/<n>/…`, `stdout`, `stderr`), and its container working folder. */
  snapshot?: string;
  workDir?: string;
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
  await waitFor(join(dir, `${id}.go`));
}

/**
 * Waits for the run monitor to create `path`; fails if the monitor's process is gone (a server stopped or killed
 * mid-run: the task must not wait forever; the run's next attempt starts again).
 */
async function waitFor(path: string): Promise<void> {
  const monitor = Number(process.env['OPENOMICS_MONITOR_PID'] ?? 0);
  for (let n = 0; !existsSync(path); n++) {
    if (monitor && n % 10 === 0) {
      try {
        process.kill(monitor, 0);
      } catch {
        throw new Error(`the run monitor (process ${monitor}) is gone`);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
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

/** A bind mount of a container command (`--mount=type=bind,source=…,target=…[,readonly]` or `-v src:dst[:ro]`). */
export interface TaskMount {
  source: string;
  target: string;
  readonly: boolean;
}

/** The bind mounts among a `run`'s options. */
export function taskMounts(options: string[]): TaskMount[] {
  const mounts: TaskMount[] = [];
  for (let i = 0; i < options.length; i++) {
    const o = options[i]!;
    const value = (name: string) => (o.startsWith(`${name}=`) ? o.slice(name.length + 1) : o === name ? options[++i] : undefined);
    const mount = value('--mount');
    if (mount !== undefined) {
      const fields = Object.fromEntries(
        csvFields(mount).map((f) => {
          const eq = f.indexOf('=');
          return eq < 0 ? [f, 'true'] : [f.slice(0, eq), f.slice(eq + 1)];
        }),
      );
      const source = fields['source'] ?? fields['src'];
      const target = fields['target'] ?? fields['destination'] ?? fields['dst'];
      if (source && target && (fields['type'] ?? 'bind') === 'bind') mounts.push({ source, target, readonly: fields['readonly'] === 'true' || fields['ro'] === 'true' });
      continue;
    }
    const volume = value('-v') ?? value('--volume');
    if (volume !== undefined) {
      const [source, target, opts] = volume.split(':');
      if (source && target) mounts.push({ source, target, readonly: (opts ?? '').split(',').includes('ro') });
    }
  }
  return mounts;
}

/** The fields of one CSV line (Docker's `--mount` value: a field with a comma is quoted). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** SHA-256 of a file's bytes, or of a folder's files (their relative paths, sizes and contents, in order). */
export async function contentDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  const add = async (p: string, rel: string): Promise<void> => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) await add(join(p, name), rel ? `${rel}/${name}` : name);
      return;
    }
    h.update(`${rel}\0${st.size}\0`);
    for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  };
  await add(path, '');
  return h.digest('hex');
}

/**
 * A task's cache key (spec §4.14): the command as the engine rendered it for this task — its arguments,
 * environment and working folder, each mount's container path replaced by what it holds (an input's content
 * digest, the n-th output folder, the scratch folder), so the engine's random staging paths do not matter — and
 * the image digest, vCPUs, memory and GPUs.
 */
export async function taskCacheKey(t: { imageDigest: string; command: string[]; env: string[]; workdir: string | undefined; mounts: TaskMount[]; scratch: string | undefined; cpus: number; memoryGiB: number; gpus: number }): Promise<{ key: string; outputs: TaskMount[] }> {
  const tokens: [string, string][] = [];
  const outputs: TaskMount[] = [];
  for (const m of t.mounts) {
    if (m.readonly) tokens.push([m.target, `<in:${await contentDigest(m.source)}>`]);
    else if (m.target === t.scratch) tokens.push([m.target, '<scratch>']);
    else {
      tokens.push([m.target, `<out:${outputs.length}>`]);
      outputs.push(m);
    }
  }
  tokens.sort((a, b) => b[0].length - a[0].length);
  const norm = (s: string) => tokens.reduce((acc, [from, to]) => acc.split(from).join(to), s);
  const material = {
    version: 1,
    image: t.imageDigest,
    command: t.command.map(norm),
    env: t.env.map(norm).sort(),
    workdir: t.workdir === undefined ? null : norm(t.workdir),
    outputs: outputs.length,
    cpus: t.cpus,
    memoryGiB: t.memoryGiB,
    gpus: t.gpus,
  };
  return { key: createHash('sha256').update(JSON.stringify(material)).digest('hex'), outputs };
}

/** What the run monitor answers a task asking the run cache (`<id>.cache-answer`). */
export interface CacheAnswer {
  hit: boolean;
  /** The entry's folder URI (the task's cacheS3Uri). */
  entryUri?: string;
  /** Where the entry's files were copied (`out/<n>/…`, `stdout`, `stderr`). */
  dir?: string;
}

/** Asks the run monitor for a cache entry of `key` and waits for its answer. */
export async function askCache(dir: string, id: string, key: string): Promise<CacheAnswer> {
  writeFileSync(join(dir, `${id}.cache-request.tmp`), JSON.stringify({ key }));
  renameSync(join(dir, `${id}.cache-request.tmp`), join(dir, `${id}.cache-request`));
  const answer = join(dir, `${id}.cache-answer`);
  await waitFor(answer);
  return JSON.parse(readFileSync(answer, 'utf8')) as CacheAnswer;
}

export function answerCache(dir: string, id: string, a: CacheAnswer): void {
  writeFileSync(join(dir, `${id}.cache-answer.tmp`), JSON.stringify(a));
  renameSync(join(dir, `${id}.cache-answer.tmp`), join(dir, `${id}.cache-answer`));
}

/** Copies a folder's contents into another (hard links where the file system allows: a snapshot costs no space). */
export function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, e.name);
    const dest = join(to, e.name);
    if (e.isDirectory()) linkTree(src, dest);
    else if (e.isFile()) {
      try {
        linkSync(src, dest);
      } catch {
        copyFileSync(src, dest);
      }
    }
  }
}

/** Every file under a folder (recursively), in name order. */
export async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walkFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}
