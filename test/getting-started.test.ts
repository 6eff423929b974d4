// Runs every `sh` block of docs/getting-started.md, in order, in one bash shell, against a spawned server and a
// moto_server bucket, so the guide a newcomer follows cannot rot.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, spawnServer, type SpawnedServer } from './helpers/server.js';
import { startMoto, type Moto } from './helpers/moto.js';
import { tinyCorpus } from './helpers/corpus.js';

/** The guide's shell blocks, except those marked `norun`. */
export function guideBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh( norun)?\n([\s\S]*?)^```$/gm)].filter((m) => !m[1]).map((m) => m[2]!);
}

describe('docs/getting-started.md', () => {
  let s: SpawnedServer;
  let moto: Moto;
  before(async () => {
    // As `npm start` runs it: one server process per core (the other suites run one).
    s = await spawnServer({ env: { OPENOMICS_PROCESSES: String(availableParallelism()) } });
    moto = await startMoto();
  });
  after(async () => {
    await s?.stop();
    await moto?.stop();
  });

  it('works, command by command', () => {
    const blocks = guideBlocks(readFileSync(join(ROOT, 'docs', 'getting-started.md'), 'utf8'));
    assert.ok(blocks.length >= 7, `the guide has ${blocks.length} runnable blocks`);
    const script = ['set -euo pipefail', 'set -x', ...blocks].join('\n');
    const r = spawnSync('bash', ['-c', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240_000,
      env: {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        DATA: s.dataDir,
        OPENOMICS_URL: s.url,
        DEMO: tinyCorpus(),
        S3_ENDPOINT: moto.endpoint,
        S3_KEY: 'testing',
        S3_SECRET: 'testing',
        AWS_CONFIG_FILE: '/dev/null',
        REF_PATH: '/nonexistent/%s',
        REF_CACHE: '/nonexistent/%s',
      },
    });
    assert.equal(r.status, 0, `${r.stderr.split('\n').slice(-40).join('\n')}\n${r.stdout}`);
    assert.match(r.stdout, /reference: arn:aws:omics:us-east-1:123456789012:referenceStore\/\d+\/reference\/\d+/);
    assert.match(r.stdout, /"status": "ACTIVE"/);
    assert.match(r.stdout, /^\S+\t\d+\tchr1\t\d+\t/m, 'samtools printed reads of the region');
    assert.match(r.stdout, /exports\/\d+\/aligned-1\.bam\.bai/);
    assert.ok(!existsSync(join(ROOT, 'aligned-1.bam.bai')), 'htslib left no index in the repository');
  });
});
