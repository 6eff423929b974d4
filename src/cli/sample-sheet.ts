import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { Command } from 'commander';
import {
  StartReadSetImportJobCommand,
  GetReadSetImportJobCommand,
  type FileType,
  type StartReadSetImportJobSourceItem,
} from '@aws-sdk/client-omics';
import { EXIT, omicsFromOptions } from './transfer.js';

/**
 * `openomics import`: a CSV or TSV sample sheet -> read set import jobs of at
 * most 100 sources each. The whole sheet is checked first; nothing is
 * submitted while any row is wrong. Columns (header names, any case, with or
 * without `_`): source1, source2, fileType (or sourceFileType), subjectId,
 * sampleId, referenceArn, generatedFrom, name, description, tags
 * (`key=value;key=value`) — the fields of StartReadSetImportJob's sources.
 */
const COLUMNS: Record<string, keyof Row> = {
  source1: 'source1',
  source2: 'source2',
  filetype: 'fileType',
  sourcefiletype: 'fileType',
  subjectid: 'subjectId',
  sampleid: 'sampleId',
  referencearn: 'referenceArn',
  generatedfrom: 'generatedFrom',
  name: 'name',
  description: 'description',
  tags: 'tags',
};

interface Row {
  source1?: string;
  source2?: string;
  fileType?: string;
  subjectId?: string;
  sampleId?: string;
  referenceArn?: string;
  generatedFrom?: string;
  name?: string;
  description?: string;
  tags?: string;
}

export interface SheetError {
  row: number; // 1-based data row, as a spreadsheet shows it (the header is row 1)
  message: string;
}

const URI = /^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+|file:\/\/\/.+)$/;

/** Parses and checks a sample sheet: the sources, or every problem with its row number. */
export function readSampleSheet(text: string, fileName: string): { sources: StartReadSetImportJobSourceItem[]; errors: SheetError[] } {
  const delimiter = fileName.endsWith('.tsv') || (!fileName.endsWith('.csv') && text.split('\n')[0]!.includes('\t')) ? '\t' : ',';
  let records: string[][];
  try {
    records = parse(text, { delimiter, skip_empty_lines: true, relax_column_count: true, trim: true, bom: true }) as string[][];
  } catch (e) {
    return { sources: [], errors: [{ row: 0, message: `the sheet cannot be read: ${(e as Error).message}` }] };
  }
  const [header, ...rows] = records;
  const errors: SheetError[] = [];
  if (!header) return { sources: [], errors: [{ row: 1, message: 'the sheet is empty' }] };
  const fields = header.map((h) => COLUMNS[h.toLowerCase().replace(/[_\s-]/g, '')]);
  header.forEach((h, i) => {
    if (!fields[i]) errors.push({ row: 1, message: `unknown column "${h}" (known: ${Object.keys(COLUMNS).join(', ')})` });
  });
  for (const need of ['source1', 'fileType', 'subjectId', 'sampleId'] as const) {
    if (!fields.includes(need)) errors.push({ row: 1, message: `the column ${need} is missing` });
  }
  if (errors.length) return { sources: [], errors };
  const sources: StartReadSetImportJobSourceItem[] = [];
  rows.forEach((cells, i) => {
    const rowNo = i + 2;
    const r: Row = {};
    cells.forEach((v, j) => {
      if (fields[j] && v !== '') r[fields[j]!] = v;
    });
    const bad = (m: string) => errors.push({ row: rowNo, message: m });
    const type = r.fileType?.toUpperCase();
    if (!r.source1) bad('source1 is empty');
    else if (!URI.test(r.source1)) bad(`source1 ${r.source1} is not an s3:// or file:/// URI`);
    if (r.source2 && !URI.test(r.source2)) bad(`source2 ${r.source2} is not an s3:// or file:/// URI`);
    if (!type || !['FASTQ', 'BAM', 'UBAM', 'CRAM'].includes(type)) bad(`fileType ${r.fileType ?? '(empty)'} is not FASTQ, BAM, UBAM or CRAM`);
    if (r.source2 && type !== 'FASTQ') bad('source2 is only for paired FASTQ');
    if ((type === 'BAM' || type === 'CRAM') && !r.referenceArn) bad(`a ${type} row needs a referenceArn`);
    if (!r.subjectId) bad('subjectId is empty');
    if (!r.sampleId) bad('sampleId is empty');
    for (const [k, max] of [['subjectId', 127], ['sampleId', 127], ['name', 127], ['description', 255], ['generatedFrom', 127]] as const) {
      if ((r[k]?.length ?? 0) > max) bad(`${k} is longer than ${max} characters`);
    }
    const tags: Record<string, string> = {};
    for (const t of (r.tags ?? '').split(';').filter(Boolean)) {
      const eq = t.indexOf('=');
      if (eq < 1) bad(`tag "${t}" is not key=value`);
      else tags[t.slice(0, eq).trim()] = t.slice(eq + 1).trim();
    }
    sources.push({
      sourceFiles: { source1: r.source1 ?? '', ...(r.source2 ? { source2: r.source2 } : {}) },
      sourceFileType: (type ?? 'FASTQ') as FileType,
      subjectId: r.subjectId ?? '',
      sampleId: r.sampleId ?? '',
      ...(r.referenceArn ? { referenceArn: r.referenceArn } : {}),
      ...(r.generatedFrom ? { generatedFrom: r.generatedFrom } : {}),
      ...(r.name ? { name: r.name } : {}),
      ...(r.description ? { description: r.description } : {}),
      ...(Object.keys(tags).length ? { tags } : {}),
    });
  });
  if (rows.length === 0) errors.push({ row: 2, message: 'the sheet has no data rows' });
  return { sources, errors };
}

interface ImportOptions {
  sequenceStoreId: string;
  roleArn: string;
  wait: boolean;
  endpointUrl?: string;
  profile?: string;
  region?: string;
  json?: boolean;
}

export async function importSheet(file: string, o: ImportOptions): Promise<number> {
  const { sources, errors } = readSampleSheet(readFileSync(file, 'utf8'), file);
  if (errors.length) {
    for (const e of errors) process.stderr.write(`${file}: row ${e.row}: ${e.message}\n`);
    process.stderr.write(`${errors.length} problem(s); nothing was submitted\n`);
    return EXIT.error;
  }
  const omics = omicsFromOptions(o);
  const jobs: string[] = [];
  for (let i = 0; i < sources.length; i += 100) {
    const batch = sources.slice(i, i + 100);
    const j = await omics.send(new StartReadSetImportJobCommand({ sequenceStoreId: o.sequenceStoreId, roleArn: o.roleArn, sources: batch }));
    jobs.push(j.id!);
    process.stderr.write(`submitted import job ${j.id} (rows ${i + 2}-${i + 1 + batch.length})\n`);
  }
  if (!o.wait) {
    process.stdout.write(JSON.stringify({ jobs }) + '\n');
    return EXIT.ok;
  }
  const results: { id: string; status: string; finished: number; failed: { row: number; message: string }[] }[] = [];
  for (const [k, id] of jobs.entries()) {
    let last = '';
    for (;;) {
      const j = await omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: o.sequenceStoreId, id }));
      const finished = j.sources!.filter((x) => x.status === 'FINISHED').length;
      const failedN = j.sources!.filter((x) => x.status === 'FAILED').length;
      const line = `job ${id}: ${j.status} ${finished + failedN}/${j.sources!.length} sources done, ${failedN} failed`;
      if (line !== last) process.stderr.write(line + '\n');
      last = line;
      if (!['SUBMITTED', 'IN_PROGRESS'].includes(j.status!)) {
        results.push({
          id,
          status: j.status!,
          finished,
          failed: j.sources!.flatMap((x, i) => (x.status === 'FAILED' ? [{ row: k * 100 + i + 2, message: x.statusMessage ?? '' }] : [])),
        });
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  process.stdout.write(JSON.stringify({ jobs: results }) + '\n');
  return results.every((r) => r.status === 'COMPLETED') ? EXIT.ok : EXIT.readSetFailed;
}

export function importCommand(): Command {
  return new Command('import')
    .description(
      [
        'import the read sets of a CSV/TSV sample sheet, in jobs of at most 100 rows, and follow them',
        'columns: source1, source2, fileType, subjectId, sampleId, referenceArn, generatedFrom, name, description, tags (k=v;k=v)',
        '  e.g. openomics import --sequence-store-id 1234567890 --role-arn arn:aws:iam::123456789012:role/Import samples.csv',
        'exit status: 0 all imported, 1 the sheet has problems (nothing submitted) or an API error, 2 some rows failed',
      ].join('\n'),
    )
    .argument('<sheet>')
    .requiredOption('--sequence-store-id <id>', 'the sequence store')
    .requiredOption('--role-arn <arn>', 'the role the jobs read sources with (selects connected storage)')
    .option('--no-wait', 'submit and print the job ids')
    .option('--endpoint-url <url>', 'the OpenOmics endpoint (default: AWS_ENDPOINT_URL)')
    .option('--profile <name>', 'credentials profile (default: AWS_PROFILE)')
    .option('--region <region>', 'region')
    .action(async (sheet: string, o: ImportOptions) => {
      process.exitCode = await importSheet(sheet, o);
    });
}
