import type { Readable } from 'node:stream';
import { ValidationError } from '../../core/errors.js';
import type { MemberRef, Operation, ServiceModel, Shape } from './model.js';

/**
 * REST-JSON (de)serialisation and validation driven by the service model:
 * URI labels, query strings and headers are bound to input members, the rest
 * comes from the JSON body; every constraint of the model (required, length,
 * range, pattern, enum, list and map sizes) is checked, and all violations are
 * reported at once in the service's own wording.
 */
/**
 * Values the service's patterns refuse but OpenOmics accepts on purpose:
 * import sources and export destinations may be local (`file:///...`) under
 * the configured import/export roots (docs/decisions.md). Nothing else is widened.
 */
const PATTERN_EXTENSIONS: Record<string, RegExp> = { S3Uri: /^file:\/\/\/.+$/u, S3Destination: /^file:\/\/\/.+$/u };

const patternCache = new Map<string, RegExp>();
function compiled(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    // Smithy patterns are Java regexes; we require the whole value to match.
    re = new RegExp(`^(?:${pattern})$`, 'u');
    patternCache.set(pattern, re);
  }
  return re;
}

function describe(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string') return v.length > 64 ? `${v.slice(0, 61)}...` : v;
  if (typeof v === 'object') return JSON.stringify(v)?.slice(0, 64) ?? String(v);
  return String(v);
}

class Violations {
  readonly list: string[] = [];
  add(value: unknown, path: string, constraint: string) {
    this.list.push(`Value '${describe(value)}' at '${path}' failed to satisfy constraint: ${constraint}`);
  }
  throwIfAny() {
    if (this.list.length === 0) return;
    const n = this.list.length;
    throw new ValidationError(`${n} validation error${n > 1 ? 's' : ''} detected: ${this.list.join('; ')}`);
  }
}

/**
 * Output members the model marks required that OpenOmics leaves out on purpose (spec, storage.md §"known model
 * deviations" 4): a FASTQ or uBAM upload has no reference and may have no generatedFrom, and the user guide's
 * responses omit them.
 */
export const OPTIONAL_DESPITE_MODEL: ReadonlySet<string> = new Set([
  'CreateMultipartReadSetUploadResponse.referenceArn',
  'MultipartReadSetUploadListItem.referenceArn',
  'MultipartReadSetUploadListItem.generatedFrom',
]);

export class WireSerde {
  constructor(
    private readonly model: ServiceModel,
    /**
     * Strict output (tests, OPENOMICS_STRICT_OUTPUT=1): an output member the model does not have (a misspelt
     * field that would silently vanish) or a required member left out fails the request loudly, naming it.
     */
    private readonly strictOutput = false,
  ) {}

  shape(name: string): Shape {
    const s = this.model.shapes[name];
    if (!s) throw new Error(`unknown shape ${name}`);
    return s;
  }

  /** Builds and validates an operation's input from the HTTP request parts. */
  parseInput(
    op: Operation,
    labels: Record<string, string>,
    query: readonly (readonly [string, string])[],
    headers: Record<string, string | string[] | undefined>,
    body: Buffer | undefined,
    stream: Readable | undefined,
  ): Record<string, unknown> {
    if (!op.input) return {};
    const shape = this.shape(op.input.shape);
    const out: Record<string, unknown> = {};
    const v = new Violations();
    let json: Record<string, unknown> = {};
    const bodyBound = Object.values(shape.members ?? {}).some((m) => !m.location) && !shape.payload;
    if (bodyBound && body && body.length > 0) {
      let parsed: unknown;
      const text = body.toString('utf8');
      if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw new ValidationError(`The request body nests JSON deeper than ${MAX_JSON_DEPTH} levels.`);
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ValidationError('The request body is not valid JSON.');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ValidationError('The request body must be a JSON object.');
      json = parsed as Record<string, unknown>;
    }
    for (const [name, ref] of Object.entries(shape.members ?? {})) {
      const target = this.shape(ref.shape);
      const wireName = ref.locationName ?? name;
      let raw: unknown;
      switch (ref.location) {
        case 'uri':
          raw = labels[wireName];
          break;
        case 'querystring': {
          const values = query.filter(([k]) => k === wireName).map(([, val]) => val);
          if (values.length === 0) raw = undefined;
          else raw = target.type === 'list' ? values : values[values.length - 1];
          if (raw !== undefined) raw = this.fromText(raw, target, name, v);
          break;
        }
        case 'header': {
          const h = headers[wireName.toLowerCase()];
          raw = h === undefined ? undefined : this.fromText(Array.isArray(h) ? h.join(',') : h, target, name, v);
          break;
        }
        default:
          if (shape.payload === name) raw = target.type === 'blob' || target.type === 'string' ? stream : json;
          else raw = this.fromJson(json[name], target, name, v);
      }
      if (raw !== undefined) out[name] = raw;
    }
    this.validate(out, shape, '', v);
    v.throwIfAny();
    return out;
  }

  private fromText(raw: unknown, shape: Shape, path: string, v: Violations): unknown {
    if (Array.isArray(raw)) return raw.map((r) => this.fromText(r, this.shape(shape.member!.shape), path, v));
    const text = String(raw);
    switch (shape.type) {
      case 'integer':
      case 'long': {
        if (!/^-?\d+$/.test(text)) {
          v.add(text, path, 'Member must be an integer');
          return undefined;
        }
        return Number(text);
      }
      case 'boolean':
        return text === 'true';
      case 'timestamp': {
        const t = /^\d+(\.\d+)?$/.test(text) ? new Date(Number(text) * 1000) : new Date(text);
        if (Number.isNaN(t.getTime())) {
          v.add(text, path, 'Member must be a timestamp');
          return undefined;
        }
        return t;
      }
      default:
        return text;
    }
  }

  private fromJson(raw: unknown, shape: Shape, path: string, v: Violations): unknown {
    if (raw === undefined || raw === null) return undefined;
    if (shape.document) return raw;
    switch (shape.type) {
      case 'structure': {
        if (typeof raw !== 'object' || Array.isArray(raw)) {
          v.add(raw, path, 'Member must be an object');
          return undefined;
        }
        const out: Record<string, unknown> = {};
        for (const [name, ref] of Object.entries(shape.members ?? {})) {
          const val = this.fromJson((raw as Record<string, unknown>)[name], this.shape(ref.shape), `${path}.${name}`, v);
          if (val !== undefined) out[name] = val;
        }
        return out;
      }
      case 'list': {
        if (!Array.isArray(raw)) {
          v.add(raw, path, 'Member must be a list');
          return undefined;
        }
        const ms = this.shape(shape.member!.shape);
        return raw.map((r, i) => this.fromJson(r, ms, `${path}.${i + 1}.member`, v));
      }
      case 'map': {
        if (typeof raw !== 'object' || Array.isArray(raw)) {
          v.add(raw, path, 'Member must be a map');
          return undefined;
        }
        const vs = this.shape(shape.value!.shape);
        const out: Record<string, unknown> = {};
        for (const [k, val] of Object.entries(raw as Record<string, unknown>)) {
          // Assigning it would set the object's prototype, and the entry would vanish without a word.
          if (k === '__proto__') v.add(k, `${path}.${k}`, 'Member must not use the key __proto__');
          else out[k] = this.fromJson(val, vs, `${path}.${k}`, v);
        }
        return out;
      }
      case 'timestamp': {
        const t = typeof raw === 'number' ? new Date(raw * 1000) : new Date(String(raw));
        if (Number.isNaN(t.getTime())) {
          v.add(raw, path, 'Member must be a timestamp');
          return undefined;
        }
        return t;
      }
      case 'integer':
      case 'long':
      case 'double':
      case 'float':
        if (typeof raw !== 'number' || ((shape.type === 'integer' || shape.type === 'long') && !Number.isInteger(raw))) {
          v.add(raw, path, `Member must be ${shape.type === 'integer' || shape.type === 'long' ? 'an integer' : 'a number'}`);
          return undefined;
        }
        return raw;
      case 'boolean':
        if (typeof raw !== 'boolean') {
          v.add(raw, path, 'Member must be a boolean');
          return undefined;
        }
        return raw;
      case 'blob':
        return typeof raw === 'string' ? Buffer.from(raw, 'base64') : undefined;
      default:
        if (typeof raw !== 'string') {
          // jsonvalue members may arrive as objects from some clients; keep them as text.
          if (typeof raw === 'object') return JSON.stringify(raw);
          v.add(raw, path, 'Member must be a string');
          return undefined;
        }
        return raw;
    }
  }

  private validate(value: unknown, shape: Shape, path: string, v: Violations, shapeName?: string): void {
    if (shape.document) return;
    switch (shape.type) {
      case 'structure': {
        const obj = value as Record<string, unknown>;
        for (const req of shape.required ?? []) {
          if (obj[req] === undefined) v.add('null', join(path, req), 'Member must not be null');
        }
        for (const [name, ref] of Object.entries(shape.members ?? {})) {
          const child = obj[name];
          if (child === undefined) continue;
          if (shape.payload === name && typeof (child as { pipe?: unknown }).pipe === 'function') continue; // a streamed body
          this.validate(child, this.shape(ref.shape), join(path, name), v, ref.shape);
        }
        return;
      }
      case 'string': {
        const s = value as string;
        const len = [...s].length;
        if (shape.min !== undefined && len < shape.min) v.add(s, path, `Member must have length greater than or equal to ${shape.min}`);
        if (shape.max !== undefined && len > shape.max) v.add(s, path, `Member must have length less than or equal to ${shape.max}`);
        if (shape.enum && !shape.enum.includes(s)) v.add(s, path, `Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
        if (shape.pattern && !compiled(shape.pattern).test(s) && !(shapeName && PATTERN_EXTENSIONS[shapeName]?.test(s))) v.add(s, path, `Member must satisfy regular expression pattern: ${shape.pattern}`);
        return;
      }
      case 'integer':
      case 'long':
      case 'double':
      case 'float': {
        const n = value as number;
        if (shape.min !== undefined && n < shape.min) v.add(n, path, `Member must have value greater than or equal to ${shape.min}`);
        if (shape.max !== undefined && n > shape.max) v.add(n, path, `Member must have value less than or equal to ${shape.max}`);
        return;
      }
      case 'list': {
        const list = value as unknown[];
        if (shape.min !== undefined && list.length < shape.min) v.add(list, path, `Member must have length greater than or equal to ${shape.min}`);
        if (shape.max !== undefined && list.length > shape.max) v.add(list, path, `Member must have length less than or equal to ${shape.max}`);
        const ms = this.shape(shape.member!.shape);
        list.forEach((item, i) => item !== undefined && this.validate(item, ms, `${path}.${i + 1}.member`, v));
        return;
      }
      case 'map': {
        const map = value as Record<string, unknown>;
        const keys = Object.keys(map);
        if (shape.min !== undefined && keys.length < shape.min) v.add(map, path, `Member must have length greater than or equal to ${shape.min}`);
        if (shape.max !== undefined && keys.length > shape.max) v.add(map, path, `Member must have length less than or equal to ${shape.max}`);
        const ks = this.shape(shape.key!.shape);
        const vs = this.shape(shape.value!.shape);
        for (const k of keys) {
          this.validate(k, ks, `${path}.key`, v);
          if (map[k] !== undefined) this.validate(map[k], vs, `${path}.${k}`, v);
        }
        return;
      }
      default:
        return;
    }
  }

  /** Splits an operation's output into status, headers, and a JSON body or a stream. */
  serializeOutput(op: Operation, output: object | undefined): {
    status: number;
    headers: Record<string, string>;
    json?: string;
    stream?: Readable;
  } {
    const status = op.http.responseCode ?? 200;
    const headers: Record<string, string> = {};
    if (!op.output) return { status, headers, json: '{}' };
    const shape = this.shape(op.output.shape);
    if (this.strictOutput) {
      const problems: string[] = [];
      this.checkOutput(output ?? {}, op.output.shape, op.output.shape, problems);
      if (problems.length) throw new Error(`${op.name} output does not match the model: ${problems.join('; ')}`);
    }
    const body: Record<string, unknown> = {};
    let stream: Readable | undefined;
    for (const [name, ref] of Object.entries(shape.members ?? {})) {
      const val = (output as Record<string, unknown> | undefined)?.[name];
      if (val === undefined || val === null) continue;
      if (ref.location === 'header') headers[(ref.locationName ?? name).toLowerCase()] = val instanceof Date ? val.toUTCString() : String(val);
      else if (shape.payload === name) stream = val as Readable;
      else body[ref.locationName ?? name] = this.toJson(val, this.shape(ref.shape));
    }
    return stream ? { status, headers, stream } : { status, headers, json: JSON.stringify(body) };
  }

  /** Unknown and missing required members of `val` against `shape`, recursively (strict output). */
  private checkOutput(val: unknown, shapeName: string, path: string, problems: string[]): void {
    if (val === undefined || val === null) return;
    const shape = this.shape(shapeName);
    if (shape.document) return;
    switch (shape.type) {
      case 'structure': {
        if (typeof val !== 'object' || (shape.payload && typeof (val as { pipe?: unknown }).pipe === 'function')) return;
        const members = shape.members ?? {};
        for (const [k, child] of Object.entries(val as Record<string, unknown>)) {
          if (!(k in members)) {
            if (child !== undefined) problems.push(`${path}.${k} is not a member of the model`);
            continue;
          }
          if (shape.payload === k) continue; // a streamed body
          this.checkOutput(child, members[k]!.shape, `${path}.${k}`, problems);
        }
        for (const r of shape.required ?? []) {
          if (OPTIONAL_DESPITE_MODEL.has(`${shapeName}.${r}`)) continue;
          const v = (val as Record<string, unknown>)[r];
          if (v === undefined || v === null) problems.push(`${path}.${r} is required by the model but missing`);
        }
        return;
      }
      case 'list':
        if (Array.isArray(val)) val.forEach((x, i) => this.checkOutput(x, shape.member!.shape, `${path}[${i}]`, problems));
        return;
      case 'map':
        for (const [k, x] of Object.entries(val as Record<string, unknown>)) this.checkOutput(x, shape.value!.shape, `${path}.${k}`, problems);
        return;
      default:
        return;
    }
  }

  private toJson(val: unknown, shape: Shape): unknown {
    if (shape.document) return val;
    switch (shape.type) {
      case 'structure': {
        const out: Record<string, unknown> = {};
        for (const [name, ref] of Object.entries(shape.members ?? {})) {
          const child = (val as Record<string, unknown>)[name];
          if (child !== undefined && child !== null) out[name] = this.toJson(child, this.shape(ref.shape));
        }
        return out;
      }
      case 'list':
        return (val as unknown[]).map((x) => this.toJson(x, this.shape(shape.member!.shape)));
      case 'map': {
        const vs = this.shape(shape.value!.shape);
        return Object.fromEntries(Object.entries(val as Record<string, unknown>).map(([k, x]) => [k, this.toJson(x, vs)]));
      }
      case 'timestamp':
        return (val instanceof Date ? val : new Date(val as number)).toISOString();
      case 'blob':
        return Buffer.isBuffer(val) ? val.toString('base64') : val;
      default:
        return val;
    }
  }
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

export type { MemberRef };

/** No operation's input nests anywhere near this deep; deeper bodies are refused before they are parsed. */
export const MAX_JSON_DEPTH = 64;

/** Whether `text` opens more than `limit` nested arrays/objects (one linear pass; strings skipped). */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

