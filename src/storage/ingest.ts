import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { concatBlobs, type BlobStore } from '../blob/blob-store.js';
import type { JobRecord } from '../db/job-records.js';
import type { EtagFamily } from '../formats/hashing.js';
import { inspectReadSet, type NamedSource, type ReadSetInspection } from '../formats/read-set.js';
import type { DeclaredFileType } from '../formats/sniff.js';
import type { GiveUpHandler, JobContext, JobHandler, JobOutcome, RetryHandler } from '../jobs/runner.js';
import type { DomainDeps } from './context.js';
import type { DataLocations } from './locations.js';
import { storedFile } from './read-set-files.js';
import { isContentError, statusMessageOf } from './job-errors.js';
import type { ReferenceService } from './references.js';
import { blobKeys, storeBlobs } from './store-storage.js';
import { teeIntoBlob, writeUnderLease, type StoredBytes, type WriteLease } from './tee.js';
import { checksumHeaderValue } from '../core/checksums.js';

export const READ_SET_INGEST_JOB = 'ReadSetUploadIngest';

/** What CompleteMultipartReadSetUpload hands the ingest job: the chosen parts' blobs, in order. */
export interface ReadSetIngestPayload {
  readSetId: string;
  uploadId: string;
  source1: string[];
  source2?: string[];
}

/** A source file read set ingestion will store and inspect. */
export interface IngestSource {
  name: string;
  /** A new stream of the file each time (see `lazyReadable`: nothing happens until it is read). */
  open(): Readable;
}

/** A generated index's file name: the source's name plus `.bai` or `.crai` (spec §2.10). */
export function indexName(sourceName: string, inspection: ReadSetInspection): string {
  return `${sourceName}.${inspection.index?.format === 'CRAI' ? 'crai' : 'bai'}`;
}

/**
 * Stores a read set's source file(s) and inspects them in one pass: each
 * source is teed into its final blob while the format engine reads it; the
 * generated index is stored afterwards. On any failure nothing is left behind.
 */
export async function storeAndInspect(
  blobs: BlobStore,
  storeId: string,
  readSetId: string,
  fileType: DeclaredFileType,
  sources: { source1: IngestSource; source2?: IngestSource },
  opts: { etagFamily: EtagFamily; reference?: { name: string; length: number; md5: string }[]; cram?: { referenceFasta: string; scratchDir: string } },
  lease?: WriteLease,
): Promise<{ inspection: ReadSetInspection; stored: { source1: StoredBytes; source2?: StoredBytes; index?: StoredBytes } }> {
  const keys = {
    source1: blobKeys.readSetFile(storeId, readSetId, 'source1'),
    source2: blobKeys.readSetFile(storeId, readSetId, 'source2'),
    index: blobKeys.readSetFile(storeId, readSetId, 'index'),
  };
  return writeUnderLease(blobs, Object.values(keys), lease, async (tees) => {
    const named = (src: IngestSource, key: string): NamedSource => {
      const t = teeIntoBlob(src.open(), blobs, key);
      tees.push(t);
      return { name: src.name, data: t.data };
    };
    const s1 = named(sources.source1, keys.source1);
    const s2 = sources.source2 ? named(sources.source2, keys.source2) : undefined;
    const inspection = await inspectReadSet(fileType, { source1: s1, ...(s2 ? { source2: s2 } : {}) }, opts);
    const [a, b] = await Promise.all(tees.map((t) => t.finish()));
    let index: StoredBytes | undefined;
    if (inspection.index) {
      const bytes = inspection.index.bytes;
      index = { size: (await blobs.put(keys.index, Readable.from([bytes]))).size, crc32: checksumHeaderValue(crc32(bytes)) };
    }
    return { inspection, stored: { source1: a!, ...(b ? { source2: b } : {}), ...(index ? { index } : {}) } };
  });
}

/**
 * Ends a read set's ingest as UPLOAD_FAILED with `message`: the parts go to
 * the store's fallback location first when it has one (spec §2.5), then are removed.
 */
async function failIngest(
  d: DomainDeps,
  locations: DataLocations,
  removeParts: (up: { id: string; sequenceStoreId: string }) => Promise<void>,
  job: JobRecord<ReadSetIngestPayload>,
  message: string,
): Promise<string> {
  const p = job.payload;
  const rs = await d.db.readSets.get(job.storeId, p.readSetId);
  const store = await d.db.sequenceStores.get(job.accountId, job.storeId);
  if (rs && rs.status === 'PROCESSING_UPLOAD' && store) {
    if (store.fallbackLocation) {
      try {
        const blobs = storeBlobs(d, store.dataKey);
        const target = await locations.target(store.fallbackLocation, { accountId: job.accountId });
        await target.write(`${rs.id}/${rs.files.source1!.name}`, concatBlobs(blobs, p.source1));
        if (p.source2 && rs.files.source2) await target.write(`${rs.id}/${rs.files.source2.name}`, concatBlobs(blobs, p.source2));
      } catch (err) {
        message = statusMessageOf(new Error(`${message} (the parts could not be copied to the fallback location: ${(err as Error).message})`));
      }
    }
    await d.db.readSets.update(job.storeId, rs.id, { status: 'UPLOAD_FAILED', statusMessage: message, updateTime: d.now() }, ['PROCESSING_UPLOAD']);
  }
  await removeParts({ id: p.uploadId, sequenceStoreId: job.storeId });
  return message;
}

/** The job that turns a completed direct upload into an ACTIVE (or UPLOAD_FAILED) read set. */
export function readSetIngestJob(
  d: DomainDeps,
  references: ReferenceService,
  locations: DataLocations,
  removeParts: (up: { id: string; sequenceStoreId: string }) => Promise<void>,
): { run: JobHandler<ReadSetIngestPayload>; giveUp: GiveUpHandler<ReadSetIngestPayload>; retrying: RetryHandler<ReadSetIngestPayload> } {
  const done = (p: ReadSetIngestPayload, statusMessage: string | null): JobOutcome<ReadSetIngestPayload> => ({ status: 'COMPLETED', statusMessage, payload: p });
  const run = async (job: JobRecord<ReadSetIngestPayload>, ctx: JobContext<ReadSetIngestPayload>): Promise<JobOutcome<ReadSetIngestPayload>> => {
    const p = job.payload;
    const rs = await d.db.readSets.get(job.storeId, p.readSetId);
    if (!rs || rs.status !== 'PROCESSING_UPLOAD') {
      // Already finished by an earlier attempt, or deleted meanwhile.
      await removeParts({ id: p.uploadId, sequenceStoreId: job.storeId });
      return done(p, rs ? `read set is ${rs.status}` : 'read set deleted');
    }
    const store = await d.db.sequenceStores.get(job.accountId, job.storeId);
    if (!store) return done(p, 'sequence store deleted');
    const blobs = storeBlobs(d, store.dataKey);
    const source = (name: string, keys: string[]): IngestSource => ({ name, open: () => concatBlobs(blobs, keys) });
    try {
      const reference = rs.referenceArn ? await references.sequencesOf(job.accountId, rs.referenceArn) : undefined;
      const fasta = rs.fileType === 'CRAM' && rs.referenceArn ? await references.decryptedFasta(job.accountId, rs.referenceArn) : undefined;
      const cram = fasta ? { referenceFasta: fasta.path, scratchDir: d.scratchDir } : undefined;
      const { inspection, stored } = await storeAndInspect(
        blobs,
        job.storeId,
        rs.id,
        rs.fileType as DeclaredFileType,
        {
          source1: source(rs.files.source1!.name, p.source1),
          ...(p.source2 && rs.files.source2 ? { source2: source(rs.files.source2.name, p.source2) } : {}),
        },
        { etagFamily: store.eTagAlgorithmFamily as EtagFamily, ...(reference ? { reference } : {}), ...(cram ? { cram } : {}) },
        ctx,
      ).finally(() => fasta?.remove()); // the plaintext reference goes as soon as the decoding is over
      const files = {
        source1: { ...rs.files.source1!, contentLength: stored.source1.size, crc32: stored.source1.crc32 },
        ...(rs.files.source2 && stored.source2 ? { source2: { ...rs.files.source2, contentLength: stored.source2.size, crc32: stored.source2.crc32 } } : {}),
        ...(stored.index ? { index: storedFile(blobKeys.readSetFile(job.storeId, rs.id, 'index'), indexName(rs.files.source1!.name, inspection), stored.index) } : {}),
      };
      const now = d.now();
      await ctx.fenced((tx) => tx.readSets.update(
        job.storeId,
        rs.id,
        {
          status: 'ACTIVE',
          statusMessage: null,
          sequenceInformation: { ...inspection.sequenceInformation, ...(rs.generatedFrom ? { generatedFrom: rs.generatedFrom } : {}) },
          etag: inspection.etag,
          files,
          updateTime: now,
          lastAccessTime: now,
        },
        ['PROCESSING_UPLOAD'],
      ));
      await removeParts({ id: p.uploadId, sequenceStoreId: job.storeId });
      return done(p, null);
    } catch (e) {
      if (isContentError(e)) return done(p, await failIngest(d, locations, removeParts, job, statusMessageOf(e)));
      throw e;
    }
  };
  return {
    run,
    giveUp: async (job, reason) => done(job.payload, await failIngest(d, locations, removeParts, job, statusMessageOf(new Error(reason)))),
    // The read set says why it is still PROCESSING_UPLOAD; its parts stay for the next attempt.
    retrying: async (job, reason) => {
      await d.db.readSets.update(job.storeId, job.payload.readSetId, { statusMessage: statusMessageOf(new Error(reason)), updateTime: d.now() }, ['PROCESSING_UPLOAD']);
    },
  };
}
