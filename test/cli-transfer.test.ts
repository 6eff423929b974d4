// `openomics upload` / `openomics download` run as subprocesses against a spawned server: a paired FASTQ upload killed
// mid-way (SIGKILL) and resumed (only missing parts sent), downloads compared byte for byte, non-TTY progress lines,
// exit codes for a failed read set and for bad arguments.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  CreateSequenceStoreCommand,
  CreateMultipartReadSetUploadCommand,
  GetS3AccessPolicyCommand,
  ListReadSetUploadPartsCommand,
  ListMultipartReadSetUploadsCommand,
  PutS3AccessPolicyCommand,
} from '@aws-sdk/client-omics';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { omicsClient } from './helpers/omics.js';
import { tinyCorpus } from './helpers/corpus.js';

describe('openomics upload / download (transfer manager)', () => {
  let s: SpawnedServer;
  let corpus: string;
  let dir: string;
  let storeId: string;
  let env: NodeJS.ProcessEnv;
  let resumedId: string;
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });

  before(async () => {
    corpus = tinyCorpus();
    dir = mkdtempSync(join(tmpdir(), 'openomics-cli-'));
    s = await spawnServer({ env: { OPENOMICS_IMPORT_ROOTS: join(dir, 'import'), OPENOMICS_EXPORT_ROOTS: join(dir, 'export') } });
    // Resolution the way the AWS CLI does it: endpoint and profile from the environment, the server's credentials file.
    env = {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      AWS_ENDPOINT_URL: s.url,
      AWS_SHARED_CREDENTIALS_FILE: join(s.dataDir, 'credentials'),
      AWS_CONFIG_FILE: '/dev/null',
      AWS_PROFILE: 'openomics',
      AWS_REGION: 'us-east-1',
    };
    storeId = (await omicsClient(s).send(new CreateSequenceStoreCommand({ name: 'cli' }))).id!;
  });
  after(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes a paired FASTQ upload after SIGKILL, sending only the missing parts, then downloads it byte for byte', async () => {
    // Eight copies of the pair, as multi-member gzip (still a valid pair): ~1,200 parts of 8 KiB, so the upload is
    // still running when the test kills it, however fast the server takes parts.
    const r1 = join(dir, 'big_R1.fastq.gz');
    const r2 = join(dir, 'big_R2.fastq.gz');
    for (const [to, from] of [[r1, 'reads_R1.fastq.gz'], [r2, 'reads_R2.fastq.gz']] as const) {
      writeFileSync(to, Buffer.concat(Array.from({ length: 8 }, () => readFileSync(join(corpus, from)))));
    }
    const args = ['upload', '--sequence-store-id', storeId, '--file-type', 'FASTQ', '--subject-id', 's1', '--sample-id', 'm1', '--name', 'resumable',
      '--part-size', '8KiB', '--concurrency', '1', r1, r2];
    const first = spawn(process.execPath, [CLI, ...args], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let progressLines = 0;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: first.stderr! }).on('line', (l) => {
        if (/^progress \d+ \d+ [\d.]+ \d+$/.test(l)) progressLines++;
        if (progressLines >= 2) resolve(); // the first line comes with the first part, the next a second later
      });
      first.once('exit', () => reject(new Error('the upload finished before it could be interrupted')));
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const omics = omicsClient(s);
    const open = await omics.send(new ListMultipartReadSetUploadsCommand({ sequenceStoreId: storeId }));
    assert.equal(open.uploads!.length, 1);
    const uploadId = open.uploads![0]!.uploadId!;
    const before = (await omics.send(new ListReadSetUploadPartsCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1' }))).parts!.length;
    assert.ok(before > 0, 'some parts were sent before the kill');

    const second = cli(args);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`resuming upload ${uploadId}`));
    const out = JSON.parse(second.stdout.trim().split('\n').pop()!);
    assert.equal(out.status, 'ACTIVE');
    assert.equal(out.etag.algorithm, 'FASTQ_MD5up');
    resumedId = out.readSetId;
    for (const [file, src] of [['SOURCE1', r1], ['SOURCE2', r2]] as const) {
      const got = cli(['download', '--sequence-store-id', storeId, '--id', out.readSetId, '--file', file, '--to', join(dir, `${file}.fq.gz`), '--concurrency', '3']);
      assert.equal(got.status, 0, got.stderr);
      assert.ok(readFileSync(join(dir, `${file}.fq.gz`)).equals(readFileSync(src)), file);
      const result = JSON.parse(got.stdout.trim());
      assert.equal(result.verified, 'CRC32', "checked against the CRC32 the server took as it stored the file");
      assert.equal(result.via, 's3', 'ranged GETs of the S3 view (the owner may read it)');
      assert.equal(result.pieces, Math.ceil(readFileSync(src).length / (8 << 20)));
    }
    // The S3 view's ranges and GetReadSet parts give the same bytes.
    const byParts = cli(['download', '--sequence-store-id', storeId, '--id', out.readSetId, '--file', 'SOURCE2', '--via', 'parts', '--to', join(dir, 'parts.fq.gz')]);
    assert.equal(byParts.status, 0, byParts.stderr);
    assert.equal(JSON.parse(byParts.stdout.trim()).via, 'parts');
    assert.equal(JSON.parse(byParts.stdout.trim()).verified, 'FASTQ_MD5up', 'by parts (no S3 view asked), the ETag is recomputed');
    assert.ok(readFileSync(join(dir, 'parts.fq.gz')).equals(readFileSync(r2)));
    // A caller the store's S3 access policy does not let read falls back to parts (auto), or fails (--via s3).
    const apArn = `arn:aws:s3:us-east-1:123456789012:accesspoint/123456789012-${storeId}`;
    const def = (await omics.send(new GetS3AccessPolicyCommand({ s3AccessPointArn: apArn }))).s3AccessPolicy!;
    const deny = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: { AWS: '123456789012' }, Action: 's3:GetObject', Resource: `${apArn}/object/*` }] };
    await omics.send(new PutS3AccessPolicyCommand({ s3AccessPointArn: apArn, s3AccessPolicy: JSON.stringify(deny) }));
    try {
      const fallback = cli(['download', '--sequence-store-id', storeId, '--id', out.readSetId, '--to', join(dir, 'fallback.fq.gz')]);
      assert.equal(fallback.status, 0, fallback.stderr);
      assert.match(fallback.stderr, /the S3 view is not readable here \(AccessDenied\): downloading GetReadSet parts/);
      assert.equal(JSON.parse(fallback.stdout.trim()).via, 'parts');
      assert.ok(readFileSync(join(dir, 'fallback.fq.gz')).equals(readFileSync(r1)));
      const forced = cli(['download', '--sequence-store-id', storeId, '--id', out.readSetId, '--via', 's3', '--to', join(dir, 'forced.fq.gz')]);
      assert.equal(forced.status, 1);
      assert.match(forced.stderr, /the S3 view refused the read: AccessDenied/);
    } finally {
      await omics.send(new PutS3AccessPolicyCommand({ s3AccessPointArn: apArn, s3AccessPolicy: def }));
    }
    // An interrupted download resumes from its piece record (here: the only piece is already there).
    const target = join(dir, 'SOURCE1.fq.gz');
    writeFileSync(`${target}.openomics-download`, JSON.stringify({ identity: `${storeId}/${out.readSetId}/source1/${readFileSync(r1).length}/104857600/s3:${8 << 20}`, parts: [1] }));
    const resumedDl = cli(['download', '--sequence-store-id', storeId, '--id', out.readSetId, '--to', target]);
    assert.equal(resumedDl.status, 0, resumedDl.stderr);
    assert.match(resumedDl.stderr, /resuming: 1 of 1 pieces already here/);
    assert.ok(readFileSync(target).equals(readFileSync(r1)));
    assert.equal(existsSync(`${target}.openomics-download`), false, 'the part record goes once the file is complete');
    // A piece that is wrong on disk (here: a resume record vouching for a damaged first piece) fails the check, and
    // the next run fetches the file whole.
    const damaged = Buffer.from(readFileSync(r1));
    damaged[1000] ^= 0xff;
    writeFileSync(target, damaged);
    writeFileSync(`${target}.openomics-download`, JSON.stringify({ identity: `${storeId}/${out.readSetId}/source1/${damaged.length}/104857600/s3:${8 << 20}`, parts: [1] }));
    const bad = cli(['download', '--sequence-store-id', storeId, '--id', out.readSetId, '--to', target]);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /the downloaded bytes do not match the read set file's CRC32 .*run the command again/);
    const again = cli(['download', '--sequence-store-id', storeId, '--id', out.readSetId, '--to', target]);
    assert.equal(again.status, 0, again.stderr);
    assert.ok(readFileSync(target).equals(readFileSync(r1)));
    const piped = cli(['download', '--sequence-store-id', storeId, '--id', out.readSetId, '--to', '-']);
    assert.equal(piped.status, 0);
    assert.equal(Buffer.from(piped.stdout, 'utf8').length > 0, true);
  });

  it('exits 2 with the reason when the read set fails, and 1 with a one-line error on bad arguments', () => {
    const bad = cli(['upload', '--sequence-store-id', storeId, '--file-type', 'UBAM', '--subject-id', 's', '--sample-id', 'm', '--name', 'not-bam', join(corpus, 'reads_R1.fastq.gz')]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.equal(JSON.parse(bad.stdout.trim()).status, 'UPLOAD_FAILED');
    const args = cli(['upload', '--sequence-store-id', storeId, '--file-type', 'BAM', '--subject-id', 's', '--sample-id', 'm', '--name', 'x', '--part-size', '200MiB', join(corpus, 'sample.bam')]);
    assert.equal(args.status, 1);
    assert.equal(args.stderr.trim().split('\n').length, 1, args.stderr);
    assert.match(args.stderr, /--part-size must be between/);
    const missing = cli(['upload', '--sequence-store-id', storeId]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /required option/);
  });

  it('imports a 250-row sample sheet in 3 jobs after refusing a sheet with bad rows (row numbers, nothing submitted)', async () => {
    const root = join(dir, 'import');
    execFileSync('mkdir', ['-p', root]);
    const rows = ['source1,source2,fileType,subjectId,sampleId,name,tags'];
    for (let i = 0; i < 250; i++) {
      const fq = `@r${i}/1\n${'ACGT'.repeat(5)}\n+\n${'I'.repeat(20)}\n`;
      writeFileSync(join(root, `s${i}_R1.fastq.gz`), gzipSync(fq));
      writeFileSync(join(root, `s${i}_R2.fastq.gz`), gzipSync(fq.replace('/1', '/2')));
      rows.push(`file://${root}/s${i}_R1.fastq.gz,file://${root}/s${i}_R2.fastq.gz,FASTQ,subject-${i % 10},sample-${i},run-${i},batch=b1;lane=${i % 4}`);
    }
    writeFileSync(join(dir, 'good.csv'), rows.join('\n') + '\n');
    const broken = [...rows.slice(0, 5), `file://${root}/s0_R1.fastq.gz,,BAM,s,m,x,`, `not-a-uri,,FASTQ,s,m,y,`, `file://${root}/s1_R1.fastq.gz,,FASTQ,,m,z,oops`];
    writeFileSync(join(dir, 'bad.csv'), broken.join('\n') + '\n');
    const bad = cli(['import', '--sequence-store-id', storeId, '--role-arn', 'arn:aws:iam::123456789012:role/Import', join(dir, 'bad.csv')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /row 6: a BAM row needs a referenceArn/);
    assert.match(bad.stderr, /row 7: source1 not-a-uri is not an s3:\/\/ or file:\/\/\/ URI/);
    assert.match(bad.stderr, /row 8: subjectId is empty/);
    assert.match(bad.stderr, /row 8: tag "oops" is not key=value/);
    assert.match(bad.stderr, /nothing was submitted/);
    const good = cli(['import', '--sequence-store-id', storeId, '--role-arn', 'arn:aws:iam::123456789012:role/Import', join(dir, 'good.csv')]);
    assert.equal(good.status, 0, good.stderr);
    const out = JSON.parse(good.stdout.trim().split('\n').pop()!);
    assert.equal(out.jobs.length, 3);
    assert.deepEqual(out.jobs.map((j: { finished: number }) => j.finished), [100, 100, 50]);
    assert.ok(out.jobs.every((j: { status: string }) => j.status === 'COMPLETED'));
  });

  it('lists, presigns, shows what is running and exports, in tables or JSON', async () => {
    // With no AWS credentials configured, the CLI uses the local server's credentials file (profile openomics).
    const bare = spawnSync(process.execPath, [CLI, 'ls', '--json'], {
      env: { PATH: process.env['PATH'], HOME: dir, AWS_ENDPOINT_URL: s.url, OPENOMICS_DATA_DIR: s.dataDir, AWS_CONFIG_FILE: '/dev/null' },
      encoding: 'utf8',
    });
    assert.equal(bare.status, 0, bare.stderr);
    const stores = JSON.parse(bare.stdout);
    assert.ok(stores.some((x: { kind: string; id: string }) => x.kind === 'sequenceStore' && x.id === storeId));
    const table = cli(['ls']).stdout;
    assert.match(table.split('\n')[0]!, /^KIND\s+ID\s+NAME\s+CREATED$/);
    const sets = JSON.parse(cli(['ls', '--sequence-store-id', storeId, '--sample-id', 'sample-7', '--json']).stdout);
    assert.equal(sets.length, 1);
    assert.equal(sets[0].status, 'ACTIVE');
    const url = cli(['presign', '--sequence-store-id', storeId, '--id', resumedId, '--expires-in', '120']).stdout.trim();
    const got = await fetch(url);
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(readFileSync(join(dir, 'big_R1.fastq.gz'))));
    const omics = omicsClient(s);
    const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'pending' }));
    const status = JSON.parse(cli(['status', '--sequence-store-id', storeId, '--json']).stdout);
    assert.ok(status.some((r: { kind: string; id: string }) => r.kind === 'upload' && r.id === uploadId));
    execFileSync('mkdir', ['-p', join(dir, 'export')]);
    const ex = cli(['export', '--sequence-store-id', storeId, '--role-arn', 'arn:aws:iam::123456789012:role/Export', '--destination', `file://${join(dir, 'export')}/`, resumedId]);
    assert.equal(ex.status, 0, ex.stderr);
    assert.ok(readFileSync(join(dir, 'export', resumedId, 'resumable_source2.fastq.gz')).equals(readFileSync(join(dir, 'big_R2.fastq.gz'))));
  });

  it('draws a progress bar that updates on a terminal (tmux)', async () => {
    const session = `oo${process.pid}`;
    const big = join(dir, 'big.fastq.gz');
    // ~6 MB of FASTQ, sent in 64 KiB parts one at a time: long enough to see the bar move.
    const rec = (i: number) => `@r${i}\n${'ACGTTGCA'.repeat(12)}\n+\n${'IIIIHHHH'.repeat(12)}\n`;
    writeFileSync(big, gzipSync(Array.from({ length: 60_000 }, (_, i) => rec(i)).join(''), { level: 0 }));
    const envs = Object.entries({ ...env }).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    const cmd = ['env', ...envs, process.execPath, CLI, 'upload', '--sequence-store-id', storeId, '--file-type', 'FASTQ', '--subject-id', 's', '--sample-id', 'tty',
      '--name', 'tty', '--part-size', '64KiB', '--concurrency', '1', big].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '20', `${cmd}; sleep 30`]);
    try {
      const snaps: string[] = [];
      for (let i = 0; i < 40 && snaps.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 150));
        const pane = execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
        const bar = /big\.fastq\.gz \[[#.]{30}\] (\d+)% /.exec(pane);
        if (bar && bar[1] !== '100' && !snaps.includes(bar[0])) snaps.push(bar[0]);
      }
      assert.ok(snaps.length >= 2, `the bar rendered and changed: ${JSON.stringify(snaps)}`);
      assert.ok(!/^progress \d/m.test(execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' })), 'no plain progress lines on a terminal');
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
  });
});
