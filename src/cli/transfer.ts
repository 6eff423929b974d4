import { EXIT } from './exit-codes.js';
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Command } from 'commander';
import {
  OmicsClient,
  CreateMultipartReadSetUploadCommand,
  UploadReadSetPartCommand,
  ListMultipartReadSetUploadsCommand,
  ListReadSetUploadPartsCommand,
  CompleteMultipartReadSetUploadCommand,
  GetReadSetMetadataCommand,
  type FileType,
  type ReadSetPartSource,
} from '@aws-sdk/client-omics';
import { fromIni } from '@aws-sdk/credential-providers';
import { MIB, Progress, conn, connectionTarget, parseSize, withRetries, type Conn } from './transfer-common.js';

/**
 * `openomics upload`: the transfer manager's upload. Talks to any OpenOmics (or HealthOmics) endpoint over the
 * public API with the AWS SDK, resolving endpoint, profile and region the way the AWS CLI does (the clients other
 * commands share, `omicsFromOptions` and `connectionSettings`, are here). `openomics download` is cli/download.ts.
 * Exit codes (cli/exit-codes.ts): 0 done, 1 bad arguments, an API error or an interrupted transfer (run the
 * same command again to resume it), 2 the read set failed (UPLOAD_FAILED).
 */
export { EXIT } from './exit-codes.js';
export { conn, parseSize, profileRegion } from './transfer-common.js';

/** An Omics client of the endpoint and credentials `connectionTarget` resolves. */
export function omicsFromOptions(o: Conn, opts: { maxAttempts?: number } = {}): OmicsClient {
  const c = connectionSettings(o);
  return new OmicsClient({
    ...c,
    disableHostPrefix: c.endpoint !== undefined,
    // The SDK's standard retries (exponential backoff with jitter); the part transfers retry themselves instead
    // (a part's body must be read again), with the SDK's retries off (maxAttempts 1), so attempts do not multiply.
    retryMode: 'standard',
    maxAttempts: opts.maxAttempts ?? 3,
  });
}

/** Region, endpoint and credentials of omicsFromOptions, for any AWS SDK client of the same server. */
export function connectionSettings(o: Conn): { region: string; endpoint?: string; credentials?: ReturnType<typeof fromIni> } {
  const t = connectionTarget(o);
  return {
    region: t.region,
    ...(t.endpoint ? { endpoint: t.endpoint } : {}),
    ...(t.localCredentials ? { credentials: fromIni({ profile: 'openomics', filepath: t.localCredentials }) } : t.profile ? { credentials: fromIni({ profile: t.profile }) } : {}),
  };
}

async function sha256Range(file: string, start: number, end: number): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file, { start, end: end - 1, highWaterMark: MIB })) h.update(c as Buffer);
  return h.digest('hex');
}

interface UploadOptions extends Conn {
  sequenceStoreId: string;
  fileType: string;
  subjectId: string;
  sampleId: string;
  name: string;
  referenceArn?: string;
  generatedFrom?: string;
  description?: string;
  tag?: string[];
  partSize: string;
  concurrency: string;
  wait: boolean;
}

export async function upload(sources: string[], o: UploadOptions): Promise<number> {
  const omics = omicsFromOptions(o);
  const partClient = omicsFromOptions(o, { maxAttempts: 1 }); // withRetries retries parts

  const partSize = parseSize(o.partSize);
  if (partSize < 1 || partSize > 100 * MIB) throw new Error('--part-size must be between 1 byte and 100MiB (the service limit)');
  const concurrency = Math.max(1, Number(o.concurrency));
  if (sources.length === 2 && o.fileType !== 'FASTQ') throw new Error('a second source file is only for paired FASTQ');
  const files = sources.map((f, i) => ({ path: f, size: statSync(f).size, source: (i === 0 ? 'SOURCE1' : 'SOURCE2') as ReadSetPartSource }));
  const tags = Object.fromEntries((o.tag ?? []).map((t) => {
    const i = t.indexOf('=');
    if (i < 1) throw new Error(`--tag ${t} is not key=value`);
    return [t.slice(0, i), t.slice(i + 1)];
  }));

  // Resume: an open upload of the same store, name, subject, sample and type is continued.
  let uploadId: string | undefined;
  let nextToken: string | undefined;
  do {
    const page = await omics.send(new ListMultipartReadSetUploadsCommand({ sequenceStoreId: o.sequenceStoreId, nextToken }));
    const same = page.uploads?.find((u) => u.name === o.name && u.subjectId === o.subjectId && u.sampleId === o.sampleId && u.sourceFileType === o.fileType);
    if (same) uploadId = same.uploadId;
    nextToken = page.nextToken;
  } while (!uploadId && nextToken);
  const resumed = Boolean(uploadId);
  if (!uploadId) {
    const created = await omics.send(
      new CreateMultipartReadSetUploadCommand({
        sequenceStoreId: o.sequenceStoreId,
        sourceFileType: o.fileType as FileType,
        subjectId: o.subjectId,
        sampleId: o.sampleId,
        name: o.name,
        ...(o.referenceArn ? { referenceArn: o.referenceArn } : {}),
        ...(o.generatedFrom ? { generatedFrom: o.generatedFrom } : {}),
        ...(o.description ? { description: o.description } : {}),
        ...(Object.keys(tags).length ? { tags } : {}),
      }),
    );
    uploadId = created.uploadId!;
  }
  process.stderr.write(`${resumed ? 'resuming' : 'started'} upload ${uploadId}\n`);

  const plan: { source: ReadSetPartSource; partNumber: number; path: string; start: number; end: number }[] = [];
  for (const f of files) {
    const n = Math.max(1, Math.ceil(f.size / partSize));
    if (n > 10_000) throw new Error(`${f.path} needs ${n} parts; raise --part-size (at most 10,000 parts)`);
    for (let i = 0; i < n; i++) plan.push({ source: f.source, partNumber: i + 1, path: f.path, start: i * partSize, end: Math.min(f.size, (i + 1) * partSize) });
  }
  // Parts already on the server with the same bytes are kept.
  const have = new Map<string, string>();
  for (const f of files) {
    let token: string | undefined;
    do {
      const page = await omics.send(new ListReadSetUploadPartsCommand({ sequenceStoreId: o.sequenceStoreId, uploadId, partSource: f.source, nextToken: token }));
      for (const p of page.parts ?? []) have.set(`${p.partSource}/${p.partNumber}/${p.partSize}`, p.checksum!);
      token = page.nextToken;
    } while (token);
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  const progress = new Progress(total, basename(files[0]!.path));
  const done: { partNumber: number; partSource: ReadSetPartSource; checksum: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < plan.length) {
        const p = plan[next++]!;
        const existing = have.get(`${p.source}/${p.partNumber}/${p.end - p.start}`);
        if (existing && existing === (await sha256Range(p.path, p.start, p.end))) {
          done.push({ partNumber: p.partNumber, partSource: p.source, checksum: existing });
          progress.add(p.end - p.start);
          continue;
        }
        const r = await withRetries(`part ${p.partNumber} of ${p.source}`, () =>
          partClient.send(
            new UploadReadSetPartCommand({
              sequenceStoreId: o.sequenceStoreId,
              uploadId,
              partSource: p.source,
              partNumber: p.partNumber,
              payload: createReadStream(p.path, { start: p.start, end: p.end - 1 }),
            }),
          ),
        );
        done.push({ partNumber: p.partNumber, partSource: p.source, checksum: r.checksum! });
        progress.add(p.end - p.start);
      }
    }),
  );
  progress.render(true);
  const { readSetId } = await omics.send(new CompleteMultipartReadSetUploadCommand({ sequenceStoreId: o.sequenceStoreId, uploadId, parts: done }));
  if (!o.wait) {
    process.stdout.write(JSON.stringify({ readSetId, uploadId, status: 'PROCESSING_UPLOAD' }) + '\n');
    return EXIT.ok;
  }
  for (;;) {
    const m = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: o.sequenceStoreId, id: readSetId }));
    if (m.status !== 'PROCESSING_UPLOAD') {
      process.stdout.write(
        JSON.stringify({ readSetId, uploadId, status: m.status, statusMessage: m.statusMessage, sequenceInformation: m.sequenceInformation, etag: m.etag }) + '\n',
      );
      return m.status === 'ACTIVE' ? EXIT.ok : EXIT.readSetFailed;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function transferCommands(): Command[] {
  const up = conn(new Command('upload'))
    .description(
      [
        'upload a FASTQ (one file or a pair), BAM, uBAM or CRAM as a read set: parallel parts, retries, progress, resume',
        '(running the same command again continues an interrupted upload, sending only the missing parts)',
        '  e.g. openomics upload --sequence-store-id 1234567890 --file-type FASTQ --subject-id s1 --sample-id m1 \\',
        '         --name run7 reads_R1.fastq.gz reads_R2.fastq.gz',
        'exit status: 0 ACTIVE, 1 error, 2 the read set failed (UPLOAD_FAILED, reason printed)',
      ].join('\n'),
    )
    .argument('<source1>')
    .argument('[source2]')
    .requiredOption('--sequence-store-id <id>', 'the sequence store')
    .requiredOption('--file-type <type>', 'FASTQ, BAM, UBAM or CRAM')
    .requiredOption('--subject-id <id>', 'subject id')
    .requiredOption('--sample-id <id>', 'sample id')
    .requiredOption('--name <name>', 'read set name')
    .option('--reference-arn <arn>', 'the linked reference (BAM, CRAM)')
    .option('--generated-from <text>', 'where the reads come from')
    .option('--description <text>', 'description')
    .option('--tag <key=value...>', 'read set tags')
    .option('--part-size <size>', 'part size, at most 100MiB', '100MiB')
    .option('--concurrency <n>', 'parts in flight', '4')
    .option('--no-wait', 'do not wait for the read set to become ACTIVE');
  up.action(async (s1: string, s2: string | undefined, o: UploadOptions) => {
    process.exitCode = await upload(s2 ? [s1, s2] : [s1], o);
  });
  return [up];
}
