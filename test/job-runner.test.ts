// The job runner's lease under a paused worker: worker A claims a job and then stops renewing (a paused
// process, a database it cannot reach); once the lease runs out worker B takes the job over and publishes.
// A's heartbeat must notice (its signal aborts), and A's publishing write must be refused by the fencing
// check, so the result is published once, by B. Also: give-up handlers end what an exhausted job made.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openMetadataStore } from '../src/db/open.js';
import type { MetadataStore } from '../src/db/metadata-store.js';
import type { JobRecords } from '../src/db/job-records.js';
import { JobRunner, LeaseLostError, type JobHandler } from '../src/jobs/runner.js';
import { readSetRecord } from './helpers/records.js';

const STORE = '5000000002';
const log = pino({ level: 'silent' });

function job(id: string, kind: string) {
  return { id, kind, accountId: '111111111111', storeId: STORE, status: 'SUBMITTED' as const, statusMessage: null, payload: {}, creationTime: Date.now(), completionTime: null, leaseOwner: null, leaseExpires: null, attempts: 0 };
}

describe('job runner leases and give-up', () => {
  let dir: string;
  let db: MetadataStore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oo-runner-'));
    db = await openMetadataStore({ kind: 'sqlite', file: join(dir, 'm.sqlite') });
  });
  after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a worker paused past its lease stops, and only the new holder publishes', async () => {
    await db.readSets.insert(readSetRecord({ id: '6100000001', sequenceStoreId: STORE, status: 'PROCESSING_UPLOAD' }));
    await db.jobs.insert(job('7100000001', 'Publish'));
    let paused = false;
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    // Worker A's view of the jobs table: while "paused", its renewals never answer.
    const pausable: JobRecords = Object.assign(Object.create(db.jobs) as JobRecords, {
      update: (...args: Parameters<JobRecords['update']>) => (paused ? resumed.then(() => db.jobs.update(...args)) : db.jobs.update(...args)),
    });
    const seen: { signalAborted?: boolean; publishError?: unknown; bPublished?: boolean } = {};
    let bDone!: () => void;
    const bFinished = new Promise<void>((r) => (bDone = r));
    const publish = (who: string): JobHandler => async (j, ctx) => {
      await ctx.fenced((tx) => tx.readSets.update(STORE, '6100000001', { status: 'ACTIVE', statusMessage: who, updateTime: Date.now() }, ['PROCESSING_UPLOAD']));
      return { status: 'COMPLETED', statusMessage: `published by ${who}`, payload: j.payload };
    };
    const aHandler: JobHandler = async (j, ctx) => {
      paused = true;
      await bFinished; // "paused" until the other worker has taken over and published
      // The heartbeat must notice within a bounded time (it beats every third of the 300 ms lease).
      for (let waited = 0; !ctx.signal.aborted && waited < 1_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      seen.signalAborted = ctx.signal.aborted;
      paused = false;
      resume();
      try {
        return await publish('A')(j, ctx);
      } catch (e) {
        seen.publishError = e;
        throw e;
      }
    };
    const a = new JobRunner({ jobs: pausable, atomically: (fn) => db.atomically(fn), kinds: { Publish: { run: aHandler } }, log, leaseMs: 300, pollMs: 20, concurrency: 1 });
    const b = new JobRunner({
      jobs: db.jobs,
      atomically: (fn) => db.atomically(fn),
      kinds: {
        Publish: {
          run: async (j, ctx) => {
            const out = await publish('B')(j, ctx);
            seen.bPublished = true;
            setTimeout(bDone, 50);
            return out;
          },
        },
      },
      log,
      leaseMs: 300,
      pollMs: 20,
      concurrency: 1,
    });
    a.start();
    while (!paused) await new Promise((r) => setTimeout(r, 10));
    b.start();
    await bFinished;
    await new Promise((r) => setTimeout(r, 200));
    await Promise.all([a.stop(), b.stop()]);
    assert.equal(seen.bPublished, true, 'the new holder ran the job');
    assert.equal(seen.signalAborted, true, "the paused worker's heartbeat noticed the lost lease");
    assert.ok(seen.publishError instanceof LeaseLostError, `the paused worker's publish was refused: ${String(seen.publishError)}`);
    const rs = (await db.readSets.get(STORE, '6100000001'))!;
    assert.equal(rs.status, 'ACTIVE');
    assert.equal(rs.statusMessage, 'B');
    const final = (await db.jobs.getById('7100000001'))!;
    assert.equal(final.status, 'COMPLETED');
    assert.equal(final.statusMessage, 'published by B');
  });

  it('gives up through the kind’s handler once the attempts are spent, storage faults after more attempts', async () => {
    await db.jobs.insert(job('7100000002', 'Flaky'));
    await db.jobs.insert(job('7100000003', 'Outage'));
    const attempts = { Flaky: 0, Outage: 0 };
    const gaveUp: Record<string, string> = {};
    const r = new JobRunner({
      jobs: db.jobs,
      atomically: (fn) => db.atomically(fn),
      kinds: {
        Flaky: {
          run: async () => {
            attempts.Flaky++;
            throw new Error('a bug');
          },
          giveUp: async (j, reason) => ((gaveUp['Flaky'] = reason), { status: 'FAILED', statusMessage: reason, payload: j.payload }),
        },
        Outage: {
          run: async () => {
            attempts.Outage++;
            throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
          },
          giveUp: async (j, reason) => ((gaveUp['Outage'] = reason), { status: 'FAILED', statusMessage: reason, payload: j.payload }),
        },
      },
      isTransient: (e) => (e as { code?: string }).code === 'ECONNREFUSED',
      describeError: (e) => ((e as { code?: string }).code ? 'the storage was unavailable' : 'internal error'),
      log,
      leaseMs: 100,
      pollMs: 10,
      maxAttempts: 2,
      maxStorageAttempts: 4,
      concurrency: 2,
      backoffMs: () => 0,
    });
    r.start();
    const t0 = Date.now();
    while ((!gaveUp['Flaky'] || !gaveUp['Outage']) && Date.now() - t0 < 20_000) await new Promise((res) => setTimeout(res, 20));
    await r.stop();
    assert.equal(attempts.Flaky, 2);
    assert.equal(attempts.Outage, 4);
    assert.match(gaveUp['Flaky']!, /gave up: it failed 2 times; the last time: internal error/);
    assert.match(gaveUp['Outage']!, /gave up: it failed 4 times; the last time: the storage was unavailable/);
    assert.equal((await db.jobs.getById('7100000002'))!.status, 'FAILED');
  });
});

describe('stalled jobs are visible', () => {
  it('a job no worker runs shows in openomics_jobs_stalled once three leases have passed', async () => {
    const { spawnServer } = await import('./helpers/server.js');
    const { omicsClient, until } = await import('./helpers/omics.js');
    const { CreateSequenceStoreCommand, CreateMultipartReadSetUploadCommand, UploadReadSetPartCommand, CompleteMultipartReadSetUploadCommand } = await import('@aws-sdk/client-omics');
    // A server that runs no jobs, and no worker anywhere: the ingest job waits.
    const s = await spawnServer({ env: { OPENOMICS_WORKERS: '0', OPENOMICS_JOB_LEASE_SECONDS: '1' } });
    try {
      const omics = omicsClient(s);
      const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'stalled' }))).id!;
      const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'r' }));
      const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: Buffer.from('@r1\nACGT\n+\nIIII\n') }));
      await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum: checksum! }] }));
      const metric = async () => /openomics_jobs_stalled\{kind="ReadSetUploadIngest"\} (\d+)/.exec(await (await fetch(`${s.url}/_openomics/metrics`)).text())?.[1];
      assert.equal(await metric(), undefined, 'not stalled yet');
      assert.equal(await until('stalled metric', metric, (v) => v === '1', 10_000, 250), '1');
      const all = await (await fetch(`${s.url}/_openomics/metrics`)).text();
      assert.match(all, /openomics_jobs_queued\{kind="ReadSetUploadIngest"\} 1/);
      assert.match(all, /openomics_jobs_oldest_age_seconds\{kind="ReadSetUploadIngest"\} [0-9.]+/);
      assert.match(all, /openomics_read_buffers_idle_bytes \d+/);
    } finally {
      await s.stop();
    }
  });
});
