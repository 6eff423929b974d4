/**
 * The container command the workflow engines call (`podman` or `docker` on their PATH is this program).
 * Every `run` becomes a task as HealthOmics runs tasks: no network, CPUs and memory rounded up to whole
 * vCPUs and GiB (at least 1 each, spec §4.7), the AWS_WORKFLOW_* variables, a name and labels that let the
 * server find and stop it; its stdout and stderr are copied to the task's log, its CPU and memory use are
 * sampled from its cgroup, and what happened is written to `<tasks dir>/<task id>.json` for the run monitor.
 * Anything other than `run` goes to the real command unchanged.
 *
 * Runs as its own process (the engine starts it), so it imports only Node's standard library.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { createWriteStream, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TaskFile {
  id: string;
  uuid: string;
  image: string;
  cpus: number;
  memoryGiB: number;
  cidfile: string | null;
  command: string[];
  creationTime: number;
  startTime: number;
  stopTime?: number;
  exitCode?: number;
  oomKilled?: boolean;
  imageDigest?: string | null;
  utilization?: { cpusAverage: number; cpusMaximum: number; memoryAverageGiB: number; memoryMaximumGiB: number; runningSeconds: number };
}

const GiB = 1024 ** 3;

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

function writeTask(dir: string, t: TaskFile): void {
  const path = join(dir, `${t.id}.json`);
  writeFileSync(`${path}.tmp`, JSON.stringify(t));
  renameSync(`${path}.tmp`, path);
}

async function runTask(args: string[]): Promise<number> {
  const tasksDir = env('OPENOMICS_TASKS_DIR');
  const { options, image, command } = splitRun(args.slice(1));
  const id = String(randomInt(1_000_000_000, 10_000_000_000));
  const uuid = randomUUID();
  const cpus = Math.max(1, Math.ceil(Number(optionValue(options, '--cpus') ?? '1') || 1));
  const memoryGiB = Math.max(1, Math.ceil((mebibytes(optionValue(options, '--memory')) ?? 1024) / 1024));
  const cidfile = optionValue(options, '--cidfile') ?? null;
  const runId = env('OPENOMICS_RUN_ID');
  const runUuid = env('OPENOMICS_RUN_UUID');
  const taskArn = `${env('OPENOMICS_TASK_ARN_PREFIX')}${id}`;
  const name = `openomics-${runId}-${id}`;
  const drop = (o: string) => /^(--rm|--userns=keep-id|--net(work)?=.*|--memory=.*|--cpus=.*|--name=.*)$/.test(o);
  const kept = options.filter((o) => !drop(o));
  const runArgs = [
    'run',
    ...kept,
    `--name=${name}`,
    '--network=none',
    `--cpus=${cpus}`,
    `--memory=${memoryGiB}g`,
    `--memory-swap=${memoryGiB}g`,
    `--label=openomics.run=${runUuid}`,
    `--label=openomics.task=${id}`,
    `--env=AWS_REGION=${env('OPENOMICS_REGION')}`,
    `--env=AWS_WORKFLOW_RUN=${env('OPENOMICS_RUN_ARN')}`,
    `--env=AWS_WORKFLOW_RUN_ID=${runId}`,
    `--env=AWS_WORKFLOW_RUN_UUID=${runUuid}`,
    `--env=AWS_WORKFLOW_TASK=${taskArn}`,
    `--env=AWS_WORKFLOW_TASK_ID=${id}`,
    `--env=AWS_WORKFLOW_TASK_UUID=${uuid}`,
    image,
    ...command,
  ];
  const task: TaskFile = { id, uuid, image, cpus, memoryGiB, cidfile, command, creationTime: Date.now(), startTime: Date.now() };
  writeTask(tasksDir, task);
  const log = createWriteStream(join(tasksDir, `${id}.log`));
  const child = spawn(env('OPENOMICS_CONTAINER_COMMAND'), runArgs, { stdio: ['inherit', 'pipe', 'pipe'] });
  child.stdout.on('data', (b: Buffer) => {
    process.stdout.write(b);
    log.write(b);
  });
  child.stderr.on('data', (b: Buffer) => {
    process.stderr.write(b);
    log.write(b);
  });
  // CPU and memory, sampled once a second from the container's cgroup.
  let cgroup: string | undefined;
  const samples: { t: number; memory: number; cpuNs: number }[] = [];
  let peak = 0;
  let oomSeen = false;
  const sampler = setInterval(() => {
    if (!cgroup) {
      const r = real(['inspect', '--format', '{{.State.CgroupPath}}', name]);
      if (r.status === 0 && r.stdout.trim()) cgroup = r.stdout.trim();
      else return;
    }
    const s = sampleCgroup(cgroup);
    peak = Math.max(peak, s.peak ?? 0, s.memory ?? 0);
    oomSeen ||= s.oomKills > 0;
    if (s.memory !== undefined && s.cpuNs !== undefined && Number.isFinite(s.memory)) samples.push({ t: Date.now(), memory: s.memory, cpuNs: s.cpuNs });
  }, 500);
  const code: number = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1))));
  clearInterval(sampler);
  await new Promise((r) => log.end(r));
  const state = real(['inspect', '--format', '{{.State.OOMKilled}} {{.State.ExitCode}}', name]).stdout.trim().split(' ');
  const digest = real(['image', 'inspect', '--format', '{{.Digest}}', image]).stdout.trim();
  real(['rm', '-f', name]);
  const stop = Date.now();
  const rates: number[] = [];
  for (let i = 1; i < samples.length; i++) rates.push((samples[i]!.cpuNs - samples[i - 1]!.cpuNs) / 1e6 / (samples[i]!.t - samples[i - 1]!.t));
  const memories = samples.map((s) => s.memory / GiB);
  const exitCode = state[1] !== undefined && state[1] !== '' ? Number(state[1]) : code;
  // Killed (137) at its memory limit: the OOM killer, even where the runtime does not say so (cgroup v1 kills a
  // child process, not the container's first one, and podman then reports OOMKilled false).
  const oomKilled = state[0] === 'true' || (exitCode === 137 && (oomSeen || peak >= 0.95 * memoryGiB * GiB));
  const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  writeTask(tasksDir, {
    ...task,
    stopTime: stop,
    exitCode,
    oomKilled,
    imageDigest: digest.startsWith('sha') ? digest : null,
    utilization: {
      cpusAverage: round(avg(rates)),
      cpusMaximum: round(Math.max(0, ...rates)),
      memoryAverageGiB: round(avg(memories)),
      memoryMaximumGiB: round(Math.max(peak / GiB, ...memories)),
      runningSeconds: round((stop - task.startTime) / 1000),
    },
  });
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
