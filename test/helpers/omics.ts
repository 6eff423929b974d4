import assert from 'node:assert/strict';
import {
  OmicsClient,
  StartReferenceImportJobCommand,
  GetReferenceImportJobCommand,
  StartReadSetImportJobCommand,
  GetReadSetImportJobCommand,
  type StartReadSetImportJobSourceItem,
} from '@aws-sdk/client-omics';
import type { SpawnedServer } from './server.js';

/** An Omics client for a spawned server, signed with its root key, no retries (tests see every error). */
export function omicsClient(s: Pick<SpawnedServer, 'url' | 'accessKeyId' | 'secretAccessKey'>): OmicsClient {
  return new OmicsClient({
    endpoint: s.url,
    region: 'us-east-1',
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    disableHostPrefix: true,
    maxAttempts: 1,
  });
}

/** Polls `fn` until `done` holds (or fails after `ms`). */
export async function until<T>(what: string, fn: () => Promise<T>, done: (v: T) => boolean, ms = 60_000, every = 100): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (done(v)) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** A storage job that has reached a final status. */
export const jobFinished = (j: { status?: string }) => !['SUBMITTED', 'IN_PROGRESS'].includes(j.status!);

/** Imports one FASTA into a reference store, checks the job completed, and returns the reference's ARN. */
export async function importReference(omics: OmicsClient, referenceStoreId: string, sourceFile: string, name = 'tiny'): Promise<string> {
  const job = await omics.send(
    new StartReferenceImportJobCommand({ referenceStoreId, roleArn: 'arn:aws:iam::123456789012:role/OmicsImport', sources: [{ sourceFile, name }] }),
  );
  const done = await until('reference import', () => omics.send(new GetReferenceImportJobCommand({ referenceStoreId, id: job.id })), jobFinished);
  assert.equal(done.status, 'COMPLETED', JSON.stringify(done.sources));
  return `arn:aws:omics:us-east-1:123456789012:referenceStore/${referenceStoreId}/reference/${done.sources![0]!.referenceId}`;
}

/** Imports read sets into a sequence store in one job, checks it completed, and returns their IDs in source order. */
export async function importReadSets(omics: OmicsClient, sequenceStoreId: string, sources: StartReadSetImportJobSourceItem[]): Promise<string[]> {
  const job = await omics.send(new StartReadSetImportJobCommand({ sequenceStoreId, roleArn: 'arn:aws:iam::123456789012:role/OmicsImport', sources }));
  const done = await until('import', () => omics.send(new GetReadSetImportJobCommand({ sequenceStoreId, id: job.id })), jobFinished);
  assert.equal(done.status, 'COMPLETED', JSON.stringify(done.sources));
  return done.sources!.map((x) => x.readSetId!);
}

/** Asserts that `p` fails with the named service error (and message). */
export async function expectServiceError(p: Promise<unknown>, name: string, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    const err = e as Error;
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}
