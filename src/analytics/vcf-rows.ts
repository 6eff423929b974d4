import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { join } from 'node:path';
import { ValidationError } from '../core/errors.js';
import { selectToParquet, sqlString, type SampleRows } from './parquet.js';

/**
 * A VCF (plain or bgzipped) as the variant table's rows, in Parquet files partitioned by sample (spec analytics
 * §2.2; parquet.ts#selectToParquet). The VCF is read by bcftools — `bcftools norm` splits multi-allelic records
 * (`-m -any`) and, when asked, left-aligns and normalises indels against the reference (`-f ref.fa`), and
 * `bcftools query` prints one line per record and sample — and DuckDB turns those lines into typed columns and
 * writes the Parquet files. Everything streams through a temporary file: memory does not grow with the VCF.
 *
 * Columns (HealthOmics' variant table): contigname, start (0-based), end (half-open), names, referenceallele,
 * alternatealleles, qual, filters, splitfrommultiallelic, attributes (INFO, a map; a flag is 'true'), phased,
 * calls (GT, -1 for a missing allele), genotypelikelihoods (GL), phredlikelihoods (PL), alleledepths (AD),
 * conditionalquality (GQ), spl (SPL), depth (DP), ps (PS), sampleid, information (the sample's other FORMAT
 * fields, a map).
 */
export interface VcfRowsInput {
  /** The VCF, as a local file. */
  vcf: string;
  /** How the VCF is named in messages (its source URI). */
  source: string;
  /** The store's reference sequences: every record's contig must be one of them (unchecked when absent). */
  contigs?: ReadonlySet<string>;
  /** One row per record, no sample columns (annotation stores). */
  sitesOnly?: boolean;
  /** vcfOptions of annotation imports: leave QUAL / FILTER out (NULL). */
  ignoreQual?: boolean;
  ignoreFilter?: boolean;
  /** A local FASTA (with .fai) to left-normalise against, when the import asks for it. */
  normalizeAgainst?: string;
  /** The INFO field holding Ensembl VEP annotations to parse into `annotations.vep` (annotationFields {"VEP": ID}). */
  vepField?: string;
  /** A private working folder (the TSV and the Parquet files go there). */
  workDir: string;
  signal?: AbortSignal;
}

/** The INFO tag `bcftools norm` puts on records it split or moved; it is not part of the data. */
const OLD_RECORD_TAG = 'OPENOMICS_OLD_REC';
/** FORMAT fields with columns of their own; the others go to `information`. */
const FORMAT_COLUMNS: Record<string, string> = {
  AD: 'alleledepths',
  DP: 'depth',
  GQ: 'conditionalquality',
  PL: 'phredlikelihoods',
  GL: 'genotypelikelihoods',
  PS: 'ps',
  SPL: 'spl',
};

interface Header {
  formats: string[];
  /** INFO tags declared in the header, with whether each is a Flag and its description. */
  infos: { id: string; flag: boolean; description: string }[];
  samples: string[];
}

export type { SampleRows };

export async function vcfToParquet(i: VcfRowsInput): Promise<SampleRows[]> {
  const read = await readHeader(i);
  const header = i.sitesOnly ? { ...read, samples: [], formats: [] } : read;
  await checkLines(i, read);
  const formats = header.formats.filter((f) => f !== 'GT');
  const hasGt = header.formats.includes('GT');
  // Normalised once into an uncompressed BCF, then queried twice: one line per record (its site fields; every
  // declared INFO tag, a Flag as 1 or 0) and, with samples, one line per record and sample (the record's key and
  // the sample's fields). DuckDB joins them on the key, so site fields are parsed once per record, not per sample.
  const normalized = join(i.workDir, 'normalized.bcf');
  const norm = ['norm', '-m', '-any', ...(i.normalizeAgainst ? ['-f', i.normalizeAgainst] : ['-N']), '--old-rec-tag', OLD_RECORD_TAG, '--no-version', '-Ob0', '-o', normalized, i.vcf];
  await runBcftools(i, 'bcftools norm', norm);
  const key = '%CHROM\\t%POS\\t%ID\\t%REF\\t%ALT\\t%QUAL\\t%FILTER';
  const sites = join(i.workDir, 'sites.tsv');
  await runBcftools(i, 'bcftools query', ['query', '-f', `${key}${header.infos.map((t) => `\\t%INFO/${t.id}`).join('')}\\t%INFO/${OLD_RECORD_TAG}\\n`, '-o', sites, normalized]);
  let calls: string | undefined;
  if (header.samples.length) {
    calls = join(i.workDir, 'calls.tsv');
    await runBcftools(i, 'bcftools query', ['query', '-f', `[${key}\\t%SAMPLE\\t${hasGt ? '%GT' : '.'}${formats.map((f) => `\\t%${f}`).join('')}\\n]`, '-o', calls, normalized]);
  }
  return toParquet(i, sites, calls, header.infos, formats, i.vepField, header.samples);
}

/** `bcftools view -h`: the FORMAT and INFO fields (in header order) and the samples. */
async function readHeader(i: VcfRowsInput): Promise<Header> {
  const r = await collect('bcftools', ['view', '-h', '--no-version', i.vcf], i.signal);
  if (r.code !== 0) throw new ValidationError(`${i.source}: not a readable VCF: ${firstError(r.stderr)}`);
  const lines = r.stdout.split('\n').filter(Boolean);
  const formats = lines.flatMap((l) => /^##FORMAT=<ID=([^,>]+)/.exec(l)?.[1] ?? []);
  const infos = lines.flatMap((l) => {
    const m = /^##INFO=<ID=([^,>]+)(.*)$/.exec(l);
    return m && m[1] !== OLD_RECORD_TAG ? [{ id: m[1]!, flag: /Type=Flag/.test(m[2]!), description: /Description="((?:[^"\\]|\\.)*)"/.exec(m[2]!)?.[1] ?? '' }] : [];
  });
  const columns = lines.at(-1)?.split('\t') ?? [];
  return { formats, infos, samples: columns.slice(9) };
}

/**
 * One pass over the file as written: every record has the columns its header promises (8, or 9 plus one per
 * sample) and, when the store has a reference, a contig of it; the file ends where it should (a truncated bgzip
 * file fails here). The item fails naming the first line that is wrong, counted as in the file.
 */
async function checkLines(i: VcfRowsInput, header: Header): Promise<void> {
  const expected = header.samples.length ? 9 + header.samples.length : 8;
  const raw = createReadStream(i.vcf, { signal: i.signal });
  const gz = (await readMagic(i.vcf)) === 0x1f8b;
  const source: AsyncIterable<Buffer> = gz ? raw.pipe(createGunzip()) : raw;
  let line = 0;
  let rest = '';
  const check = (text: string) => {
    line++;
    if (text === '' || text.startsWith('#')) return;
    let columns = 1;
    for (let k = text.indexOf('\t'); k >= 0; k = text.indexOf('\t', k + 1)) columns++;
    if (columns !== expected && !(header.samples.length === 0 && columns === 9)) {
      throw new ValidationError(`${i.source}: line ${line}: ${columns} columns, but the header promises ${expected}${header.samples.length ? ` (9 and ${header.samples.length} samples)` : ''}.`);
    }
    if (i.contigs) {
      const contig = text.slice(0, text.indexOf('\t'));
      if (!i.contigs.has(contig)) throw new ValidationError(`${i.source}: line ${line}: contig ${contig} is not a sequence of the store's reference.`);
    }
  };
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of source) {
      const lines = (rest + decoder.write(chunk)).split('\n');
      rest = lines.pop()!;
      for (const l of lines) check(l.endsWith('\r') ? l.slice(0, -1) : l);
    }
    if (rest) check(rest);
  } catch (e) {
    if (e instanceof ValidationError || i.signal?.aborted) throw e;
    throw new ValidationError(`${i.source}: line ${line + 1}: the file cannot be read to its end (${(e as Error).message}); is it truncated?`);
  } finally {
    raw.destroy();
  }
}

async function readMagic(path: string): Promise<number> {
  const f = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await f.read(b, 0, 2, 0);
    return bytesRead === 2 ? b.readUInt16BE(0) : 0;
  } finally {
    await f.close();
  }
}

/** The INFO fields stored as one `k=v;k;...` string (the query view turns it into the `attributes` map). */
export const INFO_COLUMN = 'info';
/** The `attributes` map from the stored INFO string (a Flag, written bare, is 'true'). */
export const ATTRIBUTES_FROM_INFO = `map_from_entries(list_transform(list_filter(string_split(${INFO_COLUMN}, ';'), lambda e: e <> ''), lambda e: {'k': split_part(e, '=', 1), 'v': CASE WHEN contains(e, '=') THEN substr(e, strpos(e, '=') + 1) ELSE 'true' END}))`;

/** The rows as one Parquet file, by DuckDB: site columns once per record, joined to the sample lines by the record's key. */
async function toParquet(i: VcfRowsInput, sitesTsv: string, callsTsv: string | undefined, infos: Header['infos'], formats: string[], vepField: string | undefined, samples: string[]): Promise<SampleRows[]> {
  const keyColumns = ['chrom', 'pos', 'id', 'ref', 'alt', 'qual', 'filter'];
  const csv = (file: string, columns: string[]) =>
    `read_csv('${sqlString(file)}', delim = '\t', header = false, quote = '', escape = '', auto_detect = false, columns = {${columns.map((c) => `'${c}': 'VARCHAR'`).join(', ')}})`;
  const missing = (c: string) => `nullif(${c}, '.')`;
  const ints = (c: string) => `list_transform(string_split(${missing(c)}, ','), lambda v: TRY_CAST(nullif(v, '.') AS INTEGER))`;
  const withSamples = callsTsv !== undefined;
  const formatOf = (name: string): string | undefined => {
    const n = formats.indexOf(name);
    return withSamples && n >= 0 ? `c.f${n}` : undefined;
  };
  const listOr = (name: string, convert: (c: string) => string, type: string) => {
    const c = formatOf(name);
    return c ? convert(c) : `NULL::${type}`;
  };
  const scalar = (name: string, type: string) => {
    const c = formatOf(name);
    return c ? `TRY_CAST(${missing(c)} AS ${type})` : `NULL::${type}`;
  };
  const other = formats.map((f, n) => ({ f, n })).filter(({ f }) => !FORMAT_COLUMNS[f]);
  const information = withSamples && other.length ? `map_from_entries([${other.map(({ f, n }) => `{'k': '${sqlString(f)}', 'v': c.f${n}}`).join(', ')}])` : `MAP {}::MAP(VARCHAR, VARCHAR)`;
  // The VEP field, when parsed, is in `annotations` rather than the INFO string.
  const vep = vepField ? infos.findIndex((t) => t.id === vepField) : -1;
  const infoParts = infos.map((t, n) => ({ ...t, n })).filter(({ n }) => n !== vep).map((t) => (t.flag ? `CASE WHEN i${t.n} = '1' THEN '${sqlString(t.id)}' END` : `CASE WHEN i${t.n} <> '.' THEN '${sqlString(t.id)}=' || i${t.n} END`));
  const info = infoParts.length ? `array_to_string(list_filter([${infoParts.join(', ')}], lambda e: e IS NOT NULL), ';')` : `''`;
  // Without parsed annotations the column is left out of the files (the query view gives NULL): writing a NULL
  // of this deeply nested type costs as much as all the other columns together.
  const annotations = vep >= 0 ? `${vepAnnotations(`nullif(i${vep}, '.')`, infos[vep]!.description)} AS annotations` : undefined;
  const siteRows = `
    SELECT ${keyColumns.join(', ')},
      chrom AS contigname,
      CAST(pos AS BIGINT) - 1 AS start,
      ${infos.some((t) => t.id === 'END') ? `coalesce(TRY_CAST(nullif(i${infos.findIndex((t) => t.id === 'END')}, '.') AS BIGINT), CAST(pos AS BIGINT) - 1 + length(ref))` : 'CAST(pos AS BIGINT) - 1 + length(ref)'} AS "end",
      CASE WHEN id = '.' THEN []::VARCHAR[] ELSE string_split(id, ';') END AS names,
      ref AS referenceallele,
      CASE WHEN alt = '.' THEN []::VARCHAR[] ELSE string_split(alt, ',') END AS alternatealleles,
      ${i.ignoreQual ? 'NULL::DOUBLE' : `TRY_CAST(${missing('qual')} AS DOUBLE)`} AS qual_value,
      ${i.ignoreFilter ? 'NULL::VARCHAR[]' : `CASE WHEN filter = '.' THEN []::VARCHAR[] ELSE string_split(filter, ';') END`} AS filters,
      coalesce(contains(split_part(nullif(old, '.'), '|', 4), ','), false) AS splitfrommultiallelic,
      ${info} AS ${INFO_COLUMN}${annotations ? `, ${annotations}` : ''}
    FROM ${csv(sitesTsv, [...keyColumns, ...infos.map((_, n) => `i${n}`), 'old'])}`;
  const select = `
    WITH s AS (${siteRows})
    SELECT
      s.contigname, s.start, s."end", s.names, s.referenceallele, s.alternatealleles, s.qual_value AS qual, s.filters, s.splitfrommultiallelic, s.${INFO_COLUMN},
      ${withSamples ? `contains(c.gt, '|')` : 'NULL::BOOLEAN'} AS phased,
      ${withSamples ? `list_transform(regexp_split_to_array(c.gt, '[/|]'), lambda a: CASE WHEN a = '.' THEN -1 ELSE TRY_CAST(a AS INTEGER) END)` : 'NULL::INTEGER[]'} AS calls,
      ${listOr('GL', (c) => `list_transform(string_split(${missing(c)}, ','), lambda v: TRY_CAST(nullif(v, '.') AS DOUBLE))`, 'DOUBLE[]')} AS genotypelikelihoods,
      ${listOr('PL', ints, 'INTEGER[]')} AS phredlikelihoods,
      ${listOr('AD', ints, 'INTEGER[]')} AS alleledepths,
      ${scalar('GQ', 'INTEGER')} AS conditionalquality,
      ${listOr('SPL', ints, 'INTEGER[]')} AS spl,
      ${scalar('DP', 'INTEGER')} AS depth,
      ${scalar('PS', 'INTEGER')} AS ps,
      ${withSamples ? 'c.sample' : "''"} AS sampleid,
      ${information} AS information${annotations ? ', s.annotations' : ''}
    FROM s${withSamples ? ` JOIN ${csv(callsTsv, [...keyColumns, 'sample', 'gt', ...formats.map((_, n) => `f${n}`)])} c USING (${keyColumns.join(', ')})` : ''}`;
  // The key joins each sample line to its record: two records equal in every key field would be ambiguous.
  const duplicate = `SELECT chrom || ':' || pos || ' ' || ref || '>' || alt FROM ${csv(sitesTsv, [...keyColumns, ...infos.map((_, n) => `i${n}`), 'old'])} GROUP BY ALL HAVING count(*) > 1 LIMIT 1`;
  return selectToParquet(i.source, select, join(i.workDir, 'parquet'), withSamples ? samples : undefined, withSamples ? duplicate : undefined);
}

/** Runs bcftools to its end; fails the item with the first error it printed (bcftools names the line where it can). */
export async function runBcftools(i: { source: string; signal?: AbortSignal }, what: string, args: string[]): Promise<void> {
  const r = await collect('bcftools', args, i.signal);
  if (i.signal?.aborted) throw i.signal.reason;
  if (r.code !== 0 || /\[E::|\bError\b/.test(r.stderr)) throw new ValidationError(`${i.source}: ${firstError(r.stderr) || `${what} exited with ${r.code}`}`);
}

function collect(command: string, args: string[], signal?: AbortSignal): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: stderr + e.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The first line of a tool's complaint that says what is wrong. */
function firstError(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => /\[E::|error|Error|Failed|failed|Could not|not/.test(l)) ?? lines[0] ?? '').slice(0, 500);
}

/** The VEP fields of HealthOmics' `annotations.vep` struct (spec analytics §4.2), by their VEP names. */
const VEP_FIELDS: [string, string, 'text' | 'list' | 'rank' | 'pair'][] = [
  ['allele', 'Allele', 'text'],
  ['consequence', 'Consequence', 'list'],
  ['impact', 'IMPACT', 'text'],
  ['symbol', 'SYMBOL', 'text'],
  ['gene', 'Gene', 'text'],
  ['feature_type', 'Feature_type', 'text'],
  ['feature', 'Feature', 'text'],
  ['biotype', 'BIOTYPE', 'text'],
  ['exon', 'EXON', 'rank'],
  ['intron', 'INTRON', 'rank'],
  ['hgvsc', 'HGVSc', 'text'],
  ['hgvsp', 'HGVSp', 'text'],
  ['cdna_position', 'cDNA_position', 'text'],
  ['cds_position', 'CDS_position', 'text'],
  ['protein_position', 'Protein_position', 'text'],
  ['amino_acids', 'Amino_acids', 'pair'],
  ['codons', 'Codons', 'pair'],
  ['existing_variation', 'Existing_variation', 'list'],
  ['distance', 'DISTANCE', 'text'],
  ['strand', 'STRAND', 'text'],
  ['flags', 'FLAGS', 'list'],
  ['symbol_source', 'SYMBOL_SOURCE', 'text'],
  ['hgnc_id', 'HGNC_ID', 'text'],
];

const VEP_TYPES = { text: 'VARCHAR', list: 'VARCHAR[]', rank: 'STRUCT(rank VARCHAR, total VARCHAR)', pair: 'STRUCT(reference VARCHAR, variant VARCHAR)' };
/** The `annotations` column's type. */
export const ANNOTATIONS_TYPE = `STRUCT(vep STRUCT(${VEP_FIELDS.map(([name, , kind]) => `${name} ${VEP_TYPES[kind]}`).join(', ')}, extras MAP(VARCHAR, VARCHAR))[])`;

/**
 * `annotations.vep` from a VEP INFO value: one struct per annotation (comma-separated), its fields found by the
 * names the header's `Format: A|B|...` gives (case-insensitive); fields outside the default set go to `extras`.
 * `&`-joined fields become lists, `n/m` ranks and `A/B` pairs structs; empty fields are NULL.
 */
function vepAnnotations(value: string, description: string): string {
  const names = (/Format: ([^"]*)$/.exec(description)?.[1] ?? '').split('|').map((x) => x.trim());
  const at = (vepName: string) => names.findIndex((n) => n.toLowerCase() === vepName.toLowerCase()) + 1;
  const part = (n: number) => `nullif(string_split(e, '|')[${n}], '')`;
  const fields = VEP_FIELDS.map(([name, vepName, kind]) => {
    const n = at(vepName);
    const type = VEP_TYPES[kind];
    if (n === 0) return `'${name}': NULL::${type}`;
    const v = part(n);
    if (kind === 'text') return `'${name}': ${v}`;
    if (kind === 'list') return `'${name}': string_split(${v}, '&')`;
    const [a, b] = kind === 'rank' ? ['rank', 'total'] : ['reference', 'variant'];
    return `'${name}': CASE WHEN ${v} IS NULL THEN NULL ELSE {'${a}': split_part(${v}, '/', 1), '${b}': nullif(split_part(${v}, '/', 2), '')} END`;
  });
  const known = new Set(VEP_FIELDS.map(([, vepName]) => vepName.toLowerCase()));
  const extras = names.map((n, k) => ({ n, k: k + 1 })).filter(({ n }) => n && !known.has(n.toLowerCase()));
  const extrasMap = extras.length ? `map_from_entries(list_filter([${extras.map(({ n, k }) => `{'k': '${sqlString(n)}', 'v': ${part(k)}}`).join(', ')}], lambda x: x.v IS NOT NULL))` : 'MAP {}::MAP(VARCHAR, VARCHAR)';
  return `CASE WHEN ${value} IS NULL THEN NULL ELSE {'vep': list_transform(string_split(${value}, ','), lambda e: {${fields.join(', ')}, 'extras': ${extrasMap}})} END::${ANNOTATIONS_TYPE}`;
}

/** The variant table's columns (what vcfToParquet writes), for a store that has no rows yet. */
export const VARIANT_COLUMNS: [string, string][] = [
  ['contigname', 'VARCHAR'],
  ['start', 'BIGINT'],
  ['end', 'BIGINT'],
  ['names', 'VARCHAR[]'],
  ['referenceallele', 'VARCHAR'],
  ['alternatealleles', 'VARCHAR[]'],
  ['qual', 'DOUBLE'],
  ['filters', 'VARCHAR[]'],
  ['splitfrommultiallelic', 'BOOLEAN'],
  ['attributes', 'MAP(VARCHAR, VARCHAR)'],
  ['phased', 'BOOLEAN'],
  ['calls', 'INTEGER[]'],
  ['genotypelikelihoods', 'DOUBLE[]'],
  ['phredlikelihoods', 'INTEGER[]'],
  ['alleledepths', 'INTEGER[]'],
  ['conditionalquality', 'INTEGER'],
  ['spl', 'INTEGER[]'],
  ['depth', 'INTEGER'],
  ['ps', 'INTEGER'],
  ['sampleid', 'VARCHAR'],
  ['information', 'MAP(VARCHAR, VARCHAR)'],
  ['annotations', ANNOTATIONS_TYPE],
];
