// A full disk under a running server (its data dir on a small tmpfs the test mounts): writes answer a clear,
// retryable 503 at once (a refused part upload never leaves its client waiting), readiness says why it is
// not ready, AbortMultipartReadSetUpload still works so space can be freed through the API, and once space
// is free the server takes uploads again. Needs root for the mount (CI runs as root; elsewhere it fails with
// the reason rather than skipping).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSequenceStoreCommand,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  AbortMultipartReadSetUploadCommand,
} from '@aws-sdk/client-omics';
import { spawnServer, type SpawnedServer } from './helpers/server.js';
import { omicsClient, until } from './helpers/omics.js';

describe('a full disk', () => {
  let mount: string;
  let s: SpawnedServer;
  before(async () => {
    mount = mkdtempSync(join(tmpdir(), 'openomics-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', mount]);
    s = await spawnServer({ dataDir: join(mount, 'data'), env: { OPENOMICS_MIN_FREE_DISK_MB: '4' } });
  });
  after(async () => {
    await s?.stop();
    try {
      execFileSync('umount', [mount]);
    } catch {
      // not mounted
    }
    rmSync(mount, { recursive: true, force: true });
  });

  it('answers 503 at once when full, reports it on /ready, lets Abort free the space, then works again', async () => {
    try {
      await fillAndRecover();
    } catch (e) {
      console.log(`the server's last lines:\n${s.logs.slice(-12).join('\n')}`);
      throw e;
    }
  });

  async function fillAndRecover() {
    const omics = omicsClient(s);
    const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'full' }))).id!;
    const { uploadId } = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'big' }));
    const part = randomBytes(6 << 20); // incompressible
    let refused: (Error & { $metadata?: { httpStatusCode?: number } }) | undefined;
    let refusedAfterMs = 0;
    for (let n = 1; n <= 20 && !refused; n++) {
      const t0 = Date.now();
      try {
        await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId, partSource: 'SOURCE1', partNumber: n, payload: part }));
      } catch (e) {
        refused = e as typeof refused;
        refusedAfterMs = Date.now() - t0;
      }
    }
    assert.ok(refused, 'the disk filled up');
    assert.equal(refused.name, 'InternalServerException', refused.message);
    assert.equal(refused.$metadata?.httpStatusCode, 503, 'a retryable answer');
    assert.match(refused.message, /storage|disk|space/i);
    assert.ok(refusedAfterMs < 5_000, `the refused part was answered in ${refusedAfterMs} ms`);
    const ready = await fetch(`${s.url}/_openomics/ready`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /disk/i);

    await omics.send(new AbortMultipartReadSetUploadCommand({ sequenceStoreId: storeId, uploadId }));
    await until('ready again', async () => (await fetch(`${s.url}/_openomics/ready`)).status, (st) => st === 200, 10_000);
    const again = await omics.send(new CreateMultipartReadSetUploadCommand({ sequenceStoreId: storeId, sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'm', name: 'after' }));
    await omics.send(new UploadReadSetPartCommand({ sequenceStoreId: storeId, uploadId: again.uploadId, partSource: 'SOURCE1', partNumber: 1, payload: part }));
    assert.equal(s.child.exitCode, null);
  }
});
