import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import { strToU8, zipSync } from 'fflate';
import { CreateWorkflowCommand, GetWorkflowCommand, type OmicsClient } from '@aws-sdk/client-omics';
import { until } from './omics.js';

/**
 * The task image of the workflow tests, built offline: Debian's busybox-static plus samtools and bash (Toil's
 * WDL runner starts every task with `/bin/bash`) and the shared libraries they link, imported into Podman from a root filesystem (`podman import`). No registry involved.
 * Also the containers.conf these machines need (runc, cgroupfs, no default ulimits — crun fails here).
 */
export interface WorkflowImage {
  image: string;
  containersConf: string;
}

const TOOLS = ['sh', 'ls', 'cat', 'echo', 'wc', 'head', 'sleep', 'mkdir', 'env', 'tr', 'true', 'false', 'grep', 'sort', 'cut', 'dd', 'test', 'mktemp', 'chmod', 'ln', 'rm', 'mv', 'sync'];
/** Programs copied from the host with their libraries. */
const PROGRAMS = ['/usr/bin/samtools', '/bin/bash'];

export function workflowImage(): WorkflowImage {
  const containersConf = join(tmpdir(), 'openomics-test-containers.conf');
  writeFileSync(containersConf, '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  const env = { ...process.env, CONTAINERS_CONF: containersConf };
  const libs = [
    ...new Set(
      PROGRAMS.flatMap((p) =>
        execFileSync('ldd', [p], { encoding: 'utf8' })
          .split('\n')
          .map((l) => /(\/\S+)/.exec(l)?.[1])
          .filter((x): x is string => !!x),
      ),
    ),
  ];
  const key = createHash('sha256')
    .update(readFileSync('/bin/busybox'))
    .update(PROGRAMS.map((p) => readFileSync(p)).reduce((a, b) => Buffer.concat([a, b])))
    .update(TOOLS.join(','))
    .update(libs.join(','))
    .digest('hex')
    .slice(0, 12);
  const image = `localhost/openomics-test-tools:${key}`;
  try {
    execFileSync('podman', ['image', 'exists', image], { env, stdio: 'ignore' });
    return { image, containersConf };
  } catch {
    // not built yet on this machine
  }
  const work = mkdtempSync(join(tmpdir(), 'openomics-image-'));
  const root = join(work, 'rootfs');
  for (const d of ['bin', 'tmp', 'usr/bin']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  execFileSync('chmod', ['755', join(root, 'bin/busybox')]);
  for (const t of TOOLS) symlinkSync('busybox', join(root, 'bin', t));
  for (const p of PROGRAMS) {
    mkdirSync(join(root, dirname(p)), { recursive: true });
    copyFileSync(p, join(root, p));
    execFileSync('chmod', ['755', join(root, p)]);
  }
  for (const lib of libs) {
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(root, lib));
  }
  execFileSync('tar', ['-C', root, '-cf', join(work, 'rootfs.tar'), '.']);
  execFileSync('podman', ['import', join(work, 'rootfs.tar'), image], { env, stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
  return { image, containersConf };
}

/** Containers of a run still present (any state), by the label the task shim puts on them. */
export function runContainers(img: WorkflowImage, runUuid: string): string[] {
  const out = execFileSync('podman', ['ps', '-a', '-q', '--filter', `label=openomics.run=${runUuid}`], { env: { ...process.env, CONTAINERS_CONF: img.containersConf }, encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

/** A one-task CWL workflow: `sleep <seconds>`, then print `<label>`, the task's network interfaces and the `data` file if given. */
export function sleepWorkflow(image: string): Uint8Array {
  const tool = `cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "${image}"}
  ResourceRequirement: {coresMin: 1, ramMin: 256}
baseCommand: [sh, -c]
arguments: ['sleep $0; echo $1; ls /sys/class/net; if [ -n "$2" ]; then cat "$2"; fi', $(inputs.seconds), $(inputs.label)]
inputs:
  seconds: {type: int, default: 2}
  label: {type: string, default: run}
  data: {type: File?, inputBinding: {position: 1}}
stdout: out.txt
outputs:
  out: {type: stdout}
`;
  return zipSync({ 'main.cwl': strToU8(tool) });
}

/** Registers a workflow and waits for its check: the workflow, ACTIVE (an assertion fails otherwise). */
export async function activeWorkflow(omics: OmicsClient, name: string, zip: Uint8Array): Promise<string> {
  const created = await omics.send(new CreateWorkflowCommand({ name, definitionZip: zip, requestId: name }));
  const wf = await until('workflow', () => omics.send(new GetWorkflowCommand({ id: created.id })), (w) => w.status !== 'CREATING', 120_000, 250);
  assert.equal(wf.status, 'ACTIVE', wf.statusMessage);
  return wf.id!;
}
