import { Command, Option } from 'commander';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { EXIT } from './exit-codes.js';
import { conn, connectionSettings } from './transfer.js';

interface QueryOptions {
  endpointUrl?: string;
  profile?: string;
  region?: string;
  format: 'table' | 'csv' | 'json';
  outputLocation?: string;
}

const ENDED = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** A CSV field: quoted when it must be (RFC 4180); NULL is empty. */
const csvField = (v: string | null) => (v === null ? '' : /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/**
 * SQL over the account's stores through the server's Athena API (database `omics`, each store a table): starts
 * the query, waits for it, and prints every page of the result as an aligned table, CSV or JSON lines.
 */
async function query(sql: string, o: QueryOptions): Promise<number> {
  const client = new AthenaClient({ ...connectionSettings(o), maxAttempts: 3 });
  const { QueryExecutionId } = await client.send(
    new StartQueryExecutionCommand({ QueryString: sql, QueryExecutionContext: { Database: 'omics' }, ...(o.outputLocation ? { ResultConfiguration: { OutputLocation: o.outputLocation } } : {}) }),
  );
  let state = 'QUEUED';
  let reason: string | undefined;
  for (let wait = 50; !ENDED.includes(state); wait = Math.min(1000, wait * 2)) {
    await new Promise((r) => setTimeout(r, wait));
    const e = await client.send(new GetQueryExecutionCommand({ QueryExecutionId }));
    state = e.QueryExecution?.Status?.State ?? 'FAILED';
    reason = e.QueryExecution?.Status?.StateChangeReason;
  }
  if (state !== 'SUCCEEDED') {
    process.stderr.write(`query ${QueryExecutionId} ${state}${reason ? `: ${reason}` : ''}\n`);
    return EXIT.error;
  }
  const rows: (string | null)[][] = [];
  let token: string | undefined;
  let header: string[] | undefined;
  do {
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId, ...(token ? { NextToken: token } : {}) }));
    for (const r of page.ResultSet?.Rows ?? []) {
      const values = (r.Data ?? []).map((d) => d.VarCharValue ?? null);
      if (!header) {
        header = values.map((v) => v ?? '');
        if (o.format === 'csv') process.stdout.write(`${header.map(csvField).join(',')}\n`);
        continue;
      }
      if (o.format === 'csv') process.stdout.write(`${values.map(csvField).join(',')}\n`);
      else if (o.format === 'json') process.stdout.write(`${JSON.stringify(Object.fromEntries(header.map((h, n) => [h, values[n] ?? null])))}\n`);
      else rows.push(values);
    }
    token = page.NextToken;
  } while (token);
  if (o.format === 'table' && header) {
    const widths = header.map((h, n) => Math.max(h.length, ...rows.map((r) => (r[n] ?? 'NULL').length)));
    const line = (cells: string[]) => cells.map((c, n) => c.padEnd(widths[n]!)).join('  ').trimEnd();
    process.stdout.write(`${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
    for (const r of rows) process.stdout.write(`${line(r.map((v) => v ?? 'NULL'))}\n`);
    process.stdout.write(`(${rows.length} row${rows.length === 1 ? '' : 's'})\n`);
  }
  return EXIT.ok;
}

export function queryCommand(): Command {
  return conn(new Command('query'))
    .description(['run SQL over the analytics stores (each store a table of the database omics) and print the result', `  e.g. openomics query "SELECT sampleid, count(*) FROM cohort GROUP BY 1" --format csv`].join('\n'))
    .argument('<sql>')
    .addOption(new Option('--format <format>', 'how rows are printed').choices(['table', 'csv', 'json']).default('table'))
    .option('--output-location <uri>', 'also write the result CSV there (s3:// through a connection, file:// under an export root)')
    .action(async (sql: string, o: QueryOptions) => {
      process.exitCode = await query(sql, o);
    });
}
