import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ValidationError } from '../core/errors.js';
import type { TsvOptions } from './entities.js';
import { selectToParquet, sqlString, withConversionDb, type SampleRows } from './parquet.js';
import { runBcftools } from './vcf-rows.js';

/**
 * Annotation files (TSV/CSV and GFF3) as annotation table rows in Parquet, with their coordinates normalised to
 * 0-based half-open intervals (spec analytics §4.3). DuckDB reads and types the delimited text; a GFF3 file is
 * first checked line by line (nine columns, integer coordinates) up to its `##FASTA` section.
 */

/** `tsvOptions.readOptions` of an annotation import. */
export interface ReadOptions {
  sep?: string;
  encoding?: string;
  quote?: string;
  quoteAll?: boolean;
  escape?: string;
  escapeQuotes?: boolean;
  comment?: string;
  header?: boolean;
  lineSep?: string;
}

const SCHEMA_TYPES: Record<string, string> = { LONG: 'BIGINT', INT: 'INTEGER', STRING: 'VARCHAR', FLOAT: 'FLOAT', DOUBLE: 'DOUBLE', BOOLEAN: 'BOOLEAN' };

/** The TSV schema as [column, DuckDB type] pairs. */
export function tsvColumns(options: TsvOptions): [string, string][] {
  return (options.schema ?? []).map((entry) => {
    const [name, type] = Object.entries(entry)[0] ?? [];
    if (!name || !type || !SCHEMA_TYPES[type]) throw new ValidationError(`tsvStoreOptions.schema: ${JSON.stringify(entry)} is not {column: LONG|INT|STRING|FLOAT|DOUBLE|BOOLEAN}.`);
    return [name, SCHEMA_TYPES[type]!];
  });
}

/** A TSV store's (or version's) options: a schema, and the coordinate columns its annotation type needs, named in it. */
export function checkTsvOptions(o: TsvOptions): void {
  const columns = new Set(tsvColumns(o).map(([n]) => n));
  if (!columns.size) throw new ValidationError('tsvStoreOptions.schema must list the columns.');
  const needs: Record<string, string[]> = {
    GENERIC: [],
    CHR_POS: ['CHR', 'POS'],
    CHR_POS_REF_ALT: ['CHR', 'POS', 'REF', 'ALT'],
    CHR_START_END_ONE_BASE: ['CHR', 'START', 'END'],
    CHR_START_END_REF_ALT_ONE_BASE: ['CHR', 'START', 'END', 'REF', 'ALT'],
    CHR_START_END_ZERO_BASE: ['CHR', 'START', 'END'],
    CHR_START_END_REF_ALT_ZERO_BASE: ['CHR', 'START', 'END', 'REF', 'ALT'],
  };
  for (const key of needs[o.annotationType ?? 'GENERIC'] ?? []) {
    const c = o.formatToHeader?.[key];
    if (!c) throw new ValidationError(`tsvStoreOptions.formatToHeader must name the ${key} column for ${o.annotationType}.`);
    if (!columns.has(c)) throw new ValidationError(`tsvStoreOptions.formatToHeader: ${key} names ${c}, which is not in the schema.`);
  }
}

/** The coordinate columns an annotation type adds, in front of the schema's (none for GENERIC). */
export function coordinateColumns(annotationType: string | undefined): [string, string][] {
  const type = annotationType ?? 'GENERIC';
  if (type === 'GENERIC') return [];
  const withAlleles = type.includes('REF_ALT');
  return [['contigname', 'VARCHAR'], ['start', 'BIGINT'], ['end', 'BIGINT'], ...(withAlleles ? ([['referenceallele', 'VARCHAR'], ['alternatealleles', 'VARCHAR[]']] as [string, string][]) : [])];
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** The SELECT of the coordinate columns for an annotation type, from the columns formatToHeader names (checked: checkTsvOptions). */
function coordinates(options: TsvOptions): string[] {
  const type = options.annotationType ?? 'GENERIC';
  if (type === 'GENERIC') return [];
  const col = (key: string) => quoteIdent(options.formatToHeader![key]!);
  const byPos = type.startsWith('CHR_POS');
  const oneBased = byPos || type.endsWith('ONE_BASE');
  const start = byPos ? `CAST(${col('POS')} AS BIGINT) - 1` : oneBased ? `CAST(${col('START')} AS BIGINT) - 1` : `CAST(${col('START')} AS BIGINT)`;
  const withAlleles = type.includes('REF_ALT');
  const end = byPos ? (withAlleles ? `${start} + length(${col('REF')})` : `CAST(${col('POS')} AS BIGINT)`) : `CAST(${col('END')} AS BIGINT)`;
  return [
    `CAST(${col('CHR')} AS VARCHAR) AS contigname`,
    `${start} AS start`,
    `${end} AS "end"`,
    ...(withAlleles ? [`${col('REF')} AS referenceallele`, `string_split(${col('ALT')}, ',') AS alternatealleles`] : []),
  ];
}

export interface TsvRowsInput {
  file: string;
  source: string;
  options: TsvOptions;
  read: ReadOptions;
  workDir: string;
  /** A local FASTA (with .fai) to left-normalise REF/ALT rows against (runLeftNormalization). */
  normalizeAgainst?: string;
  signal?: AbortSignal;
}

/** Whether an annotation type's rows have alleles that left-normalisation can move. */
export function hasAlleles(annotationType: string | undefined): boolean {
  return (annotationType ?? 'GENERIC').includes('REF_ALT');
}

/** The column numbering the file's rows while they are normalised (not kept). */
const ROW = 'openomics_row';

export async function tsvToParquet(i: TsvRowsInput): Promise<SampleRows[]> {
  checkTsvOptions(i.options);
  const columns = tsvColumns(i.options);
  const names = new Set(columns.map(([n]) => n));
  const coords = coordinates(i.options);
  const replaced = new Set(['contigname', 'start', 'end', 'referenceallele', 'alternatealleles'].filter((c) => names.has(c) && coords.length > 0));
  const r = i.read;
  const opt = (name: string, v: string | undefined) => (v === undefined ? '' : `, ${name} = '${sqlString(v)}'`);
  const csv = `read_csv('${sqlString(i.file)}', delim = '${sqlString(r.sep ?? '\t')}', header = ${r.header ?? true}${opt('quote', r.quote ?? '"')}${opt('escape', r.escape)}${opt('comment', r.comment)}${opt('new_line', r.lineSep)}${r.encoding ? opt('encoding', r.encoding.toLowerCase()) : ''}, auto_detect = false, strict_mode = true, columns = {${columns.map(([n, t]) => `'${sqlString(n)}': '${t}'`).join(', ')}})`;
  const kept = columns.filter(([n]) => !replaced.has(n)).map(([n]) => quoteIdent(n));
  const out = join(i.workDir, 'parquet');
  if (!i.normalizeAgainst || !hasAlleles(i.options.annotationType)) return selectToParquet(i.source, `SELECT ${[...coords, ...kept].join(', ')} FROM ${csv}`, out);
  // Left-normalised by bcftools norm -f, as variant imports are: the rows (numbered once) become a sites-only
  // VCF whose ID is the row's number, and the normalised position and alleles are joined back by it.
  const rows = join(i.workDir, 'rows.parquet');
  const sites = join(i.workDir, 'sites.vcf');
  const normalized = join(i.workDir, 'normalized.tsv');
  await withConversionDb(i.source, out, async (c) => {
    await c.run(`COPY (SELECT row_number() OVER () AS ${ROW}, * FROM ${csv}) TO '${sqlString(rows)}' (FORMAT parquet)`);
    const body = join(i.workDir, 'sites.body');
    await c.run(
      `COPY (SELECT contigname, start + 1 AS pos, ${ROW}, referenceallele, array_to_string(alternatealleles, ','), '.', '.', '.' FROM (SELECT ${ROW}, ${coords.join(', ')} FROM read_parquet('${sqlString(rows)}')) ORDER BY contigname, pos) TO '${sqlString(body)}' (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')`,
    );
    const contigs = (await readFile(`${i.normalizeAgainst}.fai`, 'utf8')).split('\n').filter(Boolean).map((l) => `##contig=<ID=${l.split('\t')[0]},length=${l.split('\t')[1]}>`);
    await writeFile(sites, `##fileformat=VCFv4.2\n${contigs.join('\n')}\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n`);
    await pipeline(createReadStream(body), createWriteStream(sites, { flags: 'a' }));
  });
  await runBcftools(i, 'bcftools norm', ['norm', '-f', i.normalizeAgainst, '--no-version', '-Ou', '-o', `${sites}.bcf`, sites]);
  await runBcftools(i, 'bcftools query', ['query', '-f', '%ID\t%POS\t%REF\t%ALT\n', '-o', normalized, `${sites}.bcf`]);
  const n = `read_csv('${sqlString(normalized)}', delim = '\t', header = false, quote = '', escape = '', auto_detect = false, columns = {'${ROW}': 'BIGINT', 'pos': 'BIGINT', 'ref': 'VARCHAR', 'alt': 'VARCHAR'})`;
  const moved = ['CAST(t.contigname AS VARCHAR) AS contigname', 'n.pos - 1 AS start', 'n.pos - 1 + length(n.ref) AS "end"', 'n.ref AS referenceallele', "string_split(n.alt, ',') AS alternatealleles"];
  const select = `SELECT ${[...moved, ...kept.map((k) => `t.${k}`)].join(', ')} FROM (SELECT ${[ROW, ...kept, ...coords].join(', ')} FROM read_parquet('${sqlString(rows)}')) t JOIN ${n} n USING (${ROW})`;
  return selectToParquet(i.source, select, out);
}

/** The GFF3 annotation table's columns. */
export const GFF_COLUMNS: [string, string][] = [
  ['contigname', 'VARCHAR'],
  ['start', 'BIGINT'],
  ['end', 'BIGINT'],
  ['source', 'VARCHAR'],
  ['type', 'VARCHAR'],
  ['score', 'DOUBLE'],
  ['strand', 'VARCHAR'],
  ['phase', 'INTEGER'],
  ['attributes', 'MAP(VARCHAR, VARCHAR)'],
];

export async function gffToParquet(i: { file: string; source: string; workDir: string }): Promise<SampleRows[]> {
  const clean = join(i.workDir, 'features.tsv');
  const out = createWriteStream(clean);
  const input = createReadStream(i.file);
  const lines = createInterface({ input: i.file.endsWith('.gz') ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.startsWith('##FASTA')) break;
      if (!line.trim() || line.startsWith('#')) continue;
      const f = line.split('\t');
      if (f.length !== 9) throw new ValidationError(`${i.source}: line ${n}: expected 9 tab-separated columns (GFF3), found ${f.length}.`);
      if (!/^\d+$/.test(f[3]!) || !/^\d+$/.test(f[4]!) || Number(f[3]) > Number(f[4]) || Number(f[3]) < 1) throw new ValidationError(`${i.source}: line ${n}: start ${f[3]} and end ${f[4]} are not 1-based coordinates with start ≤ end.`);
      if (!out.write(`${line}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw new ValidationError(`${i.source}: line ${n}: ${(e as Error).message}`);
  } finally {
    input.destroy();
    await new Promise((r) => out.end(r));
  }
  const attributes = `map_from_entries(list_transform(list_filter(string_split(attrs, ';'), lambda a: a <> '' AND a <> '.'), lambda a: {'k': url_decode(split_part(a, '=', 1)), 'v': url_decode(substr(a, strpos(a, '=') + 1))}))`;
  const select = `SELECT seqid AS contigname, CAST(s AS BIGINT) - 1 AS start, CAST(e AS BIGINT) AS "end", nullif(src, '.') AS source, type, TRY_CAST(nullif(score, '.') AS DOUBLE) AS score, nullif(strand, '.') AS strand, TRY_CAST(nullif(phase, '.') AS INTEGER) AS phase, ${attributes} AS attributes
    FROM read_csv('${sqlString(clean)}', delim = '\t', header = false, quote = '', escape = '', auto_detect = false, columns = {'seqid': 'VARCHAR', 'src': 'VARCHAR', 'type': 'VARCHAR', 's': 'VARCHAR', 'e': 'VARCHAR', 'score': 'VARCHAR', 'strand': 'VARCHAR', 'phase': 'VARCHAR', 'attrs': 'VARCHAR'})`;
  return selectToParquet(i.source, select, join(i.workDir, 'parquet'));
}
