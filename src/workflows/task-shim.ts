/**
 * The container command the workflow engines call (`podman` or `docker` on their PATH is this program).
 * Every `run` becomes a task as HealthOmics runs tasks: no network (a VPC-mode run's network otherwise), CPUs and memory rounded up to whole
 * vCPUs and GiB (at least 1 each, spec §4.7), the AWS_WORKFLOW_* variables, a name and labels that let the
 * server find and stop it; its stdout and stderr are copied to the task's log, its CPU and memory use are
 * sampled from its cgroup, and what happened is written to `<tasks dir>/<task id>.json` for the run monitor. In a
 * run group with CPU or GPU limits it first waits, PENDING, for the monitor's admission (`awaitAdmission`).
 * Anything other than `run` goes to the real command unchanged.
 *
 * Runs as its own process (the engine starts it), so it imports only Node's standard library (and
 * task-files.ts, which does too).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { askCache, awaitAdmission, linkTree, newTaskId, taskCacheKey, taskMounts, type TaskMount, taskCgroupParent, taskContainer, taskEnvironment, taskLimits, UsageSampler, writeTask, type TaskFile, type TaskRunContext } from './task-files.js';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`openomics task shim: ${name} is not set`);
  return v;
}

/** `run` options as the engines pass them (`--opt=value`, or a flag): up to the image, then the command. */
function splitRun(args: string[]): { options: string[]; image: string; command: string[] } {
  const valueOptions = new Set(['--name', '--memory', '--cpus', '--env', '-e', '--workdir', '-w', '--user', '-u', '--mount', '-v', '--volume', '--cidfile', '--net', '--network', '--label', '--entrypoint']);
  const options: string[] = [];
  let i = 0;
  while (i < args.length) {
    const a = args[i]!;
    if (!a.startsWith('-')) break;
    options.push(a);
    if (!a.includes('=') && valueOptions.has(a)) options.push(args[++i]!);
    i++;
  }
  return { options, image: args[i] ?? '', command: args.slice(i + 1) };
}

function optionValue(options: string[], name: string): string | undefined {
  for (let i = 0; i < options.length; i++) {
    const o = options[i]!;
    if (o.startsWith(`${name}=`)) return o.slice(name.length + 1);
    if (o === name) return options[i + 1];
  }
  return undefined;
}

/** MiB from a container memory value (`256m`, `2g`, bytes). */
function mebibytes(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)$/i.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  return unit === 'g' ? n * 1024 : unit === 'm' ? n : unit === 'k' ? n / 1024 : n / 1024 / 1024;
}

function real(args: string[]): { status: number | null; stdout: string } {
  const r = spawnSync(env('OPENOMICS_CONTAINER_COMMAND'), args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout ?? '' };
}

async function runTask(args: string[]): Promise<number> {
  const run: TaskRunContext = {
    tasksDir: env('OPENOMICS_TASKS_DIR'),
    runId: env('OPENOMICS_RUN_ID'),
    runUuid: env('OPENOMICS_RUN_UUID'),
    runArn: env('OPENOMICS_RUN_ARN'),
    taskArnPrefix: env('OPENOMICS_TASK_ARN_PREFIX'),
    region: env('OPENOMICS_REGION'),
    cgroupParent: process.env['OPENOMICS_TASK_CGROUP_PARENT'] || undefined,
  };
  const { options, image, command } = splitRun(args.slice(1));
  const ids = newTaskId();
  const { cpus, memoryGiB } = taskLimits(Number(optionValue(options, '--cpus') ?? '1'), mebibytes(optionValue(options, '--memory')));
  const cidfile = optionValue(options, '--cidfile') ?? null;
  const { name, labels } = taskContainer(run, ids.id);
  const parent = taskCgroupParent(run, ids.id);
  const drop = (o: string) => /^(--rm|--userns=keep-id|--net(work)?=.*|--memory=.*|--cpus=.*|--name=.*|--pull=.*|--cgroup-parent=.*)$/.test(o);
  const kept = options.filter((o) => !drop(o));
  const runArgs = [
    'run',
    ...kept,
    `--name=${name}`,
    `--network=${process.env['OPENOMICS_TASK_NETWORK'] || 'none'}`,
    `--pull=${process.env['OPENOMICS_IMAGE_PULL'] === 'missing' ? 'missing' : 'never'}`,
    `--cpus=${cpus}`,
    `--memory=${memoryGiB}g`,
    `--memory-swap=${memoryGiB}g`,
    ...(parent ? [`--cgroup-parent=${parent}`] : []),
    ...Object.entries(labels).map(([k, v]) => `--label=${k}=${v}`),
    ...Object.entries(taskEnvironment(run, ids)).map(([k, v]) => `--env=${k}=${v}`),
    image,
    ...command,
  ];
  const creationTime = Date.now();
  if (process.env['OPENOMICS_TASK_GATE'] === '1') {
    writeTask(run.tasksDir, { ...ids, image, cpus, memoryGiB, cidfile, command, creationTime, waiting: true, startTime: creationTime });
    await awaitAdmission(run.tasksDir, ids.id);
  }
  // A run with a cache: the task's key, and the monitor asked for an entry; on a hit the task is not run.
  let cache: { key: string; outputs: TaskMount[]; workDir: string | undefined } | undefined;
  if (process.env['OPENOMICS_TASK_CACHE'] === '1') {
    const inspected = real(['image', 'inspect', '--format', '{{.Digest}} {{.Id}}', image]).stdout.trim().split(' ');
    const envs = options.flatMap((o, i) => (o.startsWith('--env=') ? [o.slice(6)] : o === '--env' || o === '-e' ? [options[i + 1]!] : []));
    const workDir = optionValue(options, '--workdir') ?? optionValue(options, '-w');
    const scratch = envs.find((e) => e.startsWith('TMPDIR='))?.slice(7);
    const { key, outputs } = await taskCacheKey({ imageDigest: inspected.filter(Boolean).join(' '), command, env: envs, workdir: workDir, mounts: taskMounts(options), scratch, cpus, memoryGiB, gpus: 0 });
    cache = { key, outputs, workDir };
    const answer = await askCache(run.tasksDir, ids.id, key);
    if (answer.hit && answer.dir) return replayCached(run, { ...ids, image, cpus, memoryGiB, cidfile, command, creationTime, startTime: Date.now(), cacheKey: key }, answer.dir, answer.entryUri!, outputs);
  }
  const task: TaskFile = { ...ids, image, cpus, memoryGiB, cidfile, command, creationTime, startTime: Date.now() };
  writeTask(run.tasksDir, task);
  const log = createWriteStream(join(run.tasksDir, `${ids.id}.log`));
  const out = cache && createWriteStream(join(run.tasksDir, `${ids.id}.stdout`));
  const err = cache && createWriteStream(join(run.tasksDir, `${ids.id}.stderr`));
  const child = spawn(env('OPENOMICS_CONTAINER_COMMAND'), runArgs, { stdio: ['inherit', 'pipe', 'pipe'] });
  child.stdout.on('data', (b: Buffer) => {
    process.stdout.write(b);
    log.write(b);
    out?.write(b);
  });
  child.stderr.on('data', (b: Buffer) => {
    process.stderr.write(b);
    log.write(b);
    err?.write(b);
  });
  const usage = new UsageSampler(() => {
    const r = real(['inspect', '--format', '{{.State.CgroupPath}}', name]);
    return r.status === 0 ? r.stdout.trim() : undefined;
  }, parent);
  const code: number = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1))));
  await new Promise((r) => log.end(r));
  if (out && err) await Promise.all([new Promise((r) => out.end(r)), new Promise((r) => err.end(r))]);
  const state = real(['inspect', '--format', '{{.State.OOMKilled}} {{.State.ExitCode}}', name]).stdout.trim().split(' ');
  const digest = real(['image', 'inspect', '--format', '{{.Digest}}', image]).stdout.trim();
  real(['rm', '-f', name]);
  const exitCode = state[1] !== undefined && state[1] !== '' ? Number(state[1]) : code;
  // What the cache would keep of a task that succeeded, kept now: the engine moves its files on afterwards.
  const results = cache && exitCode === 0 ? snapshot(run, ids.id, cache.outputs) : undefined;
  const finished = usage.finish(task, exitCode, state[0] === 'true', digest);
  writeTask(run.tasksDir, { ...finished, ...(cache ? { cacheKey: cache.key, ...(cache.workDir ? { workDir: cache.workDir } : {}) } : {}), ...(results ? { snapshot: results } : {}) });
  await usage.release();
  return code;
}

/** The task's results as a cache entry holds them: each output folder under `out/<n>/`, its stdout and stderr. */
function snapshot(run: TaskRunContext, id: string, outputs: TaskMount[]): string {
  const dir = join(run.tasksDir, `${id}.snapshot`);
  outputs.forEach((m, n) => linkTree(m.source, join(dir, 'out', String(n))));
  for (const stream of ['stdout', 'stderr']) cpSync(join(run.tasksDir, `${id}.${stream}`), join(dir, stream));
  return dir;
}

/** A cache hit: the entry's files put where the task would have written them, its output replayed; nothing runs. */
function replayCached(run: TaskRunContext, task: TaskFile, dir: string, entryUri: string, outputs: TaskMount[]): number {
  outputs.forEach((m, n) => {
    const from = join(dir, 'out', String(n));
    if (existsSync(from)) cpSync(from, m.source, { recursive: true });
  });
  const stdout = existsSync(join(dir, 'stdout')) ? readFileSync(join(dir, 'stdout')) : Buffer.alloc(0);
  const stderr = existsSync(join(dir, 'stderr')) ? readFileSync(join(dir, 'stderr')) : Buffer.alloc(0);
  process.stdout.write(stdout);
  process.stderr.write(stderr);
  const log = Buffer.concat([Buffer.from(`Results from the run cache: ${entryUri}\n`), stdout, stderr]);
  writeFileSync(join(run.tasksDir, `${task.id}.log`), log);
  // The engine may wait for the container id file (cwltool's memory monitor polls for it until it appears).
  if (task.cidfile) writeFileSync(task.cidfile, `openomics-cache-hit-${task.id}\n`);
  const now = Date.now();
  writeTask(run.tasksDir, { ...task, startTime: now, stopTime: now, exitCode: 0, cacheHit: true, cacheS3Uri: entryUri });
  rmSync(dir, { recursive: true, force: true });
  return 0;
}

const argv = process.argv.slice(2);
if (argv[0] === 'run') {
  runTask(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`openomics task shim: ${(err as Error).message}\n`);
      process.exit(125);
    },
  );
} else {
  const child = spawn(env('OPENOMICS_CONTAINER_COMMAND'), argv, { stdio: 'inherit' });
  child.on('close', (c) => process.exit(c ?? 1));
}
