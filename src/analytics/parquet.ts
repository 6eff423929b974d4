import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { ValidationError } from '../core/errors.js';

/** A Parquet file of rows made by an import: the sample its rows belong to ('' when not by sample). */
export interface SampleRows {
  sampleId: string;
  path: string;
  rows: number;
  sizeBytes: number;
}

export function sqlString(s: string): string {
  return s.replace(/'/g, "''");
}

/**
 * The rows a SELECT gives, written by DuckDB as Parquet (zstd) under `outDir` — one file per sample when
 * `bySample` (the SELECT has a `sampleid` column), else one file. A row DuckDB cannot convert (a value that is
 * not of its column's type, a malformed line) fails the import item with DuckDB's message, naming `source`.
 */
export async function selectToParquet(source: string, select: string, outDir: string, bySample: boolean): Promise<SampleRows[]> {
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const db = await DuckDBInstance.create(':memory:', { threads: '2' });
  const c = await db.connect();
  try {
    if (bySample) await c.run(`COPY (${select}) TO '${sqlString(outDir)}' (FORMAT parquet, PARTITION_BY (sampleid), WRITE_PARTITION_COLUMNS true, COMPRESSION zstd)`);
    else await c.run(`COPY (${select}) TO '${sqlString(join(outDir, 'rows.parquet'))}' (FORMAT parquet, COMPRESSION zstd)`);
    const files: SampleRows[] = [];
    for (const path of await parquetFiles(outDir)) {
      const r = await c.runAndReadAll(bySample ? `SELECT sampleid, count(*)::BIGINT AS n FROM read_parquet('${sqlString(path)}') GROUP BY sampleid` : `SELECT '' AS sampleid, count(*)::BIGINT AS n FROM read_parquet('${sqlString(path)}')`);
      for (const [sampleId, n] of r.getRows()) files.push({ sampleId: String(sampleId ?? ''), path, rows: Number(n), sizeBytes: (await stat(path)).size });
    }
    return files;
  } catch (e) {
    throw new ValidationError(`${source}: the rows could not be converted: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

async function parquetFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) if (e.isFile() && e.name.endsWith('.parquet')) out.push(join(e.parentPath, e.name));
  return out.sort();
}
