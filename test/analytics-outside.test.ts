// Outside engines and a store's rows (docs/analytics.md, "Outside engines"), with the server's own data in the S3
// backend (moto) and the VCF imported from the lab's bucket (s3:// through a connection): Athena's UNLOAD writes a store's rows
// as plain Parquet, partitioned by sample Hive-style, into the caller's own bucket (a storage connection to
// moto_server), with Athena's data manifest; DuckDB, as a separate process, then reads those files in place from
// the bucket (mounted with s3fs, the recipe the docs give for an engine without S3 support) and gets the rows the
// Athena API gives. UNLOAD's rules: an unpartitioned UNLOAD needs an empty location; unsupported formats fail.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateReferenceStoreCommand, CreateVariantStoreCommand, GetVariantImportJobCommand, StartVariantImportJobCommand, type OmicsClient } from '@aws-sdk/client-omics';
import { athenaQuery } from './helpers/athena.js';
import { tinyCorpus } from './helpers/corpus.js';
import { MOTO_CREDENTIALS, startMoto, type Moto } from './helpers/moto.js';
import { importReference, omicsClient, until } from './helpers/omics.js';
import { skipS3fs, withS3fsMount } from './helpers/s3fs.js';
import { CLI, ROOT, spawnServer, type SpawnedServer } from './helpers/server.js';

const run = promisify(execFile);
const ROLE = 'arn:aws:iam::123456789012:role/OmicsImport';

/** The corpus VCF with its one sample's calls given to three samples. */
function threeSampleVcf(corpusVcf: string): string {
  const lines = execFileSync('bgzip', ['-dc', corpusVcf], { encoding: 'utf8', maxBuffer: 64 << 20 }).trimEnd().split('\n');
  return `${lines
    .map((l) => {
      if (l.startsWith('##')) return l;
      const f = l.split('\t');
      if (l.startsWith('#')) return [...f.slice(0, 9), 'S1', 'S2', 'S3'].join('\t');
      return [...f.slice(0, 9), f[9], f[9], f[9]].join('\t');
    })
    .join('\n')}\n`;
}

describe('outside engines: UNLOAD to the caller’s bucket, read in place by DuckDB as a separate process', () => {
  let moto: Moto;
  let s: SpawnedServer;
  let omics: OmicsClient;
  let s3: S3Client;
  let root: string;
  let exportRoot: string;

  before(async () => {
    const corpus = tinyCorpus();
    root = mkdtempSync(join(tmpdir(), 'openomics-outside-'));
    exportRoot = mkdtempSync(join(tmpdir(), 'openomics-outside-out-'));
    writeFileSync(join(root, 'cohort.vcf'), threeSampleVcf(join(corpus, 'sample.vcf.gz')));
    moto = await startMoto();
    s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'openomics-blobs' }));
    await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: 'calls/cohort.vcf', Body: readFileSync(join(root, 'cohort.vcf')) }));
    // The server keeps its own data (the stores' encrypted files) in the S3 backend too.
    s = await spawnServer({
      env: {
        OPENOMICS_IMPORT_ROOTS: corpus,
        OPENOMICS_EXPORT_ROOTS: exportRoot,
        OPENOMICS_BLOB_S3_BUCKET: 'openomics-blobs',
        OPENOMICS_BLOB_S3_ENDPOINT: moto.endpoint,
        OPENOMICS_BLOB_S3_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        OPENOMICS_BLOB_S3_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      },
    });
    const add = spawnSync(process.execPath, [CLI, 'admin', 'connection', 'add', 'lake', '--bucket', 'lake', '--region', 'us-east-1', '--endpoint', moto.endpoint, '--access-key-id', MOTO_CREDENTIALS.accessKeyId, '--secret-access-key', MOTO_CREDENTIALS.secretAccessKey], { env: s.env, encoding: 'utf8' });
    assert.equal(add.status, 0, add.stderr);
    omics = omicsClient(s);
    const refStore = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    const referenceArn = await importReference(omics, refStore, `file://${corpus}/ref.fa`);
    await omics.send(new CreateVariantStoreCommand({ name: 'cohort', reference: { referenceArn } }));
    const { jobId } = await omics.send(new StartVariantImportJobCommand({ destinationName: 'cohort', roleArn: ROLE, items: [{ source: 's3://lake/calls/cohort.vcf' }] }));
    const j = await until('import', () => omics.send(new GetVariantImportJobCommand({ jobId })), (x) => !['SUBMITTED', 'IN_PROGRESS'].includes(x.status!));
    assert.equal(j.status, 'COMPLETED', JSON.stringify(j.items));
  });
  after(async () => {
    await s?.stop();
    await moto?.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(exportRoot, { recursive: true, force: true });
  });

  it('the store is three files, one per sample, in the S3 backend, encrypted: no engine reads them in place', async () => {
    const objects = ((await s3.send(new ListObjectsV2Command({ Bucket: 'openomics-blobs' }))).Contents ?? []).filter((o) => o.Key!.endsWith('.parquet'));
    assert.equal(objects.length, 3, objects.map((o) => o.Key).join(' '));
    for (const o of objects) {
      const bytes = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'openomics-blobs', Key: o.Key }))).Body!.transformToByteArray());
      assert.notEqual(bytes.subarray(0, 4).toString('latin1'), 'PAR1', `${o.Key} is not plain Parquet`);
    }
    const [[n]] = (await athenaQuery(s, `SELECT count(DISTINCT sampleid) FROM cohort`)).rows.slice(1) as string[][];
    assert.equal(n, '3');
  });

  const summary = `SELECT sampleid, count(*) AS n, sum(start) AS starts, count(DISTINCT contigname) AS contigs, sum(len(calls)) AS alleles FROM cohort GROUP BY sampleid ORDER BY sampleid`;

  it('UNLOAD writes the rows as Parquet partitioned by sample to the bucket, with the data manifest; DuckDB in another process reads them from an s3fs mount equal to the Athena API', { skip: skipS3fs() }, async () => {
    const unload = await athenaQuery(
      s,
      `UNLOAD (SELECT contigname, start, "end", referenceallele, alternatealleles, calls, sampleid FROM cohort) TO 's3://lake/variants/cohort/' WITH (format = 'PARQUET', compression = 'ZSTD', partitioned_by = ARRAY['sampleid'])`,
      { outputLocation: 's3://lake/athena-results/' },
    );
    assert.equal(unload.execution.Status.State, 'SUCCEEDED', unload.execution.Status.StateChangeReason);
    const manifestUri: string = unload.execution.Statistics.DataManifestLocation;
    assert.equal(manifestUri, `s3://lake/athena-results/${unload.execution.QueryExecutionId}-manifest.csv`);
    const manifest = (await (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: manifestUri.slice('s3://lake/'.length) }))).Body!.transformToString()).trim().split('\n');
    const listed = ((await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'variants/cohort/' }))).Contents ?? []).map((o) => `s3://lake/${o.Key}`).sort();
    assert.deepEqual(manifest, listed, 'the manifest lists every file written');
    assert.deepEqual([...new Set(listed.map((u) => /cohort\/(sampleid=[^/]+)\//.exec(u)?.[1]))], ['sampleid=S1', 'sampleid=S2', 'sampleid=S3']);
    assert.ok(listed.every((u) => u.endsWith('.parquet') && u.includes(unload.execution.QueryExecutionId)), listed.join(' '));

    const expected = (await athenaQuery(s, summary)).rows.slice(1);
    assert.equal(expected.length, 3);
    await withS3fsMount({ bucket: 'lake', url: moto.endpoint, ...MOTO_CREDENTIALS }, async (mnt) => {
      // The recipe of docs/analytics.md: DuckDB over the Hive-partitioned folder, the partition column from the paths.
      const outside = `
        import { DuckDBInstance } from '@duckdb/node-api';
        const db = await DuckDBInstance.create(':memory:');
        const c = await db.connect();
        await c.run("CREATE VIEW cohort AS SELECT * FROM read_parquet('${mnt}/variants/cohort/*/*.parquet', hive_partitioning = true)");
        const r = await c.runAndReadAll(process.argv[1]);
        console.log(JSON.stringify(r.getRows().map((row) => row.map((v) => String(v)))));
      `;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', outside, summary], { cwd: ROOT });
      assert.deepEqual(JSON.parse(stdout), expected);
    });
  });

  it('an unpartitioned UNLOAD as JSON lines to an export root; a second one to the same place, an unsupported format or a location outside the roots fail with their reason', async () => {
    const to = `file://${exportRoot}/s2/`;
    const first = await athenaQuery(s, `UNLOAD (SELECT contigname, start, sampleid FROM cohort WHERE sampleid = 'S2' ORDER BY contigname, start) TO '${to}' WITH (format = 'JSON')`);
    assert.equal(first.execution.Status.State, 'SUCCEEDED', first.execution.Status.StateChangeReason);
    assert.deepEqual(first.rows, []);
    const files = readdirSync(join(exportRoot, 's2'));
    assert.ok(files.length >= 1 && files.every((f) => f.startsWith(first.execution.QueryExecutionId) && f.endsWith('.json')), files.join(' '));
    const lines = files.flatMap((f) => readFileSync(join(exportRoot, 's2', f), 'utf8').trim().split('\n')).map((l) => JSON.parse(l));
    const [[, n]] = (await athenaQuery(s, `SELECT sampleid, count(*) FROM cohort WHERE sampleid = 'S2' GROUP BY 1`)).rows.slice(1) as string[][];
    assert.equal(lines.length, Number(n));
    assert.ok(lines.every((l) => l.sampleid === 'S2' && typeof l.start === 'number'));

    const failures: [string, RegExp][] = [
      [`UNLOAD (SELECT * FROM cohort) TO '${to}' WITH (format = 'JSON')`, /location is not empty/],
      [`UNLOAD (SELECT * FROM cohort) TO 's3://lake/orc/' WITH (format = 'ORC')`, /format ORC is not supported here/],
      [`UNLOAD (SELECT * FROM cohort) TO 's3://lake/x/' WITH (format = 'PARQUET', compression = 'BROTLI')`, /compression BROTLI is not supported/],
      [`UNLOAD (SELECT * FROM cohort) TO 'file:///etc/' WITH (format = 'PARQUET')`, /outside this account's export roots/],
      [`UNLOAD SELECT * FROM cohort`, /UNLOAD must read/],
    ];
    for (const [sql, reason] of failures) {
      const r = await athenaQuery(s, sql);
      assert.equal(r.execution.Status.State, 'FAILED', sql);
      assert.match(r.execution.Status.StateChangeReason, reason, sql);
    }
  });
});
