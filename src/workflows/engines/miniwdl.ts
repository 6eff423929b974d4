import { existsSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { runCommand, type EngineAdapter, type EngineLaunch, type EngineOutputValue } from './engine.js';

/**
 * WDL (1.0, 1.1, development) by miniwdl, used when the `miniwdl` command is on the PATH. Its Podman backend
 * runs task containers through the `podman` command, so tasks pass through the task shim like cwltool's.
 *
 * UNTESTED here: miniwdl is neither in Debian 12 nor installable on these machines (no PyPI), so no test runs
 * this adapter; docs/workflows.md says so. What it relies on is miniwdl's documented CLI: `miniwdl check`,
 * `miniwdl run FILE -i inputs.json --dir DIR/.`, the outputs JSON it prints on success
 * (`{"dir": ..., "outputs": {"wf.name": value}}`), `MINIWDL__SCHEDULER__CONTAINER_BACKEND=podman`.
 */
export class MiniwdlAdapter implements EngineAdapter {
  readonly name = 'miniwdl';
  readonly languages = ['WDL', 'WDL_LENIENT'] as const;

  async version(): Promise<string> {
    const r = await runCommand('miniwdl', ['--version']);
    return r.stdout.trim().split(/\s+/).pop() ?? 'unknown';
  }

  async validate(definitionDir: string, main: string): Promise<string | null> {
    const r = await runCommand('miniwdl', ['check', '--no-shellcheck', main], { cwd: definitionDir, timeoutMs: 120_000 });
    return r.code === 0 ? null : `${r.stderr}${r.stdout}`.trim().slice(0, 4000) || `miniwdl check exited with ${r.code}`;
  }

  /** HealthOmics takes unqualified input names; files are local paths once staged. */
  inputs(parameters: Record<string, unknown>, staged: (uri: string) => { path: string; isDirectory: boolean } | undefined): unknown {
    const convert = (v: unknown): unknown =>
      typeof v === 'string' ? (staged(v)?.path ?? v) : Array.isArray(v) ? v.map(convert) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convert(x)])) : v;
    return convert(parameters);
  }

  command(l: EngineLaunch): { command: string; args: string[] } {
    return { command: 'miniwdl', args: ['run', join(l.definitionDir, l.main), '-i', l.inputsFile, '--dir', `${join(l.workDir, 'miniwdl')}/.`, '--verbose'] };
  }

  readonly outputLayout = 'by-output' as const;

  /** Tasks through `podman` or `docker` on the engine's PATH (the task shim). */
  env(l: EngineLaunch): Record<string, string> {
    return l.containers === 'none' ? {} : { MINIWDL__SCHEDULER__CONTAINER_BACKEND: l.containers };
  }

  outputs(stdout: string): Record<string, EngineOutputValue> {
    const doc = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { outputs?: Record<string, unknown> };
    const convert = (v: unknown): EngineOutputValue => {
      if (Array.isArray(v)) return { kind: 'array', items: v.map(convert) };
      if (typeof v === 'string' && isAbsolute(v) && existsSync(v)) {
        const st = statSync(v);
        return { kind: 'file', path: v, basename: basename(v), size: st.isDirectory() ? 0 : st.size, isDirectory: st.isDirectory() };
      }
      return { kind: 'value', value: v };
    };
    return Object.fromEntries(Object.entries(doc.outputs ?? {}).map(([k, v]) => [k, convert(v)]));
  }

  taskNames(): Map<string, string> {
    return new Map();
  }
}
