import { spawn } from 'node:child_process';
import type { WorkflowEngine } from '../entities.js';

/**
 * One workflow engine behind the narrow interface the run executor drives: check a definition, translate a
 * run's parameters into the engine's inputs, say how to launch it, read its outputs back, and name the tasks
 * it started. The engine itself (cwltool, Toil) is a real, separately installed program; nothing here
 * interprets a workflow language.
 */
export interface EngineLaunch {
  /** The unpacked definition (read-only). */
  definitionDir: string;
  main: string;
  /** The engine's private working folder (job store, temporary files). */
  workDir: string;
  /** Where the engine leaves the run's outputs. */
  outDir: string;
  /** The translated inputs (JSON), written by the executor. */
  inputsFile: string;
  /** How tasks run: in a container by `podman` or `docker` (the task shim), or on the host (`none`). */
  containers: 'podman' | 'docker' | 'none';
  /** Whether images missing from the runtime may be pulled (else the engine is told not to). */
  pullImages: boolean;
}

/** An output the engine reported: a file (or folder) under `outDir`, or a plain value. */
export type EngineOutputValue =
  | { kind: 'file'; path: string; basename: string; size: number; isDirectory: boolean }
  | { kind: 'value'; value: unknown }
  | { kind: 'array'; items: EngineOutputValue[] };

export interface EngineAdapter {
  /** The command's name, as recorded on runs (and in docs/workflows.md). */
  readonly name: string;
  readonly languages: readonly WorkflowEngine[];
  /** `<name> <version>`, asked of the installed program. */
  version(): Promise<string>;
  /** null if the engine accepts the definition, else its complaint (naming file and line where it does). */
  validate(definitionDir: string, main: string): Promise<string | null>;
  /** The engine's inputs document from the run's parameters, staged files already local paths. */
  inputs(parameters: Record<string, unknown>, staged: (uri: string) => { path: string; isDirectory: boolean } | undefined, l: EngineLaunch): unknown;
  command(l: EngineLaunch): { command: string; args: string[] };
  /** The outputs, from what the engine printed on stdout (and its outDir). */
  outputs(stdout: string, l: EngineLaunch): Record<string, EngineOutputValue>;
  /** Whether `logs/outputs.json` is written (CWL and WDL; not Nextflow, spec §7); default true. */
  readonly outputsSummary?: boolean;
  /** Outputs the workflow declares that the engine cannot report (said in the run log). */
  unreportedOutputs?(l: EngineLaunch, reported: Record<string, EngineOutputValue>): string[];
  /** Environment the engine needs beyond the executor's (its container backend, say). */
  env?(l: EngineLaunch): Record<string, string>;
  /**
   * Where declared files go under `out/`: `flat` (CWL: `out/<file>`) or `by-output` (WDL: `out/<output name>/<file>`,
   * spec §4.13); default flat.
   */
  readonly outputLayout?: 'flat' | 'by-output';
  /** Task names the engine logged, by the container id file it gave the container command. */
  taskNames(engineLog: string): Map<string, string>;
  /**
   * For an engine that starts task containers through the Docker Engine API (DOCKER_HOST) rather than a
   * container command: which task a container the engine names belongs to, and the CPUs and memory it declares.
   * The run executor then puts the container API gate between the engine and the runtime.
   */
  containerApiTasks?(l: EngineLaunch): (engineContainerName: string) => { name: string; cpus?: number; memoryMiB?: number };
}

/** Runs a command to its end: exit code, stdout, stderr (for version and validation checks). */
export function runCommand(command: string, args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
/** A log line without terminal colour codes. */
export const stripAnsi = (s: string): string => s.replace(ANSI, '');
