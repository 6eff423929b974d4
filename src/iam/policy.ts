import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { ValidationError } from '../core/errors.js';

/**
 * IAM policy documents and their evaluation, per the IAM policy evaluation
 * logic: an explicit Deny wins; otherwise an Allow is needed; otherwise the
 * request is implicitly denied. See docs/adr/0002-policy-evaluator.md for
 * why this is ours rather than a library.
 */
export type ContextValue = string | string[] | boolean | number | undefined;
export type RequestContext = Record<string, ContextValue>; // keys as in policies, e.g. "aws:username"

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: unknown;
  NotPrincipal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: Statement[];
}

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'NotPrincipal', 'Condition']);

const OPERATORS = new Set([
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike',
  'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'BinaryEquals', 'IpAddress', 'NotIpAddress', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike', 'Null',
]);

function asList(v: unknown): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

/** Parses and checks a policy document; throws ValidationError naming what is wrong. */
export function parsePolicy(text: string, opts: { requirePrincipal?: boolean } = {}): PolicyDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ValidationError('The policy is not valid JSON.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ValidationError('The policy must be a JSON object.');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (!['Version', 'Id', 'Statement'].includes(k)) throw new ValidationError(`The policy has an unsupported element: ${k}.`);
  }
  if (d['Version'] !== undefined && d['Version'] !== '2012-10-17' && d['Version'] !== '2008-10-17') {
    throw new ValidationError(`The policy Version ${String(d['Version'])} is not supported; use 2012-10-17.`);
  }
  const raw = d['Statement'];
  const statements = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]) as Record<string, unknown>[];
  if (statements.length === 0) throw new ValidationError('The policy has no Statement.');
  for (const [i, s] of statements.entries()) {
    if (typeof s !== 'object' || s === null) throw new ValidationError(`Statement ${i} is not an object.`);
    for (const k of Object.keys(s)) if (!STATEMENT_KEYS.has(k)) throw new ValidationError(`Statement ${i} has an unsupported element: ${k}.`);
    if (s['Effect'] !== 'Allow' && s['Effect'] !== 'Deny') throw new ValidationError(`Statement ${i} needs Effect Allow or Deny.`);
    if ((s['Action'] === undefined) === (s['NotAction'] === undefined)) throw new ValidationError(`Statement ${i} needs exactly one of Action and NotAction.`);
    if ((s['Resource'] === undefined) === (s['NotResource'] === undefined)) throw new ValidationError(`Statement ${i} needs exactly one of Resource and NotResource.`);
    if (opts.requirePrincipal && s['Principal'] === undefined && s['NotPrincipal'] === undefined) {
      throw new ValidationError(`Statement ${i} needs a Principal.`);
    }
    const cond = s['Condition'];
    if (cond !== undefined) {
      if (typeof cond !== 'object' || cond === null) throw new ValidationError(`Statement ${i} has a malformed Condition.`);
      for (const [op, block] of Object.entries(cond)) {
        const base = stripOperator(op).op;
        if (!OPERATORS.has(base)) throw new ValidationError(`Statement ${i} uses an unsupported condition operator: ${op}.`);
        if (typeof block !== 'object' || block === null) throw new ValidationError(`Statement ${i} has a malformed ${op} block.`);
      }
    }
  }
  return { ...(d as object), Statement: statements as unknown as Statement[] } as PolicyDocument;
}

function stripOperator(op: string): { set?: 'ForAnyValue' | 'ForAllValues'; op: string; ifExists: boolean } {
  let set: 'ForAnyValue' | 'ForAllValues' | undefined;
  let rest = op;
  if (rest.startsWith('ForAnyValue:')) {
    set = 'ForAnyValue';
    rest = rest.slice('ForAnyValue:'.length);
  } else if (rest.startsWith('ForAllValues:')) {
    set = 'ForAllValues';
    rest = rest.slice('ForAllValues:'.length);
  }
  const ifExists = rest.endsWith('IfExists');
  if (ifExists) rest = rest.slice(0, -'IfExists'.length);
  return { ...(set ? { set } : {}), op: rest, ifExists };
}

/** IAM wildcard match: `*` any run, `?` one character. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (pattern === value || pattern === '*') return true;
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  let pi = 0, vi = 0, star = -1, mark = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (star !== -1) {
      pi = star + 1;
      vi = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

function interpolate(value: string, ctx: RequestContext): string {
  if (!value.includes('${')) return value; // most patterns have no variables: no regular expression run per request
  return value.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    if (name === '*' || name === '?' || name === '$') return name;
    const v = ctx[name];
    return typeof v === 'string' ? v : whole;
  });
}

function arnLike(pattern: string, value: string): boolean {
  const p = pattern.split(':');
  const v = value.split(':');
  if (p.length < 6 || v.length < 6) return wildcardMatch(pattern, value);
  for (let i = 0; i < 5; i++) if (!wildcardMatch(p[i]!, v[i]!)) return false;
  return wildcardMatch(p.slice(5).join(':'), v.slice(5).join(':'));
}

function ipMatch(cidr: string, ip: string): boolean {
  const list = new BlockList();
  const [addr, bits] = cidr.split('/');
  const type = isIPv6(addr!) ? 'ipv6' : 'ipv4';
  if (!isIPv4(addr!) && !isIPv6(addr!)) return false;
  const ipType = isIPv6(ip) ? 'ipv6' : 'ipv4';
  if (bits === undefined) list.addAddress(addr!, type);
  else list.addSubnet(addr!, Number(bits), type);
  return list.check(ip.replace(/^::ffff:/, ''), ipType === 'ipv6' && ip.startsWith('::ffff:') ? 'ipv4' : ipType);
}

function dateOf(v: string): number {
  return /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
}

/** One operator against one context value and one policy value. */
function compare(op: string, ctxValue: string, policyValue: string, ctx: RequestContext): boolean {
  const pv = interpolate(policyValue, ctx);
  switch (op) {
    case 'StringEquals': return ctxValue === pv;
    case 'StringNotEquals': return ctxValue !== pv;
    case 'StringEqualsIgnoreCase': return ctxValue.toLowerCase() === pv.toLowerCase();
    case 'StringNotEqualsIgnoreCase': return ctxValue.toLowerCase() !== pv.toLowerCase();
    case 'StringLike': return wildcardMatch(pv, ctxValue);
    case 'StringNotLike': return !wildcardMatch(pv, ctxValue);
    case 'NumericEquals': return Number(ctxValue) === Number(pv);
    case 'NumericNotEquals': return Number(ctxValue) !== Number(pv);
    case 'NumericLessThan': return Number(ctxValue) < Number(pv);
    case 'NumericLessThanEquals': return Number(ctxValue) <= Number(pv);
    case 'NumericGreaterThan': return Number(ctxValue) > Number(pv);
    case 'NumericGreaterThanEquals': return Number(ctxValue) >= Number(pv);
    case 'DateEquals': return dateOf(ctxValue) === dateOf(pv);
    case 'DateNotEquals': return dateOf(ctxValue) !== dateOf(pv);
    case 'DateLessThan': return dateOf(ctxValue) < dateOf(pv);
    case 'DateLessThanEquals': return dateOf(ctxValue) <= dateOf(pv);
    case 'DateGreaterThan': return dateOf(ctxValue) > dateOf(pv);
    case 'DateGreaterThanEquals': return dateOf(ctxValue) >= dateOf(pv);
    case 'Bool': return ctxValue.toLowerCase() === pv.toLowerCase();
    case 'BinaryEquals': return ctxValue === pv;
    case 'IpAddress': return ipMatch(pv, ctxValue);
    case 'NotIpAddress': return !ipMatch(pv, ctxValue);
    case 'ArnEquals': return ctxValue === pv;
    case 'ArnLike': return arnLike(pv, ctxValue);
    case 'ArnNotEquals': return ctxValue !== pv;
    case 'ArnNotLike': return !arnLike(pv, ctxValue);
    default: return false;
  }
}

const NEGATED = new Set(['StringNotEquals', 'StringNotEqualsIgnoreCase', 'StringNotLike', 'NumericNotEquals', 'DateNotEquals', 'ArnNotEquals', 'ArnNotLike', 'NotIpAddress']);

function lookup(ctx: RequestContext, key: string): ContextValue {
  if (key in ctx) return ctx[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(ctx)) if (k.toLowerCase() === lower) return ctx[k];
  return undefined;
}

function conditionHolds(condition: Record<string, Record<string, unknown>> | undefined, ctx: RequestContext): boolean {
  if (!condition) return true;
  for (const [rawOp, block] of Object.entries(condition)) {
    const { set, op, ifExists } = stripOperator(rawOp);
    for (const [key, rawValues] of Object.entries(block)) {
      const policyValues = asList(rawValues);
      const v = lookup(ctx, key);
      if (op === 'Null') {
        const wantAbsent = policyValues.some((p) => p.toLowerCase() === 'true');
        if ((v === undefined) !== wantAbsent) return false;
        continue;
      }
      if (v === undefined) {
        if (ifExists) continue;
        if (set === 'ForAllValues') continue; // vacuously true
        // IAM: a missing key does not match, so a negated operator holds and any other fails.
        if (NEGATED.has(op)) continue;
        return false;
      }
      const values = Array.isArray(v) ? v.map(String) : [String(v)];
      const one = (cv: string) =>
        NEGATED.has(op) ? policyValues.every((pv) => compare(op, cv, pv, ctx)) : policyValues.some((pv) => compare(op, cv, pv, ctx));
      let ok: boolean;
      if (set === 'ForAllValues') ok = values.every(one);
      else if (set === 'ForAnyValue') ok = values.some(one);
      else ok = values.length > 0 && values.every(one);
      if (!ok) return false;
    }
  }
  return true;
}

export interface AuthzRequest {
  action: string; // "omics:GetSequenceStore"
  resource: string; // an ARN or "*"
  context: RequestContext;
}

/** Whether `test` holds for one of a policy element's values (a string or a list), without building a list. */
function someValue(v: unknown, test: (value: string) => boolean): boolean {
  if (!Array.isArray(v)) return test(String(v));
  for (const x of v) if (test(String(x))) return true;
  return false;
}

function statementApplies(s: Statement, req: AuthzRequest): boolean {
  const action = (a: string) => wildcardMatch(a, req.action, true);
  const resource = (r: string) => wildcardMatch(interpolate(r, req.context), req.resource);
  if (s.Action !== undefined && !someValue(s.Action, action)) return false;
  if (s.NotAction !== undefined && someValue(s.NotAction, action)) return false;
  if (s.Resource !== undefined && !someValue(s.Resource, resource)) return false;
  if (s.NotResource !== undefined && someValue(s.NotResource, resource)) return false;
  return conditionHolds(s.Condition, req.context);
}

/** Evaluates identity policies for one action on one resource. */
export function evaluate(policies: PolicyDocument[], req: AuthzRequest): { decision: Decision; statement?: Statement } {
  let allow: Statement | undefined;
  for (const p of policies) {
    for (const s of p.Statement) {
      if (!statementApplies(s, req)) continue;
      if (s.Effect === 'Deny') return { decision: 'ExplicitDeny', statement: s };
      allow ??= s;
    }
  }
  return allow ? { decision: 'Allow', statement: allow } : { decision: 'ImplicitDeny' };
}
