// The chaos suite: two API servers (OPENOMICS_WORKERS=0) and two `openomics worker` processes on a PostgreSQL
// cluster of the test's own and an S3 bucket (moto) behind a fault proxy, all sharing one master key. Each cycle
// sends a stream of work (direct uploads, an import from a connected bucket, an export) while one fault strikes:
// a worker or an API server SIGKILLed and restarted, a worker SIGSTOPped past its lease, PostgreSQL restarted,
// the bucket's connections reset or stalled. After each cycle: every acknowledged upload is an ACTIVE read set
// with the bytes that were sent, each import source made exactly one read set, exports are byte-identical,
// nothing stays non-terminal, no file was blamed for a fault, and no process logged an unhandled error. The last
// cycle moves the shared clock past the archive age: the workers' sweeps race to archive everything, activation
// brings it back, and the bytes are still intact.
// Short in CI (CHAOS_CYCLES=6, one per fault kind); `CHAOS_CYCLES=60 npm test -- chaos` is the long run.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import {
  OmicsClient,
  CreateSequenceStoreCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  CompleteMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  GetReadSetCommand,
  StartReadSetImportJobCommand,
  GetReadSetImportJobCommand,
  StartReadSetExportJobCommand,
  GetReadSetExportJobCommand,
  StartReadSetActivationJobCommand,
  GetReadSetActivationJobCommand,
  ListReadSetsCommand,
  type ReadSetListItem,
} from '@aws-sdk/client-omics';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { startMoto, MOTO_CREDENTIALS, type Moto } from './helpers/moto.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { startPrivatePg, type PrivatePg } from './helpers/private-pg.js';
import { tinyCorpus } from './helpers/corpus.js';
import { until } from './helpers/omics.js';

const CYCLES = Number(process.env['CHAOS_CYCLES'] ?? 6);
const IMPORT_ROLE = 'arn:aws:iam::123456789012:role/OmicsImport';
const EXPORT_ROLE = 'arn:aws:iam::123456789012:role/OmicsExport';
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const CRASH = /uncaught|Unhandled 'error'|unhandled promise rejection/i;
const BLAMES_FILE = /malformed|corrupt|truncated/i;

interface Worker {
  child: ChildProcess;
  logs: string[];
  /** Its health endpoint, once it said where (OPENOMICS_WORKER_PORT=0: a free port). */
  health?: string;
}

describe(`chaos: ${CYCLES} cycles of work under faults (2 API servers, 2 workers, PostgreSQL, S3)`, () => {
  let pg: PrivatePg;
  let moto: Moto;
  let proxy: FaultProxy;
  let env: Record<string, string>;
  const servers: SpawnedServer[] = [];
  const workers: Worker[] = [];
  const dataDirs: string[] = [];
  const crashLogs: string[] = [];
  let clockFile: string;
  let storeId: string;
  let files: Record<string, Buffer>;
  /** Every read set the clients were told exists, with the bytes of each source. */
  const acknowledged = new Map<string, { source1: Buffer; source2?: Buffer }>();
  let stopping = false;

  const client = (s: SpawnedServer) =>
    new OmicsClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, disableHostPrefix: true, maxAttempts: 6 });
  const anyServer = () => servers[Math.floor(Math.random() * servers.length)]!;

  const watch = (what: string, lines: string[]) => (line: string) => {
    lines.push(line);
    if (lines.length > 400) lines.shift();
    if (CRASH.test(line)) crashLogs.push(`${what}: ${line.slice(0, 500)}`);
  };

  async function startApi(i: number): Promise<SpawnedServer> {
    const s = await spawnServer({ dataDir: dataDirs[i]!, env: { ...env, OPENOMICS_WORKERS: '0' } });
    const lines: string[] = [];
    createInterface({ input: s.child.stdout! }).on('line', watch(`api ${i}`, lines));
    createInterface({ input: s.child.stderr! }).on('line', watch(`api ${i}`, lines));
    return s;
  }

  function startWorker(i: number): Worker {
    const logs: string[] = [];
    const child = spawn(process.execPath, [CLI, 'worker'], {
      env: { ...process.env, ...env, OPENOMICS_DATA_DIR: dataDirs[2 + i]!, OPENOMICS_WORKERS: '2', OPENOMICS_WORKER_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w: Worker = { child, logs };
    const watcher = watch(`worker ${i}`, logs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      watcher(line);
      const health = /"health":"([^"]+)"/.exec(line)?.[1];
      if (health) w.health = health;
    });
    createInterface({ input: child.stderr! }).on('line', watch(`worker ${i}`, logs));
    child.once('exit', (code, signal) => {
      if (!stopping && signal !== 'SIGKILL') crashLogs.push(`worker ${i} exited by itself (${code ?? signal}): ${logs.slice(-5).join(' | ')}`);
    });
    return w;
  }

  async function kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  before(async () => {
    const corpus = tinyCorpus();
    files = Object.fromEntries(['reads_R1.fastq.gz', 'reads_R2.fastq.gz', 'sample.unaligned.bam'].map((f) => [f, readFileSync(join(corpus, f))]));
    pg = await startPrivatePg();
    moto = await startMoto();
    proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(moto.endpoint).port) });
    const s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    for (const b of ['blobs', 'lab-data', 'lab-results']) await s3.send(new CreateBucketCommand({ Bucket: b }));
    for (const [f, body] of Object.entries(files)) await s3.send(new PutObjectCommand({ Bucket: 'lab-data', Key: `runs/${f}`, Body: body }));
    for (let i = 0; i < 4; i++) dataDirs.push(mkdtempSync(join(tmpdir(), `openomics-chaos-${i}-`)));
    clockFile = join(dataDirs[0]!, '..', `openomics-chaos-clock-${randomBytes(4).toString('hex')}`);
    writeFileSync(clockFile, '0');
    env = {
      OPENOMICS_DATABASE_URL: pg.url,
      OPENOMICS_MASTER_KEY: randomBytes(32).toString('base64'),
      OPENOMICS_BLOB_S3_BUCKET: 'blobs',
      OPENOMICS_BLOB_S3_ENDPOINT: proxy.url,
      OPENOMICS_BLOB_S3_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      OPENOMICS_BLOB_S3_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      OPENOMICS_JOB_LEASE_SECONDS: '2',
      OPENOMICS_OBJECT_STORE_IDLE_TIMEOUT_SECONDS: '2',
      OPENOMICS_ARCHIVE_SWEEP_SECONDS: '1',
      OPENOMICS_CLOCK_OFFSET_FILE: clockFile,
    };
    servers.push(await startApi(0), await startApi(1));
    workers.push(startWorker(0), startWorker(1));
    const admin = (...args: string[]) => {
      const r = spawnSync(process.execPath, [CLI, 'admin', ...args], { env: { ...process.env, ...env, OPENOMICS_DATA_DIR: dataDirs[0]! }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    const keys = ['--access-key-id', MOTO_CREDENTIALS.accessKeyId, '--secret-access-key', MOTO_CREDENTIALS.secretAccessKey];
    admin('connection', 'add', 'lab', '--bucket', 'lab-data', '--region', 'us-east-1', '--endpoint', proxy.url, '--job-role-arn', IMPORT_ROLE, ...keys);
    admin('connection', 'add', 'results', '--bucket', 'lab-results', '--region', 'us-east-1', '--endpoint', proxy.url, '--job-role-arn', EXPORT_ROLE, ...keys);
    storeId = (await client(servers[0]!).send(new CreateSequenceStoreCommand({ name: 'chaos' }))).id!;
  });

  after(async () => {
    stopping = true;
    pg?.freeze(false);
    proxy?.heal();
    for (const w of workers) await kill(w.child);
    for (const s of servers) await s.kill();
    await proxy?.close();
    await moto?.stop();
    pg?.destroy();
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
    rmSync(clockFile, { force: true });
  });

  /**
   * A direct upload as a careful user's script makes it: each call retried (on any server) until it answers,
   * with the same upload id and client token, so a Complete whose answer was lost returns the same read set.
   * Acknowledged once Complete answered.
   */
  async function upload(kind: 'pair' | 'ubam'): Promise<void> {
    const sources = kind === 'pair' ? { source1: files['reads_R1.fastq.gz']!, source2: files['reads_R2.fastq.gz']! } : { source1: files['sample.unaligned.bam']! };
    const clientToken = randomBytes(8).toString('hex');
    const { uploadId } = await retrying(() =>
      client(anyServer()).send(
        new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: kind === 'pair' ? 'FASTQ' : 'UBAM', subjectId: 's', sampleId: 'm', name: kind, clientToken }),
      ),
    );
    const parts: { partNumber: number; partSource: 'SOURCE1' | 'SOURCE2'; checksum: string }[] = [];
    for (const [source, body] of Object.entries(sources) as ['source1' | 'source2', Buffer][]) {
      const partSource = source === 'source1' ? ('SOURCE1' as const) : ('SOURCE2' as const);
      const { checksum } = await retrying(() => client(anyServer()).send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource, partNumber: 1, payload: body })));
      parts.push({ partNumber: 1, partSource, checksum: checksum! });
    }
    const { readSetId } = await retrying(() => client(anyServer()).send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts })));
    acknowledged.set(readSetId!, sources);
  }

  async function retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (attempt >= 10) throw e;
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  const FAULTS: [string, () => Promise<void>][] = [
    ['SIGKILL a worker, restart it', async () => {
      const i = Math.floor(Math.random() * 2);
      await kill(workers[i]!.child);
      workers[i] = startWorker(i);
    }],
    ['SIGSTOP a worker past its lease, then SIGCONT', async () => {
      const w = workers[Math.floor(Math.random() * 2)]!;
      w.child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 5_000));
      w.child.kill('SIGCONT');
    }],
    ['SIGKILL an API server, restart it', async () => {
      const i = Math.floor(Math.random() * 2);
      const exited = new Promise((r) => servers[i]!.child.once('exit', r));
      servers[i]!.child.kill('SIGKILL');
      await exited;
      servers[i] = await startApi(i);
    }],
    ['restart PostgreSQL', async () => {
      pg.restart();
    }],
    ['reset the bucket connections', async () => {
      proxy.resetAfter(Math.floor(Math.random() * 2_000_000));
      await new Promise((r) => setTimeout(r, 3_000));
      proxy.heal();
    }],
    ['stall the bucket past the idle timeout', async () => {
      proxy.stall();
      await new Promise((r) => setTimeout(r, 4_000));
      proxy.heal();
    }],
  ];

  async function allReadSets(): Promise<ReadSetListItem[]> {
    const out: ReadSetListItem[] = [];
    let nextToken: string | undefined;
    do {
      const page = await retrying(() => client(anyServer()).send(new ListReadSetsCommand({ sequenceStoreId: storeId, nextToken })));
      out.push(...page.readSets!);
      nextToken = page.nextToken;
    } while (nextToken);
    return out;
  }

  async function readBack(id: string, file: 'SOURCE1' | 'SOURCE2'): Promise<Buffer> {
    return retrying(async () => Buffer.from(await (await client(anyServer()).send(new GetReadSetCommand({ sequenceStoreId: storeId, id, file, partNumber: 1 }))).payload!.transformToByteArray()));
  }

  it('loses nothing, duplicates nothing, leaves nothing stuck', async () => {
    const survived: string[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const [faultName, fault] = FAULTS[cycle % FAULTS.length]!;
      // The work of this cycle, in flight while the fault strikes.
      const importToken = randomBytes(8).toString('hex');
      const importJob = retrying(() =>
        client(anyServer()).send(
          new StartReadSetImportJobCommand({
            sequenceStoreId: storeId,
            roleArn: IMPORT_ROLE,
            clientToken: importToken,
            sources: [
              { sourceFileType: 'FASTQ', subjectId: 's', sampleId: `imp-${cycle}`, name: `imported-${cycle}`, sourceFiles: { source1: 's3://lab-data/runs/reads_R1.fastq.gz', source2: 's3://lab-data/runs/reads_R2.fastq.gz' } },
              { sourceFileType: 'UBAM', subjectId: 's', sampleId: `imp-${cycle}`, name: `imported-u-${cycle}`, sourceFiles: { source1: 's3://lab-data/runs/sample.unaligned.bam' } },
            ],
          }),
        ),
      );
      const work = Promise.all([upload('pair'), upload('ubam'), importJob]);
      await new Promise((r) => setTimeout(r, 300));
      await fault();
      const [, , job] = await work;

      // Everything reaches a terminal state.
      const imported = await until(
        `import of cycle ${cycle}`,
        () => retrying(() => client(anyServer()).send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id }))),
        (j) => !['SUBMITTED', 'IN_PROGRESS'].includes(j.status!),
        180_000,
        500,
      );
      assert.equal(imported.status, 'COMPLETED', `cycle ${cycle} (${faultName}): ${JSON.stringify(imported.sources)}`);
      for (const src of imported.sources!) acknowledged.set(src.readSetId!, src.sourceFiles!.source2 ? { source1: files['reads_R1.fastq.gz']!, source2: files['reads_R2.fastq.gz']! } : { source1: files['sample.unaligned.bam']! });
      const all = await until(
        `read sets of cycle ${cycle} terminal`,
        () => allReadSets(),
        (l) => l.every((r) => r.status !== 'PROCESSING_UPLOAD') && [...acknowledged.keys()].every((id) => l.some((r) => r.id === id)),
        180_000,
        500,
      );
      // Nothing lost or half-made: each acknowledged read set is ACTIVE with the bytes sent.
      for (const [id, sources] of acknowledged) {
        const rs = all.find((r) => r.id === id)!;
        if (rs.status !== 'ACTIVE') {
          const m = await retrying(() => client(anyServer()).send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id })));
          assert.ok(!BLAMES_FILE.test(m.statusMessage ?? ''), `cycle ${cycle} (${faultName}): a fault was blamed on the file: ${m.statusMessage}`);
          assert.fail(`cycle ${cycle} (${faultName}): read set ${id} is ${m.status}: ${m.statusMessage}`);
        }
      }
      for (const id of [...acknowledged.keys()].slice(-4)) {
        const sources = acknowledged.get(id)!;
        assert.equal(md5(await readBack(id, 'SOURCE1')), md5(sources.source1), `cycle ${cycle}: ${id} source1`);
        if (sources.source2) assert.equal(md5(await readBack(id, 'SOURCE2')), md5(sources.source2), `cycle ${cycle}: ${id} source2`);
      }
      // Nothing duplicated: exactly the acknowledged read sets exist.
      assert.deepEqual(all.map((r) => r.id).sort(), [...acknowledged.keys()].sort(), `cycle ${cycle} (${faultName}): read sets appeared that no client was told of`);
      assert.deepEqual(crashLogs, [], `cycle ${cycle} (${faultName}): a process logged an unhandled error`);
      survived.push(faultName);
    }

    // An export of everything, byte-identical in the bucket.
    const ids = [...acknowledged.keys()].slice(0, 10);
    const ex = await retrying(() => client(anyServer()).send(new StartReadSetExportJobCommand({ sequenceStoreId: storeId, roleArn: EXPORT_ROLE, destination: 's3://lab-results/chaos/', sources: ids.map((readSetId) => ({ readSetId })) })));
    proxy.resetAfter(500_000);
    const exported = await until('export', () => retrying(() => client(anyServer()).send(new GetReadSetExportJobCommand({ sequenceStoreId: storeId, id: ex.id }))), (j) => !['SUBMITTED', 'IN_PROGRESS'].includes(j.status!), 180_000, 500);
    proxy.heal();
    assert.equal(exported.status, 'COMPLETED', JSON.stringify(exported.readSets));
    const direct = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
    const meta = await retrying(() => client(anyServer()).send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: ids[0]! })));
    const got = await direct.send(new GetObjectCommand({ Bucket: 'lab-results', Key: `chaos/${ids[0]}/${meta.files!.source1!.s3Access!.s3Uri!.split('/').pop()}` }));
    assert.equal(md5(Buffer.from(await got.Body!.transformToByteArray())), md5(acknowledged.get(ids[0]!)!.source1));

    // The clock passes the archive age: both workers' sweeps race; a worker is killed meanwhile.
    writeFileSync(clockFile, String(31 * 24 * 3600 * 1000));
    await kill(workers[0]!.child);
    workers[0] = startWorker(0);
    const archived = await until('archival', () => allReadSets(), (l) => l.every((r) => r.status === 'ARCHIVED'), 120_000, 500);
    assert.equal(archived.length, acknowledged.size);
    const all = [...acknowledged.keys()];
    const jobs = [];
    for (let i = 0; i < all.length; i += 20) {
      jobs.push(await retrying(() => client(anyServer()).send(new StartReadSetActivationJobCommand({ sequenceStoreId: storeId, sources: all.slice(i, i + 20).map((readSetId) => ({ readSetId })) }))));
    }
    for (const j of jobs) {
      const done = await until('activation', () => retrying(() => client(anyServer()).send(new GetReadSetActivationJobCommand({ sequenceStoreId: storeId, id: j.id }))), (x) => !['SUBMITTED', 'IN_PROGRESS'].includes(x.status!), 120_000, 500);
      assert.equal(done.status, 'COMPLETED', JSON.stringify(done.sources));
    }
    writeFileSync(clockFile, '0'); // back to now: nothing is idle any more
    for (const [id, sources] of acknowledged) assert.equal(md5(await readBack(id, 'SOURCE1')), md5(sources.source1), `after archive and activation: ${id}`);
    assert.deepEqual(crashLogs, []);
    for (const w of workers) {
      const health = await until('worker health port', async () => w.health, (h) => h !== undefined, 10_000);
      assert.equal((await fetch(health!)).status, 200, 'a worker answers its readiness probe');
      assert.match(await (await fetch(health!.replace('/ready', '/metrics'))).text(), /process_cpu_seconds_total/);
    }
    const byKind = [...new Set(survived)].map((k) => `${survived.filter((x) => x === k).length}x ${k}`);
    console.log(`chaos: ${survived.length} cycles survived (${byKind.join('; ')}), ${acknowledged.size} read sets intact through archive and activation`);
  });
});
