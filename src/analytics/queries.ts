import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mapLimit } from '../core/concurrency.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { decodeNextToken, encodeNextToken, everyItem } from '../core/pagination.js';
import { submittedJob } from '../db/job-records.js';
import type { JobHandler } from '../jobs/runner.js';
import type { DomainDeps } from '../storage/context.js';
import type { DataLocations, ExportTarget } from '../storage/locations.js';
import { newStoreDataKey, storeBlobs } from '../storage/store-storage.js';
import type { AnalyticsFileRecord, QueryExecutionRecord } from './entities.js';
import type { AnnotationStoreService, AnnotationStoreView } from './annotation-stores.js';
import type { ShareService } from '../shares/shares.js';
import type { VariantStoreService, VariantStoreView } from './variant-stores.js';
import { samplesRead } from './sample-pruning.js';
import { isUnload, parseUnload, unloadCopy } from './unload.js';
import { ATTRIBUTES_FROM_INFO, INFO_COLUMN, VARIANT_COLUMNS } from './vcf-rows.js';

export const ANALYTICS_QUERY_JOB = 'AnalyticsQuery';
/** The one catalog and database the stores are tables of (Athena's default catalog name). */
export const CATALOG = 'awsdatacatalog';
export const DATABASE = 'omics';
/** Files an UNLOAD's partitioned writer keeps open at once (each holds a row group). */
const UNLOAD_OPEN_FILES = 32;
/** Store files decrypted at once for a query. */
const DECRYPT_CONCURRENCY = 4;


/** Athena (Trino) functions DuckDB lacks or spells differently, as macros of the query's database. */
const TRINO_FUNCTIONS = [
  'CREATE MACRO array_join(a, sep) AS array_to_string(a, sep)',
  'CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)',
  'CREATE MACRO cardinality(a) AS len(a)',
  'CREATE MACRO element_at(a, i) AS a[i]',
];

export interface StartQueryInput {
  query: string;
  database?: string;
  workGroup?: string;
  outputLocation?: string;
}

/** One page of a result: the rows as strings (null for SQL NULL), and where the next page starts. */
export interface ResultPage {
  columns: { name: string; type: string }[];
  rows: (string | null)[][];
  nextToken?: string;
}

/** Athena's type name for a DuckDB type. */
export function athenaType(duck: string): string {
  const t = duck.toUpperCase();
  if (t.endsWith('[]')) return 'array';
  if (t.startsWith('MAP')) return 'map';
  if (t.startsWith('STRUCT')) return 'row';
  if (t.startsWith('DECIMAL')) return 'decimal';
  const names: Record<string, string> = { VARCHAR: 'varchar', BIGINT: 'bigint', INTEGER: 'integer', SMALLINT: 'smallint', TINYINT: 'tinyint', DOUBLE: 'double', FLOAT: 'float', BOOLEAN: 'boolean', DATE: 'date', TIMESTAMP: 'timestamp', HUGEINT: 'decimal', UBIGINT: 'decimal', UINTEGER: 'bigint' };
  return names[t] ?? 'varchar';
}

/**
 * SQL over the account's stores, the way HealthOmics users query them through Athena: each variant and
 * annotation store is a table named after the store in the database `omics` of the catalog `awsdatacatalog`. A query is a leased job:
 * its stores' Parquet files are decrypted into a private temporary folder, DuckDB (embedded) runs the query
 * there with file access limited to that folder and its configuration locked (no other files, no extensions,
 * no attaching), and the result is kept as CSV (encrypted, with the query's own data key) and, when the caller
 * gave an output location, written there as `<id>.csv` as Athena does.
 */
export class QueryService {
  constructor(
    private readonly d: DomainDeps,
    private readonly stores: VariantStoreService,
    private readonly annotations: AnnotationStoreService,
    private readonly shares: ShareService,
    private readonly locations: DataLocations,
    private readonly kick: () => void,
  ) {}

  async start(accountId: string, input: StartQueryInput): Promise<string> {
    if (!input.query.trim()) throw new ValidationError('QueryString is empty.');
    if (input.database && input.database.toLowerCase() !== DATABASE) throw new ValidationError(`Database ${input.database} does not exist; the stores are tables of the database ${DATABASE}.`);
    const id = randomUUID();
    const now = this.d.now();
    const dataKey = await newStoreDataKey(this.d, undefined);
    await this.d.db.queryExecutions.insert({
      accountId,
      id,
      query: input.query,
      database: DATABASE,
      workGroup: input.workGroup ?? 'primary',
      outputLocation: input.outputLocation ?? null,
      state: 'QUEUED',
      stateChangeReason: null,
      columns: null,
      resultKey: null,
      dataKey: dataKey.wrapped,
      rows: null,
      dataScannedBytes: null,
      engineMs: null,
      submissionTime: now,
      completionTime: null,
    });
    await this.d.db.jobs.insert(submittedJob(id, ANALYTICS_QUERY_JOB, accountId, '', {}, now));
    this.kick();
    return id;
  }

  async get(accountId: string, id: string): Promise<QueryExecutionRecord> {
    const q = await this.d.db.queryExecutions.get(accountId, id);
    if (!q) throw new NotFoundError(`Query execution ${id} was not found.`);
    return q;
  }

  async stop(accountId: string, id: string): Promise<void> {
    const q = await this.get(accountId, id);
    await this.d.db.jobs.cancel(q.id, this.d.now());
    await this.d.db.queryExecutions.update(q.id, { state: 'CANCELLED', stateChangeReason: 'Query was cancelled by the user.', completionTime: this.d.now() });
  }

  async list(accountId: string, workGroup: string | undefined, limit: number, nextToken?: string): Promise<{ ids: string[]; nextToken?: string }> {
    const found = await this.d.db.queryExecutions.list(accountId, workGroup, limit + 1, decodeNextToken(nextToken));
    const page = found.slice(0, limit);
    const last = page.at(-1);
    return { ids: page.map((q) => q.id), ...(found.length > limit && last ? { nextToken: encodeNextToken({ t: last.submissionTime, id: last.id }) } : {}) };
  }

  /**
   * The tables a query can name: the account's variant stores, and its annotation stores with every version's
   * rows and a `versionname` column. Columns in DuckDB's types.
   */
  private async sources(accountId: string): Promise<TableSource[]> {
    const out: TableSource[] = [];
    const variant = (s: VariantStoreView): TableSource => ({ name: s.name, arn: s.arn, readAction: 'omics:GetVariantStore', creationTime: s.creationTime, columns: VARIANT_COLUMNS, stored: 'vcf', dataKey: s.dataKey, parts: async () => [{ files: await this.stores.files(s) }] });
    for await (const s of everyItem((token) => this.stores.list(accountId, {}, { maxResults: 100, ...(token ? { nextToken: token } : {}) }))) out.push(variant(s));
    for await (const s of everyItem((token) => this.annotations.list(accountId, {}, { maxResults: 100, ...(token ? { nextToken: token } : {}) }))) out.push(...(await this.annotationSource(s)));
    // Stores other accounts shared with this one (accepted): tables too, unless one of its own has the name.
    const own = new Set(out.map((t) => t.name));
    for (const share of await this.shares.accepted(accountId)) {
      if (own.has(share.resourceName)) continue;
      if (share.resourceType === 'VARIANT_STORE') {
        const s = await this.d.db.variantStores.getById(share.resourceId);
        if (s) out.push(variant(this.stores.view(s)));
      } else {
        const s = await this.d.db.annotationStores.getById(share.resourceId);
        if (s) out.push(...(await this.annotationSource(await this.annotations.get(s.accountId, s.name))));
      }
    }
    return out;
  }

  private async annotationSource(s: AnnotationStoreView): Promise<TableSource[]> {
    return [
      {
        arn: s.arn,
        readAction: 'omics:GetAnnotationStore',
        name: s.name,
        creationTime: s.creationTime,
        columns: [...this.annotations.columns(s), ['versionname', 'VARCHAR']],
        stored: s.storeFormat === 'VCF' ? 'vcf' : 'as-is',
        dataKey: s.dataKey,
        parts: async () => Promise.all((await this.annotations.allVersions(s.id)).map(async (v) => ({ versionName: v.versionName, files: await this.annotations.files(s, v.versionName) }))),
      },
    ];
  }

  /** The tables a query can name, with their columns in Athena's type names. */
  async tables(accountId: string): Promise<{ name: string; columns: [string, string][]; creationTime: number }[]> {
    return (await this.sources(accountId)).map((t) => ({ name: t.name, creationTime: t.creationTime, columns: t.columns.map(([n, ty]) => [n, athenaType(ty)]) }));
  }

  /** The tables a query names (by name, anywhere in its text): the stores it will read, and what reading each needs. */
  async tablesNamedIn(accountId: string, query: string): Promise<{ name: string; arn: string; readAction: string }[]> {
    return (await this.sourcesNamedIn(accountId, query)).map(({ name, arn, readAction }) => ({ name, arn, readAction }));
  }

  private async sourcesNamedIn(accountId: string, query: string): Promise<TableSource[]> {
    const text = query.toLowerCase();
    return (await this.sources(accountId)).filter((t) => new RegExp(`(^|[^a-z0-9_])${t.name}($|[^a-z0-9_])`).test(text));
  }

  /** A page of a finished query's result: the first page starts with the header row, as Athena's does. */
  async results(accountId: string, id: string, maxResults: number, nextToken?: string): Promise<ResultPage> {
    const q = await this.get(accountId, id);
    if (q.state !== 'SUCCEEDED') throw new ValidationError(`Query has not yet finished. Current state: ${q.state}`);
    const start = nextToken === undefined ? 0 : Number(Buffer.from(nextToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw new ValidationError('NextToken is not valid.');
    const rows: (string | null)[][] = [];
    let n = 0;
    let more = false;
    const blob = await storeBlobs(this.d, q.dataKey).get(q.resultKey!);
    for await (const row of csvRows(blob)) {
      if (n++ < start) continue;
      if (rows.length === maxResults) {
        more = true;
        break;
      }
      rows.push(row);
    }
    blob.destroy();
    return { columns: q.columns ?? [], rows, ...(more ? { nextToken: Buffer.from(String(start + rows.length)).toString('base64url') } : {}) };
  }

  handler(): JobHandler<Record<string, never>> {
    return async (job, ctx) => {
      const q = await this.d.db.queryExecutions.get(job.accountId, job.id);
      if (!q || !(await this.d.db.queryExecutions.update(q.id, { state: 'RUNNING' }))) return { status: 'COMPLETED', statusMessage: null, payload: {} };
      const dir = await mkdtemp(join(this.d.scratchDir, 'query-'));
      const started = Date.now();
      try {
        const result = join(dir, 'result.csv');
        let scanned = 0;
        let columns: { name: string; type: string }[];
        // Files an UNLOAD wrote (undefined for a SELECT).
        let unloaded: string[] | undefined;
        const db = await DuckDBInstance.create(':memory:', { threads: '2' });
        const c = await db.connect();
        try {
          const unload = parseUnload(q.query);
          const sql = unload ? unload.select : queryText(q);
          scanned = await this.prepareTables(c, q, dir, sql);
          const target = unload && (await this.locations.target(unload.location, { accountId: q.accountId }));
          if (unload && !unload.partitionedBy.length && !(await target!.isEmpty())) throw new ValidationError(`UNLOAD TO ${unload.location}: the location is not empty (only a partitioned UNLOAD may add to a location).`);
          await c.run(`SET partitioned_write_max_open_files = ${UNLOAD_OPEN_FILES}`);
          await c.run(`SET allowed_directories = ['${dir}/']`);
          await c.run('SET enable_external_access = false');
          await c.run('SET lock_configuration = true');
          if (unload) {
            await c.run(unloadCopy(unload, join(dir, 'unload'), q.id));
            columns = [];
            await writeFile(result, '');
            unloaded = await this.unloadFiles(join(dir, 'unload'), target!);
          } else {
            const described = await c.runAndReadAll(`DESCRIBE ${sql}`);
            columns = described.getRows().map((r) => ({ name: String(r[0]), type: athenaType(String(r[1])) }));
            await c.run(`COPY (${sql}) TO '${result}' (FORMAT csv, HEADER true, FORCE_QUOTE *)`);
          }
        } catch (e) {
          const message = (e as Error).message.split('\n').slice(0, 3).join(' ').slice(0, 1000);
          await this.d.db.queryExecutions.update(q.id, { state: 'FAILED', stateChangeReason: message, completionTime: this.d.now(), engineMs: Date.now() - started });
          return { status: 'FAILED', statusMessage: message, payload: {} };
        } finally {
          c.closeSync();
          db.closeSync();
        }
        if (ctx.signal.aborted) throw ctx.signal.reason;
        const resultKey = `queries/${q.accountId}/${q.id}.csv`;
        await storeBlobs(this.d, q.dataKey).put(resultKey, createReadStream(result));
        if (q.outputLocation) {
          try {
            const target = await this.locations.target(q.outputLocation, { accountId: q.accountId });
            // An UNLOAD leaves the list of files it wrote (Athena's data manifest); a SELECT, its rows.
            if (unloaded) await target.write(`${q.id}-manifest.csv`, Readable.from([unloaded.map((u) => `${u}\n`).join('')]));
            else await target.write(`${q.id}.csv`, createReadStream(result));
          } catch (e) {
            const message = `The result could not be written to ${q.outputLocation}: ${(e as Error).message}`;
            await this.d.db.queryExecutions.update(q.id, { state: 'FAILED', stateChangeReason: message, completionTime: this.d.now() });
            return { status: 'FAILED', statusMessage: message, payload: {} };
          }
        }
        let rows = -1;
        for await (const _ of csvRows(createReadStream(result))) rows++;
        await this.d.db.queryExecutions.update(q.id, {
          state: 'SUCCEEDED',
          columns: columns!,
          resultKey,
          rows: Math.max(0, rows),
          dataScannedBytes: scanned,
          engineMs: Date.now() - started,
          completionTime: this.d.now(),
        });
        return { status: 'COMPLETED', statusMessage: null, payload: {} };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    };
  }

  /**
   * Views of the stores the query names (by name, anywhere in its text) over their files, decrypted into the
   * query's folder; the other stores are not read. Returns the bytes made available (Athena's data scanned).
   */
  private async prepareTables(c: DuckDBConnection, q: QueryExecutionRecord, dir: string, sql: string): Promise<number> {
    await c.run(`ATTACH ':memory:' AS ${CATALOG}`);
    await c.run(`CREATE SCHEMA ${CATALOG}.${DATABASE}`);
    await c.run(`USE ${CATALOG}.${DATABASE}`);
    for (const f of TRINO_FUNCTIONS) await c.run(f);
    let bytes = 0;
    const ast: unknown = JSON.parse(String((await c.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql])).getRows()[0]![0]));
    for (const t of await this.sourcesNamedIn(q.accountId, q.query)) {
      const selects: string[] = [];
      // Files of samples the query cannot read are left out (files without samples are always read).
      const samples = samplesRead(ast, t.name);
      for (const [n, part] of (await t.parts()).entries()) {
        const files = samples ? part.files.filter((f) => f.samples.length === 0 || f.samples.some((x) => samples.has(x))) : part.files;
        const folder = join(dir, t.name, String(n));
        const paths = await this.decrypt(t.dataKey, files, folder);
        for (const p of paths) bytes += (await stat(p)).size;
        // A file without a column (`annotations` of a VCF imported without VEP) reads it as NULL of its type: an
        // empty file with every column of the store comes first, and the files are read by name.
        if (paths.length) paths.unshift(await this.schemaFile(c, t, folder));
        const columns = t.columns
          .filter(([name]) => name !== 'versionname')
          .map(([name]) => (name === 'attributes' && t.stored === 'vcf' ? `${ATTRIBUTES_FROM_INFO} AS attributes` : `"${name}"`));
        if (part.versionName !== undefined) columns.push(`'${part.versionName}' AS versionname`);
        if (paths.length) selects.push(`SELECT ${columns.join(', ')} FROM read_parquet([${paths.map((p) => `'${p}'`).join(', ')}], union_by_name = true)`);
      }
      const ident = `${CATALOG}.${DATABASE}."${t.name}"`;
      if (selects.length) await c.run(`CREATE VIEW ${ident} AS ${selects.join(' UNION ALL BY NAME ')}`);
      else await c.run(`CREATE TABLE ${ident} (${t.columns.map(([n, ty]) => `"${n}" ${ty}`).join(', ')})`);
    }
    return bytes;
  }

  /** An empty Parquet file with the columns a store's files hold (as they hold them), in `folder`. */
  private async schemaFile(c: DuckDBConnection, t: TableSource, folder: string): Promise<string> {
    const path = join(folder, 'schema.parquet');
    const stored = t.columns.filter(([name]) => name !== 'versionname').map(([name, type]) => (name === 'attributes' && t.stored === 'vcf' ? [INFO_COLUMN, 'VARCHAR'] : [name, type]));
    await c.run(`COPY (SELECT ${stored.map(([name, type]) => `NULL::${type} AS "${name}"`).join(', ')} LIMIT 0) TO '${path}' (FORMAT parquet)`);
    return path;
  }

  /** The files an UNLOAD wrote, copied to its location (relative paths kept: `col=value/` partitions); their URIs. */
  private async unloadFiles(folder: string, target: ExportTarget): Promise<string[]> {
    const files = (await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => e.isFile());
    const uris: string[] = [];
    for (const f of files) {
      const relativePath = relative(folder, join(f.parentPath, f.name));
      await target.write(relativePath, createReadStream(join(folder, relativePath)));
      uris.push(`${target.uri.replace(/\/?$/, '/')}${relativePath}`);
    }
    return uris.sort();
  }

  /** Athena's DataManifestLocation: where a finished UNLOAD with an output location listed its files. */
  dataManifestLocation(q: QueryExecutionRecord): string | undefined {
    return q.state === 'SUCCEEDED' && q.outputLocation && isUnload(q.query) ? `${q.outputLocation.replace(/\/?$/, '/')}${q.id}-manifest.csv` : undefined;
  }

  private async decrypt(dataKey: string, files: AnalyticsFileRecord[], dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const blobs = storeBlobs(this.d, dataKey);
    // A few at a time: a store is many files (one per sample, or per group of samples).
    return mapLimit(files, DECRYPT_CONCURRENCY, async (f, n) => {
      const path = join(dir, `${n}.parquet`);
      await pipeline(await blobs.get(f.blobKey), createWriteStream(path, { mode: 0o600 }));
      return path;
    });
  }
}

/** The query as it runs: without surrounding blanks or a final semicolon. */
function queryText(q: QueryExecutionRecord): string {
  return q.query.trim().replace(/;\s*$/, '');
}

/** A table of the query database: a store, the parts of its rows (an annotation store's versions), its columns. */
interface TableSource {
  name: string;
  arn: string;
  /** The permission reading it needs (in place of Lake Formation's SELECT). */
  readAction: string;
  creationTime: number;
  columns: [string, string][];
  /** How its files hold the columns: as they are, or as vcf-rows.ts writes them (INFO as one string). */
  stored: 'vcf' | 'as-is';
  dataKey: string;
  parts(): Promise<{ versionName?: string; files: AnalyticsFileRecord[] }[]>;
}


/** Rows of a CSV written by DuckDB with every value quoted: an unquoted empty field is NULL. */
export async function* csvRows(input: AsyncIterable<Buffer | string>): AsyncGenerator<(string | null)[]> {
  let row: (string | null)[] = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  let pendingQuote = false;
  let any = false;
  const endField = () => {
    row.push(quoted ? field : field === '' ? null : field);
    field = '';
    quoted = false;
  };
  const decoder = new StringDecoder('utf8');
  for await (const chunk of input) {
    const s = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    for (let i = 0; i < s.length; i++) {
      const ch = s[i]!;
      any = true;
      if (pendingQuote) {
        pendingQuote = false;
        if (ch === '"') {
          field += '"';
          continue;
        }
        inQuotes = false;
      }
      if (inQuotes) {
        if (ch === '"') pendingQuote = true;
        else field += ch;
      } else if (ch === '"') {
        inQuotes = true;
        quoted = true;
      } else if (ch === ',') endField();
      else if (ch === '\n') {
        endField();
        yield row;
        row = [];
        any = false;
      } else if (ch !== '\r') field += ch;
    }
  }
  if (any) {
    endField();
    yield row;
  }
}
