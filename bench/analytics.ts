// Analytics, measured side by side with bcftools in one run: a multi-sample VCF (the bench corpus' sites, SAMPLES
// samples with varied genotypes; ≥ 10 million genotype rows by default) imported into a variant store against
// `bcftools view -Ob` of the same file (both with 2 threads' worth of work on this machine), then query latency
// through the Athena API (a region, a sample, a region and a sample) against `bcftools view -r REGION -s SAMPLE`
// on the tabix-indexed VCF. Medians of REPS (min–max); the server's peak RSS during the import.
// npm run build && node dist/bench/analytics.js        (SAMPLES=<enough for 10 M rows> REPS=3)
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { CreateReferenceStoreCommand, CreateVariantStoreCommand, GetVariantImportJobCommand, StartVariantImportJobCommand } from '@aws-sdk/client-omics';
import { spawnBenchServer } from './server.js';
import { importReference, omicsClient, until } from '../test/helpers/omics.js';
import { benchCorpus } from './corpus.js';

const ROWS = 10_000_000;
const REPS = Number(process.env['REPS'] ?? 3);
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
};
const fmt = (xs: number[], unit = 's') => {
  const { median, min, max } = stats(xs);
  return `${median.toFixed(3)} ${unit} (${min.toFixed(3)}–${max.toFixed(3)})`;
};
const timed = (f: () => void) => {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
};

const corpus = benchCorpus();
const work = mkdtempSync(join(tmpdir(), 'openomics-bench-analytics-'));
const vcf = join(work, 'cohort.vcf.gz');

// The cohort VCF: every site of the corpus VCF, SAMPLES samples, genotypes from a fixed pseudo-random sequence.
const corpusSites = execFileSync('bcftools', ['view', '-H', '-G', join(corpus, 'sample.vcf.gz')], { encoding: 'utf8', maxBuffer: 1 << 30 }).trim().split('\n');
const SAMPLES = Number(process.env['SAMPLES'] ?? Math.ceil(ROWS / corpusSites.length));
{
  const sites = corpusSites;
  const header = execFileSync('bcftools', ['view', '-h', '-G', join(corpus, 'sample.vcf.gz')], { encoding: 'utf8' }).trim().split('\n');
  const names = Array.from({ length: SAMPLES }, (_, i) => `S${String(i + 1).padStart(5, '0')}`);
  const plain = join(work, 'cohort.vcf');
  const out = createWriteStream(plain);
  const meta = header.slice(0, -1).filter((l) => !l.startsWith('##FORMAT'));
  out.write([...meta, '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">', '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">', '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">', `${header.at(-1)!}\tFORMAT\t${names.join('\t')}`].join('\n') + '\n');
  let x = 12345;
  const next = () => (x = (x * 1103515245 + 12345) & 0x7fffffff);
  const gts = ['0/0', '0/1', '1/1', '0|1', './.'];
  for (const site of sites) {
    const cols = site.split('\t').slice(0, 8);
    const calls = names.map(() => {
      const dp = next() % 40;
      const alt = next() % (dp + 1);
      return `${gts[next() % gts.length]}:${dp}:${dp - alt},${alt}`;
    });
    out.write(`${cols.join('\t')}\tGT:DP:AD\t${calls.join('\t')}\n`);
  }
  await new Promise((r) => out.end(r));
  execFileSync('bgzip', ['-@', '2', '-f', plain]);
  execFileSync('tabix', ['-p', 'vcf', vcf]);
  console.log(`cohort VCF: ${sites.length} sites x ${SAMPLES} samples = ${sites.length * SAMPLES} genotype rows, ${(statSync(vcf).size / 1e6).toFixed(1)} MB bgzipped`);
}
const sites = Number(execFileSync('bash', ['-c', `bcftools view -H -G ${vcf} | wc -l`], { encoding: 'utf8' }).trim());
const rowsTotal = sites * SAMPLES;
const mb = statSync(vcf).size / 1e6;

// bcftools, the reference: the same file to BCF, with 2 threads.
const bcftoolsImport: number[] = [];
for (let i = 0; i < REPS; i++) bcftoolsImport.push(timed(() => execFileSync('bcftools', ['view', '--threads', '2', '-Ob', '-o', join(work, 'cohort.bcf'), vcf])));

const s = await spawnBenchServer({ env: { OPENOMICS_IMPORT_ROOTS: work }, keepLogs: false });
const imports: number[] = [];
let peakRss = 0;
// 'SELECT 1' reads no store: the client's own floor (SDK, polling every 20 ms, a query job's start) in this run.
const queries: Record<string, number[]> = { 'SELECT 1': [], region: [], sample: [], 'region+sample': [] };
const reference: Record<string, number[]> = { region: [], sample: [], 'region+sample': [] };
try {
  const omics = omicsClient(s);
  const refStore = (await omics.send(new CreateReferenceStoreCommand({ name: 'bench' }))).id!;
  execFileSync('cp', [join(corpus, 'ref.fa'), join(work, 'ref.fa')]);
  const referenceArn = await importReference(omics, refStore, `file://${work}/ref.fa`);
  const rss = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${s.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  for (let i = 0; i < REPS; i++) {
    const name = `cohort_${i}`;
    await omics.send(new CreateVariantStoreCommand({ name, reference: { referenceArn } }));
    const t0 = performance.now();
    const { jobId } = await omics.send(new StartVariantImportJobCommand({ destinationName: name, roleArn: 'arn:aws:iam::123456789012:role/Bench', items: [{ source: `file://${vcf}` }] }));
    const job = await until('import', () => omics.send(new GetVariantImportJobCommand({ jobId })), (j) => !['SUBMITTED', 'IN_PROGRESS'].includes(j.status!), 3_600_000, 200);
    if (job.status !== 'COMPLETED') throw new Error(`import ${job.status}: ${JSON.stringify(job.items)}`);
    imports.push((performance.now() - t0) / 1000);
    peakRss = Math.max(peakRss, rss());
  }
  // Queries against the first store; bcftools against the indexed VCF.
  const athena = new AthenaClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } });
  const contig = execFileSync('bash', ['-c', `bcftools view -H -G ${vcf} | head -1 | cut -f1`], { encoding: 'utf8' }).trim();
  const region = { contig, from: 1, to: 200_000 };
  const sample = 'S00007';
  const sql: Record<string, string> = {
    'SELECT 1': 'SELECT 1',
    region: `SELECT count(*) FROM cohort_0 WHERE contigname = '${contig}' AND start < ${region.to} AND "end" > ${region.from - 1}`,
    sample: `SELECT count(*) FROM cohort_0 WHERE sampleid = '${sample}'`,
    'region+sample': `SELECT count(*) FROM cohort_0 WHERE sampleid = '${sample}' AND contigname = '${contig}' AND start < ${region.to} AND "end" > ${region.from - 1}`,
  };
  const args: Record<string, string[]> = {
    region: ['-r', `${contig}:${region.from}-${region.to}`],
    sample: ['-s', sample],
    'region+sample': ['-r', `${contig}:${region.from}-${region.to}`, '-s', sample],
  };
  for (const kind of Object.keys(sql)) {
    for (let i = 0; i < REPS; i++) {
      const t0 = performance.now();
      const { QueryExecutionId } = await athena.send(new StartQueryExecutionCommand({ QueryString: sql[kind] }));
      await until('query', async () => (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId }))).QueryExecution!.Status!.State!, (st) => st === 'SUCCEEDED' || st === 'FAILED', 600_000, 20);
      await athena.send(new GetQueryResultsCommand({ QueryExecutionId }));
      queries[kind]!.push((performance.now() - t0) / 1000);
      if (args[kind]) reference[kind]!.push(timed(() => spawnSync('bash', ['-c', `bcftools view --threads 2 -H ${args[kind]!.join(' ')} ${vcf} | wc -l`], { encoding: 'utf8' })));
    }
  }
} finally {
  await s.stop();
  rmSync(work, { recursive: true, force: true });
}

const imp = stats(imports).median;
const ref = stats(bcftoolsImport).median;
console.log(`import of ${rowsTotal} genotype rows (${mb.toFixed(1)} MB), ${REPS} runs each, medians (min–max):`);
console.log(`  bcftools view -Ob --threads 2:          ${fmt(bcftoolsImport)}`);
console.log(`  StartVariantImportJob -> COMPLETED:     ${fmt(imports)}   ${(rowsTotal / imp / 1e6).toFixed(2)} M rows/s, ${(mb / imp).toFixed(1)} MB/s`);
console.log(`  ratio (ours / bcftools): ${(imp / ref).toFixed(2)}; server peak RSS ${peakRss.toFixed(0)} MiB`);
console.log('query latency, Athena API StartQueryExecution -> results vs bcftools view (indexed VCF), medians (min–max):');
for (const kind of Object.keys(queries)) {
  if (!reference[kind]) {
    console.log(`  ${kind.padEnd(14)} ours ${fmt(queries[kind]!)}   (no store read: the client and query-job floor of this run)`);
    continue;
  }
  console.log(`  ${kind.padEnd(14)} ours ${fmt(queries[kind]!)}   bcftools ${fmt(reference[kind]!)}   ratio ${(stats(queries[kind]!).median / stats(reference[kind]!).median).toFixed(2)}`);
}
