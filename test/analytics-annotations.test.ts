// Annotation stores, versions and annotation import jobs through @aws-sdk/client-omics, read back through the
// Athena subset (boto3): GFF3 and TSV of every coordinate convention normalised to 0-based half-open, VCF with
// vcfOptions, versions as a column, per-version delete errors, malformed files failing their item naming the
// line, and a join of a variant store with an annotation store.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateAnnotationStoreCommand,
  CreateAnnotationStoreVersionCommand,
  CreateReferenceStoreCommand,
  CreateVariantStoreCommand,
  DeleteAnnotationStoreCommand,
  DeleteAnnotationStoreVersionsCommand,
  GetAnnotationImportJobCommand,
  GetAnnotationStoreCommand,
  GetAnnotationStoreVersionCommand,
  GetVariantImportJobCommand,
  ListAnnotationImportJobsCommand,
  ListAnnotationStoreVersionsCommand,
  StartAnnotationImportJobCommand,
  StartVariantImportJobCommand,
  type OmicsClient,
} from '@aws-sdk/client-omics';
import { athenaRows } from './helpers/athena.js';
import { expectServiceError, importReference, omicsClient, until } from './helpers/omics.js';
import { spawnServer, type SpawnedServer } from './helpers/server.js';
import { tinyCorpus } from './helpers/corpus.js';

const run = promisify(execFile);
const ROLE = 'arn:aws:iam::123456789012:role/OmicsImport';
const ended = (j: { status?: string }) => !['SUBMITTED', 'IN_PROGRESS'].includes(j.status!);

describe('annotation stores, versions and annotation imports', () => {
  let s: SpawnedServer;
  let omics: OmicsClient;
  let root: string;
  let referenceArn: string;
  before(async () => {
    const corpus = tinyCorpus();
    root = mkdtempSync(join(tmpdir(), 'openomics-ann-'));
    for (const f of ['ref.fa', 'sample.vcf.gz']) copyFileSync(join(corpus, f), join(root, f));
    s = await spawnServer({ env: { OPENOMICS_IMPORT_ROOTS: root } });
    omics = omicsClient(s);
    const refStore = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    referenceArn = await importReference(omics, refStore, `file://${root}/ref.fa`);
  });
  after(async () => {
    await s?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const importInto = async (store: string, file: string, extra: Record<string, unknown> = {}) => {
    const { jobId } = await omics.send(new StartAnnotationImportJobCommand({ destinationName: store, roleArn: ROLE, items: [{ source: `file://${root}/${file}` }], ...extra }));
    return until('annotation import', () => omics.send(new GetAnnotationImportJobCommand({ jobId })), ended, 60_000, 100);
  };

  const query = (sql: string) => athenaRows(s, sql);

  it('GFF3: 1-based features become 0-based half-open rows with their attributes; a malformed line fails the item naming it', async () => {
    writeFileSync(
      join(root, 'genes.gff3'),
      ['##gff-version 3', 'chr1\tens\tgene\t1000\t2000\t.\t+\t.\tID=gene1;Name=ABC%3B1', 'chr1\tens\texon\t1000\t1200\t0.5\t+\t0\tID=exon1;Parent=gene1', '##FASTA', '>chr1', 'ACGT'].join('\n') + '\n',
    );
    const created = await omics.send(new CreateAnnotationStoreCommand({ name: 'genes', storeFormat: 'GFF', reference: { referenceArn } }));
    assert.equal(created.versionName, 'v1');
    const done = await importInto('genes', 'genes.gff3');
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done.items));
    assert.equal(done.versionName, 'v1');
    assert.deepEqual(await query(`SELECT contigname, start, "end", type, score, strand, phase, attributes['Name'] AS name, versionname FROM genes ORDER BY start, "end" DESC`), [
      ['chr1', '999', '2000', 'gene', null, '+', null, 'ABC;1', 'v1'],
      ['chr1', '999', '1200', 'exon', '0.5', '+', '0', null, 'v1'],
    ]);
    writeFileSync(join(root, 'bad.gff3'), ['##gff-version 3', 'chr1\tens\tgene\t1000\t2000\t.\t+\t.\tID=g', 'chr1\tens\tgene\t1000'].join('\n') + '\n');
    const bad = await importInto('genes', 'bad.gff3');
    assert.equal(bad.status, 'FAILED');
    assert.match(bad.statusMessage ?? '', /bad.gff3: line 3: expected 9 tab-separated columns/, 'the job says why its one item failed (annotation items have no message of their own)');
    const jobs = await omics.send(new ListAnnotationImportJobsCommand({ filter: { storeName: 'genes', status: 'FAILED' } }));
    assert.equal(jobs.annotationImportJobs!.length, 1);
    assert.equal((await omics.send(new GetAnnotationStoreCommand({ name: 'genes' }))).numVersions, 1);
  });

  it('TSV of every annotation type: coordinates normalised to 0-based half-open; readOptions; a row of the wrong type fails the item', async () => {
    const schema = (cols: [string, string][]) => cols.map(([n, t]) => ({ [n]: t as 'STRING' }));
    const cases: { name: string; type: string; header: Record<string, string>; cols: [string, string][]; lines: string[]; read?: Record<string, unknown>; expect: string[][] }[] = [
      { name: 'pos', type: 'CHR_POS', header: { CHR: 'chrom', POS: 'pos' }, cols: [['chrom', 'STRING'], ['pos', 'LONG'], ['score', 'DOUBLE']], lines: ['chrom\tpos\tscore', 'chr1\t100\t0.5'], expect: [['chr1', '99', '100']] },
      { name: 'gnomad', type: 'CHR_POS_REF_ALT', header: { CHR: 'chromosome', POS: 'start', REF: 'ref', ALT: 'alt' }, cols: [['chromosome', 'STRING'], ['start', 'LONG'], ['ref', 'STRING'], ['alt', 'STRING'], ['af', 'DOUBLE']], lines: ['chromosome,start,ref,alt,af', 'chr1,200,AC,A,0.01'], read: { sep: ',' }, expect: [['chr1', '199', '201']] },
      { name: 'one_base', type: 'CHR_START_END_ONE_BASE', header: { CHR: 'c', START: 's', END: 'e' }, cols: [['c', 'STRING'], ['s', 'LONG'], ['e', 'LONG']], lines: ['c\ts\te', 'chr2\t10\t20'], expect: [['chr2', '9', '20']] },
      { name: 'bed', type: 'CHR_START_END_ZERO_BASE', header: { CHR: 'chromosome', START: 'start', END: 'end' }, cols: [['chromosome', 'STRING'], ['start', 'LONG'], ['end', 'LONG'], ['label', 'STRING']], lines: ['# a BED file', 'chr2\t10\t20\t"quoted, label"'], read: { header: false, comment: '#' }, expect: [['chr2', '10', '20']] },
      { name: 'ref_alt_one', type: 'CHR_START_END_REF_ALT_ONE_BASE', header: { CHR: 'c', START: 's', END: 'e', REF: 'r', ALT: 'a' }, cols: [['c', 'STRING'], ['s', 'LONG'], ['e', 'LONG'], ['r', 'STRING'], ['a', 'STRING']], lines: ['c\ts\te\tr\ta', 'chr1\t5\t6\tAG\tA'], expect: [['chr1', '4', '6']] },
      { name: 'ref_alt_zero', type: 'CHR_START_END_REF_ALT_ZERO_BASE', header: { CHR: 'c', START: 's', END: 'e', REF: 'r', ALT: 'a' }, cols: [['c', 'STRING'], ['s', 'LONG'], ['e', 'LONG'], ['r', 'STRING'], ['a', 'STRING']], lines: ['c\ts\te\tr\ta', 'chr1\t4\t6\tAG\tA'], expect: [['chr1', '4', '6']] },
    ];
    for (const c of cases) {
      writeFileSync(join(root, `${c.name}.tsv`), c.lines.join('\n') + '\n');
      await omics.send(new CreateAnnotationStoreCommand({ name: c.name, storeFormat: 'TSV', storeOptions: { tsvStoreOptions: { annotationType: c.type as 'CHR_POS', formatToHeader: c.header, schema: schema(c.cols) } } }));
      const done = await importInto(c.name, `${c.name}.tsv`, c.read ? { formatOptions: { tsvOptions: { readOptions: c.read } } } : {});
      assert.equal(done.status, 'COMPLETED', `${c.name}: ${JSON.stringify(done)}`);
      assert.deepEqual(await query(`SELECT contigname, start, "end" FROM ${c.name}`), c.expect, c.name);
    }
    assert.deepEqual(await query(`SELECT referenceallele, alternatealleles, af FROM gnomad`), [['AC', '[A]', '0.01']]);
    assert.deepEqual(await query(`SELECT label FROM bed`), [['quoted, label']]);
    writeFileSync(join(root, 'wrong.tsv'), 'chrom\tpos\tscore\nchr1\tnot-a-number\t1\n');
    const wrong = await importInto('pos', 'wrong.tsv');
    assert.equal(wrong.status, 'FAILED');
    await expectServiceError(
      omics.send(new CreateAnnotationStoreCommand({ name: 'nope', storeFormat: 'TSV', storeOptions: { tsvStoreOptions: { annotationType: 'CHR_POS', formatToHeader: { CHR: 'c' }, schema: [{ c: 'STRING' }] } } })),
      'ValidationException',
      /POS/,
    );
  });

  it('TSV runLeftNormalization: REF/ALT rows left-aligned against the store reference as bcftools norm -f does; a REF the reference does not have fails the item', async () => {
    // A deletion and an insertion placed at the right end of a run of one base (normalisation moves them left), and an SNV.
    const ref = join(root, 'ref.fa');
    const seq = execFileSync('samtools', ['faidx', ref, 'chr1:1000-3000'], { encoding: 'utf8' }).split('\n').slice(1).join('').toUpperCase();
    let runStart = 0;
    for (let i = 1; i < seq.length - 3; i++) if (seq[i] === seq[i + 1] && seq[i + 1] === seq[i + 2] && seq[i - 1] !== seq[i]) { runStart = 1000 + i; break; }
    const base = (pos: number, len = 1) => seq.slice(pos - 1000, pos - 1000 + len);
    const end = runStart + 2; // the run's last base (1-based)
    const rows: [number, string, string][] = [
      [end, base(end, 2), base(end + 1)], // deletes the run's last base (REF = last base + next)
      [end, base(end), base(end) + base(end)], // inserts one more base of the run
      [1500, base(1500), base(1500) === 'A' ? 'C' : 'A'],
    ];
    writeFileSync(join(root, 'indels.tsv'), ['chrom\tpos\tref\talt\tid', ...rows.map(([p, r, a], n) => `chr1\t${p}\t${r}\t${a}\tv${n}`)].join('\n') + '\n');
    const vcf = join(root, 'indels.vcf');
    writeFileSync(vcf, ['##fileformat=VCFv4.2', '##contig=<ID=chr1>', '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO', ...rows.map(([p, r, a], n) => `chr1\t${p}\tv${n}\t${r}\t${a}\t.\t.\t.`)].join('\n') + '\n');
    const theirs = execFileSync('bcftools', ['norm', '-f', ref, vcf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
      const f = l.split('\t');
      return [f[2]!, String(Number(f[1]) - 1), String(Number(f[1]) - 1 + f[3]!.length), f[3]!, `[${f[4]!}]`];
    }).sort();
    assert.notDeepEqual(theirs.map((t) => t[1]), rows.map(([p]) => String(p - 1)).sort(), 'bcftools moved something');
    const options = { annotationType: 'CHR_POS_REF_ALT' as const, formatToHeader: { CHR: 'chrom', POS: 'pos', REF: 'ref', ALT: 'alt' }, schema: [{ chrom: 'STRING' }, { pos: 'LONG' }, { ref: 'STRING' }, { alt: 'STRING' }, { id: 'STRING' }] as Record<string, 'STRING'>[] };
    await omics.send(new CreateAnnotationStoreCommand({ name: 'indels', storeFormat: 'TSV', reference: { referenceArn }, storeOptions: { tsvStoreOptions: options } }));
    const done = await importInto('indels', 'indels.tsv', { runLeftNormalization: true });
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
    assert.equal(done.runLeftNormalization, true);
    assert.deepEqual(await query(`SELECT id, start, "end", referenceallele, alternatealleles FROM indels ORDER BY id`), theirs);
    // Without it, the rows keep their places.
    await omics.send(new CreateAnnotationStoreCommand({ name: 'indels_as_given', storeFormat: 'TSV', storeOptions: { tsvStoreOptions: options } }));
    assert.equal((await importInto('indels_as_given', 'indels.tsv')).status, 'COMPLETED');
    assert.deepEqual((await query(`SELECT start FROM indels_as_given ORDER BY id`)).map((r) => Number(r[0])), rows.map(([p]) => p - 1));
    writeFileSync(join(root, 'bad-ref.tsv'), `chrom\tpos\tref\talt\tid\nchr1\t1500\t${base(1500) === 'G' ? 'T' : 'G'}\tC\tbad\n`);
    const bad = await importInto('indels', 'bad-ref.tsv', { runLeftNormalization: true });
    assert.equal(bad.status, 'FAILED');
    assert.match(bad.statusMessage ?? '', /bad-ref.tsv: .*1500/, JSON.stringify(bad));
    await expectServiceError(omics.send(new StartAnnotationImportJobCommand({ destinationName: 'pos', roleArn: ROLE, items: [{ source: `file://${root}/x.tsv` }], runLeftNormalization: true })), 'ValidationException', /REF and ALT/);
  });

  it('versions: a second release imported into its own version, queried by versionname; per-version delete errors; a store with versions cannot be deleted', async () => {
    writeFileSync(join(root, 'rel1.tsv'), 'c\tp\tv\nchr1\t10\tone\n');
    writeFileSync(join(root, 'rel2.tsv'), 'c\tp\tv\nchr1\t10\ttwo\nchr1\t20\ttwo\n');
    const schema: Record<string, 'STRING' | 'LONG'>[] = [{ c: 'STRING' }, { p: 'LONG' }, { v: 'STRING' }];
    const opts = { annotationType: 'CHR_POS' as const, formatToHeader: { CHR: 'c', POS: 'p' }, schema };
    await omics.send(new CreateAnnotationStoreCommand({ name: 'clinvar', storeFormat: 'TSV', versionName: 'r2024', storeOptions: { tsvStoreOptions: opts } }));
    assert.equal((await importInto('clinvar', 'rel1.tsv')).status, 'COMPLETED');
    await omics.send(new CreateAnnotationStoreVersionCommand({ name: 'clinvar', versionName: 'r2025', description: 'next release' }));
    assert.equal((await importInto('clinvar', 'rel2.tsv', { versionName: 'r2025' })).status, 'COMPLETED');
    assert.deepEqual(await query(`SELECT versionname, count(*) FROM clinvar GROUP BY 1 ORDER BY 1`), [['r2024', '1'], ['r2025', '2']]);
    const versions = await omics.send(new ListAnnotationStoreVersionsCommand({ name: 'clinvar' }));
    assert.deepEqual(versions.annotationStoreVersions!.map((v) => v.versionName), ['r2024', 'r2025']);
    const v2 = await omics.send(new GetAnnotationStoreVersionCommand({ name: 'clinvar', versionName: 'r2025' }));
    assert.equal(v2.versionArn, 'arn:aws:omics:us-east-1:123456789012:annotationStore/clinvar/version/r2025');
    assert.ok(v2.versionSizeBytes! > 0);
    const store = await omics.send(new GetAnnotationStoreCommand({ name: 'clinvar' }));
    assert.equal(store.numVersions, 2);
    assert.equal(store.storeSizeBytes, versions.annotationStoreVersions!.reduce((a, v) => a + v.versionSizeBytes!, 0));
    await expectServiceError(omics.send(new DeleteAnnotationStoreCommand({ name: 'clinvar' })), 'ConflictException', /versions/);
    const res = await omics.send(new DeleteAnnotationStoreVersionsCommand({ name: 'clinvar', versions: ['r2025', 'r1999'] }));
    assert.deepEqual(res.errors, [{ versionName: 'r1999', message: 'Version with versionName: r1999 was not found.' }]);
    assert.deepEqual(await query(`SELECT DISTINCT versionname FROM clinvar`), [['r2024']]);
    await omics.send(new DeleteAnnotationStoreCommand({ name: 'clinvar' }));
    await expectServiceError(omics.send(new GetAnnotationStoreCommand({ name: 'clinvar' })), 'ResourceNotFoundException');
  });

  it('a VCF annotation store (vcfOptions drop QUAL) joined with a variant store in one query', async () => {
    await omics.send(new CreateVariantStoreCommand({ name: 'calls', reference: { referenceArn } }));
    const { jobId } = await omics.send(new StartVariantImportJobCommand({ destinationName: 'calls', roleArn: ROLE, items: [{ source: `file://${root}/sample.vcf.gz` }] }));
    assert.equal((await until('variant import', () => omics.send(new GetVariantImportJobCommand({ jobId })), ended)).status, 'COMPLETED');
    await omics.send(new CreateAnnotationStoreCommand({ name: 'known', storeFormat: 'VCF', reference: { referenceArn } }));
    const done = await importInto('known', 'sample.vcf.gz', { formatOptions: { vcfOptions: { ignoreQualField: true } } });
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done.items));
    const [[n, quals]] = await query(`SELECT count(*), count(qual) FROM known`);
    assert.equal(n, '193');
    assert.equal(quals, '0', 'QUAL ignored');
    const joined = await query(
      `SELECT count(*) FROM calls v JOIN known a ON v.contigname = a.contigname AND v.start = a.start AND v.referenceallele = a.referenceallele AND v.alternatealleles = a.alternatealleles WHERE v.sampleid = 'sample1' AND a.attributes['DP'] = v.attributes['DP']`,
    );
    assert.deepEqual(joined, [['193']]);
  });
});
