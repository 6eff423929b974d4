// htslib's own VCF test files (Debian htslib-test), imported into variant stores and read back through the Athena
// subset (boto3): every record and sample equals `bcftools query` on the file as `bcftools norm -m -any` splits it
// — 0-based start, end (INFO/END for gVCF blocks), alleles (symbolic <*> included), QUAL, FILTER, genotypes — for
// files nobody here wrote; one whose INFO/AC disagrees with its header fails its item naming the record.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateReferenceStoreCommand, CreateVariantStoreCommand, GetVariantImportJobCommand, StartVariantImportJobCommand, type OmicsClient } from '@aws-sdk/client-omics';
import { athenaRows } from './helpers/athena.js';
import { importReference, omicsClient, until } from './helpers/omics.js';
import { spawnServer, type SpawnedServer } from './helpers/server.js';

const run = promisify(execFile);
const HTSLIB = '/usr/share/htslib-test/test';
const FILES = ['index.vcf', 'longrefs/index.vcf', 'tabix/vcf_file.vcf', 'bcf-sr/merge.noidx.a.vcf', 'formatcols.vcf', 'vcf_meta_meta.vcf'];
/** Files bcftools norm refuses, and what the item's message must name. */
const REFUSED: Record<string, RegExp> = { 'tabix/vcf_file.vcf': /wrong number of fields in INFO\/AC at 4:3258501/ };
/** QUAL as a number (DuckDB prints 0 as 0.0, bcftools as 0). */
const num = (v: string) => (v === '.' ? v : String(Number(v)));

describe("htslib's VCF test files through a variant store", () => {
  let s: SpawnedServer;
  let omics: OmicsClient;
  let root: string;
  let referenceArn: string;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'openomics-htslib-vcf-'));
    // A reference with every contig the files use (the import checks contig names, not lengths).
    const contigs = new Set<string>();
    for (const f of FILES) {
      copyFileSync(join(HTSLIB, f), join(root, f.replace(/\//g, '_')));
      for (const c of execFileSync('bcftools', ['query', '-f', '%CHROM\n', join(HTSLIB, f)], { encoding: 'utf8' }).split('\n').filter(Boolean)) contigs.add(c);
    }
    writeFileSync(join(root, 'ref.fa'), [...contigs].map((c) => `>${c}\n${'ACGT'.repeat(25)}\n`).join(''));
    s = await spawnServer({ env: { OPENOMICS_IMPORT_ROOTS: root } });
    omics = omicsClient(s);
    const refStore = (await omics.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    referenceArn = await importReference(omics, refStore, `file://${root}/ref.fa`);
  });
  after(async () => {
    await s?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const rows = (sql: string) => athenaRows(s, sql);

  for (const [n, f] of FILES.entries()) {
    it(`${f}: ${REFUSED[f] ? 'refused by bcftools norm, the item naming the record' : 'every record and sample equals bcftools query'}`, async () => {
      const name = `htslib_${n}`;
      const file = join(root, f.replace(/\//g, '_'));
      await omics.send(new CreateVariantStoreCommand({ name, reference: { referenceArn } }));
      const { jobId } = await omics.send(new StartVariantImportJobCommand({ destinationName: name, roleArn: 'arn:aws:iam::123456789012:role/Import', items: [{ source: `file://${file}` }] }));
      const job = await until('import', () => omics.send(new GetVariantImportJobCommand({ jobId })), (j) => !['SUBMITTED', 'IN_PROGRESS'].includes(j.status!), 60_000, 100);
      if (REFUSED[f]) {
        assert.equal(job.status, 'FAILED');
        assert.match(job.items![0]!.statusMessage!, REFUSED[f]);
        return;
      }
      assert.equal(job.status, 'COMPLETED', JSON.stringify(job.items));
      const samples = execFileSync('bcftools', ['query', '-l', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
      const hasGt = /^##FORMAT=<ID=GT,/m.test(readFileSync(file, 'utf8'));
      const ours = (
        await rows(`SELECT contigname, start, "end", referenceallele, array_join(alternatealleles, ','), qual, array_join(filters, ';'), sampleid, calls, phased FROM ${name}`)
      ).map((x) => {
        const gt = hasGt && x[8] !== null ? (JSON.parse(x[8]) as number[]).map((a) => (a < 0 ? '.' : String(a))).join(x[9] === 'true' ? '|' : '/') : '';
        return [x[0], x[1], x[2], x[3], x[4] || '.', num(x[5] ?? '.'), x[6] || '.', ...(samples.length ? [x[7], ...(hasGt ? [gt] : [])] : [])].join('\t');
      });
      const format = samples.length ? `[%CHROM\t%POS0\t%END\t%REF\t%ALT\t%QUAL\t%FILTER\t%SAMPLE${hasGt ? '\t%GT' : ''}\n]` : '%CHROM\t%POS0\t%END\t%REF\t%ALT\t%QUAL\t%FILTER\n';
      const split = join(root, `${name}.split.vcf`);
      execFileSync('bcftools', ['norm', '-m', '-any', '-N', '-Ov', '-o', split, file], { stdio: 'ignore' });
      const theirs = execFileSync('bcftools', ['query', '-f', format, split], { encoding: 'utf8', maxBuffer: 64 << 20 })
        .trim()
        .split('\n')
        .map((l) => l.split('\t').map((v, k) => (k === 5 ? num(v) : v)).join('\t'));
      assert.equal(ours.length, theirs.length);
      assert.deepEqual([...ours].sort(), [...theirs].sort());
    });
  }
});
