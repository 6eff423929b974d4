// `openomics serve --processes 2`: one port, two server processes, and the lookups they cache (stores, read sets,
// identities) invalidated in every process as soon as any of them commits a change — on SQLite and PostgreSQL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  BatchDeleteReadSetCommand,
  CreateSequenceStoreCommand,
  GetS3AccessPolicyCommand,
  GetReadSetImportJobCommand,
  GetReadSetMetadataCommand,
  GetSequenceStoreCommand,
  PutS3AccessPolicyCommand,
  StartReadSetImportJobCommand,
} from '@aws-sdk/client-omics';
import { BACKENDS, CLI, spawnServer } from './helpers/server.js';
import { omicsClient, until, jobFinished } from './helpers/omics.js';
import { tinyCorpus } from './helpers/corpus.js';

/** One GET on a connection of its own (the cluster hands connections, not requests, to processes). */
function getOnce(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
    }).on('error', reject);
  });
}

const childPids = (pid: number) =>
  execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map(Number);

describe('openomics serve --processes 2', () => {
  for (const backend of BACKENDS) {
    it(`${backend}: both processes serve one port; a policy, a key or a read set changed through one is seen by the other at once; a dead process is replaced`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'openomics-processes-'));
      copyFileSync(join(tinyCorpus(), 'reads_R1.fastq.gz'), join(root, 'r1.fastq.gz'));
      // Debug: a line per S3 request says which process served it.
      const s = await spawnServer({ backend, env: { OPENOMICS_PROCESSES: '2', OPENOMICS_IMPORT_ROOTS: root, OPENOMICS_LOG_LEVEL: 'debug' } });
      try {
        const pids = childPids(s.child.pid!);
        assert.equal(pids.length, 2, 'two server processes under the first');
        const omics = omicsClient(s);
        const storeId = (await omics.send(new CreateSequenceStoreCommand({ name: 'procs' }))).id!;
        const alias = /^s3:\/\/([^/]+)\//.exec((await omics.send(new GetSequenceStoreCommand({ id: storeId }))).s3Access!.s3Uri!)![1]!;
        const job = await omics.send(
          new StartReadSetImportJobCommand({
            sequenceStoreId: storeId,
            roleArn: 'arn:aws:iam::123456789012:role/OmicsImport',
            sources: [{ sourceFileType: 'FASTQ', subjectId: 's', sampleId: 'x', sourceFiles: { source1: `file://${root}/r1.fastq.gz` } }],
          }),
        );
        const done = await until('import', () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id: job.id })), jobFinished);
        assert.equal(done.status, 'COMPLETED', JSON.stringify(done.sources));
        const readSetId = done.sources![0]!.readSetId!;
        const meta = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id: readSetId }));
        const key = meta.files!.source1!.s3Access!.s3Uri!.replace(`s3://${alias}/`, '');
        const s3 = new S3Client({ endpoint: s.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } });
        const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: alias, Key: key }), { expiresIn: 600 });
        const statuses = async (n = 12) => {
          const out: number[] = [];
          for (let i = 0; i < n; i++) out.push((await getOnce(url)).status);
          return [...new Set(out)];
        };

        // Both processes answer (and so both have the store and read set cached from here on).
        assert.deepEqual(await statuses(), [200]);
        const served = new Set(s.logs.filter((l) => l.includes('"msg":"s3 request"')).map((l) => (JSON.parse(l) as { process?: number }).process));
        assert.deepEqual([...served].sort(), [0, 1], 'S3 requests were served by both processes');

        // A store policy change, made through whichever process took the PutS3AccessPolicy, holds at once in both.
        const apArn = `arn:aws:s3:us-east-1:123456789012:accesspoint/123456789012-${storeId}`;
        const def = (await omics.send(new GetS3AccessPolicyCommand({ s3AccessPointArn: apArn }))).s3AccessPolicy!;
        const deny = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: { AWS: '123456789012' }, Action: 's3:GetObject', Resource: `${apArn}/object/*` }] };
        await omics.send(new PutS3AccessPolicyCommand({ s3AccessPointArn: apArn, s3AccessPolicy: JSON.stringify(deny) }));
        assert.deepEqual(await statuses(), [403], 'denied by every process at once');
        await omics.send(new PutS3AccessPolicyCommand({ s3AccessPointArn: apArn, s3AccessPolicy: def }));
        assert.deepEqual(await statuses(), [200], 'the default policy again, at once');

        // A key deactivated by another process altogether (`openomics admin`) stops working at once.
        const user = JSON.parse(execFileSync(process.execPath, [CLI, 'admin', 'account', 'create', '210987654321', '--name', 'p'], { env: s.env, encoding: 'utf8' })) as {
          accessKeyId: string;
          secretAccessKey: string;
        };
        const theirs = new S3Client({ endpoint: s.url, region: 'us-east-1', forcePathStyle: true, credentials: user });
        const theirUrl = await getSignedUrl(theirs, new GetObjectCommand({ Bucket: alias, Key: key }), { expiresIn: 600 });
        const theirStatuses = async () => [...new Set(await Promise.all(Array.from({ length: 8 }, async () => (await getOnce(theirUrl)).status)))];
        assert.deepEqual(await theirStatuses(), [403], 'another account: AccessDenied by the store policy');
        execFileSync(process.execPath, [CLI, 'admin', 'access-key', 'deactivate', user.accessKeyId], { env: s.env });
        const after = await getOnce(theirUrl);
        assert.equal(after.status, 403);
        assert.match(after.body, /InvalidAccessKeyId/, 'the deactivated key is unknown at once, not after a cache period');

        // A deleted read set's objects are gone from both processes at once.
        await omics.send(new BatchDeleteReadSetCommand({ sequenceStoreId: storeId, ids: [readSetId] }));
        assert.deepEqual(await statuses(), [404]);

        // A process that dies is replaced; the port keeps answering.
        process.kill(pids[1]!, 'SIGKILL');
        await until('a replacement process', async () => childPids(s.child.pid!), (p) => p.length === 2 && !p.includes(pids[1]!));
        await until('requests answered after the replacement', async () => (await statuses(6)).join(), (v) => v === '404');
      } finally {
        const primary = s.child.pid!;
        const children = childPids(primary);
        await s.stop();
        for (const pid of children) assert.throws(() => process.kill(pid, 0), 'no server process left after the first stopped');
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
