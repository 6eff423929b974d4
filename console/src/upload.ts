import {
  AbortMultipartReadSetUploadCommand,
  CompleteMultipartReadSetUploadCommand,
  CreateMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  ListReadSetUploadPartsCommand,
  UploadReadSetPartCommand,
  type FileType,
  type ReadSetPartSource,
} from '@aws-sdk/client-omics';
import { Sha256 } from '@aws-crypto/sha256-browser';
import type { Clients } from './session.js';

/**
 * Direct upload from the browser (CreateMultipartReadSetUpload → UploadReadSetPart × n → Complete), with what the
 * CLI's `openomics upload` does: parts in parallel, each one's SHA-256 computed here and compared with the checksum
 * the server answers (a part that arrives altered is sent again), retries, and resume — the upload's description is
 * kept in localStorage, and on a later visit the same files chosen again continue it: parts already on the server
 * with the same bytes (same SHA-256) are not sent twice.
 */

const MIB = 1024 * 1024;
/** The service's part limit (100 MiB) and its 10,000 parts per file. */
export const MAX_PART_SIZE = 100 * MIB;
const MAX_PARTS = 10_000;
/** Parts in flight at once: each holds its bytes in memory while hashed and sent (4 × 16 MiB by default). */
const CONCURRENCY = 4;
/** Attempts of one part before the upload pauses (network errors; a checksum mismatch counts as one). */
const PART_ATTEMPTS = 3;

/** 16 MiB parts, larger when a file would need more than 10,000 (a 160 GB file). */
export function partSizeFor(largestFile: number): number {
  return Math.min(MAX_PART_SIZE, Math.max(16 * MIB, Math.ceil(largestFile / MAX_PARTS / MIB) * MIB));
}

export interface UploadFileFacts {
  source: ReadSetPartSource;
  name: string;
  size: number;
  lastModified: number;
}

/** What an upload is, as kept in localStorage to resume it: no bytes, no secrets. */
export interface UploadDescription {
  uploadId: string;
  storeId: string;
  fileType: FileType;
  name: string;
  subjectId: string;
  sampleId: string;
  referenceArn?: string;
  partSize: number;
  files: UploadFileFacts[];
  startedAt: number;
}

export interface UploadProgress {
  /** Bytes the server holds, of all files. */
  done: number;
  total: number;
  /** Bytes sent in this run (not those found on the server), over its seconds: the speed. */
  sent: number;
  seconds: number;
  phase: 'checking' | 'sending' | 'completing' | 'processing';
}

const STORAGE_KEY = 'openomics.console.uploads';

/** Uploads started in this browser that may still be resumed, for an access key (others' are not shown). */
export function savedUploads(accessKeyId: string): UploadDescription[] {
  try {
    const all = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as Record<string, UploadDescription[]>;
    return all[accessKeyId] ?? [];
  } catch {
    return [];
  }
}

function writeSaved(accessKeyId: string, list: UploadDescription[]): void {
  let all: Record<string, UploadDescription[]> = {};
  try {
    all = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as Record<string, UploadDescription[]>;
  } catch {
    /* a damaged entry is replaced */
  }
  if (list.length) all[accessKeyId] = list;
  else delete all[accessKeyId];
  localStorage.setItem(STORAGE_KEY, JSON.stringify(all));
}

export function rememberUpload(accessKeyId: string, d: UploadDescription): void {
  writeSaved(accessKeyId, [...savedUploads(accessKeyId).filter((x) => x.uploadId !== d.uploadId), d]);
}

export function forgetUpload(accessKeyId: string, uploadId: string): void {
  writeSaved(accessKeyId, savedUploads(accessKeyId).filter((x) => x.uploadId !== uploadId));
}

/** The file type a name suggests (a BAM may be a uBAM: the form lets the user say so). */
export function fileTypeOf(name: string): FileType | undefined {
  const n = name.toLowerCase();
  if (/\.(fastq|fq)(\.gz)?$/.test(n)) return 'FASTQ';
  if (n.endsWith('.bam')) return 'BAM';
  if (n.endsWith('.cram')) return 'CRAM';
  return undefined;
}

/** A read set name from a file name: without its extensions and a paired-read suffix (`run7_R1.fastq.gz` → `run7`). */
export function readSetNameOf(name: string): string {
  return name.replace(/\.(fastq|fq|bam|cram)(\.gz)?$/i, '').replace(/[._-]R?[12]$/i, '') || name;
}

/** Files chosen again to resume: the same names and sizes as when the upload started, in source order. */
export function matchFiles(d: UploadDescription, chosen: File[]): File[] {
  const out: File[] = [];
  for (const f of d.files) {
    const same = chosen.find((c) => c.name === f.name && c.size === f.size);
    if (!same) throw new Error(`Choose ${d.files.map((x) => `${x.name} (${x.size.toLocaleString()} bytes)`).join(' and ')} again to resume.`);
    out.push(same);
  }
  return out;
}

export async function startUpload(
  clients: Clients,
  accessKeyId: string,
  input: { storeId: string; fileType: FileType; name: string; subjectId: string; sampleId: string; referenceArn?: string; partSize?: number },
  files: File[],
): Promise<UploadDescription> {
  const created = await clients.omics.send(
    new CreateMultipartReadSetUploadCommand({
      sequenceStoreId: input.storeId,
      sourceFileType: input.fileType,
      name: input.name,
      subjectId: input.subjectId,
      sampleId: input.sampleId,
      ...(input.referenceArn ? { referenceArn: input.referenceArn } : {}),
    }),
  );
  const d: UploadDescription = {
    uploadId: created.uploadId!,
    storeId: input.storeId,
    fileType: input.fileType,
    name: input.name,
    subjectId: input.subjectId,
    sampleId: input.sampleId,
    ...(input.referenceArn ? { referenceArn: input.referenceArn } : {}),
    partSize: input.partSize ?? partSizeFor(Math.max(...files.map((f) => f.size))),
    files: files.map((f, i) => ({ source: i === 0 ? 'SOURCE1' : 'SOURCE2', name: f.name, size: f.size, lastModified: f.lastModified })),
    startedAt: Date.now(),
  };
  rememberUpload(accessKeyId, d);
  return d;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

async function sha256(bytes: Uint8Array): Promise<string> {
  const h = new Sha256();
  h.update(bytes);
  return hex(await h.digest());
}

/** An error no retry will mend: the upload is gone or the request is refused as such. */
function final(e: unknown): boolean {
  const name = (e as Error)?.name ?? '';
  return ['ResourceNotFoundException', 'ValidationException', 'AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException'].includes(name);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/**
 * Sends what the server does not yet hold, completes the upload and waits while the read set is processed.
 * Resolves with the read set's final metadata (ACTIVE, or UPLOAD_FAILED with its reason); rejects when a part
 * cannot be sent after its retries or `signal` aborts — the upload then stays on the server, to be resumed.
 */
export async function runUpload(
  clients: Clients,
  accessKeyId: string,
  d: UploadDescription,
  files: File[],
  onProgress: (p: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<{ readSetId: string; status: string; statusMessage?: string }> {
  const total = d.files.reduce((n, f) => n + f.size, 0);
  const began = performance.now();
  let done = 0;
  let sent = 0;
  const report = (phase: UploadProgress['phase']) => onProgress({ done, total, sent, seconds: (performance.now() - began) / 1000, phase });
  report('checking');

  // What the server already holds, by part: kept when the bytes here hash the same.
  const held = new Map<string, { size: number; checksum: string }>();
  for (const f of d.files) {
    let nextToken: string | undefined;
    do {
      const page = await clients.omics.send(
        new ListReadSetUploadPartsCommand({ sequenceStoreId: d.storeId, uploadId: d.uploadId, partSource: f.source, maxResults: 100, ...(nextToken ? { nextToken } : {}) }),
        { abortSignal: signal },
      );
      for (const p of page.parts ?? []) held.set(`${p.partSource}/${p.partNumber}`, { size: p.partSize!, checksum: p.checksum! });
      nextToken = page.nextToken;
    } while (nextToken);
  }

  const plan: { source: ReadSetPartSource; partNumber: number; file: File; start: number; end: number }[] = [];
  d.files.forEach((f, i) => {
    const n = Math.max(1, Math.ceil(f.size / d.partSize));
    if (n > MAX_PARTS) throw new Error(`${f.name} would need ${n} parts of ${d.partSize} bytes; the service allows ${MAX_PARTS}.`);
    for (let p = 0; p < n; p++) plan.push({ source: f.source, partNumber: p + 1, file: files[i]!, start: p * d.partSize, end: Math.min(f.size, (p + 1) * d.partSize) });
  });

  const parts: { partNumber: number; partSource: ReadSetPartSource; checksum: string }[] = [];
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < plan.length && failed === undefined && !signal?.aborted) {
      const p = plan[next++]!;
      const bytes = new Uint8Array(await p.file.slice(p.start, p.end).arrayBuffer());
      if (bytes.length !== p.end - p.start) throw new Error(`${p.file.name} changed on disk while it was being sent; choose it again.`);
      const checksum = await sha256(bytes);
      const have = held.get(`${p.source}/${p.partNumber}`);
      if (have && have.size === bytes.length && have.checksum === checksum) {
        parts.push({ partNumber: p.partNumber, partSource: p.source, checksum });
        done += bytes.length;
        report('sending');
        continue;
      }
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await clients.omics.send(
            // The part goes as a slice of the File, not as the bytes read to hash it: Chromium sends a Blob body
            // about 5x faster than an in-memory array (bench:transfer; decision 80). Were the file to change in
            // between, the server's checksum would not be the one computed here, and the part is sent again.
            new UploadReadSetPartCommand({
              sequenceStoreId: d.storeId,
              uploadId: d.uploadId,
              partSource: p.source,
              partNumber: p.partNumber,
              payload: p.file.slice(p.start, p.end),
            }),
            { abortSignal: signal },
          );
          if (r.checksum !== checksum) throw Object.assign(new Error(`part ${p.partNumber} of ${p.source} arrived altered (SHA-256 ${r.checksum}, sent ${checksum})`), { name: 'ChecksumMismatch' });
          break;
        } catch (e) {
          if (signal?.aborted || final(e) || attempt >= PART_ATTEMPTS) throw e;
          await sleep(500 * 2 ** attempt, signal);
        }
      }
      parts.push({ partNumber: p.partNumber, partSource: p.source, checksum });
      done += bytes.length;
      sent += bytes.length;
      report('sending');
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, plan.length) }, () =>
      worker().catch((e: unknown) => {
        failed ??= e;
      }),
    ),
  );
  if (failed !== undefined) throw failed;
  if (signal?.aborted) throw Object.assign(new Error('The upload was paused.'), { name: 'AbortError' });

  report('completing');
  parts.sort((a, b) => a.partSource.localeCompare(b.partSource) || a.partNumber - b.partNumber);
  const { readSetId } = await clients.omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: d.storeId, uploadId: d.uploadId, parts }));
  forgetUpload(accessKeyId, d.uploadId);
  report('processing');
  for (;;) {
    const m = await clients.omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: d.storeId, id: readSetId! }));
    if (m.status !== 'PROCESSING_UPLOAD') return { readSetId: readSetId!, status: m.status!, ...(m.statusMessage ? { statusMessage: m.statusMessage } : {}) };
    await sleep(1000);
  }
}

/** Gives the upload up: its parts are deleted on the server, and it is forgotten here. */
export async function abandonUpload(clients: Clients, accessKeyId: string, d: Pick<UploadDescription, 'storeId' | 'uploadId'>): Promise<void> {
  try {
    await clients.omics.send(new AbortMultipartReadSetUploadCommand({ sequenceStoreId: d.storeId, uploadId: d.uploadId }));
  } catch (e) {
    if ((e as Error).name !== 'ResourceNotFoundException') throw e;
  }
  forgetUpload(accessKeyId, d.uploadId);
}
