// Differential tests of the format engine against samtools, on files nobody here wrote (Debian's htslib-test
// corpus) and on a bwa-aligned synthetic corpus (../shared/testdata/make-corpus.sh, tiny settings).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { inspectBam } from '../src/formats/bam-inspect.js';
import { parseBai } from '../src/formats/bai.js';
import { inspectFastq, inspectFastqPair } from '../src/formats/fastq.js';
import { inspectFasta } from '../src/formats/fasta.js';
import { FormatError } from '../src/formats/errors.js';
import { ROOT } from './helpers/server.js';

const HTSLIB_TEST = '/usr/share/htslib-test/test';
const ENV = { ...process.env, REF_PATH: '/nonexistent/%s', REF_CACHE: '/nonexistent/%s' }; // never fetch references
const samtools = (args: string[], opts: { encoding?: 'buffer' } = {}) =>
  execFileSync('samtools', args, { env: ENV, maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.encoding ? {} : { encoding: 'latin1' }) });
const bytes = (b: Buffer, piece = 7919) => Readable.from((function* () { for (let i = 0; i < b.length; i += piece) yield b.subarray(i, i + piece); })());
const md5 = (s: string | Buffer) => createHash('md5').update(typeof s === 'string' ? Buffer.from(s, 'latin1') : s).digest('hex');

let work: string;
let corpus: string;
const bams: string[] = [];
const compared = { bam: 0, records: 0, indexed: 0, regions: 0, fastq: 0, fasta: 0 };

before(() => {
  execFileSync('samtools', ['--version']); // a missing samtools fails here, loudly
  assert.ok(existsSync(HTSLIB_TEST), 'Debian package htslib-test is installed (.ci/run installs it)');
  work = mkdtempSync(join(tmpdir(), 'oo-formats-'));
  for (const dir of [HTSLIB_TEST, ...readdirSync(HTSLIB_TEST, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(HTSLIB_TEST, d.name))]) {
    for (const f of readdirSync(dir)) {
      const src = join(dir, f);
      const out = join(work, `${basename(dir)}__${f.replace(/[#]/g, '_')}`.replace(/\.sam$/, '.bam'));
      if (f.endsWith('.bam')) copyFileSync(src, out);
      else if (f.endsWith('.sam')) {
        try {
          samtools(['view', '-b', '-o', out, src]);
        } catch {
          continue; // SAM files htslib itself rejects are not BAM test material
        }
      } else continue;
      bams.push(out);
    }
  }
  corpus = join(work, 'corpus');
  execFileSync('bash', [join(ROOT, '..', 'shared', 'testdata', 'make-corpus.sh'), corpus], {
    env: { ...ENV, GENOME_MBP: '0.2', PAIRS: '5000', VCF_REGION: '', THREADS: '2' },
    stdio: 'ignore',
  });
  bams.push(join(corpus, 'sample.bam'), join(corpus, 'sample.unaligned.bam'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('BAM against samtools', () => {
  it('ETag = md5 of `samtools view`, counts = `samtools view -c -F 0x900`, for every file', async () => {
    for (const bam of bams) {
      const sam = samtools(['view', bam]) as string;
      const info = await inspectBam(bytes(readFileSync(bam)), { fileName: basename(bam) });
      assert.equal(info.etag, md5(sam), `${basename(bam)}: ETag`);
      const primary = sam.split('\n').filter((l) => l && (Number(l.split('\t')[1]) & 0x900) === 0);
      assert.equal(info.readCount, Number((samtools(['view', '-c', '-F', '0x900', bam]) as string).trim()), `${basename(bam)}: reads`);
      const bases = primary.reduce((n, l) => n + (l.split('\t')[9] === '*' ? 0 : l.split('\t')[9]!.length), 0);
      assert.equal(info.baseCount, bases, `${basename(bam)}: bases`);
      assert.deepEqual(
        info.header.references.map((r) => `${r.name}:${r.length}`),
        (samtools(['view', '-H', bam]) as string).split('\n').filter((l) => l.startsWith('@SQ')).map((l) => `${/SN:([^\t]+)/.exec(l)![1]}:${/LN:(\d+)/.exec(l)![1]}`),
        `${basename(bam)}: references`,
      );
      compared.bam++;
      compared.records += info.recordCount;
    }
  });

  it('computes SHA256up and SHA512up over the same text', async () => {
    const bam = join(corpus, 'sample.bam');
    const sam = Buffer.from(samtools(['view', bam]) as string, 'latin1');
    assert.equal((await inspectBam(bytes(readFileSync(bam)), { etagFamily: 'SHA256up' })).etag, createHash('sha256').update(sam).digest('hex'));
    assert.equal((await inspectBam(bytes(readFileSync(bam)), { etagFamily: 'SHA512up' })).etag, createHash('sha512').update(sam).digest('hex'));
  });

  it('builds the BAI samtools builds, for every coordinate-sorted file', async () => {
    for (const bam of bams) {
      const info = await inspectBam(bytes(readFileSync(bam)));
      if (info.sortOrder !== 'coordinate') {
        assert.equal(info.index, undefined);
        continue;
      }
      const theirs = join(work, 'theirs.bai');
      samtools(['index', '-o', theirs, bam]);
      const a = parseBai(info.index!), b = parseBai(readFileSync(theirs));
      assert.deepEqual(a, b, `${basename(bam)}: index content`);
      compared.indexed++;
    }
  });

  it('answers region queries and idxstats exactly like samtools with its own index', async () => {
    const bam = join(corpus, 'sample.bam');
    const dir = join(work, 'regions');
    mkdirSync(dir, { recursive: true });
    const ours = join(dir, 'ours.bam');
    const theirs = join(dir, 'theirs.bam');
    copyFileSync(bam, ours);
    copyFileSync(bam, theirs);
    writeFileSync(`${ours}.bai`, (await inspectBam(bytes(readFileSync(bam)))).index!);
    samtools(['index', theirs]);
    assert.equal(samtools(['idxstats', ours]), samtools(['idxstats', theirs]));
    const regions = ['chr1', 'chr2', '*', 'chr1:1-1', 'chr1:16384-16385', 'chr1:16385-32768', 'chr2:131072-131073', 'chr1:100000-120000', 'chr2:1-80000', 'chr1:65536-65537', 'chr1:119900-130000'];
    for (let i = 0; i < 40; i++) {
      const start = (i * 7919 + 1) % 118_000;
      regions.push(`chr${(i % 2) + 1}:${start}-${start + ((i * 104729) % 30_000)}`);
    }
    for (const r of regions) {
      const a = samtools(['view', ours, r]);
      assert.equal(a, samtools(['view', theirs, r]), `region ${r}`);
      compared.regions++;
    }
    assert.ok((samtools(['view', '-c', ours, 'chr1:1-50000']) as string).trim() !== '0', 'the regions hold reads');
  });
});

describe('FASTQ against zcat | md5sum', () => {
  it('hashes the uncompressed text and pairs the corpus files', async () => {
    const r1 = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
    const r2 = readFileSync(join(corpus, 'reads_R2.fastq.gz'));
    const [a, b] = await inspectFastqPair(bytes(r1), bytes(r2));
    for (const [info, file] of [[a, 'reads_R1.fastq.gz'], [b, 'reads_R2.fastq.gz']] as const) {
      const text = execFileSync('zcat', [join(corpus, file)], { maxBuffer: 1 << 30 });
      assert.equal(info.etag, md5(text));
      const lines = text.toString('latin1').split('\n');
      assert.equal(info.readCount, Math.floor(lines.length / 4));
      assert.equal(info.baseCount, lines.filter((_, i) => i % 4 === 1).reduce((n, l) => n + l.length, 0));
      compared.fastq++;
    }
  });

  it('reads multi-member and BGZF gzip and plain text alike', async () => {
    const text = readFileSync(join(HTSLIB_TEST, 'fastq', 'r1.fq'));
    const plain = await inspectFastq(bytes(text));
    const half = text.indexOf('\n@', text.length >> 1) + 1;
    const gz = (b: Buffer) => execFileSync('gzip', ['-c'], { input: b });
    const multi = await inspectFastq(bytes(Buffer.concat([gz(text.subarray(0, half)), gz(text.subarray(half))])));
    const bgzf = await inspectFastq(bytes(execFileSync('bgzip', ['-c'], { input: text })));
    assert.equal(plain.etag, md5(text));
    assert.deepEqual({ ...multi, compressed: false }, plain);
    assert.deepEqual({ ...bgzf, compressed: false }, plain);
    assert.equal(multi.compressed, true);
    compared.fastq += 3;
  });
});

describe('FASTA against samtools faidx and samtools dict', () => {
  it('writes the .fai samtools writes and the M5 digests samtools dict computes', async () => {
    const files = readdirSync(HTSLIB_TEST).filter((f) => f.endsWith('.fa')).map((f) => join(HTSLIB_TEST, f));
    files.push(join(corpus, 'ref.fa'));
    for (const f of files) {
      const copy = join(work, `fa-${basename(f)}`);
      copyFileSync(f, copy);
      try {
        samtools(['faidx', copy]);
      } catch {
        continue;
      }
      const info = await inspectFasta(bytes(readFileSync(copy)));
      assert.equal(info.fai, readFileSync(`${copy}.fai`, 'latin1'), `${basename(f)}: .fai`);
      assert.equal(info.fileMd5, md5(readFileSync(copy)));
      compared.fasta++;
    }
    const dict = samtools(['dict', join(corpus, 'ref.fa')]) as string;
    const info = await inspectFasta(bytes(readFileSync(join(corpus, 'ref.fa'))));
    for (const s of info.sequences) assert.ok(dict.includes(`SN:${s.name}\tLN:${s.length}\tM5:${s.md5}`), `${s.name} M5`);
  });

  it('indexes bgzip FASTA like samtools faidx (.fai and .gzi)', async () => {
    const gz = join(work, 'ref.fa.gz');
    writeFileSync(gz, execFileSync('bgzip', ['-c', join(corpus, 'ref.fa')]));
    samtools(['faidx', gz]);
    const info = await inspectFasta(bytes(readFileSync(gz)));
    assert.equal(info.bgzip, true);
    assert.equal(info.fai, readFileSync(`${gz}.fai`, 'latin1'));
    assert.ok(info.gzi!.equals(readFileSync(`${gz}.gzi`)));
    compared.fasta++;
  });
});

describe('bad input gives the right error, never a crash or a hang', () => {
  const expectFormatError = async (p: Promise<unknown>, code: string, what: string) => {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof FormatError, `${what}: ${(e as Error).stack}`);
      assert.equal((e as FormatError).code, code, `${what}: ${(e as Error).message}`);
      return (e as FormatError).message;
    }
    assert.fail(`${what}: no error`);
  };

  it('a BAM truncated at many offsets', async () => {
    const bam = readFileSync(join(corpus, 'sample.bam'));
    for (let i = 1; i < 60; i++) {
      const cut = Math.floor((bam.length * i) / 60);
      try {
        await inspectBam(bytes(bam.subarray(0, cut)));
        assert.fail(`cut at ${cut} was accepted`);
      } catch (e) {
        assert.ok(e instanceof FormatError, `cut at ${cut}: ${(e as Error).message}`);
        assert.ok(['TruncatedFile', 'MalformedFile'].includes((e as FormatError).code));
      }
    }
    await expectFormatError(inspectBam(bytes(bam.subarray(0, bam.length - 28))), 'TruncatedFile', 'missing EOF block');
  });

  it('flipped bytes inside BGZF blocks', async () => {
    const bam = readFileSync(join(corpus, 'sample.bam'));
    for (const at of [100, 5000, 70_000, Math.floor(bam.length / 2), bam.length - 100]) {
      const bad = Buffer.from(bam);
      bad[at] ^= 0x55;
      await expectFormatError(inspectBam(bytes(bad)), 'MalformedFile', `flip at ${at}`);
    }
  });

  it('files that are not what they claim', async () => {
    const fq = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
    await expectFormatError(inspectBam(bytes(fq)), 'MalformedFile', 'gzip FASTQ as BAM');
    await expectFormatError(inspectFastq(bytes(readFileSync(join(corpus, 'sample.bam')))), 'MalformedFile', 'BAM as FASTQ');
    await expectFormatError(inspectFastq(bytes(execFileSync('gzip', ['-c'], { input: 'hello world\nthis is not fastq\n' }))), 'MalformedFile', 'gzip text');
    await expectFormatError(inspectFasta(bytes(fq)), 'UnsupportedFeature', 'plain gzip FASTA');
  });

  it('FASTQ defects: truncated gzip, broken records, unequal pairs, names that do not pair', async () => {
    const r1 = readFileSync(join(corpus, 'reads_R1.fastq.gz'));
    const r2 = readFileSync(join(corpus, 'reads_R2.fastq.gz'));
    await expectFormatError(inspectFastq(bytes(r1.subarray(0, r1.length >> 1))), 'TruncatedFile', 'half a gzip');
    const rec = '@r1\nACGT\n+\nIIII\n';
    assert.match(await expectFormatError(inspectFastq(bytes(Buffer.from(rec + '@r2\nACGT\n+\nIII\n'))), 'MalformedFile', 'qual length'), /record 2.*4 bases but quality has 3/);
    await expectFormatError(inspectFastq(bytes(Buffer.from(rec + 'r2\nACGT\n+\nIIII\n'))), 'MalformedFile', 'no @');
    await expectFormatError(inspectFastq(bytes(Buffer.from(rec + '@r2\nAC!T\n+\nIIII\n'))), 'MalformedFile', 'bad base');
    await expectFormatError(inspectFastq(bytes(Buffer.from(rec + '@r2\nACGT\n'))), 'TruncatedFile', 'half a record');
    const text2 = execFileSync('zcat', [join(corpus, 'reads_R2.fastq.gz')], { maxBuffer: 1 << 30 }).toString('latin1').split('\n');
    const short = execFileSync('gzip', ['-c'], { input: text2.slice(0, 400).join('\n') + '\n' });
    assert.match(await expectFormatError(inspectFastqPair(bytes(r1), bytes(short)), 'MismatchedPair', 'unequal'), /source2 has 100 records but source1 has 5000/);
    const renamed = execFileSync('gzip', ['-c'], { input: text2.map((l, i) => (i === 40 ? '@someone_else/2' : l)).join('\n') });
    assert.match(await expectFormatError(inspectFastqPair(bytes(r1), bytes(renamed)), 'MismatchedPair', 'names'), /record 11/);
    assert.equal((await inspectFastqPair(bytes(r1), bytes(r2)))[0].readCount, 5000);
  });

  it('FASTA defects', async () => {
    await expectFormatError(inspectFasta(bytes(Buffer.from('>a\nACGT\nAC\nACGT\n'))), 'MalformedFile', 'ragged lines');
    await expectFormatError(inspectFasta(bytes(Buffer.from('ACGT\n'))), 'MalformedFile', 'no header');
    await expectFormatError(inspectFasta(bytes(Buffer.from('>a\nAC GT\n'))), 'MalformedFile', 'space in sequence');
    await expectFormatError(inspectFasta(bytes(Buffer.from('>a\nACGT\n>a\nACGT\n'))), 'MalformedFile', 'duplicate');
  });

  it('compared something (guard)', () => {
    assert.ok(compared.bam >= 80, `BAM files compared: ${compared.bam}`);
    assert.ok(compared.records >= 10_000, `records compared: ${compared.records}`);
    assert.ok(compared.indexed >= 20, `indexes compared: ${compared.indexed}`);
    assert.ok(compared.regions >= 50, `regions compared: ${compared.regions}`);
    assert.ok(compared.fastq >= 5, `FASTQ compared: ${compared.fastq}`);
    assert.ok(compared.fasta >= 8, `FASTA compared: ${compared.fasta}`);
  });
});

describe('alignment files against their linked reference', async () => {
  const { checkAgainstReference, headerReferences } = await import('../src/formats/reference-check.js');
  it('accepts the corpus BAM with its reference and names the mismatch otherwise', async () => {
    const bam = await inspectBam(bytes(readFileSync(join(corpus, 'sample.bam'))));
    const ref = await inspectFasta(bytes(readFileSync(join(corpus, 'ref.fa'))));
    const refs = headerReferences(bam.header.text);
    assert.equal(refs.length, 2);
    checkAgainstReference(refs, ref.sequences);
    const shorter = ref.sequences.map((s) => (s.name === 'chr2' ? { ...s, length: s.length - 1 } : s));
    assert.throws(() => checkAgainstReference(refs, shorter, 'sample.bam'), (e: Error) => e instanceof FormatError && e.code === 'ReferenceMismatch' && /chr2 is 80000 bp in the file but 79999/.test(e.message));
    assert.throws(() => checkAgainstReference(refs, ref.sequences.slice(0, 1)), /chr2 of the file is not in the linked reference/);
    const withM5 = refs.map((r) => ({ ...r, md5: '0'.repeat(32) }));
    assert.throws(() => checkAgainstReference(withM5, ref.sequences), /has M5 0{32} in the file/);
  });
});

describe('format detection by content, not by name', async () => {
  const { checkDeclaredType, sniffFormat } = await import('../src/formats/sniff.js');
  const head = (f: string) => readFileSync(f).subarray(0, 64 * 1024);
  it('tells BAM, CRAM, FASTQ and FASTA apart', () => {
    assert.equal(sniffFormat(head(join(corpus, 'sample.bam'))), 'BAM');
    assert.equal(sniffFormat(head(join(corpus, 'sample.unaligned.bam'))), 'BAM');
    assert.equal(sniffFormat(head(join(corpus, 'sample.cram'))), 'CRAM');
    assert.equal(sniffFormat(head(join(corpus, 'reads_R1.fastq.gz'))), 'FASTQ');
    assert.equal(sniffFormat(head(join(corpus, 'ref.fa'))), 'FASTA');
    assert.equal(sniffFormat(Buffer.from('hello')), 'UNKNOWN');
  });
  it('refuses a BAM declared (or renamed) as CRAM and a FASTQ declared as BAM', () => {
    const renamed = join(work, 'sample.cram.bam-inside.cram');
    copyFileSync(join(corpus, 'sample.bam'), renamed);
    assert.throws(() => checkDeclaredType('CRAM', head(renamed), 'x.cram'), (e: Error) => e instanceof FormatError && /declared CRAM but is a BAM file/.test(e.message));
    assert.throws(() => checkDeclaredType('BAM', head(join(corpus, 'reads_R1.fastq.gz'))), /declared BAM but is a FASTQ file/);
    checkDeclaredType('CRAM', head(join(corpus, 'sample.cram')));
    checkDeclaredType('UBAM', head(join(corpus, 'sample.unaligned.bam')));
    checkDeclaredType('FASTQ', head(join(corpus, 'reads_R2.fastq.gz')));
  });
});

describe('libdeflate addon', async () => {
  const { DEFLATE_ADDON, hasDeflateAddon } = await import('../src/formats/deflate.js');
  const { deflateRawSync } = await import('node:zlib');
  const { createRequire } = await import('node:module');
  it('is built wherever libdeflate-dev is installed (npm ci builds it; .ci/run installs the package)', () => {
    if (existsSync('/usr/include/libdeflate.h')) assert.ok(hasDeflateAddon(), `${DEFLATE_ADDON} was not built`);
  });
  it('inflates like zlib and refuses bad data', { skip: !hasDeflateAddon() && 'the addon is not built here (the test above says why that is allowed)' }, () => {
    const addon = createRequire(import.meta.url)(DEFLATE_ADDON) as { inflateRaw(i: Uint8Array, o: Uint8Array): number; crc32(d: Uint8Array): number };
    const plain = Buffer.from('ACGT'.repeat(10_000) + 'the end');
    const out = Buffer.alloc(plain.length);
    assert.equal(addon.inflateRaw(deflateRawSync(plain), out), plain.length);
    assert.ok(out.equals(plain));
    assert.throws(() => addon.inflateRaw(Buffer.from('not deflate at all'), out), /DEFLATE/);
    assert.throws(() => addon.inflateRaw(deflateRawSync(plain), Buffer.alloc(10)), /more bytes/);
  });
});

describe('inspectReadSet: the ingest entry point', async () => {
  const { inspectReadSet } = await import('../src/formats/read-set.js');
  const src = (f: string) => ({ name: basename(f), data: bytes(readFileSync(join(corpus, f))) });
  it('inspects a paired FASTQ, an aligned BAM with its reference, and a uBAM', async () => {
    const fq = await inspectReadSet('FASTQ', { source1: src('reads_R1.fastq.gz'), source2: src('reads_R2.fastq.gz') }, { etagFamily: 'SHA256up' });
    assert.equal(fq.sequenceInformation.totalReadCount, 10_000);
    assert.equal(fq.sequenceInformation.totalBaseCount, 1_500_000);
    assert.equal(fq.etag.algorithm, 'FASTQ_SHA256up');
    assert.equal(fq.etag.source2, createHash('sha256').update(execFileSync('zcat', [join(corpus, 'reads_R2.fastq.gz')], { maxBuffer: 1 << 30 })).digest('hex'));
    const ref = await inspectFasta(bytes(readFileSync(join(corpus, 'ref.fa'))));
    const bam = await inspectReadSet('BAM', { source1: src('sample.bam') }, { reference: ref.sequences });
    assert.equal(bam.sequenceInformation.alignment, 'ALIGNED');
    assert.equal(bam.etag.algorithm, 'BAM_MD5up');
    assert.equal(bam.etag.source1, md5(samtools(['view', join(corpus, 'sample.bam')]) as string));
    assert.equal(bam.index?.format, 'BAI');
    const ubam = await inspectReadSet('UBAM', { source1: src('sample.unaligned.bam') });
    assert.equal(ubam.sequenceInformation.alignment, 'UNALIGNED');
    assert.equal(ubam.index, undefined);
    assert.equal(ubam.etag.algorithm, 'BAM_MD5up');
  });
  it('refuses what does not fit the declaration', async () => {
    await assert.rejects(inspectReadSet('UBAM', { source1: src('sample.bam') }), /declared UBAM \(unaligned\) but \d+ of its records are aligned/);
    await assert.rejects(inspectReadSet('BAM', { source1: src('sample.bam') }), /needs a linked reference/);
    await assert.rejects(inspectReadSet('BAM', { source1: src('sample.bam'), source2: src('sample.bam') }), /source2 is only for paired FASTQ/);
    await assert.rejects(inspectReadSet('CRAM', { source1: src('sample.cram') }), (e: Error) => e instanceof FormatError && e.code === 'ReferenceMismatch');
    await assert.rejects(inspectReadSet('FASTQ', { source1: src('reads_R1.fastq.gz'), source2: src('sample.bam') }), /declared FASTQ but is a BAM file/);
  });
});

describe('record by record', async () => {
  const { readBam } = await import('../src/formats/bam.js');
  const { renderSam } = await import('../src/formats/sam-text.js');
  it('renders every record of every corpus BAM as samtools view prints it (line-level diagnosis)', async () => {
    let lines = 0;
    for (const bam of bams) {
      const expected = (samtools(['view', bam]) as string).split('\n');
      let header;
      let i = 0;
      for await (const ev of readBam(bytes(readFileSync(bam)))) {
        if (ev.kind === 'header') header = ev.header;
        else {
          const r = ev.record;
          assert.equal(renderSam(r.buf, r.start, r.end, header!), expected[i], `${basename(bam)} record ${r.index}`);
          assert.equal(r.index, ++i);
          lines++;
        }
      }
      assert.equal(i, expected.length - 1, `${basename(bam)}: record count`);
    }
    assert.ok(lines >= 20_000, `lines compared: ${lines}`);
  });
});

describe("htslib's sam_format1 through the addon", async () => {
  const { readBamRuns } = await import('../src/formats/bam.js');
  const { SamOut, writeSam } = await import('../src/formats/sam-text.js');
  const { nativeSamRenderer, hasNativeSam } = await import('../src/formats/sam-native.js');
  it('is built where CI runs (guard: otherwise only the JS renderer would be tested)', () => {
    if (process.env['CI'] === 'true') assert.ok(hasNativeSam(), 'build/Release/openomics_sam.node is missing: install libhts-dev before npm ci');
  });
  it('renders every corpus BAM as samtools view prints it, handing back what it leaves to the JS renderer', { skip: !hasNativeSam() && 'the addon is not built (libhts-dev missing; the guard above fails in CI)' }, async () => {
    let records = 0;
    let handedBack = 0;
    for (const bam of bams) {
      const parts: Buffer[] = [];
      const out = new SamOut((b) => parts.push(Buffer.from(b)), 1 << 16);
      let native: ReturnType<typeof nativeSamRenderer>;
      let header;
      for await (const ev of readBamRuns(bytes(readFileSync(bam)))) {
        if (ev.kind === 'header') {
          header = ev.header;
          native = nativeSamRenderer(header);
          continue;
        }
        let p = ev.run.starts[0]!;
        while (p < ev.run.end) {
          const r = native!.render(ev.run.buf, p, ev.run.end, out);
          records += r.rendered;
          p = r.at;
          if (p >= ev.run.end) break;
          const end = p + 4 + ev.run.buf.readInt32LE(p);
          writeSam(ev.run.buf, p, end, header!, out);
          handedBack++;
          records++;
          p = end;
        }
      }
      out.flush();
      assert.equal(Buffer.concat(parts).toString('latin1'), samtools(['view', bam]) as string, basename(bam));
    }
    assert.ok(records >= 20_000, `records compared: ${records}`);
    assert.ok(handedBack < records / 100, `handed back ${handedBack} of ${records}`);
  });
});

describe('without the addons (OPENOMICS_SAM_RENDERER=js): the JS renderer and the JS SAM scanner', () => {
  it('give samtools\' ETags for a BAM and a CRAM', () => {
    const script = `
      import { createReadStream } from 'node:fs';
      import { inspectBam } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'formats', 'bam-inspect.js'))};
      import { inspectCram } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'formats', 'cram.js'))};
      import { hasNativeSam } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'formats', 'sam-native.js'))};
      import { chooseNative } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'core', 'native-addon.js'))};
      import { loadConfig } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'config', 'config.js'))};
      chooseNative(loadConfig().native);
      const c = process.argv[2];
      const bam = await inspectBam(createReadStream(c + '/sample.bam'));
      const cram = await inspectCram(createReadStream(c + '/sample.cram'), { referenceFasta: c + '/ref.fa', scratchDir: ${JSON.stringify(tmpdir())} });
      console.log(JSON.stringify({ native: hasNativeSam(), bam: bam.etag, cram: cram.etag, reads: cram.readCount }));`;
    // A file, not --eval: worker threads inherit the process's flags, and --input-type breaks them.
    const file = join(work, 'without-addons.mjs');
    writeFileSync(file, script);
    const out = JSON.parse(
      execFileSync(process.execPath, [file, corpus], { env: { ...process.env, OPENOMICS_SAM_RENDERER: 'js' }, encoding: 'utf8' }).trim(),
    ) as { native: boolean; bam: string; cram: string; reads: number };
    assert.equal(out.native, false);
    assert.equal(out.bam, md5(samtools(['view', join(corpus, 'sample.bam')], { encoding: 'buffer' }) as Buffer));
    assert.equal(out.cram, md5(samtools(['view', '-T', join(corpus, 'ref.fa'), join(corpus, 'sample.cram')], { encoding: 'buffer' }) as Buffer));
    assert.ok(out.reads > 0);
  });
});

describe('a record the renderer cannot read', () => {
  it('is reported with its record number', async () => {
    const raw = execFileSync('bgzip', ['-dc', join(corpus, 'sample.bam')], { maxBuffer: 1 << 30 });
    // The first read-group aux field of record 1000 or so: find an "RGZ" (tag RG, type Z) well into the file and break its type.
    const at = raw.indexOf(Buffer.from('RGZ'), raw.length >> 1);
    assert.ok(at > 0);
    const bad = Buffer.from(raw);
    bad[at + 2] = 0x3f; // '?': no such aux type
    const bam = execFileSync('bgzip', ['-c'], { input: bad, maxBuffer: 1 << 30 });
    const msg = await inspectBam(bytes(bam)).then(
      () => assert.fail('accepted'),
      (e: Error) => (assert.ok(e instanceof FormatError, String(e)), e.message),
    );
    assert.match(msg, /record \d+\): unknown aux type '\?' in tag RG/);
    // Which record holds the broken byte, walking the raw BAM by hand.
    let p = 8 + raw.readInt32LE(4);
    const nRef = raw.readInt32LE(p);
    p += 4;
    for (let i = 0; i < nRef; i++) p += 8 + raw.readInt32LE(p);
    let expected = 0;
    while (p <= at) {
      expected++;
      p += 4 + raw.readInt32LE(p);
    }
    assert.equal(Number(/record (\d+)/.exec(msg)![1]), expected);
  });
});

describe('CRAM against samtools (decoded by htslib, never from the network)', async () => {
  const { inspectCram } = await import('../src/formats/cram.js');
  const HT = '/usr/share/htslib-test/test';
  const scratch = () => mkdtempSync(join(work, 'scratch-'));
  const cases = () => [
    { file: join(corpus, 'sample.cram'), ref: join(corpus, 'ref.fa') },
    { file: join(work, 'sample.v31.cram'), ref: join(corpus, 'ref.fa') },
    ...['ce#5b_java', 'xx#large_aux_java', 'auxf#values_java'].map((n) => ({ file: join(HT, `${n}.cram`), ref: join(HT, `${n.split('#')[0]}.fa`) })),
  ];
  before(() => {
    samtools(['view', '-C', '--output-fmt-option', 'version=3.1', '-T', join(corpus, 'ref.fa'), '-o', join(work, 'sample.v31.cram'), join(corpus, 'sample.bam')]);
    samtools(['index', join(work, 'sample.v31.cram')]);
  });
  it('has the same ETag (samtools view -T ref | md5sum) and primary counts as samtools, for CRAM 3.0 and 3.1', async () => {
    let compared = 0;
    for (const c of cases()) {
      const info = await inspectCram(bytes(readFileSync(c.file)), { referenceFasta: c.ref, scratchDir: scratch(), fileName: c.file });
      assert.equal(info.etag, md5(samtools(['view', '-T', c.ref, c.file]) as string), c.file);
      assert.equal(info.readCount, Number((samtools(['view', '-c', '-F', '0x900', '-T', c.ref, c.file]) as string).trim()), c.file);
      assert.equal(info.headerText.split('\n').filter((l) => l.startsWith('@SQ')).length, (samtools(['view', '-H', c.file]) as string).split('\n').filter((l) => l.startsWith('@SQ')).length);
      compared++;
    }
    assert.equal(compared, 5, 'guard: every CRAM case was compared');
  });
  it('makes a CRAI that answers region queries as samtools\' own index does', async () => {
    for (const c of cases().slice(0, 2)) {
      const info = await inspectCram(bytes(readFileSync(c.file)), { referenceFasta: c.ref, scratchDir: scratch() });
      const dir = mkdtempSync(join(work, 'crai-'));
      copyFileSync(c.file, join(dir, 'x.cram'));
      writeFileSync(join(dir, 'x.cram.crai'), info.crai);
      for (const region of ['chr1:1-2000', 'chr1:50000-60000', 'chr2', 'chr2:100-100', '*']) {
        assert.equal(samtools(['view', '-T', c.ref, join(dir, 'x.cram'), region]), samtools(['view', '-T', c.ref, c.file, region]), `${c.file} ${region}`);
      }
    }
  });
  it('refuses a wrong reference, a truncated CRAM and CRAM 2.1, with the right error class', async () => {
    const wrong = join(work, 'wrong.fa');
    writeFileSync(wrong, readFileSync(join(corpus, 'ref.fa'), 'latin1').replace(/ACGT/g, 'TTTT'));
    samtools(['faidx', wrong]);
    await assert.rejects(
      inspectCram(bytes(readFileSync(join(corpus, 'sample.cram'))), { referenceFasta: wrong, scratchDir: scratch() }),
      (e: Error) => e instanceof FormatError && e.code === 'ReferenceMismatch',
    );
    // samtools fails before it opens its output (the FIFO the addon reads): reported, not waited on.
    await assert.rejects(
      inspectCram(bytes(readFileSync(join(corpus, 'sample.cram'))), { referenceFasta: join(work, 'no-such-ref.fa'), scratchDir: scratch() }),
      (e: Error) => e instanceof FormatError && e.code === 'ReferenceMismatch',
    );
    const cram = readFileSync(join(corpus, 'sample.cram'));
    for (const cutAt of [cram.length - 10, cram.length >> 1, 100]) {
      await assert.rejects(
        inspectCram(bytes(cram.subarray(0, cutAt)), { referenceFasta: join(corpus, 'ref.fa'), scratchDir: scratch() }),
        (e: Error) => e instanceof FormatError && e.code === 'TruncatedFile',
        `cut at ${cutAt}`,
      );
    }
    const v21 = Buffer.from(cram);
    v21[4] = 2;
    v21[5] = 1;
    await assert.rejects(
      inspectCram(bytes(v21), { referenceFasta: join(corpus, 'ref.fa'), scratchDir: scratch() }),
      (e: Error) => e instanceof FormatError && e.code === 'UnsupportedFeature',
    );
  });
});
