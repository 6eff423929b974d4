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
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { awaitAdmission, newTaskId, taskCgroupParent, taskContainer, taskEnvironment, taskLimits, UsageSampler, writeTask, type TaskFile, type TaskRunContext } from './task-files.js';

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
  const task: TaskFile = { ...ids, image, cpus, memoryGiB, cidfile, command, creationTime, startTime: Date.now() };
  writeTask(run.tasksDir, task);
  const log = createWriteStream(join(run.tasksDir, `${ids.id}.log`));
  const child = spawn(env('OPENOMICS_CONTAINER_COMMAND'), runArgs, { stdio: ['inherit', 'pipe', 'pipe'] });
  child.stdout.on('data', (b: Buffer) => {
    process.stdout.write(b);
    log.write(b);
  });
  child.stderr.on('data', (b: Buffer) => {
    process.stderr.write(b);
    log.write(b);
  });
  const usage = new UsageSampler(() => {
    const r = real(['inspect', '--format', '{{.State.CgroupPath}}', name]);
    return r.status === 0 ? r.stdout.trim() : undefined;
  }, parent);
  const code: number = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1))));
  await new Promise((r) => log.end(r));
  const state = real(['inspect', '--format', '{{.State.OOMKilled}} {{.State.ExitCode}}', name]).stdout.trim().split(' ');
  const digest = real(['image', 'inspect', '--format', '{{.Digest}}', image]).stdout.trim();
  real(['rm', '-f', name]);
  const exitCode = state[1] !== undefined && state[1] !== '' ? Number(state[1]) : code;
  writeTask(run.tasksDir, usage.finish(task, exitCode, state[0] === 'true', digest));
  await usage.release();
  return code;
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
