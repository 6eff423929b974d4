import { Command } from 'commander';
import {
  ListSequenceStoresCommand,
  ListReferenceStoresCommand,
  ListReadSetsCommand,
  GetSequenceStoreCommand,
  GetReadSetMetadataCommand,
  ListReadSetImportJobsCommand,
  ListReadSetExportJobsCommand,
  ListReadSetActivationJobsCommand,
  ListMultipartReadSetUploadsCommand,
  StartReadSetExportJobCommand,
  GetReadSetExportJobCommand,
  type ReadSetStatus,
} from '@aws-sdk/client-omics';
import { EXIT, omicsFromOptions } from './transfer.js';

/** `openomics ls`, `presign`, `status`, `export`: reading the state of a server, for people (tables) and scripts (--json). */
interface Conn {
  endpointUrl?: string;
  profile?: string;
  region?: string;
  json?: boolean;
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

function print(o: Conn, rows: Record<string, unknown>[], columns: string[]): void {
  process.stdout.write(o.json ? JSON.stringify(rows, null, 2) + '\n' : table(rows, columns));
}

async function all<T>(fetch: (token?: string) => Promise<{ items: T[]; nextToken?: string }>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const page = await fetch(token);
    out.push(...page.items);
    token = page.nextToken;
  } while (token);
  return out;
}

const conn = (c: Command) =>
  c
    .option('--endpoint-url <url>', 'the OpenOmics endpoint (default: AWS_ENDPOINT_URL)')
    .option('--profile <name>', 'credentials profile (default: AWS_PROFILE)')
    .option('--region <region>', 'region')
    .option('--json', 'JSON output for scripts');

export function browseCommands(): Command[] {
  const ls = conn(new Command('ls'))
    .description('list stores, or the read sets of a store (with filters)\n  e.g. openomics ls\n  e.g. openomics ls --sequence-store-id 1234567890 --sample-id NA12878 --json')
    .option('--sequence-store-id <id>', 'list this store\'s read sets')
    .option('--sample-id <id>', 'read sets of this sample')
    .option('--subject-id <id>', 'read sets of this subject')
    .option('--status <status>', 'read sets in this status (ACTIVE, ARCHIVED, ...)')
    .action(async (o: Conn & { sequenceStoreId?: string; sampleId?: string; subjectId?: string; status?: string }) => {
      const omics = omicsFromOptions(o);
      if (!o.sequenceStoreId) {
        const seq = await all((t) => omics.send(new ListSequenceStoresCommand({ nextToken: t })).then((r) => ({ items: r.sequenceStores ?? [], nextToken: r.nextToken })));
        const ref = await all((t) => omics.send(new ListReferenceStoresCommand({ nextToken: t })).then((r) => ({ items: r.referenceStores ?? [], nextToken: r.nextToken })));
        print(
          o,
          [
            ...seq.map((x) => ({ kind: 'sequenceStore', id: x.id, name: x.name, created: x.creationTime?.toISOString() })),
            ...ref.map((x) => ({ kind: 'referenceStore', id: x.id, name: x.name, created: x.creationTime?.toISOString() })),
          ],
          ['kind', 'id', 'name', 'created'],
        );
        return;
      }
      const filter = {
        ...(o.sampleId ? { sampleId: o.sampleId } : {}),
        ...(o.subjectId ? { subjectId: o.subjectId } : {}),
        ...(o.status ? { status: o.status as ReadSetStatus } : {}),
      };
      const sets = await all((t) =>
        omics.send(new ListReadSetsCommand({ sequenceStoreId: o.sequenceStoreId, filter, nextToken: t })).then((r) => ({ items: r.readSets ?? [], nextToken: r.nextToken })),
      );
      print(
        o,
        sets.map((r) => ({
          id: r.id,
          name: r.name,
          fileType: r.fileType,
          status: r.status,
          subjectId: r.subjectId,
          sampleId: r.sampleId,
          reads: r.sequenceInformation?.totalReadCount,
          etag: r.etag?.source1,
        })),
        ['id', 'name', 'fileType', 'status', 'subjectId', 'sampleId', 'reads', 'etag'],
      );
    });

  const presign = conn(new Command('presign'))
    .description('print a presigned S3 URL of a read set file (SigV4), for browsers, IGV, samtools\n  e.g. openomics presign --sequence-store-id 1234567890 --id 9876543210 --file INDEX --expires-in 3600')
    .requiredOption('--sequence-store-id <id>', 'the sequence store')
    .requiredOption('--id <id>', 'the read set')
    .option('--file <file>', 'SOURCE1, SOURCE2 or INDEX', 'SOURCE1')
    .option('--expires-in <seconds>', 'validity', '3600')
    .action(async (o: Conn & { sequenceStoreId: string; id: string; file: string; expiresIn: string }) => {
      const omics = omicsFromOptions(o);
      const m = await omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: o.sequenceStoreId, id: o.id }));
      const f = m.files?.[o.file === 'SOURCE2' ? 'source2' : o.file === 'INDEX' ? 'index' : 'source1'];
      const uri = f?.s3Access?.s3Uri;
      if (!uri) throw new Error(`read set ${o.id} has no ${o.file} file with an S3 URI (it is ${m.status})`);
      const store = await omics.send(new GetSequenceStoreCommand({ id: o.sequenceStoreId }));
      const alias = /^s3:\/\/([^/]+)\//.exec(store.s3Access!.s3Uri!)![1]!;
      const [{ S3Client, GetObjectCommand }, { getSignedUrl }] = await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/s3-request-presigner')]);
      const endpoint = await omics.config.endpoint?.();
      const s3 = new S3Client({
        region: await omics.config.region(),
        credentials: omics.config.credentials,
        forcePathStyle: true,
        ...(endpoint ? { endpoint: `${endpoint.protocol}//${endpoint.hostname}${endpoint.port ? `:${endpoint.port}` : ''}` } : {}),
      });
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: alias, Key: uri.slice(`s3://${alias}/`.length) }), { expiresIn: Number(o.expiresIn) });
      process.stdout.write(o.json ? JSON.stringify({ url, s3Uri: uri }) + '\n' : url + '\n');
    });

  const status = conn(new Command('status'))
    .description('what is running in a sequence store: import, export and activation jobs not finished, uploads in progress\n  e.g. openomics status --sequence-store-id 1234567890')
    .requiredOption('--sequence-store-id <id>', 'the sequence store')
    .action(async (o: Conn & { sequenceStoreId: string }) => {
      const omics = omicsFromOptions(o);
      const sid = o.sequenceStoreId;
      const running = (s?: string) => s === 'SUBMITTED' || s === 'IN_PROGRESS';
      const rows: Record<string, unknown>[] = [];
      for (const [kind, cmd] of [
        ['import', (t?: string) => omics.send(new ListReadSetImportJobsCommand({ sequenceStoreId: sid, nextToken: t })).then((r) => ({ items: r.importJobs ?? [], nextToken: r.nextToken }))],
        ['export', (t?: string) => omics.send(new ListReadSetExportJobsCommand({ sequenceStoreId: sid, nextToken: t })).then((r) => ({ items: r.exportJobs ?? [], nextToken: r.nextToken }))],
        ['activation', (t?: string) => omics.send(new ListReadSetActivationJobsCommand({ sequenceStoreId: sid, nextToken: t })).then((r) => ({ items: r.activationJobs ?? [], nextToken: r.nextToken }))],
      ] as const) {
        for (const j of await all<{ id?: string; status?: string; creationTime?: Date }>(cmd)) {
          if (running(j.status)) rows.push({ kind: `${kind} job`, id: j.id, status: j.status, since: j.creationTime?.toISOString() });
        }
      }
      const ups = await all((t) => omics.send(new ListMultipartReadSetUploadsCommand({ sequenceStoreId: sid, nextToken: t })).then((r) => ({ items: r.uploads ?? [], nextToken: r.nextToken })));
      for (const u of ups) rows.push({ kind: 'upload', id: u.uploadId, status: `IN_PROGRESS (${u.name})`, since: u.creationTime?.toISOString() });
      print(o, rows, ['kind', 'id', 'status', 'since']);
    });

  const exp = conn(new Command('export'))
    .description('export read sets to an s3:// (connected storage) or file:/// destination, in jobs of at most 100, and follow them\n  e.g. openomics export --sequence-store-id 1234567890 --role-arn arn:aws:iam::123456789012:role/Export --destination s3://lab/exports/ 9876543210 9876543211')
    .argument('<readSetIds...>')
    .requiredOption('--sequence-store-id <id>', 'the sequence store')
    .requiredOption('--role-arn <arn>', 'the role the jobs write with (selects connected storage)')
    .requiredOption('--destination <uri>', 'where the files go: <destination>/<readSetId>/<file name>')
    .action(async (ids: string[], o: Conn & { sequenceStoreId: string; roleArn: string; destination: string }) => {
      const omics = omicsFromOptions(o);
      const results = [];
      for (let i = 0; i < ids.length; i += 100) {
        const j = await omics.send(
          new StartReadSetExportJobCommand({ sequenceStoreId: o.sequenceStoreId, roleArn: o.roleArn, destination: o.destination, sources: ids.slice(i, i + 100).map((readSetId) => ({ readSetId })) }),
        );
        process.stderr.write(`submitted export job ${j.id}\n`);
        for (;;) {
          const g = await omics.send(new GetReadSetExportJobCommand({ sequenceStoreId: o.sequenceStoreId, id: j.id }));
          if (g.status !== 'SUBMITTED' && g.status !== 'IN_PROGRESS') {
            results.push({ id: j.id, status: g.status, readSets: g.readSets });
            break;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      process.stdout.write(JSON.stringify({ jobs: results }) + '\n');
      process.exitCode = results.every((r) => r.status === 'COMPLETED') ? EXIT.ok : EXIT.readSetFailed;
    });
  return [ls, presign, status, exp];
}
