// Definition zips (main file, engine, digest, unsafe paths) and parameter template discovery (spec workflows §4.3)
// for CWL, WDL and Nextflow definitions: pure functions, no engine needed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { strToU8, zipSync } from 'fflate';
import { definitionDigest, resolveDefinition, unzipDefinition } from '../src/workflows/definitions.js';
import { DefinitionSyntaxError, discoverTemplate } from '../src/workflows/parameter-templates.js';
import { wdlMemoryMiB, wdlOutline } from '../src/workflows/wdl-source.js';
import { NextflowAdapter } from '../src/workflows/engines/nextflow.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const zip = (files: Record<string, string>) => Buffer.from(zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)]))));

describe('workflow definitions', () => {
  it('finds the main file and the engine: the one definition file, else the one named main; given main and engine win', () => {
    assert.deepEqual(resolveDefinition(unzipDefinition(zip({ 'wf/qc.wdl': 'version 1.0', 'README.md': '' })), undefined, undefined).main, 'wf/qc.wdl');
    const two = unzipDefinition(zip({ 'main.cwl': 'x', 'tools/a.cwl': 'y' }));
    assert.equal(resolveDefinition(two, undefined, undefined).engine, 'CWL');
    assert.equal(resolveDefinition(two, undefined, undefined).main, 'main.cwl');
    assert.equal(resolveDefinition(two, 'tools/a.cwl', undefined).main, 'tools/a.cwl');
    assert.equal(resolveDefinition(unzipDefinition(zip({ 'main.nf': '' })), undefined, undefined).engine, 'NEXTFLOW');
    assert.equal(resolveDefinition(unzipDefinition(zip({ 'main.wdl': '' })), undefined, 'WDL_LENIENT').engine, 'WDL_LENIENT');
    assert.throws(() => resolveDefinition(unzipDefinition(zip({ 'a.cwl': '', 'b.cwl': '' })), undefined, undefined), /none is named main/);
    assert.throws(() => resolveDefinition(two, 'nope.cwl', undefined), /not in the definition zip/);
    assert.throws(() => resolveDefinition(unzipDefinition(zip({ 'notes.txt': '' })), undefined, undefined), /no workflow file/);
  });

  it('refuses what is not a zip and paths that leave the folder; the digest is sha256 of the zip as given', () => {
    assert.throws(() => unzipDefinition(Buffer.from('not a zip')), /not a valid zip/);
    assert.throws(() => unzipDefinition(zip({ '../escape.cwl': '' })), /outside the definition folder/);
    const z = zip({ 'main.cwl': 'x' });
    assert.match(definitionDigest(z), /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(definitionDigest(z), definitionDigest(zip({ 'main.cwl': 'y' })));
  });
});

describe('parameter template discovery', () => {
  it('CWL: nullable types and defaults are optional; descriptions from the input label; list and map forms; packed $graph', () => {
    const map = `cwlVersion: v1.2
class: Workflow
inputs:
  reads: File
  index: {type: "File?"}
  sample: {type: string, label: Sample name}
  threads: {type: int, default: 4}
  ints: {type: {type: array, items: int}}
  maybe: ["null", int]
outputs: {}
steps: {}
`;
    assert.deepEqual(discoverTemplate('CWL', map), {
      reads: { description: '', optional: false },
      index: { description: '', optional: true },
      sample: { description: 'Sample name', optional: false },
      threads: { description: '', optional: true },
      ints: { description: '', optional: false },
      maybe: { description: '', optional: true },
    });
    const list = JSON.stringify({ $graph: [{ id: '#tool', class: 'CommandLineTool', inputs: [] }, { id: '#main', class: 'Workflow', inputs: [{ id: '#main/bam', type: 'File' }, { id: '#main/n', type: 'int?' }] }] });
    assert.deepEqual(discoverTemplate('CWL', list), { bam: { description: '', optional: false }, n: { description: '', optional: true } });
    assert.throws(() => discoverTemplate('CWL', 'inputs: [unclosed'), DefinitionSyntaxError);
  });

  it('WDL: nullable or assigned inputs are optional (the table of §4.3), descriptions from parameter_meta', () => {
    const wdl = `version 1.0
# a comment with input { braces }
workflow main {
  input {
    Int x
    Int y = 2
    Float f0 = 1.0 + f1
    Array[Int] xs
    Array[Int]+ nonEmpty
    Array[Int]? maybeXs
    Array[Int?] holes
    Map[String, Pair[File, File]] pairs
    Sample mySample
    Sample? other
    Int? z
    String s = "a # not a comment"
  }
  parameter_meta {
    x: "The x"
    y: { description: "The y", help: "ignored" }
  }
  call t
}
task t { input { Int inner } command <<< >>> }
`;
    assert.deepEqual(discoverTemplate('WDL', wdl), {
      x: { description: 'The x', optional: false },
      y: { description: 'The y', optional: true },
      f0: { description: '', optional: true },
      xs: { description: '', optional: false },
      nonEmpty: { description: '', optional: false },
      maybeXs: { description: '', optional: true },
      holes: { description: '', optional: false },
      pairs: { description: '', optional: false },
      mySample: { description: '', optional: false },
      other: { description: '', optional: true },
      z: { description: '', optional: true },
      s: { description: '', optional: true },
    });
    assert.throws(() => discoverTemplate('WDL', 'version 1.0\ntask only { command <<< >>> }'), /no workflow block/);
  });

  it('Nextflow: params with a default are optional, referenced ones required', () => {
    const nf = 'params.reads = "s3://x/*.fq"\nif (params.version) { println params.version }\nparams.outdir = null\nx = "${params.cli_image}"\n';
    assert.deepEqual(discoverTemplate('NEXTFLOW', nf), {
      reads: { description: '', optional: true },
      version: { description: '', optional: false },
      outdir: { description: '', optional: true },
      cli_image: { description: '', optional: false },
    });
  });

  it('WDL outline: declared workflow outputs, call aliases, task outputs and literal runtimes (commands are shell, not WDL)', () => {
    const wdl = `version 1.0
workflow qc {
  input { File bam }
  call stats as s1 { input: bam = bam }
  call lib.other
  output {
    File report = s1.out
    Int n = s1.count
  }
}
task stats {
  input { File bam }
  command <<<
    echo "output { File fake = 'x' }" > report.txt  # runtime { cpu: 64 }
  >>>
  output {
    File out = "report.txt"
    Int count = read_int(stdout())
  }
  runtime { docker: "img" cpu: 3 memory: "1.5 GB" }
}
task other {
  command { echo "{ nested }" }
  runtime {
    cpu: threads
    memory: "4 GiB"
  }
}
`;
    const o = wdlOutline(wdl);
    assert.equal(o.workflow, 'qc');
    assert.deepEqual(o.outputs, [
      { type: 'File', name: 'report', expression: 's1.out' },
      { type: 'Int', name: 'n', expression: 's1.count' },
    ]);
    assert.deepEqual([...o.calls], [['s1', 'stats'], ['other', 'other']]);
    assert.deepEqual(o.tasks.get('stats'), {
      outputs: [
        { type: 'File', name: 'out', expression: '"report.txt"' },
        { type: 'Int', name: 'count', expression: 'read_int(stdout())' },
      ],
      cpu: 3,
      memoryMiB: 1.5e9 / 1024 ** 2,
    });
    assert.deepEqual(o.tasks.get('other'), { outputs: [], memoryMiB: 4096 }, 'a CPU count that is an expression is not guessed');
    assert.equal(wdlMemoryMiB('"512 MiB"'), 512);
    assert.equal(wdlMemoryMiB('"2G"'), 2e9 / 1024 ** 2);
    assert.equal(wdlMemoryMiB('"lots"'), undefined);
  });

  it('Nextflow adapter (no engine here to run it): publish folder mounted over /mnt/workflow/pubdir, podman executor, published files as outputs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openomics-nf-'));
    try {
      const out = join(dir, 'out');
      mkdirSync(join(out, 'reports'), { recursive: true });
      writeFileSync(join(out, 'counts.txt'), '42\n');
      writeFileSync(join(out, 'reports', 'a.html'), '<p>');
      const nf = new NextflowAdapter();
      const l = { definitionDir: join(dir, 'def'), main: 'main.nf', workDir: join(dir, 'work'), outDir: out, inputsFile: join(dir, 'in.json'), containers: 'podman' as const, pullImages: false };
      const { command, args } = nf.command(l);
      assert.equal(command, 'unshare');
      assert.deepEqual(args.slice(0, 2), ['--mount', 'sh']);
      assert.match(args[3]!, /mount --bind "\$0" \/mnt\/workflow\/pubdir/);
      assert.equal(args[4], out);
      assert.deepEqual(args.slice(5, 8), ['nextflow', '-log', join(dir, 'work', 'nextflow.log')]);
      assert.ok(args.includes('-with-podman') && args.includes('-params-file'));
      assert.ok(!nf.command({ ...l, containers: 'none' }).args.some((a) => a.startsWith('-with-')));
      assert.deepEqual(nf.inputs({ reads: 's3://b/r.fq', n: 2 }, (u) => (u === 's3://b/r.fq' ? { path: '/staged/r.fq', isDirectory: false } : undefined)), { reads: '/staged/r.fq', n: 2 });
      const outputs = nf.outputs('', l);
      assert.deepEqual(Object.keys(outputs).sort(), ['counts.txt', 'reports']);
      assert.deepEqual(outputs['counts.txt'], { kind: 'file', path: join(out, 'counts.txt'), basename: 'counts.txt', size: 3, isDirectory: false });
      assert.equal(nf.outputsSummary, false, 'no outputs.json for Nextflow (spec §7)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
