import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SpawnedServer } from './server.js';

const run = promisify(execFile);

export interface AthenaResult {
  /** The result rows, the header row first (as Athena's first page has it). */
  rows: (string | null)[][];
  /** GetQueryExecution's QueryExecution when the query ended. */
  execution: any;
  columns: any[];
}

/**
 * Runs SQL the way an Athena user does, with boto3's Athena client: starts the query, polls until it ends, and
 * pages through its results (50 rows a page).
 */
export async function athenaQuery(s: SpawnedServer, sql: string, opts: { outputLocation?: string; keys?: { accessKeyId: string; secretAccessKey: string } } = {}): Promise<AthenaResult> {
  const keys = opts.keys ?? { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
  const py = `
import boto3, json, sys, time
a = boto3.client('athena', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
args = {'QueryString': sys.argv[4], 'QueryExecutionContext': {'Database': 'omics'}}
if sys.argv[5]: args['ResultConfiguration'] = {'OutputLocation': sys.argv[5]}
qid = a.start_query_execution(**args)['QueryExecutionId']
while True:
    e = a.get_query_execution(QueryExecutionId=qid)['QueryExecution']
    if e['Status']['State'] in ('SUCCEEDED', 'FAILED', 'CANCELLED'): break
    time.sleep(0.1)
rows, cols = [], []
if e['Status']['State'] == 'SUCCEEDED':
    for page in a.get_paginator('get_query_results').paginate(QueryExecutionId=qid, PaginationConfig={'PageSize': 50}):
        cols = page['ResultSet']['ResultSetMetadata']['ColumnInfo']
        rows += [[d.get('VarCharValue') for d in r['Data']] for r in page['ResultSet']['Rows']]
print(json.dumps({'rows': rows, 'execution': e, 'columns': cols}, default=str))
`;
  const { stdout } = await run('python3', ['-c', py, s.url, keys.accessKeyId, keys.secretAccessKey, sql, opts.outputLocation ?? ''], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' }, maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as AthenaResult;
}

/** The rows of a query that must succeed, without the header row (a failed query throws its reason). */
export async function athenaRows(s: SpawnedServer, sql: string): Promise<(string | null)[][]> {
  const r = await athenaQuery(s, sql);
  if (r.execution.Status.State !== 'SUCCEEDED') throw new Error(`${r.execution.Status.State}: ${r.execution.Status.StateChangeReason ?? ''}`);
  return r.rows.slice(1);
}
