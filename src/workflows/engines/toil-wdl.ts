import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { wdlOutline, type WdlOutline } from '../wdl-source.js';
import { runCommand, type EngineAdapter, type EngineLaunch, type EngineOutputValue } from './engine.js';

/** The compiled Toil script the runner leaves in its output folder (not an output of the workflow). */
const COMPILED_SCRIPT = 'toilwdl_compiled.py';

/**
 * WDL 1.0 by Toil's legacy `toil-wdl-runner` (Debian's `toil` 5.9), the one WDL engine installable here. It
 * translates the WDL into a Toil Python script and runs it with Toil's single-machine batch system; each task
 * with a `docker` runtime runs through the Docker Engine API (docker-py), which the run executor points at the
 * container API gate in front of Podman's API service — so tasks get the same limits, labels, records and logs
 * as the task shim gives cwltool's. What the runner handles of WDL 1.0 is measured in docs/workflows.md.
 *
 * The runner reports no outputs: it copies every task's `File` outputs into its output folder by file name, and
 * keeps non-file values to itself. So the workflow's outputs are found by reading the definition: an output
 * `File x = call.out` whose task declares `File out = "name.ext"` (a literal) is the file `name.ext` the runner
 * delivered. Outputs that are not such files (Int, String, computed names, glob arrays) are not reported; the
 * run log says which.
 */
export class ToilWdlAdapter implements EngineAdapter {
  readonly name = 'toil-wdl-runner';
  readonly languages = ['WDL', 'WDL_LENIENT'] as const;
  readonly outputLayout = 'by-output' as const;

  async version(): Promise<string> {
    const r = await runCommand('toil', ['--version']);
    return r.stdout.trim() || 'unknown';
  }

  /** The runner's translation without running it (`--dev_mode`): its parser's `line L:C` complaints, or the exception it stops on. */
  async validate(definitionDir: string, main: string): Promise<string | null> {
    const dir = await mkdtemp(join(tmpdir(), 'openomics-wdl-check-'));
    try {
      await writeFile(join(dir, 'inputs.json'), '{}');
      const r = await runCommand('toil-wdl-runner', [join(definitionDir, main), join(dir, 'inputs.json'), '--dev_mode', 'True', '-o', join(dir, 'out')], { cwd: dir, timeoutMs: 120_000 });
      const lines = `${r.stderr}\n${r.stdout}`.split('\n');
      const syntax = lines.flatMap((l) => {
        const m = /^line (\d+):(\d+) (.*)$/.exec(l.trim());
        return m ? [`${main}:${m[1]}:${m[2]}: ${m[3]}`] : [];
      });
      if (syntax.length) return syntax.join('\n').slice(0, 4000);
      if (r.code === 0) return null;
      const last = lines.map((l) => l.trim()).filter((l) => l && !l.startsWith('ANTLR runtime')).pop();
      return `${main}: toil-wdl-runner cannot translate it: ${last ?? `exit ${r.code}`}`.slice(0, 4000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private outline(l: EngineLaunch): WdlOutline {
    return wdlOutline(readFileSync(join(l.definitionDir, l.main), 'utf8'));
  }

  /** HealthOmics takes unqualified input names; the runner wants `<workflow>.<input>`. Staged files are local paths. */
  inputs(parameters: Record<string, unknown>, staged: (uri: string) => { path: string; isDirectory: boolean } | undefined, l: EngineLaunch): unknown {
    const workflow = this.outline(l).workflow;
    const convert = (v: unknown): unknown =>
      typeof v === 'string' ? (staged(v)?.path ?? v) : Array.isArray(v) ? v.map(convert) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convert(x)])) : v;
    return Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k.includes('.') ? k : `${workflow}.${k}`, convert(v)]));
  }

  command(l: EngineLaunch): { command: string; args: string[] } {
    // --docker_user None: tasks run as the server's own user (the default, "root", is a name the image may not have).
    return { command: 'toil-wdl-runner', args: [join(l.definitionDir, l.main), l.inputsFile, '-o', l.outDir, '--jobStore', join(l.workDir, 'jobstore'), '--docker_user', 'None'] };
  }

  /** Toil names a task's container `toil--<Task>Clskind-<Task>Cls...`: the generated job class of the WDL task. */
  containerApiTasks(l: EngineLaunch): (engineContainerName: string) => { name: string; cpus?: number; memoryMiB?: number } {
    const outline = this.outline(l);
    return (containerName) => {
      const task = /^toil--([A-Za-z]\w*?)Clskind-\1Cls/.exec(containerName)?.[1];
      const t = task ? outline.tasks.get(task) : undefined;
      return { name: task ?? containerName, cpus: t?.cpu, memoryMiB: t?.memoryMiB };
    };
  }

  outputs(_stdout: string, l: EngineLaunch): Record<string, EngineOutputValue> {
    const outline = this.outline(l);
    const delivered = new Set(readdirSync(l.outDir).filter((f) => f !== COMPILED_SCRIPT));
    const out: Record<string, EngineOutputValue> = {};
    for (const o of outline.outputs) {
      const file = this.deliveredFile(outline, o.type, o.expression);
      if (!file || !delivered.has(file)) continue;
      const path = join(l.outDir, file);
      const st = statSync(path);
      out[`${outline.workflow}.${o.name}`] = { kind: 'file', path, basename: basename(path), size: st.isDirectory() ? 0 : st.size, isDirectory: st.isDirectory() };
    }
    return out;
  }

  unreportedOutputs(l: EngineLaunch, reported: Record<string, EngineOutputValue>): string[] {
    const outline = this.outline(l);
    return outline.outputs.map((o) => `${outline.workflow}.${o.name}`).filter((k) => !(k in reported));
  }

  /** The file name a workflow output `File x = call.out` names, when the task declares `out` as a literal file name. */
  private deliveredFile(outline: WdlOutline, type: string, expression: string | undefined): string | undefined {
    if (!/^File\??$/.test(type)) return undefined;
    const ref = /^([A-Za-z]\w*)\.([A-Za-z]\w*)$/.exec(expression ?? '');
    if (!ref) return undefined;
    const task = outline.tasks.get(outline.calls.get(ref[1]!) ?? ref[1]!);
    const decl = task?.outputs.find((d) => d.name === ref[2]);
    const literal = /^"([^"~$]+)"$/.exec(decl?.expression ?? '')?.[1];
    return literal && !literal.includes('/') ? literal : undefined;
  }

  taskNames(): Map<string, string> {
    return new Map();
  }
}
