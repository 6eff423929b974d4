// Sharing analytics stores between accounts through @aws-sdk/client-omics, and querying a shared store through the
// Athena subset (boto3) as the subscriber: offered, accepted, queried, not deletable by the subscriber, revoked.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AcceptShareCommand,
  CreateReferenceStoreCommand,
  CreateShareCommand,
  CreateVariantStoreCommand,
  DeleteShareCommand,
  DeleteVariantStoreCommand,
  GetShareCommand,
  GetVariantImportJobCommand,
  ListSharesCommand,
  OmicsClient,
  StartVariantImportJobCommand,
} from '@aws-sdk/client-omics';
import { athenaQuery } from './helpers/athena.js';
import { expectServiceError, importReference, omicsClient, until } from './helpers/omics.js';
import { CLI, spawnServer, type SpawnedServer } from './helpers/server.js';
import { tinyCorpus } from './helpers/corpus.js';

const run = promisify(execFile);

describe('sharing analytics stores', () => {
  let s: SpawnedServer;
  let owner: OmicsClient;
  let partner: OmicsClient;
  let partnerKeys: { accessKeyId: string; secretAccessKey: string };
  let root: string;
  before(async () => {
    const corpus = tinyCorpus();
    root = mkdtempSync(join(tmpdir(), 'openomics-share-'));
    for (const f of ['ref.fa', 'sample.vcf.gz']) copyFileSync(join(corpus, f), join(root, f));
    s = await spawnServer({ env: { OPENOMICS_IMPORT_ROOTS: root } });
    owner = omicsClient(s);
    partnerKeys = JSON.parse(execFileSync(process.execPath, [CLI, 'admin', 'account', 'create', '210987654321', '--name', 'partner'], { env: s.env, encoding: 'utf8' }));
    partner = new OmicsClient({ endpoint: s.url, region: 'us-east-1', credentials: partnerKeys, disableHostPrefix: true, maxAttempts: 1 });
    const refStore = (await owner.send(new CreateReferenceStoreCommand({ name: 'refs' }))).id!;
    const referenceArn = await importReference(owner, refStore, `file://${root}/ref.fa`);
    await owner.send(new CreateVariantStoreCommand({ name: 'cohort', reference: { referenceArn } }));
    const { jobId } = await owner.send(new StartVariantImportJobCommand({ destinationName: 'cohort', roleArn: 'arn:aws:iam::123456789012:role/Import', items: [{ source: `file://${root}/sample.vcf.gz` }] }));
    await until('import', () => owner.send(new GetVariantImportJobCommand({ jobId })), (j) => j.status === 'COMPLETED', 60_000, 100);
  });
  after(async () => {
    await s?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function query(keys: { accessKeyId: string; secretAccessKey: string }, sql: string): Promise<{ state: string; rows: (string | null)[][]; reason?: string }> {
    const r = await athenaQuery(s, sql, { keys });
    return { state: r.execution.Status.State, rows: r.rows.slice(1), reason: r.execution.Status.StateChangeReason };
  }

  it('offered, accepted and queried by the subscriber, who cannot delete the store; revoked by the owner', async () => {
    const storeArn = 'arn:aws:omics:us-east-1:123456789012:variantStore/cohort';
    assert.equal((await query(partnerKeys, 'SELECT count(*) FROM cohort')).state, 'FAILED', 'not shared yet');
    const created = await owner.send(new CreateShareCommand({ resourceArn: storeArn, principalSubscriber: '210987654321', shareName: 'to-partner' }));
    assert.equal(created.status, 'PENDING');
    assert.match(created.shareId!, /^[0-9a-f]{32}-[0-9a-f]{32}$/);
    await expectServiceError(owner.send(new CreateShareCommand({ resourceArn: storeArn, principalSubscriber: '210987654321' })), 'ConflictException');
    await expectServiceError(partner.send(new CreateShareCommand({ resourceArn: storeArn, principalSubscriber: '123456789012' })), 'ResourceNotFoundException');
    const offered = await partner.send(new ListSharesCommand({ resourceOwner: 'OTHER' }));
    assert.deepEqual(offered.shares!.map((x) => [x.shareId, x.status, x.ownerId, x.resourceArn]), [[created.shareId, 'PENDING', '123456789012', storeArn]]);
    assert.equal((await query(partnerKeys, 'SELECT count(*) FROM cohort')).state, 'FAILED', 'offered, not accepted');
    await expectServiceError(owner.send(new AcceptShareCommand({ shareId: created.shareId })), 'ValidationException', /only that account/);
    assert.equal((await partner.send(new AcceptShareCommand({ shareId: created.shareId }))).status, 'ACTIVE');
    const got = await owner.send(new GetShareCommand({ shareId: created.shareId }));
    assert.equal(got.share!.status, 'ACTIVE');
    assert.equal(got.share!.shareName, 'to-partner');
    assert.deepEqual((await query(partnerKeys, `SELECT count(*), count(DISTINCT sampleid) FROM cohort`)).rows, [['193', '1']]);
    await expectServiceError(partner.send(new DeleteVariantStoreCommand({ name: 'cohort' })), 'ResourceNotFoundException');
    assert.equal((await owner.send(new ListSharesCommand({ resourceOwner: 'SELF', filter: { status: ['ACTIVE'] } }))).shares!.length, 1);
    await owner.send(new DeleteShareCommand({ shareId: created.shareId }));
    assert.equal((await query(partnerKeys, 'SELECT count(*) FROM cohort')).state, 'FAILED', 'revoked');
    await expectServiceError(partner.send(new GetShareCommand({ shareId: created.shareId })), 'ResourceNotFoundException');
  });
});
