import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, type EngineAdapter, type EngineLaunch, type EngineOutputValue } from './engine.js';

/** Where a HealthOmics Nextflow workflow publishes what it exports (spec §4.13: `publishDir "/mnt/workflow/pubdir"`). */
export const NEXTFLOW_PUBDIR = '/mnt/workflow/pubdir';

/**
 * Nextflow, used when the `nextflow` command is on the PATH. Its `-with-podman`/`-with-docker` executors start
 * each process's container with the `podman`/`docker` command, so tasks pass through the task shim like
 * cwltool's. Workflows publish to `/mnt/workflow/pubdir` as on HealthOmics; the engine runs in a private mount
 * namespace (`unshare --mount`, which needs root or unprivileged user namespaces) where that path is the run's
 * output folder, so runs never see each other's outputs and nothing is written to the host's /mnt.
 *
 * UNTESTED here: Nextflow is neither in Debian 12 nor downloadable on these machines, so no test runs this
 * adapter; docs/workflows.md says so. What it relies on is Nextflow's documented CLI: `nextflow -version`,
 * `nextflow -log FILE run MAIN -params-file FILE -work-dir DIR -ansi-log false -with-podman`. Nextflow has no
 * check-only mode, so definitions are not validated at registration; they fail at run time with the engine's log.
 */
export class NextflowAdapter implements EngineAdapter {
  readonly name = 'nextflow';
  readonly languages = ['NEXTFLOW'] as const;
  /** HealthOmics writes no outputs.json for Nextflow (spec §7): the published folder is the output. */
  readonly outputsSummary = false;

  async version(): Promise<string> {
    const r = await runCommand('nextflow', ['-version']);
    return /version\s+(\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
  }

  async validate(): Promise<string | null> {
    return null;
  }

  /** Parameters as given (`params.x`), staged files as local paths. */
  inputs(parameters: Record<string, unknown>, staged: (uri: string) => { path: string; isDirectory: boolean } | undefined): unknown {
    const convert = (v: unknown): unknown =>
      typeof v === 'string' ? (staged(v)?.path ?? v) : Array.isArray(v) ? v.map(convert) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convert(x)])) : v;
    return convert(parameters);
  }

  command(l: EngineLaunch): { command: string; args: string[] } {
    const nextflow = [
      'nextflow',
      '-log',
      join(l.workDir, 'nextflow.log'),
      'run',
      join(l.definitionDir, l.main),
      '-params-file',
      l.inputsFile,
      '-work-dir',
      join(l.workDir, 'nf-work'),
      '-ansi-log',
      'false',
      ...(l.containers === 'none' ? [] : [`-with-${l.containers}`]),
    ];
    // The publish folder is the run's out/, in a mount namespace of the engine's own.
    const script = `mount --make-rprivate / && mkdir -p ${NEXTFLOW_PUBDIR} && mount --bind "$0" ${NEXTFLOW_PUBDIR} && exec "$@"`;
    return { command: 'unshare', args: ['--mount', 'sh', '-c', script, l.outDir, ...nextflow] };
  }

  /** Everything published, by its name at the top of the publish folder. */
  outputs(_stdout: string, l: EngineLaunch): Record<string, EngineOutputValue> {
    const out: Record<string, EngineOutputValue> = {};
    for (const name of readdirSync(l.outDir)) {
      const path = join(l.outDir, name);
      const st = statSync(path);
      out[name] = { kind: 'file', path, basename: name, size: st.isDirectory() ? 0 : st.size, isDirectory: st.isDirectory() };
    }
    return out;
  }

  taskNames(): Map<string, string> {
    return new Map();
  }
}
