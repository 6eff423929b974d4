import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { samplesRead } from '../src/analytics/sample-pruning.js';

/** Which samples of `cohort` a query reads, as the query service decides it from DuckDB's syntax tree. */
async function samplesOf(sql: string): Promise<string[] | undefined> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const ast: unknown = JSON.parse(String((await c.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql])).getRows()[0]![0]));
    const s = samplesRead(ast, 'cohort');
    return s && [...s].sort();
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

describe('sample pruning of queries (a store is read only for the samples a query can see)', () => {
  it('narrows a single-table SELECT whose WHERE is an AND with a sample term', async () => {
    assert.deepEqual(await samplesOf(`SELECT * FROM cohort WHERE sampleid = 'NA1'`), ['NA1']);
    assert.deepEqual(await samplesOf(`SELECT count(*) FROM omics.cohort v WHERE 'NA2' = v.sampleid AND "end" > 10`), ['NA2']);
    assert.deepEqual(await samplesOf(`SELECT * FROM awsdatacatalog.omics.COHORT WHERE SampleId IN ('a', 'b', 'c') AND sampleid IN ('b', 'c', 'd')`), ['b', 'c']);
    assert.deepEqual(await samplesOf(`WITH x AS (SELECT * FROM cohort WHERE sampleid = 'S1') SELECT count(*) FROM x GROUP BY contigname`), ['S1']);
    assert.deepEqual(await samplesOf(`SELECT * FROM other o WHERE o.id IN (SELECT start FROM cohort WHERE sampleid = 'S3')`), ['S3']);
    assert.deepEqual(await samplesOf(`SELECT * FROM cohort WHERE sampleid = 'S1' AND sampleid = 'S2'`), []);
  });

  it('reads every sample otherwise: OR, NOT, joins, two references, a CTE of the same name, other tables, bad SQL', async () => {
    for (const sql of [
      `SELECT * FROM cohort`,
      `SELECT * FROM cohort WHERE sampleid = 'S1' OR depth > 3`,
      `SELECT * FROM cohort WHERE NOT (sampleid = 'S1')`,
      `SELECT * FROM cohort WHERE sampleid <> 'S1'`,
      `SELECT * FROM cohort WHERE sampleid LIKE 'S1%'`,
      `SELECT * FROM cohort WHERE sampleid = other_column`,
      `SELECT * FROM cohort a JOIN annotations b ON a.start = b.start WHERE a.sampleid = 'S1'`,
      `SELECT * FROM cohort a JOIN cohort b ON a.start = b.start WHERE a.sampleid = 'S1' AND b.sampleid = 'S1'`,
      `SELECT * FROM cohort WHERE sampleid = 'S1' UNION ALL SELECT * FROM cohort WHERE sampleid = 'S2'`,
      `WITH cohort AS (SELECT * FROM omics.cohort WHERE sampleid = 'S1') SELECT * FROM cohort`,
      `SELECT * FROM cohort, UNNEST(calls) WHERE sampleid = 'S1'`,
      `SELECT * FROM cohort WHERE x.sampleid = 'S1'`,
      `SELECT * FROM annotations WHERE sampleid = 'S1'`,
      `SELEC nonsense`,
    ]) {
      assert.equal(await samplesOf(sql), undefined, sql);
    }
  });
});
