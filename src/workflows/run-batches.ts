import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { runBatchArn } from '../core/arn.js';
import { ConflictError, NotFoundError, OpenOmicsError, ValidationError } from '../core/errors.js';
import { newNumericId } from '../core/ids.js';
import type { Page } from '../core/pagination.js';
import { submittedJob } from '../db/job-records.js';
import type { PageRequest } from '../db/query.js';
import type { BatchRunQuery, RunBatchQuery } from '../db/run-batch-records.js';
import type { DeferringJobHandler, GiveUpHandler } from '../jobs/runner.js';
import type { DomainDeps } from '../storage/context.js';
import { idempotent } from '../storage/idempotency.js';
import type { DataLocations } from '../storage/locations.js';
import { checkNewTags } from '../storage/tags.js';
import type { BatchRunRecord, BatchStatus, DefaultRunSetting, InlineRunSetting, RunBatchRecord, RunStatus } from './entities.js';
import { ACTIVE_RUN_STATUSES, type RunService, type StartRunInput } from './runs.js';

export const RUN_BATCH_JOB = 'RunBatch';
/** Spec §2.9: 100 inline settings, 100,000 runs from a settings file of at most 6 GB. */
const MAX_INLINE_SETTINGS = 100;
const MAX_BATCH_RUNS = 100_000;
const MAX_SETTINGS_FILE_BYTES = 6 * 1024 ** 3;
/** Settings rows written per statement while a settings file is read. */
const ROWS_PER_INSERT = 500;

export interface RunBatchView extends RunBatchRecord {
  arn: string;
}

export interface RunBatchSummary {
  submissions: { start: Record<string, number>; cancel: Record<string, number>; delete: Record<string, number> };
  runs: Record<string, number>;
}

export interface StartRunBatchInput {
  batchName?: string;
  requestId: string;
  tags?: Record<string, string>;
  defaultRunSetting: DefaultRunSetting;
  batchRunSettings: { inlineSettings?: InlineRunSetting[]; s3UriSettings?: string };
}

/** Where a batch may be cancelled, and where its runs may be deleted (spec §2.9). */
const CANCELLABLE: BatchStatus[] = ['CREATING', 'PENDING', 'SUBMITTING', 'INPROGRESS'];
const RUNS_DELETABLE: BatchStatus[] = ['PROCESSED', 'CANCELLED'];
const ENDED: BatchStatus[] = ['PROCESSED', 'FAILED', 'CANCELLED', 'RUNS_DELETED'];

/**
 * Run batches (spec §2.9): StartRunBatch checks the default setting and the settings' shape at once, keeps the
 * batch (CREATING) and hands it to the `RunBatch` job, which reads the settings (inline, or a JSON array file
 * read as a stream, failing the batch if the file changed since StartRunBatch), then starts the runs gradually —
 * `submitPerSecond` a second, each a StartRun of the merged settings with a request id of its own, so a job
 * attempt that dies never starts a run twice — handing itself back between seconds (holding no worker). Then
 * INPROGRESS, PROCESSED once every run has ended. CancelRunBatch and DeleteRunBatch are steps of the same job, one
 * at a time per batch; DeleteBatch forgets the batch.
 */
export class RunBatchService {
  constructor(
    private readonly d: DomainDeps,
    private readonly runs: RunService,
    private readonly locations: DataLocations,
    private readonly submitPerSecond: number,
    private readonly kick: () => void,
  ) {}

  view(b: RunBatchRecord): RunBatchView {
    return { ...b, arn: runBatchArn(this.d.partition, b.accountId, b.id) };
  }

  async start(accountId: string, startedBy: string, i: StartRunBatchInput): Promise<RunBatchView> {
    checkNewTags(i.tags, this.d.quotas.maxTagsPerResource);
    const def = i.defaultRunSetting;
    if (def.workflowType === 'READY2RUN') throw new ValidationError('Run batches do not run Ready2Run workflows.');
    if (def.cacheBehavior !== undefined && def.cacheId === undefined) throw new ValidationError('defaultRunSetting.cacheBehavior needs a cacheId.');
    if (def.outputUri !== undefined) this.locations.checkForm(def.outputUri);
    const { inlineSettings, s3UriSettings } = i.batchRunSettings;
    if ((inlineSettings === undefined) === (s3UriSettings === undefined)) throw new ValidationError('batchRunSettings takes exactly one of inlineSettings and s3UriSettings.');
    if (inlineSettings) checkSettings(inlineSettings, MAX_INLINE_SETTINGS);
    // What every run needs is checked now: the workflow (own, or shared and accepted), the run group.
    await this.runs.checkRunnable(accountId, def);
    let settingsEtag: string | null = null;
    if (s3UriSettings) {
      const file = await this.locations.resolve(s3UriSettings, { accountId, roleArn: def.roleArn }).catch((e: unknown) => {
        throw new ValidationError(`s3UriSettings ${s3UriSettings} cannot be read with role ${def.roleArn}: ${(e as Error).message}`);
      });
      if (file.size > MAX_SETTINGS_FILE_BYTES) throw new ValidationError(`s3UriSettings is ${file.size} bytes; the limit is 6 GB.`);
      settingsEtag = file.etag ?? (await md5Of(file.open()));
    }
    const { resourceId } = await idempotent(this.d.db, accountId, 'StartRunBatch', i.requestId, { ...i, requestId: undefined }, this.d.now(), async () => {
      const now = this.d.now();
      const rec: RunBatchRecord = {
        accountId,
        id: newNumericId(),
        uuid: randomUUID(),
        name: i.batchName ?? null,
        status: 'CREATING',
        defaultRunSetting: def,
        settingsUri: s3UriSettings ?? null,
        settingsEtag,
        totalRuns: inlineSettings ? inlineSettings.length : null,
        startedBy,
        failureReason: null,
        creationTime: now,
        submittedTime: null,
        processedTime: null,
        failedTime: null,
      };
      await this.d.db.runBatches.insert(rec);
      if (inlineSettings) await this.d.db.runBatches.addRuns(inlineSettings.map((s, seq) => pendingRun(rec.id, seq, s)));
      if (i.tags && Object.keys(i.tags).length) await this.d.db.tags.put(this.view(rec).arn, i.tags);
      await this.d.db.jobs.insert(submittedJob(newNumericId(), RUN_BATCH_JOB, accountId, rec.id, {}, now));
      return rec.id;
    });
    this.kick();
    return this.get(accountId, resourceId);
  }

  private async record(accountId: string, id: string): Promise<RunBatchRecord> {
    const b = await this.d.db.runBatches.get(accountId, id);
    if (!b) throw new NotFoundError(`Run batch ${id} not found.`);
    return b;
  }

  async get(accountId: string, id: string): Promise<RunBatchView> {
    return this.view(await this.settle(await this.record(accountId, id)));
  }

  async summary(b: RunBatchRecord): Promise<RunBatchSummary> {
    return { submissions: await this.d.db.runBatches.submissionCounts(b.id), runs: await this.d.db.runBatches.runStatusCounts(b.accountId, b.id) };
  }

  async list(accountId: string, q: RunBatchQuery, page: PageRequest): Promise<Page<RunBatchView>> {
    if (Object.values(q).filter((v) => v !== undefined).length > 1) throw new ValidationError('ListBatch takes one filter at a time (status, name or runGroupId).');
    const res = await this.d.db.runBatches.list(accountId, q, page);
    const items = await Promise.all(res.items.map(async (b) => this.view(await this.settle(b))));
    return { items, ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }

  async listRuns(accountId: string, id: string, q: BatchRunQuery, page: { maxResults: number; nextToken?: string }): Promise<{ batch: RunBatchView; items: BatchRunRecord[]; nextToken?: string }> {
    if (Object.values(q).filter((v) => v !== undefined).length > 1) throw new ValidationError('ListRunsInBatch takes one filter at a time (submissionStatus, runSettingId or runId).');
    const batch = await this.get(accountId, id);
    return { batch, ...(await this.d.db.runBatches.listRuns(id, q, page)) };
  }

  /** CancelRunBatch: unsubmitted runs never start, started ones are cancelled (by the batch's job, a step at a time). */
  async cancel(accountId: string, id: string): Promise<void> {
    const b = await this.record(accountId, id);
    if (!CANCELLABLE.includes(b.status)) throw new ConflictError(`Run batch ${id} is ${b.status}; only a PENDING, SUBMITTING or INPROGRESS batch can be cancelled.`);
    // The job still submitting notices STOPPING and turns to cancelling; one that ended (INPROGRESS) is started again.
    if (!(await this.d.db.runBatches.update(accountId, id, { status: 'STOPPING' }, [b.status]))) throw new ConflictError(`Run batch ${id} changed meanwhile; look at it again.`);
    if (b.status === 'INPROGRESS') await this.resume(b);
  }

  /** DeleteRunBatch: deletes the batch's runs (their metadata), once the batch is PROCESSED or CANCELLED. */
  async deleteRuns(accountId: string, id: string): Promise<void> {
    const b = await this.settle(await this.record(accountId, id));
    if (!RUNS_DELETABLE.includes(b.status)) throw new ConflictError(`Run batch ${id} is ${b.status}; its runs can be deleted once it is PROCESSED or CANCELLED.`);
    if (!(await this.d.db.runBatches.update(accountId, id, { status: 'RUNS_DELETING' }, [b.status]))) throw new ConflictError(`Run batch ${id} changed meanwhile; look at it again.`);
    await this.resume(b);
  }

  /** DeleteBatch: forgets an ended batch (its runs stay, naming it). */
  async delete(accountId: string, id: string): Promise<void> {
    const b = await this.settle(await this.record(accountId, id));
    if (!ENDED.includes(b.status)) throw new ConflictError(`Run batch ${id} is ${b.status}; it can be deleted once PROCESSED, FAILED, CANCELLED or RUNS_DELETED.`);
    await this.d.db.runBatches.delete(accountId, id);
    await this.d.db.tags.deleteAll(this.view(b).arn);
  }

  private async resume(b: RunBatchRecord): Promise<void> {
    await this.d.db.jobs.insert(submittedJob(newNumericId(), RUN_BATCH_JOB, b.accountId, b.id, {}, this.d.now()));
    this.kick();
  }

  /** An INPROGRESS batch whose runs have all ended is PROCESSED. */
  private async settle(b: RunBatchRecord): Promise<RunBatchRecord> {
    if (b.status !== 'INPROGRESS') return b;
    const counts = await this.d.db.runBatches.runStatusCounts(b.accountId, b.id);
    if (ACTIVE_RUN_STATUSES.some((s: RunStatus) => (counts[s] ?? 0) > 0)) return b;
    const now = this.d.now();
    if (await this.d.db.runBatches.update(b.accountId, b.id, { status: 'PROCESSED', processedTime: now }, ['INPROGRESS'])) return { ...b, status: 'PROCESSED', processedTime: now };
    return this.record(b.accountId, b.id);
  }

  /** Told when a run of a batch has ended (the run monitor): the batch may be PROCESSED now. */
  async runEnded(accountId: string, batchId: string): Promise<void> {
    const b = await this.d.db.runBatches.get(accountId, batchId);
    if (b) await this.settle(b);
  }

  handler(): DeferringJobHandler {
    return async (job) => {
      const done = { status: 'COMPLETED' as const, statusMessage: null, payload: {} };
      for (;;) {
        const b = await this.d.db.runBatches.get(job.accountId, job.storeId);
        if (!b) return done;
        switch (b.status) {
          case 'CREATING':
            await this.readSettings(b);
            continue;
          case 'PENDING':
          case 'SUBMITTING': {
            const more = await this.submitSome(b);
            if (more) return { deferMs: 1000 };
            const now = this.d.now();
            // SUBMITTING → INPROGRESS unless a cancel came meanwhile (then the loop cancels).
            if (await this.d.db.runBatches.update(b.accountId, b.id, { status: 'INPROGRESS', submittedTime: now }, ['PENDING', 'SUBMITTING'])) {
              await this.runEnded(b.accountId, b.id);
              return done;
            }
            continue;
          }
          case 'STOPPING':
            await this.cancelRuns(b);
            return done;
          case 'RUNS_DELETING':
            await this.deleteBatchRuns(b);
            return done;
          default:
            return done;
        }
      }
    };
  }

  /** A batch whose job gave up has FAILED, and its runs not yet started never will be. */
  giveUp(): GiveUpHandler {
    return async (job, reason) => {
      await this.fail(job.accountId, job.storeId, reason);
      return { status: 'FAILED', statusMessage: reason, payload: job.payload };
    };
  }

  private async fail(accountId: string, id: string, reason: string): Promise<void> {
    await this.d.db.runBatches.update(accountId, id, { status: 'FAILED', failureReason: reason.slice(0, 1000), failedTime: this.d.now() }, ['CREATING', 'PENDING', 'SUBMITTING']);
    await this.d.db.runBatches.failPending(id, 'BatchFailed', 'The batch failed before this run was started.');
  }

  /** CREATING → PENDING: the settings file (if any) read as a stream into rows, checked unchanged since StartRunBatch. */
  private async readSettings(b: RunBatchRecord): Promise<void> {
    if (b.settingsUri) {
      try {
        const file = await this.locations.resolve(b.settingsUri, { accountId: b.accountId, roleArn: b.defaultRunSetting.roleArn });
        if (file.etag !== undefined && file.etag !== b.settingsEtag) throw new ValidationError(`${b.settingsUri} changed after StartRunBatch (ETag ${file.etag}, was ${b.settingsEtag}).`);
        const md5 = createHash('md5');
        let seq = 0;
        let rows: BatchRunRecord[] = [];
        const seen = new Set<string>();
        for await (const text of jsonArrayElements(file.open(), (chunk) => md5.update(chunk))) {
          let setting: unknown;
          try {
            setting = JSON.parse(text);
          } catch (e) {
            throw new ValidationError(`Entry ${seq} of ${b.settingsUri} is not JSON: ${(e as Error).message}`);
          }
          const s = checkSetting(setting, seq, seen);
          if (seq >= MAX_BATCH_RUNS) throw new ValidationError(`${b.settingsUri} has more than ${MAX_BATCH_RUNS} run settings.`);
          rows.push(pendingRun(b.id, seq++, s));
          if (rows.length >= ROWS_PER_INSERT) {
            await this.d.db.runBatches.addRuns(rows);
            rows = [];
          }
        }
        await this.d.db.runBatches.addRuns(rows);
        if (file.etag === undefined && md5.digest('hex') !== b.settingsEtag) throw new ValidationError(`${b.settingsUri} changed after StartRunBatch.`);
        if (seq === 0) throw new ValidationError(`${b.settingsUri} holds no run settings.`);
        await this.d.db.runBatches.update(b.accountId, b.id, { totalRuns: seq });
      } catch (e) {
        if (!(e instanceof OpenOmicsError)) throw e;
        await this.fail(b.accountId, b.id, e.message);
        return;
      }
    }
    await this.d.db.runBatches.update(b.accountId, b.id, { status: 'PENDING' }, ['CREATING']);
  }

  /** Starts up to a second's worth of pending runs; true if more are left (and the batch is still submitting). */
  private async submitSome(b: RunBatchRecord): Promise<boolean> {
    await this.d.db.runBatches.update(b.accountId, b.id, { status: 'SUBMITTING' }, ['PENDING']);
    const pending = await this.d.db.runBatches.pendingRuns(b.id, this.submitPerSecond);
    for (const r of pending) {
      const now = await this.d.db.runBatches.get(b.accountId, b.id);
      if (now?.status !== 'SUBMITTING') return false;
      try {
        const run = await this.runs.start(b.accountId, b.startedBy, mergeSettings(b, r), { batchId: b.id });
        await this.d.db.runBatches.updateRun(b.id, r.seq, { startStatus: 'SUCCESS', submissionStatus: 'SUCCESS', runId: run.id, runUuid: run.uuid });
      } catch (e) {
        if (!(e instanceof OpenOmicsError)) throw e; // a fault of the moment: the job's attempt retries
        await this.d.db.runBatches.updateRun(b.id, r.seq, { startStatus: 'FAILED', submissionStatus: 'FAILED', failureReason: e.kind, failureMessage: e.message.slice(0, 1000) });
      }
    }
    return pending.length === this.submitPerSecond && (await this.d.db.runBatches.pendingRuns(b.id, 1)).length > 0;
  }

  private async cancelRuns(b: RunBatchRecord): Promise<void> {
    await this.d.db.runBatches.failPending(b.id, 'BatchCancelled', 'The batch was cancelled before this run was started.');
    for (;;) {
      const started = await this.d.db.runBatches.startedRuns(b.id, 'cancel', 100);
      if (!started.length) break;
      for (const r of started) {
        const outcome = await this.runs.cancel(b.accountId, r.runId!).then(
          () => ({ cancelStatus: 'CANCEL_SUCCESS' as const, submissionStatus: 'CANCEL_SUCCESS' as const }),
          (e: unknown) => {
            if (!(e instanceof OpenOmicsError)) throw e;
            return { cancelStatus: 'CANCEL_FAILED' as const, submissionStatus: 'CANCEL_FAILED' as const, failureReason: e.kind, failureMessage: e.message.slice(0, 1000) };
          },
        );
        await this.d.db.runBatches.updateRun(b.id, r.seq, outcome);
      }
    }
    await this.d.db.runBatches.update(b.accountId, b.id, { status: 'CANCELLED', processedTime: this.d.now() }, ['STOPPING']);
  }

  private async deleteBatchRuns(b: RunBatchRecord): Promise<void> {
    for (;;) {
      const started = await this.d.db.runBatches.startedRuns(b.id, 'delete', 100);
      if (!started.length) break;
      for (const r of started) {
        const outcome = await this.runs.delete(b.accountId, r.runId!).then(
          () => ({ deleteStatus: 'DELETE_SUCCESS' as const, submissionStatus: 'DELETE_SUCCESS' as const }),
          (e: unknown) => {
            if (e instanceof NotFoundError) return { deleteStatus: 'DELETE_SUCCESS' as const, submissionStatus: 'DELETE_SUCCESS' as const };
            if (!(e instanceof OpenOmicsError)) throw e;
            return { deleteStatus: 'DELETE_FAILED' as const, submissionStatus: 'DELETE_FAILED' as const, failureReason: e.kind, failureMessage: e.message.slice(0, 1000) };
          },
        );
        await this.d.db.runBatches.updateRun(b.id, r.seq, outcome);
      }
    }
    await this.d.db.runBatches.update(b.accountId, b.id, { status: 'RUNS_DELETED' }, ['RUNS_DELETING']);
  }
}

function pendingRun(batchId: string, seq: number, setting: InlineRunSetting): BatchRunRecord {
  return {
    batchId,
    seq,
    runSettingId: setting.runSettingId,
    setting,
    startStatus: null,
    cancelStatus: null,
    deleteStatus: null,
    submissionStatus: null,
    failureReason: null,
    failureMessage: null,
    runId: null,
    runUuid: null,
  };
}

/** Inline settings: 1 to `max`, each runSettingId given once. */
function checkSettings(settings: InlineRunSetting[], max: number): void {
  if (settings.length < 1 || settings.length > max) throw new ValidationError(`inlineSettings takes 1 to ${max} run settings; ${settings.length} were given.`);
  const seen = new Set<string>();
  settings.forEach((s, i) => checkSetting(s, i, seen));
}

/** One run setting of a batch, as the model's InlineSetting shape has it (a settings file is not checked by the edge). */
function checkSetting(v: unknown, index: number, seen: Set<string>): InlineRunSetting {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError(`Run setting ${index} is not a JSON object.`);
  const s = v as Record<string, unknown>;
  const known = ['runSettingId', 'name', 'outputUri', 'priority', 'parameters', 'outputBucketOwnerId', 'runTags'];
  const unknown = Object.keys(s).filter((k) => !known.includes(k));
  if (unknown.length) throw new ValidationError(`Run setting ${index} has unknown member ${unknown.join(', ')}.`);
  const id = s['runSettingId'];
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(id)) throw new ValidationError(`Run setting ${index} needs a runSettingId of 1-128 letters, digits, - or _.`);
  if (seen.has(id)) throw new ValidationError(`runSettingId ${id} is given twice; each run's must be unique in the batch.`);
  seen.add(id);
  const str = (k: string) => s[k] === undefined || typeof s[k] === 'string';
  if (!str('name') || !str('outputUri') || !str('outputBucketOwnerId')) throw new ValidationError(`Run setting ${id}: name, outputUri and outputBucketOwnerId are strings.`);
  if (s['priority'] !== undefined && !(Number.isInteger(s['priority']) && (s['priority'] as number) >= 0 && (s['priority'] as number) <= 100_000)) throw new ValidationError(`Run setting ${id}: priority is 0-100000.`);
  const tags = s['runTags'];
  if (tags !== undefined && (!tags || typeof tags !== 'object' || Object.values(tags).some((t) => typeof t !== 'string'))) throw new ValidationError(`Run setting ${id}: runTags map names to strings.`);
  return s as unknown as InlineRunSetting;
}

/** The StartRun a batch run is: the default setting, the run's own setting over it (parameters and tags merged, the run's keys win). */
function mergeSettings(b: RunBatchRecord, r: BatchRunRecord): StartRunInput {
  const d = b.defaultRunSetting;
  const s = r.setting;
  const object = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const parameters = d.parameters === undefined && s.parameters === undefined ? undefined : { ...object(d.parameters), ...object(s.parameters) };
  const tags = { ...(d.runTags ?? {}), ...(s.runTags ?? {}) };
  const { runTags: _d, outputBucketOwnerId: _o, ...rest } = d;
  return {
    ...rest,
    name: s.name ?? d.name,
    outputUri: s.outputUri ?? d.outputUri ?? '',
    priority: s.priority ?? d.priority,
    ...(parameters ? { parameters } : {}),
    ...(Object.keys(tags).length ? { tags } : {}),
    requestId: `${b.uuid}/${r.runSettingId}`,
  } as StartRunInput;
}

async function md5Of(stream: Readable): Promise<string> {
  const md5 = createHash('md5');
  for await (const chunk of stream) md5.update(chunk as Buffer);
  return md5.digest('hex');
}

/**
 * The elements of a top-level JSON array, as text, read from a stream without holding the whole file: brackets
 * and braces outside strings are counted, and an element ends at a comma (or the closing bracket) at depth one.
 * `seen` is handed every chunk read (to hash the file on the way).
 */
export async function* jsonArrayElements(stream: Readable, seen: (chunk: Buffer) => void = () => undefined): AsyncGenerator<string> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let started = false;
  let ended = false;
  let current: string[] = [];
  let currentBytes = 0;
  let segmentStart = 0;
  const decoder = new StringDecoder('utf8'); // a character split between chunks is decoded whole
  for await (const raw of stream) {
    const chunk = raw as Buffer;
    seen(chunk);
    const text = decoder.write(chunk);
    segmentStart = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (ended) {
        if (!/\s/.test(c)) throw new ValidationError('The run settings file holds more than one JSON array.');
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (!started) {
        if (c === '[') {
          started = true;
          depth = 1;
          segmentStart = i + 1;
        } else if (!/\s/.test(c)) throw new ValidationError('The run settings file is not a JSON array.');
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
      if ((c === ',' && depth === 1) || depth === 0) {
        current.push(text.slice(segmentStart, i));
        const element = current.join('').trim();
        current = [];
        currentBytes = 0;
        segmentStart = i + 1;
        if (element) yield element;
        else if (c === ',') throw new ValidationError('The run settings file has an empty array element.');
        if (depth === 0) ended = true;
      }
    }
    if (started && !ended) {
      const rest = text.slice(segmentStart);
      currentBytes += rest.length;
      // One run setting is small (parameters are at most 50,000 bytes): a runaway element is a malformed file.
      if (currentBytes > 1 << 20) throw new ValidationError('A run setting in the settings file is larger than 1 MiB.');
      current.push(rest);
    }
  }
  if (!started || !ended) throw new ValidationError('The run settings file is not a complete JSON array.');
}
