// Runs one ingest pass in its own process and prints {seconds, maxRssMiB, ...}: used by bench/formats.ts.
import { createReadStream } from 'node:fs';
import { inspectBam } from '../src/formats/bam-inspect.js';
import { inspectFastq } from '../src/formats/fastq.js';
import { inspectFasta } from '../src/formats/fasta.js';

const [kind, file] = process.argv.slice(2);
const t0 = process.hrtime.bigint();
const src = () => createReadStream(file!, { highWaterMark: 1 << 20 });
let summary: object;
if (kind === 'bam') {
  const r = await inspectBam(src());
  summary = { reads: r.readCount, etag: r.etag, index: r.index?.length ?? 0 };
} else if (kind === 'fastq') {
  const r = await inspectFastq(src());
  summary = { reads: r.readCount, etag: r.etag };
} else if (kind === 'fasta') {
  const r = await inspectFasta(src());
  summary = { sequences: r.sequences.length };
} else throw new Error(`unknown kind ${kind}`);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ seconds, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), ...summary }));
