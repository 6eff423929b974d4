// Runs one ingest pass in its own process and prints {seconds, maxRssMiB, ...}: used by bench/formats.ts.
import { createReadStream } from 'node:fs';
import { inspectBam } from '../src/formats/bam-inspect.js';
import { inspectFastq } from '../src/formats/fastq.js';
import { inspectFasta } from '../src/formats/fasta.js';
import { inspectCram } from '../src/formats/cram.js';
import { tmpdir } from 'node:os';

const [kind, file, repeatArg, reference] = process.argv.slice(2);
const src = () => createReadStream(file!, { highWaterMark: 1 << 20 });
// With a repeat count the last pass is timed: the first ones warm the JIT and start the worker threads,
// as in a long-running server.
for (let i = 1; i < Number(repeatArg ?? 1); i++) await pass();
const t0 = process.hrtime.bigint();
const summary = await pass();
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ seconds, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), ...summary }));

async function pass(): Promise<object> {
let summary: object;
if (kind === 'bam') {
  const r = await inspectBam(src());
  summary = { reads: r.readCount, etag: r.etag, index: r.index?.length ?? 0 };
} else if (kind === 'fastq') {
  const r = await inspectFastq(src());
  summary = { reads: r.readCount, etag: r.etag };
} else if (kind === 'cram') {
  const r = await inspectCram(src(), { referenceFasta: reference!, scratchDir: tmpdir() });
  summary = { reads: r.readCount, etag: r.etag, index: r.crai.length };
} else if (kind === 'fasta') {
  const r = await inspectFasta(src());
  summary = { sequences: r.sequences.length };
} else throw new Error(`unknown kind ${kind}`);
return summary;
}
