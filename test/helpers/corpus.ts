import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './server.js';

export const SAMTOOLS_ENV = { ...process.env, REF_PATH: '/nonexistent/%s', REF_CACHE: '/nonexistent/%s' };
const SCRIPT = join(ROOT, '..', 'shared', 'testdata', 'make-corpus.sh');

/**
 * The tiny synthetic corpus (bwa-aligned pairs, BAM, uBAM, CRAM, ref.fa) from
 * ../shared/testdata/make-corpus.sh, built once per machine and script version
 * and shared by the test files (built into a temp dir, then renamed into place).
 */
export function tinyCorpus(): string {
  const settings = { GENOME_MBP: '0.2', PAIRS: '5000', VCF_REGION: '', THREADS: '2' };
  const key = createHash('sha256').update(readFileSync(SCRIPT)).update(JSON.stringify(settings)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `openomics-corpus-tiny-${key}`);
  if (existsSync(join(dir, 'sample.bam'))) return dir;
  const work = mkdtempSync(join(tmpdir(), 'openomics-corpus-build-'));
  execFileSync('bash', [SCRIPT, join(work, 'c')], { env: { ...SAMTOOLS_ENV, ...settings }, stdio: 'ignore' });
  try {
    renameSync(join(work, 'c'), dir);
  } catch {
    // another process won the race; its copy is identical
  }
  rmSync(work, { recursive: true, force: true });
  return dir;
}
