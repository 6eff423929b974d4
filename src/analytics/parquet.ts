import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { ValidationError } from '../core/errors.js';

/** A Parquet file of rows made by an import, with the samples whose rows it holds (none for rows without samples). */
export interface SampleRows {
  samples: string[];
  path: string;
  rows: number;
  sizeBytes: number;
}

export function sqlString(s: string): string {
  return s.replace(/'/g, "''");
}

/** DuckDB's memory for one conversion; beyond it, joins spill to the item's folder (memory stays flat). */
const MEMORY_LIMIT = '1GB';
const ROW_GROUP_ROWS = 122_880;

/**
 * Files per imported multi-sample file: up to this many samples, one file per sample; beyond, samples share files
 * (by a hash of the name), so a cohort of thousands of samples does not become thousands of tiny files, and
 * DuckDB's partitioned writer holds this many files' buffers at most.
 */
export const SAMPLE_FILES = 16;
/** Rows DuckDB's partitioned writer buffers per file before writing them out (memory stays within the limit). */
const PARTITION_FLUSH_ROWS = ROW_GROUP_ROWS;

/**
 * The rows a SELECT gives, written by DuckDB as Parquet (zstd) under `outDir`, within a fixed memory limit
 * (joins spill to the item's folder). With `samples` (the file's samples, in header order), the rows are
 * partitioned by sample (HealthOmics partitions stores by sample, and a query filtering on samples reads only
 * their files): one file per sample, or per group of samples beyond SAMPLE_FILES, each recorded with the samples
 * it holds. `ambiguous`, when given, is a query whose first row names a record that makes the SELECT ambiguous
 * (the item fails naming it). A row DuckDB cannot convert (a value not of its column's type, a malformed line)
 * fails the import item with DuckDB's message, naming `source`.
 */
export function selectToParquet(source: string, select: string, outDir: string, samples?: string[], ambiguous?: string): Promise<SampleRows[]> {
  return withConversionDb(source, outDir, async (c) => {
    const duplicate = ambiguous ? (await c.runAndReadAll(ambiguous)).getRows()[0]?.[0] : undefined;
    if (duplicate !== undefined && duplicate !== null) throw new Error(`two records at ${String(duplicate)} are equal in every field but INFO; they cannot be told apart`);
    const options = `FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}`;
    if (!samples?.length) {
      const path = join(outDir, 'rows.parquet');
      await c.run(`COPY (${select}) TO '${sqlString(path)}' (${options})`);
      const n = (await c.runAndReadAll(`SELECT count(*)::BIGINT FROM read_parquet('${sqlString(path)}')`)).getRows()[0]![0];
      return [{ samples: [], path, rows: Number(n), sizeBytes: (await stat(path)).size }];
    }
    // A few samples: a file each (named in a CASE); more: a hash of the name picks one of SAMPLE_FILES files
    // (a join to a table of samples would scramble the rows' order, and with it Parquet's compression).
    const fileOf = samples.length <= SAMPLE_FILES ? `CASE sampleid ${samples.map((name, i) => `WHEN '${sqlString(name)}' THEN ${i}`).join(' ')} END` : `hash(sampleid) % ${SAMPLE_FILES}`;
    await c.run(`SET partitioned_write_max_open_files = ${SAMPLE_FILES}`);
    await c.run(`SET partitioned_write_flush_threshold = ${PARTITION_FLUSH_ROWS}`);
    const root = join(outDir, 'samples');
    await c.run(`COPY (SELECT *, ${fileOf} AS samplefile FROM (${select})) TO '${sqlString(root)}' (${options}, PARTITION_BY (samplefile))`);
    return await partitionFiles(c, root);
  });
}

/**
 * A DuckDB for converting one import item: 2 threads, the memory limit, spilling to `outDir`; a statement that
 * fails fails the item with DuckDB's message, naming `source`.
 */
export async function withConversionDb<T>(source: string, outDir: string, work: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  await mkdir(join(outDir, 'spill'), { recursive: true, mode: 0o700 });
  const db = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: MEMORY_LIMIT, temp_directory: join(outDir, 'spill'), preserve_insertion_order: 'false' });
  const c = await db.connect();
  try {
    return await work(c);
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw new ValidationError(`${source}: the rows could not be converted: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** The files of a partitioned write (`samplefile=<n>/data_<k>.parquet`), each with its samples and rows. */
async function partitionFiles(c: DuckDBConnection, root: string): Promise<SampleRows[]> {
  const out: SampleRows[] = [];
  // No rows (a VCF with samples but no records): no folder at all.
  const folders = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const folder of folders.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    for (const name of (await readdir(join(root, folder.name))).filter((n) => n.endsWith('.parquet')).sort()) {
      const path = join(root, folder.name, name);
      const [names, n] = (await c.runAndReadAll(`SELECT list(DISTINCT sampleid ORDER BY sampleid), count(*)::BIGINT FROM read_parquet('${sqlString(path)}')`)).getRows()[0]!;
      const list = (names as { items?: unknown[] } | null)?.items ?? [];
      out.push({ samples: list.map(String), path, rows: Number(n), sizeBytes: (await stat(path)).size });
    }
  }
  return out;
}
