// SQL over variant stores through the Athena API subset, driven by boto3's Athena client and the AWS CLI, against a
// spawned server: rows read back equal `bcftools query` on the same VCF (0-based starts, genotypes, AD/DP/PL,
// FILTER, INFO), multi-allelic records split as `bcftools norm -m-` splits them, left-normalisation equal to
// `bcftools norm -f ref.fa -m-`, sample filters, a join of two stores, results written to an output location,
// and a query that may not touch files outside its stores.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateReferenceStoreCommand, CreateVariantStoreCommand, GetVariantImportJobCommand, StartVariantImportJobCommand, type OmicsClient } from '@aws-sdk/client-omics';
import { athenaQuery, type AthenaResult } from './helpers/athena.js';
import { importReference, omicsClient, until } from './helpers/omics.js';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { tinyCorpus } from './helpers/corpus.js';

const run = promisify(execFile);
const ROLE = 'arn:aws:iam::123456789012:role/OmicsImport';

/** A two-sample VCF on the corpus reference: a multi-allelic SNV, an indel that is not left-aligned, a phased call, missing values, a flag. */
function twoSampleVcf(ref: string): string {
  const base = (pos: number, len = 1) => execFileSync('samtools', ['faidx', ref, `chr1:${pos}-${pos + len - 1}`], { encoding: 'utf8' }).split('\n').slice(1).join('').toUpperCase();
  // An indel in a run of identical bases, placed at its right end: left-normalisation moves it.
  let run = 0;
  const seq = execFileSync('samtools', ['faidx', ref, 'chr1:1000-3000'], { encoding: 'utf8' }).split('\n').slice(1).join('').toUpperCase();
  for (let i = 1; i < seq.length - 3; i++) if (seq[i] === seq[i + 1] && seq[i + 1] === seq[i + 2] && seq[i - 1] !== seq[i]) { run = 1000 + i; break; }
  const right = run + 2;
  const snv = 1500;
  const b = base(snv);
  const alts = ['A', 'C', 'G', 'T'].filter((x) => x !== b);
  const header = [
    '##fileformat=VCFv4.2',
    '##contig=<ID=chr1,length=120000>',
    '##contig=<ID=chr2,length=80000>',
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
    '##INFO=<ID=DB,Number=0,Type=Flag,Description="dbSNP">',
    '##FILTER=<ID=q10,Description="Quality below 10">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
    '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2',
  ];
  const records = [
    `chr1\t${run}\trs1\t${base(run)}\t${base(run)}${base(run)}\t50\tPASS\tDP=20;DB\tGT:DP:AD:GQ\t0/1:10:5,5:30\t1|1:10:0,10:.`,
    `chr1\t${right - 1}\t.\t${base(right - 1, 2)}\t${base(right - 1)}\t40\tq10\tDP=12\tGT:DP:AD:GQ\t0/1:6:3,3:20\t./.:.:.:.`,
    `chr1\t${snv}\trs2;rs3\t${b}\t${alts[0]},${alts[1]}\t99.5\tPASS\tDP=30\tGT:DP:AD:GQ\t1/2:15:1,7,7:45\t0|1:15:8,7,0:50`,
    `chr2\t500\t.\t${execFileSync('samtools', ['faidx', ref, 'chr2:500-500'], { encoding: 'utf8' }).split('\n')[1]!.toUpperCase()}\tT\t.\t.\t.\tGT\t0/0\t0/1`,
  ];
  return [...header, ...records].join('\n') + '\n';
}

/** A sites-only VCF whose INFO/CSQ carries Ensembl VEP annotations (several per record, empty fields, & lists, an extra field). */
function vepVcf(ref: string): string {
  const base = (pos: number) => execFileSync('samtools', ['faidx', ref, `chr1:${pos}-${pos}`], { encoding: 'utf8' }).split('\n')[1]!.toUpperCase();
  const other = (b: string) => (b === 'A' ? 'G' : 'A');
  const format = 'Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|HGVSc|HGVSp|cDNA_position|CDS_position|Protein_position|Amino_acids|Codons|Existing_variation|DISTANCE|STRAND|FLAGS|SYMBOL_SOURCE|HGNC_ID|SIFT';
  const header = [
    '##fileformat=VCFv4.2',
    '##contig=<ID=chr1,length=120000>',
    `##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: ${format}">`,
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
    '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO',
  ];
  const a = other(base(2000));
  const b = other(base(2500));
  const records = [
    `chr1\t2000\t.\t${base(2000)}\t${a}\t60\tPASS\tDP=9;CSQ=${a}|missense_variant&splice_region_variant|MODERATE|GENE1|ENSG01|Transcript|ENST01|protein_coding|3/10||ENST01.1:c.100A>G|ENSP01.1:p.Lys34Glu|120|100|34|K/E|Aag/Gag|rs123&COSV1||1||HGNC|HGNC:1|deleterious(0.01),${a}|upstream_gene_variant|MODIFIER|GENE2|ENSG02|Transcript|ENST02|lncRNA||||||||||||2000|-1|||HGNC:2|`,
    `chr1\t2500\t.\t${base(2500)}\t${b}\t30\tPASS\tDP=4;CSQ=${b}|intron_variant|MODIFIER|GENE1|ENSG01|Transcript|ENST01|protein_coding||2/9|ENST01.1:c.50+10A>G|||||||||1|cds_start_NF|HGNC|HGNC:1|`,
  ];
  return [...header, ...records].join('\n') + '\n';
}

describe('SQL over variant stores (Athena subset)', () => {
  let s: SpawnedServer;
  let omics: OmicsClient;
  let root: string;
  let exportRoot: string;
  let corpus: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    corpus = tinyCorpus();
    root = mkdtempSync(join(tmpdir(), 'openomics-aq-'));
    exportRoot = mkdtempSync(join(tmpdir(), 'openomics-aq-out-'));
    for (const f of ['ref.fa', 'sample.vcf.gz']) copyFileSync(join(corpus, f), join(root, f));
    execFileSync('samtools', ['faidx', join(root, 'ref.fa')]);
    writeFileSync(join(root, 'two.vcf'), twoSampleVcf(join(root, 'ref.fa')));
    writeFileSync(join(root, 'vep.vcf'), vepVcf(join(root, 'ref.fa')));
    s = await spawnServer({ env: { OPENOMICS_IMPORT_ROOTS: root, OPENOMICS_EXPORT_ROOTS: exportRoot } });
    omics = omicsClient(s);
    env = {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      AWS_ENDPOINT_URL: s.url,
      AWS_SHARED_CREDENTIALS_FILE: join(s.dataDir, 'credentials'),
      AWS_PROFILE: 'openomics',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/dev/null',
    };
    const refStore = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    const referenceArn = await importReference(omics, refStore, `file://${root}/ref.fa`);
    for (const [name, file, normalize] of [
      ['corpus', 'sample.vcf.gz', false],
      ['pair', 'two.vcf', false],
      ['pair_norm', 'two.vcf', true],
      ['vep_calls', 'vep.vcf', false],
    ] as const) {
      await omics.send(new CreateVariantStoreCommand({ name, reference: { referenceArn } }));
      const { jobId } = await omics.send(
        new StartVariantImportJobCommand({ destinationName: name, roleArn: ROLE, items: [{ source: `file://${root}/${file}` }], runLeftNormalization: normalize, ...(name === 'vep_calls' ? { annotationFields: { VEP: 'CSQ' } } : {}) }),
      );
      const j = await until('import', () => omics.send(new GetVariantImportJobCommand({ jobId })), (x) => !['SUBMITTED', 'IN_PROGRESS'].includes(x.status!));
      assert.equal(j.status, 'COMPLETED', JSON.stringify(j.items));
    }
  });
  after(async () => {
    await s?.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(exportRoot, { recursive: true, force: true });
  });

  /** Runs SQL with boto3's Athena client: the rows (header first) and the final execution. */
  function query(sql: string, outputLocation?: string): Promise<AthenaResult> {
    return athenaQuery(s, sql, outputLocation ? { outputLocation } : {});
  }

  it('every record and sample of the corpus VCF equals bcftools query (0-based start, end, alleles, QUAL, GT, DP, AD, PL, INFO)', async () => {
    const r = await query(`SELECT contigname, start, "end", referenceallele, array_join(alternatealleles, ',') AS alt, qual, calls, phased, depth, alleledepths, phredlikelihoods, attributes['DP4'] AS dp4, sampleid FROM corpus ORDER BY contigname, start, alt`);
    assert.equal(r.execution.Status.State, 'SUCCEEDED', r.execution.Status.StateChangeReason);
    assert.deepEqual(r.rows[0], ['contigname', 'start', 'end', 'referenceallele', 'alt', 'qual', 'calls', 'phased', 'depth', 'alleledepths', 'phredlikelihoods', 'dp4', 'sampleid']);
    assert.deepEqual(r.columns.map((c) => c.Type), ['varchar', 'bigint', 'bigint', 'varchar', 'varchar', 'double', 'array', 'boolean', 'integer', 'array', 'array', 'varchar', 'varchar']);
    const ours = r.rows.slice(1).map((x) => {
      const gt = JSON.parse(x[6]!).map((a: number) => (a < 0 ? '.' : String(a))).join(x[7] === 'true' ? '|' : '/');
      const list = (v: string | null) => (v === null ? '.' : v.replace(/^\[|\]$/g, '').replace(/, /g, ','));
      return [x[0], x[1], x[2], x[3], x[4], x[5], gt, x[8] ?? '.', list(x[9]), list(x[10]), x[11] ?? '.', x[12]].join('\t');
    });
    const theirs = execFileSync('bcftools', ['query', '-f', '[%CHROM\t%POS0\t%END\t%REF\t%ALT\t%QUAL\t%GT\t%DP\t%AD\t%PL\t%INFO/DP4\t%SAMPLE\n]', join(root, 'sample.vcf.gz')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    assert.equal(ours.length, 193);
    assert.deepEqual(ours, theirs);
  });

  it('splits multi-allelic records as bcftools norm -m- does; left-normalises as bcftools norm -f ref.fa -m- does; FILTER, ID, flags, missing values', async () => {
    for (const [table, normArgs] of [
      ['pair', ['-m', '-any', '-N']],
      ['pair_norm', ['-m', '-any', '-f', join(root, 'ref.fa')]],
    ] as const) {
      const r = await query(`SELECT contigname, start + 1 AS pos, referenceallele, alternatealleles[1] AS alt, calls, phased, splitfrommultiallelic, sampleid FROM ${table} ORDER BY contigname, start, alt, sampleid`);
      assert.equal(r.execution.Status.State, 'SUCCEEDED', r.execution.Status.StateChangeReason);
      const ours = r.rows.slice(1).map((x) => [x[0], x[1], x[2], x[3], JSON.parse(x[4]!).map((a: number) => (a < 0 ? '.' : a)).join(x[5] === 'true' ? '|' : '/'), x[7]].join('\t'));
      const normed = execFileSync('bcftools', ['norm', ...normArgs, '-Ov', join(root, 'two.vcf')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      writeFileSync(join(root, `${table}.normed.vcf`), normed);
      const theirs = execFileSync('bcftools', ['query', '-f', '[%CHROM\t%POS\t%REF\t%ALT\t%GT\t%SAMPLE\n]', join(root, `${table}.normed.vcf`)], { encoding: 'utf8' }).trim().split('\n');
      const key = (l: string) => { const f = l.split('\t'); return [f[0], f[1]!.padStart(9, '0'), f[3], f[5]].join('\t'); };
      assert.deepEqual(ours.sort((a, b) => key(a).localeCompare(key(b))), theirs.sort((a, b) => key(a).localeCompare(key(b))), table);
      const split = r.rows.slice(1).filter((x) => x[6] === 'true').length;
      assert.equal(split, 4, 'the two alleles of the multi-allelic record, for each of two samples');
    }
    const r = await query(`SELECT names, filters, attributes['DB'] AS db, attributes['DP'] AS dp, conditionalquality, depth FROM pair WHERE sampleid = 'S2' ORDER BY contigname, start, alternatealleles[1]`);
    assert.deepEqual(r.rows.slice(1, 4), [
      ['[rs1]', '[PASS]', 'true', '20', null, '10'],
      ['[]', '[q10]', null, '12', null, null],
      ['[rs2, rs3]', '[PASS]', null, '30', '50', '15'],
    ]);
  });

  it('VEP CSQ annotations parsed field by field into annotations.vep, equal to bcftools +split-vep', async () => {
    const r = await query(
      `SELECT contigname, start + 1 AS pos, v.allele, array_join(v.consequence, '&') AS consequence, v.impact, v.symbol, v.gene, v.feature, v.biotype, v.exon.rank || '/' || v.exon.total AS exon, v.intron.rank || '/' || v.intron.total AS intron, v.hgvsc, v.hgvsp, v.amino_acids.reference || '/' || v.amino_acids.variant AS aa, v.codons.reference || '/' || v.codons.variant AS codons, array_join(v.existing_variation, '&') AS existing, v.distance, v.strand, array_join(v.flags, '&') AS flags, v.hgnc_id, v.extras['SIFT'] AS sift, cardinality(map_keys(attributes)) AS attrs FROM vep_calls CROSS JOIN UNNEST(annotations.vep) AS t(v) ORDER BY pos, v.feature`,
    );
    assert.equal(r.execution.Status.State, 'SUCCEEDED', r.execution.Status.StateChangeReason);
    const ours = r.rows.slice(1).map((x) => x.slice(0, 21).map((v) => v ?? '.').join('\t'));
    const fields = ['Allele', 'Consequence', 'IMPACT', 'SYMBOL', 'Gene', 'Feature', 'BIOTYPE', 'EXON', 'INTRON', 'HGVSc', 'HGVSp', 'Amino_acids', 'Codons', 'Existing_variation', 'DISTANCE', 'STRAND', 'FLAGS', 'HGNC_ID', 'SIFT'];
    const theirs = execFileSync('bcftools', ['+split-vep', '-d', '-f', `%CHROM\t%POS\t${fields.map((f) => `%${f}`).join('\t')}\n`, join(root, 'vep.vcf')], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(ours, theirs);
    assert.ok(r.rows.slice(1).every((x) => x[21] === '1'), 'CSQ is in annotations, not attributes (DP is)');
  });

  it('a sample filter, a join of two stores, the result CSV at the output location, the AWS CLI', async () => {
    const s1 = await query(`SELECT count(*) AS n, sum(cardinality(alternatealleles)) AS alts, count_if(regexp_like(referenceallele, '^[ACGT]+$')) AS acgt FROM pair WHERE sampleid = 'S1'`);
    assert.deepEqual(s1.rows, [['n', 'alts', 'acgt'], ['5', '5', '5']]);
    // One file per sample: a sample filter decrypts and reads only that sample's file (Athena's data scanned says
    // how much was read); an OR reads them all, and samples the filter excludes leave nothing to read.
    const scanned = (r: { execution: any }) => Number(r.execution.Statistics.DataScannedInBytes);
    const all = await query(`SELECT count(*) AS n FROM pair`);
    const s2 = await query(`SELECT count(*) AS n FROM pair p WHERE p.sampleid IN ('S2', 'S9') AND depth >= 0`);
    const either = await query(`SELECT count(*) AS n FROM pair WHERE sampleid = 'S1' OR depth > 0`);
    const none = await query(`SELECT count(*) AS n FROM pair WHERE sampleid = 'S1' AND sampleid IN ('S2')`);
    assert.deepEqual([all.rows[1], none.rows[1]], [['10'], ['0']]);
    assert.ok(scanned(s1) > 0 && scanned(s2) > 0, `${scanned(s1)} ${scanned(s2)}`);
    assert.equal(scanned(s1) + scanned(s2), scanned(all), 'the two samples files are the whole store');
    assert.equal(scanned(either), scanned(all));
    assert.equal(scanned(none), 0);
    const joined = await query(`SELECT a.contigname, a.start, a.sampleid, b.sampleid AS other FROM pair a JOIN omics.pair_norm b ON a.contigname = b.contigname AND a.start = b.start AND a.sampleid = b.sampleid AND a.alternatealleles = b.alternatealleles WHERE a.sampleid = 'S1' ORDER BY 1, 2`, `file://${exportRoot}/results/`);
    assert.equal(joined.execution.Status.State, 'SUCCEEDED', joined.execution.Status.StateChangeReason);
    assert.ok(joined.rows.length >= 3, JSON.stringify(joined.rows));
    const csv = join(exportRoot, 'results', `${joined.execution.QueryExecutionId}.csv`);
    assert.ok(existsSync(csv));
    assert.equal(readFileSync(csv, 'utf8').trim().split('\n').length, joined.rows.length);
    const cli = async (...args: string[]) => JSON.parse((await run('aws', ['athena', ...args, '--output', 'json'], { env })).stdout);
    const { QueryExecutionId } = await cli('start-query-execution', '--query-string', 'SELECT count(*) AS n FROM corpus', '--query-execution-context', 'Database=omics');
    await until('cli query', async () => (await cli('get-query-execution', '--query-execution-id', QueryExecutionId)).QueryExecution.Status.State, (st: string) => st !== 'QUEUED' && st !== 'RUNNING', 30_000, 100);
    const res = await cli('get-query-results', '--query-execution-id', QueryExecutionId);
    assert.deepEqual(res.ResultSet.Rows.map((x: any) => x.Data.map((d: any) => d.VarCharValue)), [['n'], ['193']]);
    const tables = await cli('list-table-metadata', '--catalog-name', 'AwsDataCatalog', '--database-name', 'omics');
    assert.deepEqual(tables.TableMetadataList.map((t: any) => t.Name).sort(), ['corpus', 'pair', 'pair_norm', 'vep_calls']);
    // openomics query: CSV, JSON lines and a table.
    const ours = async (...args: string[]) => (await run(process.execPath, [CLI, 'query', ...args], { env })).stdout;
    const sql = `SELECT sampleid, count(*) AS n, 'a,"b"' AS odd FROM pair GROUP BY sampleid ORDER BY sampleid`;
    assert.equal(await ours(sql, '--format', 'csv'), 'sampleid,n,odd\nS1,5,"a,""b"""\nS2,5,"a,""b"""\n');
    assert.deepEqual((await ours(sql, '--format', 'json')).trim().split('\n').map((l) => JSON.parse(l)), [
      { sampleid: 'S1', n: '5', odd: 'a,"b"' },
      { sampleid: 'S2', n: '5', odd: 'a,"b"' },
    ]);
    assert.match(await ours(sql), /^sampleid  n  odd\s*\n-+  -  -+\nS1 +5  a,"b"\nS2 +5  a,"b"\n\(2 rows\)\n$/);
    await assert.rejects(run(process.execPath, [CLI, 'query', 'SELECT nope FROM pair'], { env }), (e: { stderr: string }) => /FAILED: .*nope/.test(e.stderr));
  });

  it('catalog metadata, listing and stopping queries; an IAM user needs omics:GetVariantStore on every store a query names', async () => {
    assert.deepEqual((await query('SELECT 1 AS one')).rows, [['one'], ['1']]);
    const py = `
import boto3, json, sys
a = boto3.client('athena', endpoint_url=${JSON.stringify(s.url)})
out = {}
out['catalogs'] = [c['CatalogName'] for c in a.list_data_catalogs()['DataCatalogsSummary']]
out['databases'] = [d['Name'] for d in a.list_databases(CatalogName='AwsDataCatalog')['DatabaseList']]
t = a.get_table_metadata(CatalogName='AwsDataCatalog', DatabaseName='omics', TableName='pair')['TableMetadata']
out['columns'] = [c['Name'] + ':' + c['Type'] for c in t['Columns']]
ids = a.list_query_executions(MaxResults=50)['QueryExecutionIds']
out['listed'] = len(ids)
a.stop_query_execution(QueryExecutionId=ids[0])
out['stopped'] = a.get_query_execution(QueryExecutionId=ids[0])['QueryExecution']['Status']['State']
try:
    a.get_table_metadata(CatalogName='AwsDataCatalog', DatabaseName='omics', TableName='nope')
except Exception as e:
    out['missing'] = type(e).__name__
print(json.dumps(out))
`;
    const out = JSON.parse((await run('python3', ['-c', py], { env })).stdout);
    assert.deepEqual(out.catalogs, ['awsdatacatalog']);
    assert.deepEqual(out.databases, ['omics']);
    assert.ok(out.columns.includes('contigname:varchar') && out.columns.includes('attributes:map') && out.columns.includes('calls:array'), out.columns.join(' '));
    assert.ok(out.listed >= 1);
    assert.equal(out.stopped, 'SUCCEEDED', 'stopping an ended query changes nothing');
    assert.equal(out.missing, 'MetadataException');
    // An IAM user allowed Athena but not the store: refused; allowed the store: served.
    const admin = (...args: string[]) => JSON.parse(execFileSync(process.execPath, [CLI, 'admin', ...args], { env: s.env, encoding: 'utf8' }));
    const policy = (doc: object) => execFileSync(process.execPath, [CLI, 'admin', 'policy', 'put', 'analyst', 'p', '-'], { env: s.env, input: JSON.stringify(doc) });
    admin('user', 'create', 'analyst');
    const key = admin('access-key', 'create', '--user', 'analyst');
    const { AWS_PROFILE: _profile, AWS_SHARED_CREDENTIALS_FILE: _credentials, ...rest } = env;
    const asAnalyst = { ...rest, AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey };
    const start = (sql: string) => run('aws', ['athena', 'start-query-execution', '--query-string', sql, '--output', 'json'], { env: asAnalyst });
    policy({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'athena:*', Resource: '*' }] });
    await assert.rejects(start('SELECT count(*) FROM pair'), (e: { stderr: string }) => /AccessDenied/.test(e.stderr) && /omics:GetVariantStore/.test(e.stderr));
    policy({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'athena:*', Resource: '*' }, { Effect: 'Allow', Action: 'omics:GetVariantStore', Resource: 'arn:aws:omics:us-east-1:123456789012:variantStore/pair' }] });
    // The server reads policies again within 5 s (its identity cache).
    const after = await until('the new policy applies', () => start('SELECT count(*) FROM pair').then((r) => r.stdout, (e: { stderr: string }) => e.stderr), (o) => !/AccessDenied/.test(o), 15_000, 500);
    assert.match(after, /QueryExecutionId/);
    await assert.rejects(start('SELECT count(*) FROM pair JOIN corpus USING (contigname)'), (e: { stderr: string }) => /variantStore\/corpus/.test(e.stderr));
  });

  it('a query reads nothing but its stores: local files, other databases and settings are refused; bad SQL fails with its message', async () => {
    for (const sql of [`SELECT * FROM read_csv('/etc/passwd')`, `SELECT * FROM pair, read_text('${join(root, 'two.vcf')}')`, `COPY (SELECT 1) TO '/tmp/openomics-evil.csv'`]) {
      const r = await query(sql);
      assert.equal(r.execution.Status.State, 'FAILED', sql);
    }
    assert.ok(!existsSync('/tmp/openomics-evil.csv'));
    const bad = await query('SELECT nosuchcolumn FROM pair');
    assert.equal(bad.execution.Status.State, 'FAILED');
    assert.match(bad.execution.Status.StateChangeReason, /nosuchcolumn/);
  });
});
