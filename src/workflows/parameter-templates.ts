import { parse as parseYaml } from 'yaml';
import type { ParameterTemplate, WorkflowEngine } from './entities.js';

/**
 * Parameter template discovery (spec §4.3): the main workflow's inputs, each required or optional, read from
 * the definition as the service reads it. A template the user gives overrides this.
 */
export function discoverTemplate(engine: WorkflowEngine, source: string): ParameterTemplate {
  if (engine === 'CWL') return cwlTemplate(source);
  if (engine === 'WDL' || engine === 'WDL_LENIENT') return wdlTemplate(source);
  return nextflowTemplate(source);
}

/** Thrown when the definition cannot be read: the message names the line where it can. */
export class DefinitionSyntaxError extends Error {}

// ---- CWL: a nullable type (`T?`, a union with "null") or a default makes an input optional.
function cwlTemplate(source: string): ParameterTemplate {
  let doc: unknown;
  try {
    doc = parseYaml(source);
  } catch (e) {
    throw new DefinitionSyntaxError((e as Error).message);
  }
  let main = doc as Record<string, unknown> | undefined;
  const graph = main?.['$graph'];
  if (Array.isArray(graph)) {
    const objects = graph as Record<string, unknown>[];
    main = objects.find((o) => o['id'] === '#main' || o['id'] === 'main') ?? objects.find((o) => o['class'] === 'Workflow') ?? objects[0];
  }
  if (!main || typeof main !== 'object') throw new DefinitionSyntaxError('the CWL document is not an object');
  const inputs = main['inputs'];
  const entries: [string, unknown][] = Array.isArray(inputs)
    ? (inputs as Record<string, unknown>[]).map((i) => [String(i['id'] ?? '').replace(/^#?(main\/)?/, ''), i])
    : Object.entries((inputs as Record<string, unknown> | undefined) ?? {});
  const out: ParameterTemplate = {};
  for (const [name, spec] of entries) {
    if (!name) continue;
    const s = spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? (spec as Record<string, unknown>) : { type: spec };
    const optional = 'default' in s || nullable(s['type']);
    const label = typeof s['label'] === 'string' ? s['label'] : typeof s['doc'] === 'string' ? s['doc'] : '';
    out[name] = { description: label.slice(0, 256), optional };
  }
  return out;
}

function nullable(type: unknown): boolean {
  if (typeof type === 'string') return type.endsWith('?') || type === 'null';
  if (Array.isArray(type)) return type.some((t) => t === 'null');
  return false;
}

// ---- WDL: in the main workflow's input section, a declaration is optional if its type ends in `?` or it
// has a value (`Int x = 2`); its description comes from the workflow's parameter_meta.
function wdlTemplate(source: string): ParameterTemplate {
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

// ---- Nextflow (no engine runs it here yet): every `params.X` of the main file; with a default, optional.
function nextflowTemplate(source: string): ParameterTemplate {
  const out: ParameterTemplate = {};
  for (const m of source.matchAll(/\bparams\.([A-Za-z_]\w*)(\s*=(?!=))?/g)) {
    const name = m[1]!;
    const assigned = m[2] !== undefined;
    const prev = out[name];
    out[name] = { description: '', optional: (prev?.optional ?? false) || assigned };
  }
  return out;
}
