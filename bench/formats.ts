// Ingest benchmark: our one-pass inspection against samtools/zcat doing the same work, same files, one run.
//   BAM:   ours (validate + count + ETag + BAI)  vs  `samtools view -@2 F | md5sum` + `samtools index -@2 F`
//          (the reference tools get the two threads we use: our BGZF inflate runs on worker threads)
//   CRAM:  ours (spool, samtools view -> ETag + counts, samtools index) vs `samtools view -T ref F | md5sum` + `samtools index F`
//          (peak RSS is our process only; the samtools children are not counted)
//   FASTQ: ours (validate + count + ETag)        vs  `zcat F | md5sum`
// The corpus comes from ../shared/testdata/make-corpus.sh (BENCH_CORPUS, built if missing with
// BENCH_GENOME_MBP / BENCH_PAIRS). Prints seconds (medians of REPS runs, min–max), MB/s of input, ratios of the
// medians and our peak RSS (the largest of the runs).
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, benchCorpus } from './corpus.js';
import { median, spread } from './stats.js';

const REPS = Number(process.env['REPS'] ?? 3);

const corpus = benchCorpus();

function timeShell(cmd: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, REF_PATH: '/nonexistent/%s' } });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function ours(kind: string, file: string, repeat = 1): { seconds: number; maxRssMiB: number } {
  const extra = kind === 'cram' ? [join(corpus, 'ref.fa')] : [];
  const out = execFileSync(process.execPath, [join(ROOT, 'dist', 'bench', 'ingest-one.js'), kind, file, String(repeat), ...extra], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const rows: string[] = [];
const mb = (f: string) => statSync(f).size / 1e6;
for (const [label, kind, file, reference] of [
  ['BAM (coordinate-sorted)', 'bam', join(corpus, 'sample.bam'), `samtools view -@2 ${join(corpus, 'sample.bam')} | md5sum && samtools index -@2 -o /tmp/bench.bai ${join(corpus, 'sample.bam')}`],
  ['uBAM', 'bam', join(corpus, 'sample.unaligned.bam'), `samtools view -@2 ${join(corpus, 'sample.unaligned.bam')} | md5sum`],
  ['CRAM 3.0 (htslib via samtools)', 'cram', join(corpus, 'sample.cram'), `samtools view -@2 -T ${join(corpus, 'ref.fa')} ${join(corpus, 'sample.cram')} | md5sum && samtools index -@2 -o /tmp/bench.crai ${join(corpus, 'sample.cram')}`],
  ['FASTQ.gz (R1)', 'fastq', join(corpus, 'reads_R1.fastq.gz'), `zcat ${join(corpus, 'reads_R1.fastq.gz')} | md5sum`],
] as const) {
  timeShell(`cat ${file} > /dev/null`); // warm the page cache for both
  const theirs: number[] = [];
  const cold: { seconds: number; maxRssMiB: number }[] = [];
  const warm: { seconds: number; maxRssMiB: number }[] = [];
  for (let i = 0; i < REPS; i++) {
    theirs.push(timeShell(reference));
    cold.push(ours(kind, file));
    warm.push(ours(kind, file, 2));
  }
  const c = cold.map((r) => r.seconds);
  const w = warm.map((r) => r.seconds);
  rows.push(
    `| ${label} | ${mb(file).toFixed(0)} | ${spread(c, 2)} | ${spread(w, 2)} | ${(mb(file) / median(w)).toFixed(1)} | ${spread(theirs, 2)} | ${(median(c) / median(theirs)).toFixed(2)} | ${(median(w) / median(theirs)).toFixed(2)} | ${Math.max(...cold.map((r) => r.maxRssMiB), ...warm.map((r) => r.maxRssMiB))} |`,
  );
}
console.log(`\ningest, corpus ${corpus}`);
console.log(`cold = a fresh process; warm = the second pass in one process (JIT and worker threads warm, as in the server); medians of ${REPS} (min–max)`);
console.log('| input | MB | ours cold s | ours warm s | ours warm MB/s | reference s | ratio cold | ratio warm | our peak RSS MiB |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);

// Memory flat in file size: the uBAM and ten copies of it (`samtools cat`, ~1 GB), one cold pass each.
if (process.env['BENCH_BIG'] !== '0') {
  const small = join(corpus, 'sample.unaligned.bam');
  const big = join(tmpdir(), 'openomics-bench-big.unaligned.bam');
  execFileSync('samtools', ['cat', '-o', big, ...Array.from({ length: 10 }, () => small)]);
  try {
    console.log(`\npeak RSS against input size (uBAM; cold passes, our process; medians of ${REPS} (min–max), the largest RSS)`);
    console.log('| input | MB | ours s | reference s (samtools view -@2, piped to md5sum) | ratio | our peak RSS MiB |');
    console.log('|---|---|---|---|---|---|');
    for (const [label, f] of [['uBAM', small], ['uBAM x10 (samtools cat)', big]] as const) {
      timeShell(`cat ${f} > /dev/null`);
      const theirs: number[] = [];
      const us: { seconds: number; maxRssMiB: number }[] = [];
      for (let i = 0; i < REPS; i++) {
        theirs.push(timeShell(`samtools view -@2 ${f} | md5sum`));
        us.push(ours('bam', f));
      }
      const t = us.map((u) => u.seconds);
      console.log(`| ${label} | ${mb(f).toFixed(0)} | ${spread(t, 2)} | ${spread(theirs, 2)} | ${(median(t) / median(theirs)).toFixed(2)} | ${Math.max(...us.map((u) => u.maxRssMiB))} |`);
    }
  } finally {
    rmSync(big, { force: true });
  }
}

