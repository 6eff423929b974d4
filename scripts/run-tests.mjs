// Runs every compiled test file with Node's test runner, one file at a time
// (several spawn servers; two cores). Extra arguments filter files by substring;
// --unit runs only the tests that start no server, database or external tool (seconds).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const root = new URL('../dist/test/', import.meta.url).pathname;
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
};
walk(root);
// Pure tests: no spawned server, database, moto or samtools.
const UNIT = ['aws-chunked', 'bounded-cache', 'coverage-table', 'io-buffers', 'policy', 'reused-buffer-get', 'router-serde', 'sigv4', 'wire-shapes', 'workflow-definitions'];
const args = process.argv.slice(2);
const unit = args.includes('--unit');
const filters = unit ? UNIT.map((u) => `/${u}.test.js`) : args;
const selected = files.sort().filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const started = Date.now();
// The output streams through as it comes; the runner's own totals are read from it so that the last line can
// say them plainly after the wall time ("N passed, N failed").
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...selected], { stdio: ['inherit', 'pipe', 'inherit'] });
const totals = { pass: 0, fail: 0, skipped: 0 };
createInterface({ input: child.stdout }).on('line', (line) => {
  process.stdout.write(`${line}\n`);
  const m = /^ℹ (pass|fail|skipped) (\d+)$/.exec(line);
  if (m) totals[m[1]] = Number(m[2]);
});
child.on('close', (code) => {
  console.log(`test files: ${selected.length}, wall time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${totals.pass} passed, ${totals.fail} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
  process.exit(code ?? 1);
});
