import { ValidationError } from '../core/errors.js';
import { sqlString } from './parquet.js';

/**
 * Athena's UNLOAD statement: `UNLOAD (SELECT ...) TO 's3://bucket/prefix/' WITH (format = 'PARQUET', ...)` writes a
 * query's rows as files at a location the caller owns, in plain Parquet (or JSON lines), optionally partitioned
 * Hive-style (`col=value/`). It is how an outside engine (Trino, Spark, DuckDB) gets a store's rows to read in
 * place: the stores' own files are encrypted with keys that never leave the server (docs/analytics.md).
 */
export interface UnloadStatement {
  select: string;
  location: string;
  format: 'PARQUET' | 'JSON';
  compression: string;
  partitionedBy: string[];
}

const FORMATS = ['PARQUET', 'JSON'] as const;
/** Athena's compression names, as DuckDB's COPY spells them. */
const COMPRESSION: Record<(typeof FORMATS)[number], Record<string, string>> = {
  PARQUET: { SNAPPY: 'snappy', GZIP: 'gzip', ZSTD: 'zstd', LZ4: 'lz4_raw', NONE: 'uncompressed' },
  JSON: { GZIP: 'gzip', ZSTD: 'zstd', NONE: 'none' },
};

/** Whether the query is an UNLOAD statement (well-formed or not). */
export function isUnload(query: string): boolean {
  return /^\s*unload\b/i.test(query);
}

/** The statement, if the query is an UNLOAD (a malformed one is a ValidationError naming what is wrong). */
export function parseUnload(query: string): UnloadStatement | undefined {
  if (!isUnload(query)) return undefined;
  const text = query.trim().replace(/;\s*$/, '');
  const m = /^unload\s*\(([\s\S]+)\)\s*to\s*'((?:[^']|'')*)'\s*with\s*\(([\s\S]*)\)$/i.exec(text);
  if (!m) throw new ValidationError(`UNLOAD must read: UNLOAD (SELECT ...) TO 's3://bucket/prefix/' WITH (format = 'PARQUET')`);
  const location = m[2]!.replace(/''/g, "'");
  if (!/^(s3:\/\/[^/]+|file:\/\/\/)/.test(location)) throw new ValidationError(`UNLOAD TO ${location}: the location must be an s3:// or file:/// folder.`);
  const properties = new Map<string, string | string[]>();
  const property = /\s*([a-z_]+)\s*=\s*(?:'((?:[^']|'')*)'|array\s*\[([^\]]*)\])\s*(?:,|$)/iy;
  const withText = m[3]!.trim();
  while (property.lastIndex < withText.length) {
    const start = property.lastIndex;
    const p = property.exec(withText);
    if (!p) throw new ValidationError(`UNLOAD WITH: cannot read the properties from "${withText.slice(start, start + 40)}".`);
    const values = p[3]?.split(',').map((v) => /^\s*'((?:[^']|'')*)'\s*$/.exec(v)?.[1]?.replace(/''/g, "'"));
    if (values?.some((v) => v === undefined)) throw new ValidationError(`UNLOAD WITH ${p[1]}: an ARRAY of quoted names is expected.`);
    properties.set(p[1]!.toLowerCase(), values ? (values as string[]) : p[2]!.replace(/''/g, "'"));
  }
  const format = String(properties.get('format') ?? '').toUpperCase();
  if (!FORMATS.includes(format as (typeof FORMATS)[number])) throw new ValidationError(`UNLOAD format ${format || '(none)'} is not supported here; use 'PARQUET' or 'JSON'.`);
  const codecs = COMPRESSION[format as (typeof FORMATS)[number]];
  const compression = String(properties.get('compression') ?? (format === 'PARQUET' ? 'SNAPPY' : 'NONE')).toUpperCase();
  if (!codecs[compression]) throw new ValidationError(`UNLOAD compression ${compression} is not supported for ${format}; use one of ${Object.keys(codecs).join(', ')}.`);
  const partitionedBy = properties.get('partitioned_by') ?? [];
  if (!Array.isArray(partitionedBy)) throw new ValidationError(`UNLOAD partitioned_by must be an ARRAY['column', ...].`);
  for (const k of properties.keys()) if (!['format', 'compression', 'partitioned_by'].includes(k)) throw new ValidationError(`UNLOAD property ${k} is not supported here.`);
  return { select: m[1]!.trim(), location: location.endsWith('/') ? location : `${location}/`, format: format as UnloadStatement['format'], compression: codecs[compression]!, partitionedBy };
}

/** DuckDB's COPY of the statement's rows into `dir`, files named after the query. */
export function unloadCopy(u: UnloadStatement, dir: string, queryId: string): string {
  const options = [`FORMAT ${u.format === 'PARQUET' ? 'parquet' : 'json'}`, `COMPRESSION ${u.compression}`, `FILENAME_PATTERN '${queryId}_{i}'`];
  if (u.partitionedBy.length) options.push(`PARTITION_BY (${u.partitionedBy.map((c) => `"${c.replace(/"/g, '""')}"`).join(', ')})`);
  else options.push('PER_THREAD_OUTPUT true');
  return `COPY (${u.select}) TO '${sqlString(dir)}' (${options.join(', ')})`;
}
