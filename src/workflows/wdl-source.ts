/**
 * What OpenOmics reads of a WDL document without running it: the main workflow's inputs (its parameter
 * template, spec §4.3), and for an engine that does not report outputs by name (Toil's legacy WDL runner) the
 * workflow's declared outputs, each task's outputs and its declared CPU and memory. A reader of declarations,
 * not an evaluator: an expression is kept as text, and only literal values are understood.
 */
import type { ParameterTemplate } from './entities.js';

/** Thrown when the definition cannot be read: the message names the line where it can. */
export class DefinitionSyntaxError extends Error {}

// ---- WDL: in the main workflow's input section, a declaration is optional if its type ends in `?` or it
// has a value (`Int x = 2`); its description comes from the workflow's parameter_meta.
export function wdlTemplate(source: string): ParameterTemplate {
  const text = stripWdlComments(source);
  const wf = /\bworkflow\s+([A-Za-z][A-Za-z0-9_]*)\s*\{/.exec(text);
  if (!wf) throw new DefinitionSyntaxError('no workflow block was found');
  const body = blockAt(text, wf.index + wf[0].length - 1);
  const out: ParameterTemplate = {};
  const inputMatch = /\binput\s*\{/.exec(body);
  if (inputMatch) {
    const inputs = blockAt(body, inputMatch.index + inputMatch[0].length - 1);
    for (const decl of declarations(inputs)) {
      const m = /^([A-Za-z][\w]*(?:\[[^=]*\])?\+?\??)\s+([A-Za-z][\w]*)\s*(=.*)?$/s.exec(decl);
      if (!m) throw new DefinitionSyntaxError(`cannot read the input declaration "${decl}"`);
      out[m[2]!] = { description: '', optional: m[1]!.endsWith('?') || m[3] !== undefined };
    }
  }
  const metaMatch = /\bparameter_meta\s*\{/.exec(body);
  if (metaMatch) {
    const meta = blockAt(body, metaMatch.index + metaMatch[0].length - 1);
    for (const m of meta.matchAll(/([A-Za-z]\w*)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|\{[^}]*?\b(?:description|help)\s*:\s*"((?:[^"\\]|\\.)*)")/g)) {
      const p = out[m[1]!];
      if (p) p.description = (m[2] ?? m[3] ?? '').slice(0, 256);
    }
  }
  return out;
}

function stripWdlComments(s: string): string {
  return s
    .split('\n')
    .map((line) => {
      let inStr: string | null = null;
      for (let i = 0; i < line.length; i++) {
        const c = line[i]!;
        if (inStr) {
          if (c === '\\') i++;
          else if (c === inStr) inStr = null;
        } else if (c === '"' || c === "'") inStr = c;
        else if (c === '#') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}

/** The text inside the brace block that opens at `open`. */
function blockAt(s: string, open: number): string {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return s.slice(open + 1, i);
  }
  throw new DefinitionSyntaxError('a block is not closed');
}

/** Declarations of a WDL block: one per line, a line continuing while brackets or quotes are open. */
function declarations(block: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (const line of block.split('\n')) {
    const t = line.trim();
    if (!t && depth === 0) continue;
    cur = cur ? `${cur} ${t}` : t;
    for (const c of t) {
      if ('([{'.includes(c)) depth++;
      else if (')]}'.includes(c)) depth--;
    }
    if (depth <= 0) {
      if (cur) out.push(cur);
      cur = '';
      depth = 0;
    }
  }
  if (cur) out.push(cur);
  return out;
}


/** A declaration: its type, name and (unevaluated) expression. */
export interface WdlDeclaration {
  type: string;
  name: string;
  expression: string | undefined;
}

export interface WdlTaskOutline {
  outputs: WdlDeclaration[];
  /** The runtime's `cpu` and `memory` where they are literals. */
  cpu?: number;
  memoryMiB?: number;
}

export interface WdlOutline {
  workflow: string;
  outputs: WdlDeclaration[];
  /** Call alias (or task name) → task name. */
  calls: Map<string, string>;
  tasks: Map<string, WdlTaskOutline>;
}

const DECLARATION = /^([A-Za-z][\w]*(?:\[[^=]*\])?\+?\??)\s+([A-Za-z][\w]*)\s*(?:=\s*(.*))?$/s;

function readDeclarations(block: string): WdlDeclaration[] {
  return declarations(block).flatMap((d) => {
    const m = DECLARATION.exec(d);
    return m ? [{ type: m[1]!, name: m[2]!, expression: m[3]?.trim() }] : [];
  });
}

/** The block named `keyword` directly inside `body`, if any. */
function section(body: string, keyword: string): string | undefined {
  const m = new RegExp(`\\b${keyword}\\s*\\{`).exec(body);
  return m ? blockAt(body, m.index + m[0].length - 1) : undefined;
}

/** A task's text without its command (whose braces and words are shell, not WDL). */
function withoutCommand(body: string): string {
  const heredoc = body.replace(/\bcommand\s*<<<[\s\S]*?>>>/g, '');
  const m = /\bcommand\s*\{/.exec(heredoc);
  if (!m) return heredoc;
  const inner = blockAt(heredoc, m.index + m[0].length - 1);
  return heredoc.slice(0, m.index) + heredoc.slice(m.index + m[0].length + inner.length + 1);
}

/** MiB from a WDL memory literal ("2 GiB", "4G", "512 MB"); GB and G are 10^9 bytes, as the WDL spec says. */
export function wdlMemoryMiB(text: string): number | undefined {
  const m = /^\s*"?\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|K|MB|MiB|M|GB|GiB|G|TB|TiB|T)?\s*"?\s*$/.exec(text);
  if (!m) return undefined;
  const bytes: Record<string, number> = { B: 1, KB: 1e3, K: 1e3, KiB: 1024, MB: 1e6, M: 1e6, MiB: 1024 ** 2, GB: 1e9, G: 1e9, GiB: 1024 ** 3, TB: 1e12, T: 1e12, TiB: 1024 ** 4 };
  return (Number(m[1]) * bytes[m[2] ?? 'B']!) / 1024 ** 2;
}

export function wdlOutline(source: string): WdlOutline {
  const text = stripWdlComments(source);
  const wf = /\bworkflow\s+([A-Za-z][A-Za-z0-9_]*)\s*\{/.exec(text);
  if (!wf) throw new DefinitionSyntaxError('no workflow block was found');
  const body = blockAt(text, wf.index + wf[0].length - 1);
  const calls = new Map<string, string>();
  for (const m of body.matchAll(/\bcall\s+([A-Za-z][\w.]*)(?:\s+as\s+([A-Za-z]\w*))?/g)) calls.set(m[2] ?? m[1]!.split('.').pop()!, m[1]!.split('.').pop()!);
  const tasks = new Map<string, WdlTaskOutline>();
  for (const m of text.matchAll(/\btask\s+([A-Za-z]\w*)\s*\{/g)) {
    const task = withoutCommand(blockAt(text, m.index + m[0].length - 1));
    const runtime = section(task, 'runtime') ?? '';
    const value = (key: string) => new RegExp(`\\b${key}\\s*:\\s*("[^"]*"|[\\w.]+)`).exec(runtime)?.[1];
    const cpu = Number(value('cpu')?.replace(/"/g, ''));
    const memory = value('memory');
    tasks.set(m[1]!, {
      outputs: readDeclarations(section(task, 'output') ?? ''),
      ...(Number.isFinite(cpu) && cpu > 0 ? { cpu } : {}),
      ...(memory && wdlMemoryMiB(memory) ? { memoryMiB: wdlMemoryMiB(memory) } : {}),
    });
  }
  return { workflow: wf[1]!, outputs: readDeclarations(section(body, 'output') ?? ''), calls, tasks };
}
