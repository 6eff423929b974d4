// The overhead of a workflow run: StartRun to COMPLETED for a one-task CWL workflow (a task in a Podman
// container) against the same engine command run directly (cwltool with the same limits, a `podman` that only
// drops --userns=keep-id, which rootful Podman refuses); and the same for a one-task WDL workflow against
// toil-wdl-runner run directly on Podman's API service (already running; a run starts its own, behind the
// container API gate). Medians of REPS runs each, side by side in one run.
// npm run build && node dist/bench/workflow-run.js
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { CreateWorkflowCommand, GetRunCommand, GetWorkflowCommand, StartRunCommand } from '@aws-sdk/client-omics';
import { spawnBenchServer } from './server.js';
import { omicsClient, until } from '../test/helpers/omics.js';
import { workflowImage } from '../test/helpers/workflow-image.js';
import { median } from './stats.js';

const REPS = Number(process.env['REPS'] ?? 5);

const img = workflowImage();
const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "${img.image}"}
baseCommand: [sh, -c, "echo hello"]
inputs: {}
stdout: out.txt
outputs:
  out: {type: stdout}
`;
const wdl = `version 1.0
workflow hello {
  call say
  output {
    File out = say.out
  }
}
task say {
  command <<<
    echo hello > out.txt
  >>>
  output {
    File out = "out.txt"
  }
  runtime {
    docker: "${img.image}"
  }
}
`;
const work = mkdtempSync(join(tmpdir(), 'openomics-bench-wf-'));
writeFileSync(join(work, 'main.cwl'), tool);
writeFileSync(join(work, 'inputs.json'), '{}');
writeFileSync(join(work, 'main.wdl'), wdl);
mkdirSync(join(work, 'bin'));
const podman = execFileSync('sh', ['-c', 'command -v podman'], { encoding: 'utf8' }).trim();
writeFileSync(join(work, 'bin', 'podman'), `#!/bin/sh\nargs=""\nfor a in "$@"; do [ "$a" = "--userns=keep-id" ] || set -- "$@" "$a"; shift; done\nexec ${podman} "$@"\n`, { mode: 0o755 });

const direct: number[] = [];
for (let i = 0; i < REPS; i++) {
  const out = join(work, `out-${i}`);
  const t0 = performance.now();
  const r = spawnSync('cwltool', ['--podman', '--strict-memory-limit', '--strict-cpu-limit', '--disable-pull', '--outdir', out, join(work, 'main.cwl'), join(work, 'inputs.json')], {
    env: { ...process.env, PATH: `${join(work, 'bin')}:${process.env['PATH']}`, CONTAINERS_CONF: img.containersConf },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`cwltool failed: ${r.stderr}`);
  direct.push((performance.now() - t0) / 1000);
}

// toil-wdl-runner directly, its docker-py talking to Podman's API service.
const socket = join(work, 'podman.sock');
const service = spawn(podman, ['system', 'service', '--time=0', `unix://${socket}`], { env: { ...process.env, CONTAINERS_CONF: img.containersConf }, stdio: 'ignore' });
const directWdl: number[] = [];
try {
  await until('podman API', async () => spawnSync('curl', ['-s', '--unix-socket', socket, 'http://d/_ping'], { encoding: 'utf8' }).stdout, (o) => o === 'OK', 20_000, 100);
  for (let i = 0; i < REPS; i++) {
    const dir = join(work, `wdl-${i}`);
    mkdirSync(dir);
    const t0 = performance.now();
    const r = spawnSync('toil-wdl-runner', [join(work, 'main.wdl'), join(work, 'inputs.json'), '-o', join(dir, 'out'), '--jobStore', join(dir, 'jobstore'), '--docker_user', 'None'], {
      cwd: dir,
      env: { ...process.env, DOCKER_HOST: `unix://${socket}`, TMPDIR: dir },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`toil-wdl-runner failed: ${r.stderr}`);
    directWdl.push((performance.now() - t0) / 1000);
  }
} finally {
  service.kill('SIGTERM');
}

const s = await spawnBenchServer({ env: { OPENOMICS_CONTAINERS_CONF: img.containersConf, OPENOMICS_EXPORT_ROOTS: work }, keepLogs: false });
const served: number[] = [];
const servedWdl: number[] = [];
try {
  const omics = omicsClient(s);
  const wf = await omics.send(new CreateWorkflowCommand({ name: 'bench', definitionZip: zipSync({ 'main.cwl': strToU8(tool) }), requestId: 'bench' }));
  await until('ACTIVE', () => omics.send(new GetWorkflowCommand({ id: wf.id })), (w) => w.status === 'ACTIVE', 60_000, 100);
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    const run = await omics.send(new StartRunCommand({ workflowId: wf.id, roleArn: 'arn:aws:iam::123456789012:role/Bench', outputUri: `file://${work}/runs`, requestId: `r${i}` }));
    const done = await until('run', () => omics.send(new GetRunCommand({ id: run.id })), (r) => ['COMPLETED', 'FAILED'].includes(r.status!), 120_000, 50);
    if (done.status !== 'COMPLETED') throw new Error(`run failed: ${done.failureReason} ${done.statusMessage}`);
    served.push((performance.now() - t0) / 1000);
  }
  const wdlWf = await omics.send(new CreateWorkflowCommand({ name: 'bench-wdl', definitionZip: zipSync({ 'main.wdl': strToU8(wdl) }), requestId: 'bench-wdl' }));
  await until('ACTIVE', () => omics.send(new GetWorkflowCommand({ id: wdlWf.id })), (w) => w.status === 'ACTIVE', 60_000, 100);
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    const run = await omics.send(new StartRunCommand({ workflowId: wdlWf.id, roleArn: 'arn:aws:iam::123456789012:role/Bench', outputUri: `file://${work}/runs`, requestId: `w${i}` }));
    const done = await until('run', () => omics.send(new GetRunCommand({ id: run.id })), (r) => ['COMPLETED', 'FAILED'].includes(r.status!), 180_000, 50);
    if (done.status !== 'COMPLETED') throw new Error(`WDL run failed: ${done.failureReason} ${done.statusMessage}`);
    servedWdl.push((performance.now() - t0) / 1000);
  }
} finally {
  await s.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`one-task CWL workflow, ${REPS} runs each (medians):`);
console.log(`  cwltool --podman directly:        ${median(direct).toFixed(2)} s   (runs: ${direct.map((x) => x.toFixed(2)).join(' ')})`);
console.log(`  StartRun -> COMPLETED (OpenOmics): ${median(served).toFixed(2)} s   (runs: ${served.map((x) => x.toFixed(2)).join(' ')})`);
console.log(`  overhead: ${(median(served) - median(direct)).toFixed(2)} s, ratio ${(median(served) / median(direct)).toFixed(2)}`);
console.log(`one-task WDL workflow, ${REPS} runs each (medians):`);
console.log(`  toil-wdl-runner on Podman's API:   ${median(directWdl).toFixed(2)} s   (runs: ${directWdl.map((x) => x.toFixed(2)).join(' ')})`);
console.log(`  StartRun -> COMPLETED (OpenOmics): ${median(servedWdl).toFixed(2)} s   (runs: ${servedWdl.map((x) => x.toFixed(2)).join(' ')})`);
console.log(`  overhead: ${(median(servedWdl) - median(directWdl)).toFixed(2)} s, ratio ${(median(servedWdl) / median(directWdl)).toFixed(2)}`);
