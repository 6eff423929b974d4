import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { ValidationError } from '../core/errors.js';

/** A Parquet file of rows made by an import: its one sample, or '' (no samples, or several). */
export interface SampleRows {
  sampleId: string;
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
 * The rows a SELECT gives, written by DuckDB as one Parquet file (zstd) under `outDir`, within a fixed memory
 * limit (joins spill to the item's folder). With `bySample`, the file's one sample is recorded when it has only
 * one. `ambiguous`, when given, is a query whose first row names a record that makes the SELECT ambiguous (the
 * item fails naming it). A row DuckDB cannot convert (a value not of its column's type, a malformed line) fails
 * the import item with DuckDB's message, naming `source`.
 */
export async function selectToParquet(source: string, select: string, outDir: string, bySample: boolean, ambiguous?: string): Promise<SampleRows[]> {
  await mkdir(join(outDir, 'spill'), { recursive: true, mode: 0o700 });
  const db = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: MEMORY_LIMIT, temp_directory: join(outDir, 'spill'), preserve_insertion_order: 'false' });
  const c = await db.connect();
  const path = join(outDir, 'rows.parquet');
  let duplicate: unknown;
  try {
    if (ambiguous) duplicate = (await c.runAndReadAll(ambiguous)).getRows()[0]?.[0];
    if (duplicate === undefined) await c.run(`COPY (${select}) TO '${sqlString(path)}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`);
    else throw new Error(`two records at ${String(duplicate)} are equal in every field but INFO; they cannot be told apart`);
    const r = await c.runAndReadAll(
      bySample
        ? `SELECT CASE WHEN count(DISTINCT sampleid) = 1 THEN any_value(sampleid) ELSE '' END, count(*)::BIGINT FROM read_parquet('${sqlString(path)}')`
        : `SELECT '', count(*)::BIGINT FROM read_parquet('${sqlString(path)}')`,
    );
    const [sampleId, n] = r.getRows()[0]!;
    return [{ sampleId: String(sampleId ?? ''), path, rows: Number(n), sizeBytes: (await stat(path)).size }];
  } catch (e) {
    throw new ValidationError(`${source}: the rows could not be converted: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}
