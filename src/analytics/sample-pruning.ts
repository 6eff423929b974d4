/**
 * Which samples of a store a query can read, from the query's syntax tree (DuckDB's `json_serialize_sql`), so a
 * query filtering on samples decrypts and reads only their files (stores are partitioned by sample, one file per
 * sample). Sound, not clever: a store's files are narrowed only when the query names the store exactly once, as
 * the FROM of a SELECT (not a join) whose WHERE is a conjunction with `sampleid = 'x'` or `sampleid IN ('x', ...)`
 * among its terms. Every row of the store then passes that WHERE before anything else sees it, so rows of other
 * samples could never reach the result. Anything else (a join, an OR, a second reference, a CTE named like the
 * store, a parse error) reads every file.
 */

type Node = Record<string, unknown>;

const isNode = (x: unknown): x is Node => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Every object in the tree, depth first. */
function* nodes(x: unknown): Generator<Node> {
  if (Array.isArray(x)) for (const v of x) yield* nodes(v);
  else if (isNode(x)) {
    yield x;
    for (const v of Object.values(x)) yield* nodes(v);
  }
}

const lower = (x: unknown) => (typeof x === 'string' ? x.toLowerCase() : '');

/** The samples a `sampleid` comparison of this table allows, or undefined if the expression is not one. */
function sampleTerm(e: Node, names: Set<string>): string[] | undefined {
  const isSampleColumn = (c: unknown): boolean => {
    if (!isNode(c) || c['class'] !== 'COLUMN_REF') return false;
    const parts = (c['column_names'] as unknown[]).map(lower);
    return parts.at(-1) === 'sampleid' && (parts.length === 1 || (parts.length === 2 && names.has(parts[0]!)));
  };
  const text = (c: unknown): string | undefined => {
    if (!isNode(c) || c['class'] !== 'CONSTANT') return undefined;
    const v = c['value'] as { type?: { id?: string }; is_null?: boolean; value?: unknown } | undefined;
    return v?.type?.id === 'VARCHAR' && !v.is_null && typeof v.value === 'string' ? v.value : undefined;
  };
  if (e['class'] === 'COMPARISON' && e['type'] === 'COMPARE_EQUAL') {
    const [col, value] = isSampleColumn(e['left']) ? [e['left'], e['right']] : [e['right'], e['left']];
    const v = isSampleColumn(col) ? text(value) : undefined;
    return v === undefined ? undefined : [v];
  }
  if (e['class'] === 'OPERATOR' && e['type'] === 'COMPARE_IN') {
    const [col, ...values] = e['children'] as unknown[];
    if (!isSampleColumn(col)) return undefined;
    const out = values.map(text);
    return out.every((v): v is string => v !== undefined) ? out : undefined;
  }
  return undefined;
}

/** The samples the terms of an AND allow (the intersection of every sample term among them). */
function samplesOfWhere(where: unknown, names: Set<string>): Set<string> | undefined {
  if (!isNode(where)) return undefined;
  const terms: Node[] = [];
  const flatten = (e: Node) => {
    if (e['class'] === 'CONJUNCTION' && e['type'] === 'CONJUNCTION_AND') for (const c of e['children'] as unknown[]) isNode(c) && flatten(c);
    else terms.push(e);
  };
  flatten(where);
  let allowed: Set<string> | undefined;
  for (const t of terms) {
    const samples = sampleTerm(t, names);
    if (samples) allowed = new Set(samples.filter((s) => !allowed || allowed.has(s)));
  }
  return allowed;
}

/**
 * The samples of `table` that `ast` (json_serialize_sql's output) can read, or undefined for all of them.
 */
export function samplesRead(ast: unknown, table: string): Set<string> | undefined {
  if (!isNode(ast) || ast['error'] !== false) return undefined;
  const name = table.toLowerCase();
  const all = [...nodes(ast)];
  // A CTE of the store's name would make "the store" ambiguous.
  for (const n of all) {
    const map = (n['cte_map'] as { map?: { key?: unknown }[] } | undefined)?.map ?? [];
    if (map.some((m) => lower(m.key) === name)) return undefined;
  }
  const references = all.filter((n) => n['type'] === 'BASE_TABLE' && lower(n['table_name']) === name);
  if (references.length !== 1) return undefined;
  const ref = references[0]!;
  const select = all.find((n) => n['type'] === 'SELECT_NODE' && n['from_table'] === ref);
  if (!select) return undefined;
  const names = new Set([name, ...(ref['alias'] ? [lower(ref['alias'])] : [])]);
  return samplesOfWhere(select['where_clause'], names);
}
