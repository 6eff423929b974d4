import { useState } from 'preact/hooks';
import {
  CreateVariantStoreCommand,
  ListAnnotationStoresCommand,
  ListVariantImportJobsCommand,
  ListVariantStoresCommand,
  StartVariantImportJobCommand,
} from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { ErrorNote, Page, RoleArnField, Table, VirtualRows, bytes, useLoad, usePolling, when } from '../ui.js';
import { allReferences } from '../references.js';

const DONE = new Set(['COMPLETED', 'COMPLETED_WITH_FAILURES', 'FAILED', 'CANCELLED']);
/** Rows shown per page of results (GetQueryResults' own maximum). */
const PAGE_ROWS = 1000;

interface QueryResult {
  executionId: string;
  columns: string[];
  rows: (string | undefined)[][];
  nextToken?: string;
  scannedBytes?: number;
  millis?: number;
}

/**
 * SQL over the account's variant and annotation stores through the Athena subset (database `omics`, a table per
 * store): start, wait while it runs, then its rows a page at a time.
 */
async function runQuery(c: Clients, sql: string, onState: (s: string) => void, signal: AbortSignal): Promise<QueryResult> {
  const athena = await c.athena();
  const { StartQueryExecutionCommand, GetQueryExecutionCommand } = await import('@aws-sdk/client-athena');
  const { QueryExecutionId } = await athena.send(new StartQueryExecutionCommand({ QueryString: sql, QueryExecutionContext: { Database: 'omics' } }));
  for (let wait = 100; ; wait = Math.min(1000, wait * 2)) {
    if (signal.aborted) throw Object.assign(new Error('The query was left running on the server; its results were not fetched.'), { name: 'Stopped' });
    const q = (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId }))).QueryExecution!;
    const state = q.Status?.State ?? 'QUEUED';
    onState(state);
    if (state === 'SUCCEEDED') {
      return {
        ...(await resultPage(c, QueryExecutionId!, undefined, true)),
        ...(q.Statistics?.DataScannedInBytes !== undefined ? { scannedBytes: q.Statistics.DataScannedInBytes } : {}),
        ...(q.Statistics?.EngineExecutionTimeInMillis !== undefined ? { millis: q.Statistics.EngineExecutionTimeInMillis } : {}),
      };
    }
    if (state === 'FAILED' || state === 'CANCELLED') throw Object.assign(new Error(q.Status?.StateChangeReason ?? state), { name: `Query ${state}` });
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** One page of a query's rows; the first page's first row is the column names (as Athena returns a SELECT). */
async function resultPage(c: Clients, executionId: string, token: string | undefined, first: boolean): Promise<QueryResult> {
  const athena = await c.athena();
  const { GetQueryResultsCommand } = await import('@aws-sdk/client-athena');
  const r = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: executionId, MaxResults: PAGE_ROWS, ...(token ? { NextToken: token } : {}) }));
  const columns = (r.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((ci) => ci.Name ?? '');
  const rows = (r.ResultSet?.Rows ?? []).map((row) => (row.Data ?? []).map((d) => d.VarCharValue));
  return { executionId, columns, rows: first ? rows.slice(1) : rows, ...(r.NextToken ? { nextToken: r.NextToken } : {}) };
}

function SqlBox({ clients, tables }: { clients: Clients; tables: string[] }) {
  const [sql, setSql] = useState(tables[0] ? `SELECT * FROM ${tables[0]} LIMIT 20` : 'SELECT 1');
  const [state, setState] = useState<string>();
  const [result, setResult] = useState<QueryResult>();
  const [error, setError] = useState<string>();
  const [controller, setController] = useState<AbortController>();
  const run = (e: Event) => {
    e.preventDefault();
    const c = new AbortController();
    setController(c);
    setError(undefined);
    setResult(undefined);
    runQuery(clients, sql, setState, c.signal)
      .then(setResult, (err: unknown) => setError((err as Error).name.startsWith('Query ') ? `${(err as Error).name}: ${(err as Error).message}` : describeError(err).message))
      .finally(() => setController(undefined));
  };
  const more = () =>
    resultPage(clients, result!.executionId, result!.nextToken, false).then(
      (p) => setResult((r) => ({ ...r!, rows: [...r!.rows, ...p.rows], ...(p.nextToken ? { nextToken: p.nextToken } : { nextToken: undefined }) }) as QueryResult),
      (err: unknown) => setError(describeError(err).message),
    );
  return (
    <section aria-labelledby="sql">
      <h2 id="sql">SQL</h2>
      <p>
        Database <code>omics</code>: a table per store{tables.length ? ` (${tables.join(', ')})` : ''}. Ctrl+Enter runs the query.
      </p>
      <form onSubmit={run} aria-label="SQL query">
        <label>
          Query
          <textarea
            rows={5}
            value={sql}
            spellcheck={false}
            onInput={(e) => setSql((e.currentTarget as HTMLTextAreaElement).value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) (e.currentTarget as HTMLTextAreaElement).form?.requestSubmit();
            }}
          />
        </label>
        <div class="actions">
          <button type="submit" disabled={!!controller}>
            {controller ? `Running (${state ?? 'QUEUED'})…` : 'Run query'}
          </button>
          {controller ? (
            <button type="button" class="small" onClick={() => controller.abort()}>
              Stop waiting
            </button>
          ) : null}
        </div>
      </form>
      <ErrorNote text={error} />
      {result ? (
        <>
          <p role="status">
            {result.rows.length.toLocaleString()} row{result.rows.length === 1 ? '' : 's'}
            {result.nextToken ? ' so far' : ''}
            {result.millis !== undefined ? ` · ${result.millis} ms` : ''}
            {result.scannedBytes !== undefined ? ` · ${bytes(result.scannedBytes)} scanned` : ''}
          </p>
          <VirtualRows
            label="Query results"
            rows={result.rows}
            columns={result.columns}
            render={(row) => row.map((v) => <td title={v}>{v ?? <span class="null">NULL</span>}</td>)}
          />
          {result.nextToken ? (
            <button type="button" onClick={() => void more()}>
              More rows
            </button>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

/** Variant and annotation stores: lists, a variant store made from a reference, VCF imports followed live, and SQL. */
export function Analytics({ clients }: { clients: Clients }) {
  const stores = usePolling(
    async () => {
      const [v, a, jobs] = await Promise.all([
        clients.omics.send(new ListVariantStoresCommand({ maxResults: 100 })),
        clients.omics.send(new ListAnnotationStoresCommand({ maxResults: 100 })),
        clients.omics.send(new ListVariantImportJobsCommand({ maxResults: 50 })),
      ]);
      return {
        variant: v.variantStores ?? [],
        annotation: a.annotationStores ?? [],
        jobs: [...(jobs.variantImportJobs ?? [])].sort((x, y) => (y.creationTime?.getTime() ?? 0) - (x.creationTime?.getTime() ?? 0)),
      };
    },
    (x) => x.jobs.some((j) => !DONE.has(j.status!)),
    [clients],
  );
  const references = useLoad(() => allReferences(clients), [clients]);
  const [createError, setCreateError] = useState<string>();
  const [importError, setImportError] = useState<string>();
  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    setCreateError(undefined);
    try {
      await clients.omics.send(new CreateVariantStoreCommand({ name: String(f.get('name') ?? '').trim(), reference: { referenceArn: String(f.get('referenceArn') ?? '') } }));
      form.reset();
      stores.reload();
    } catch (err) {
      setCreateError(describeError(err).message);
    }
  };
  const startImport = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    setImportError(undefined);
    try {
      await clients.omics.send(
        new StartVariantImportJobCommand({
          destinationName: String(f.get('destinationName') ?? ''),
          roleArn: String(f.get('roleArn') ?? '').trim(),
          runLeftNormalization: f.get('normalize') === 'on',
          items: String(f.get('sources') ?? '')
            .split(/\s+/)
            .filter(Boolean)
            .map((source) => ({ source })),
        }),
      );
      form.reset();
      stores.reload();
    } catch (err) {
      setImportError(describeError(err).message);
    }
  };
  const v = stores.value;
  return (
    <Page title="Variant and annotation stores">
      <ErrorNote text={stores.error} />
      {v ? (
        <>
          <h2>Variant stores</h2>
          {v.variant.length ? (
            <Table columns={['Name', 'Status', 'Size', 'Reference', 'Created']}>
              {v.variant.map((s) => (
                <tr key={s.id}>
                  <td>
                    <code>{s.name}</code>
                  </td>
                  <td>{s.status}</td>
                  <td>{bytes(s.storeSizeBytes)}</td>
                  <td>
                    <code>{s.reference?.referenceArn}</code>
                  </td>
                  <td>{when(s.creationTime)}</td>
                </tr>
              ))}
            </Table>
          ) : (
            <p>No variant stores yet.</p>
          )}
          <form class="inline" onSubmit={(e) => void create(e)} aria-label="New variant store">
            <label>
              Variant store name
              <input name="name" required pattern="[a-z][a-z0-9_]{2,254}" title="Lowercase letters, digits and _, starting with a letter (it is the table name in SQL)" />
            </label>
            <label>
              Reference
              <select name="referenceArn" required>
                <option value="">choose</option>
                {(references.value ?? []).map((r) => (
                  <option value={r.arn}>{r.label}</option>
                ))}
              </select>
            </label>
            <button type="submit">Create variant store</button>
          </form>
          <ErrorNote text={createError} />
          {v.variant.length ? (
            <>
              <h2>Import VCFs</h2>
              <form onSubmit={(e) => void startImport(e)} aria-label="Import VCFs">
                <label>
                  Into
                  <select name="destinationName">
                    {v.variant.map((s) => (
                      <option value={s.name}>{s.name}</option>
                    ))}
                  </select>
                </label>
                <label>
                  VCF sources (.vcf or .vcf.gz: s3:// of a connected bucket or file:/// under an import root; one per line)
                  <textarea name="sources" rows={3} required />
                </label>
                <label class="inline-label">
                  <input type="checkbox" name="normalize" /> Left-normalise indels against the reference
                </label>
                <RoleArnField role="OmicsImport" />
                <ErrorNote text={importError} />
                <button type="submit">Start import</button>
              </form>
            </>
          ) : null}
          {v.jobs.length ? (
            <Table columns={['Job', 'Into', 'Status', 'Created', 'Completed']} label="Variant import jobs" live>
              {v.jobs.map((j) => (
                <tr key={j.id}>
                  <td>
                    <code>{j.id}</code>
                  </td>
                  <td>{j.destinationName}</td>
                  <td>{j.status}</td>
                  <td>{when(j.creationTime)}</td>
                  <td>{when(j.completionTime)}</td>
                </tr>
              ))}
            </Table>
          ) : null}
          <h2>Annotation stores</h2>
          {v.annotation.length ? (
            <Table columns={['Name', 'Format', 'Status', 'Size', 'Created']}>
              {v.annotation.map((s) => (
                <tr key={s.id}>
                  <td>
                    <code>{s.name}</code>
                  </td>
                  <td>{s.storeFormat}</td>
                  <td>{s.status}</td>
                  <td>{bytes(s.storeSizeBytes)}</td>
                  <td>{when(s.creationTime)}</td>
                </tr>
              ))}
            </Table>
          ) : (
            <p>No annotation stores (create them with the API or the AWS CLI: <code>aws omics create-annotation-store</code>).</p>
          )}
          <SqlBox clients={clients} tables={[...v.variant, ...v.annotation].map((s) => s.name!)} />
        </>
      ) : stores.loading ? (
        <p>Loading…</p>
      ) : null}
    </Page>
  );
}
