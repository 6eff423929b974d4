import { parse as parseYaml } from 'yaml';
import type { ParameterTemplate, WorkflowEngine } from './entities.js';
import { DefinitionSyntaxError, wdlTemplate } from './wdl-source.js';

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
export { DefinitionSyntaxError };

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
