import { statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand, stripAnsi, type EngineAdapter, type EngineLaunch, type EngineOutputValue } from './engine.js';

/**
 * CWL, run by cwltool (one machine) or by Toil's `toil-cwl-runner` (the same CWL semantics — Toil runs
 * cwltool's job code — scheduled by Toil's batch systems: single machine here, Slurm, Kubernetes and others
 * with `--batchSystem`). Both validate with cwltool, take the same inputs document and print the same
 * outputs object.
 */
abstract class CwlAdapter implements EngineAdapter {
  abstract readonly name: string;
  readonly languages = ['CWL'] as const;

  abstract version(): Promise<string>;
  abstract command(l: EngineLaunch): { command: string; args: string[] };

  async validate(definitionDir: string, main: string): Promise<string | null> {
    const r = await runCommand('cwltool', ['--validate', '--disable-color', main], { cwd: definitionDir, timeoutMs: 120_000 });
    if (r.code === 0) return null;
    // cwltool names the file and line ("main.cwl:12:5: ..."); keep those lines, not its INFO chatter.
    const lines = `${r.stderr}\n${r.stdout}`
      .split('\n')
      .map((l) => stripAnsi(l).trimEnd())
      .filter((l) => l && !/^(INFO|DEBUG)\b/.test(l) && !/is valid CWL\.?$/.test(l));
    return lines.join('\n').slice(0, 4000) || `cwltool --validate exited with ${r.code}`;
  }

  inputs(parameters: Record<string, unknown>, staged: (uri: string) => { path: string; isDirectory: boolean } | undefined): unknown {
    const convert = (v: unknown): unknown => {
      if (typeof v === 'string') {
        const s = staged(v);
        return s ? { class: s.isDirectory ? 'Directory' : 'File', path: s.path } : v;
      }
      if (Array.isArray(v)) return v.map(convert);
      if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if ((o['class'] === 'File' || o['class'] === 'Directory') && typeof o['location'] === 'string') {
          const s = staged(o['location']);
          if (s) {
            const { location: _, ...rest } = o;
            return { ...rest, path: s.path, ...(o['secondaryFiles'] ? { secondaryFiles: convert(o['secondaryFiles']) } : {}) };
          }
        }
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, convert(x)]));
      }
      return v;
    };
    return convert(parameters);
  }

  outputs(stdout: string): Record<string, EngineOutputValue> {
    const start = stdout.indexOf('{');
    const doc = JSON.parse(start >= 0 ? stdout.slice(start) : '{}') as Record<string, unknown>;
    const convert = (v: unknown): EngineOutputValue => {
      if (Array.isArray(v)) return { kind: 'array', items: v.map(convert) };
      if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if ((o['class'] === 'File' || o['class'] === 'Directory') && (typeof o['path'] === 'string' || typeof o['location'] === 'string')) {
          const path = typeof o['path'] === 'string' ? o['path'] : fileURLToPath(o['location'] as string);
          const isDirectory = o['class'] === 'Directory';
          return { kind: 'file', path, basename: typeof o['basename'] === 'string' ? o['basename'] : basename(path), size: isDirectory ? 0 : statSync(path).size, isDirectory };
        }
      }
      return { kind: 'value', value: v };
    };
    return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, convert(v)]));
  }

  /** cwltool logs `[job NAME] <dir>$ podman \` then the command, one argument a line, `--cidfile=<file>` among them. */
  taskNames(engineLog: string): Map<string, string> {
    const names = new Map<string, string>();
    let current: string | undefined;
    for (const raw of engineLog.split('\n')) {
      const line = stripAnsi(raw);
      const job = /\[job ([^\]]+)\] .*\$ (podman|docker|\S*openomics\S*)/.exec(line);
      if (job) current = job[1];
      const cid = /--cidfile=(\S+)/.exec(line);
      if (cid && current) {
        names.set(cid[1]!, current);
        current = undefined;
      }
    }
    return names;
  }

  protected containerArgs(l: EngineLaunch): string[] {
    if (l.containers === 'none') return ['--no-container'];
    // The container command on the engine's PATH is the task shim; cwltool knows it as podman or docker.
    return [...(l.containers === 'podman' ? ['--podman'] : []), '--strict-memory-limit', '--strict-cpu-limit', ...(l.pullImages ? [] : ['--disable-pull'])];
  }
}

export class CwltoolAdapter extends CwlAdapter {
  readonly name = 'cwltool';
  async version(): Promise<string> {
    const r = await runCommand('cwltool', ['--version']);
    return r.stdout.trim().split(/\s+/).pop() ?? 'unknown';
  }
  command(l: EngineLaunch): { command: string; args: string[] } {
    return {
      command: 'cwltool',
      args: [
        '--disable-color',
        '--timestamps',
        ...this.containerArgs(l),
        '--outdir',
        l.outDir,
        '--tmpdir-prefix',
        `${join(l.workDir, 'tmp')}/`,
        '--tmp-outdir-prefix',
        `${join(l.workDir, 'tmp-out')}/`,
        join(l.definitionDir, l.main),
        l.inputsFile,
      ],
    };
  }
}

export class ToilCwlAdapter extends CwlAdapter {
  readonly name = 'toil-cwl-runner';
  constructor(private readonly batchSystem = 'single_machine') {
    super();
  }
  async version(): Promise<string> {
    const r = await runCommand('toil', ['--version']);
    return r.stdout.trim() || 'unknown';
  }
  command(l: EngineLaunch): { command: string; args: string[] } {
    return {
      command: 'toil-cwl-runner',
      args: [
        '--jobStore',
        join(l.workDir, 'jobstore'),
        '--workDir',
        l.workDir,
        '--batchSystem',
        this.batchSystem,
        '--logInfo',
        '--writeLogs',
        join(l.workDir, 'task-logs'),
        '--writeLogsFromAllJobs',
        '--disableProgress',
        ...this.containerArgs(l).filter((a) => a !== '--disable-pull'),
        '--outdir',
        l.outDir,
        join(l.definitionDir, l.main),
        l.inputsFile,
      ],
    };
  }
}
