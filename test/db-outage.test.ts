// The metadata database restarting or hanging under a running server, on a PostgreSQL cluster of the test's
// own (never the shared one): the process rides through a restart (idle connections dropped by the server
// must not end it), requests during the outage answer a retryable 503, the readiness probe answers 503
// promptly while the database hangs, and an upload completed before the outage is ingested after it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateSequenceStoreCommand,
  ListSequenceStoresCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  CompleteMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
} from '@aws-sdk/client-omics';
import { spawnServer, type SpawnedServer } from './helpers/server.js';
import { startPrivatePg, type PrivatePg } from './helpers/private-pg.js';
import { omicsClient, until } from './helpers/omics.js';
import { tinyCorpus } from './helpers/corpus.js';

describe('a PostgreSQL restart and hang under a running server', () => {
  let pg: PrivatePg;
  let s: SpawnedServer;

  before(async () => {
    pg = await startPrivatePg();
    s = await spawnServer({ backend: 'sqlite', env: { OPENOMICS_DATABASE_URL: pg.url, OPENOMICS_JOB_LEASE_SECONDS: '2' } });
    s.child.once('exit', (code, signal) => {
      if (!stopping) console.log(`the server exited (${code ?? signal}); its last lines:\n${s.logs.slice(-15).join('\n')}`);
    });
  });
  let stopping = false;
  after(async () => {
    stopping = true;
    pg?.freeze(false);
    await s?.stop();
    pg?.destroy();
  });

  const ready = async () => {
    const t0 = Date.now();
    const r = await fetch(`${s.url}/_openomics/ready`, { signal: AbortSignal.timeout(10_000) });
    return { status: r.status, ms: Date.now() - t0 };
  };

  it('rides through a restart: 503 InternalServerException during it, then the work resumes', async () => {
    const omics = omicsClient(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'pg-restart' }))).id!;
    const r1 = readFileSync(join(tinyCorpus(), 'reads_R1.fastq.gz'));
    const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'r' }));
    const { checksum } = await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: 1, payload: r1 }));

    pg.stop();
    try {
      assert.equal((await ready()).status, 503, 'not ready without its database');
      try {
        await omics.send(new ListSequenceStoresCommand({}));
        assert.fail('a request without the database succeeded');
      } catch (e) {
        const err = e as Error & { $metadata?: { httpStatusCode?: number } };
        assert.equal(err.name, 'InternalServerException', err.message);
        assert.equal(err.$metadata?.httpStatusCode, 503, 'retryable');
      }
    } finally {
      pg.start();
    }
    assert.equal(s.child.exitCode, null, `the server exited:\n${s.logs.slice(-10).join('\n')}`);
    await until('ready again', ready, (r) => r.status === 200, 30_000, 200);
    const { readSetId } = await omics.send(
      new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId, parts: [{ partNumber: 1, partSource: 'SOURCE1', checksum: checksum! }] }),
    );
    pg.restart(); // while the ingest job may be running: it resumes or retries
    const m = await until('ingest after the restart', () => omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId })), (x) => x.status !== 'PROCESSING_UPLOAD', 60_000, 200);
    assert.equal(m.status, 'ACTIVE', m.statusMessage);
    assert.equal(s.child.exitCode, null);
    assert.ok(s.logs.some((l) => /database connection lost/.test(l)), 'the dropped connections were noticed and logged');
    assert.ok(!s.logs.some((l) => /uncaught|Unhandled 'error'/i.test(l)), 'no crash was logged');
  });

  it('answers the readiness probe with 503 within seconds while the database hangs', async () => {
    pg.freeze(true);
    try {
      const r = await ready();
      assert.equal(r.status, 503);
      assert.ok(r.ms < 5_000, `took ${r.ms} ms`);
    } finally {
      pg.freeze(false);
    }
    await until('ready again', ready, (r) => r.status === 200, 30_000, 200);
  });
});
