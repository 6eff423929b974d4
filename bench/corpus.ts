import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The benchmark corpus (BENCH_CORPUS), built with ../shared/testdata/make-corpus.sh if missing. */
export function benchCorpus(): string {
  const corpus = process.env['BENCH_CORPUS'] ?? '/tmp/openomics-bench-corpus';
  if (!existsSync(join(corpus, 'sample.bam'))) {
    console.log(`building the corpus in ${corpus} ...`);
    execFileSync('bash', [join(ROOT, '..', 'shared', 'testdata', 'make-corpus.sh'), corpus], {
      env: { ...process.env, GENOME_MBP: process.env['BENCH_GENOME_MBP'] ?? '2', PAIRS: process.env['BENCH_PAIRS'] ?? '400000', VCF_REGION: '' },
      stdio: 'inherit',
    });
  }
  return corpus;
}
