import { useState } from 'preact/hooks';
import { CancelRunCommand, GetRunCommand, ListRunsCommand, ListRunTasksCommand, type RunListItem, type RunStatus, type TaskListItem } from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { ConfirmButton, Copyable, ErrorNote, Page, Table, allPages, usePolling, when } from '../ui.js';

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'DELETED']);
const STATUSES = ['', 'PENDING', 'STARTING', 'RUNNING', 'STOPPING', 'COMPLETED', 'FAILED', 'CANCELLED'];
/** The log group of run and task logs (spec §7.2): streams `run/<id>`, `run/<id>/task/<taskId>`, `run/<id>/engine`. */
const LOG_GROUP = '/aws/omics/WorkflowLog';

/** Runs, newest first, filtered by status, refreshed while any is under way. */
export function Runs({ clients }: { clients: Clients }) {
  const [status, setStatus] = useState('');
  const runs = usePolling(
    async () => {
      const out = await allPages<RunListItem>(
        (startingToken) =>
          clients.omics.send(new ListRunsCommand({ maxResults: 100, ...(status ? { status: status as RunStatus } : {}), ...(startingToken ? { startingToken } : {}) })),
        500,
      );
      return out.sort((a, b) => (b.creationTime?.getTime() ?? 0) - (a.creationTime?.getTime() ?? 0));
    },
    (l) => l.some((r) => !ENDED.has(r.status!)),
    [clients, status],
  );
  return (
    <Page title="Runs">
      <p>
        <a href="#/workflows">Workflows</a>
      </p>
      <label class="inline-label">
        Status
        <select value={status} onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value)}>
          {STATUSES.map((x) => (
            <option value={x}>{x || 'any'}</option>
          ))}
        </select>
      </label>
      <ErrorNote text={runs.error} />
      {runs.value ? (
        runs.value.length ? (
          <Table columns={['Name', 'ID', 'Status', 'Workflow', 'Started', 'Stopped']} live>
            {runs.value.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={`#/runs/${r.id}`}>{r.name || r.id}</a>
                </td>
                <td>
                  <code>{r.id}</code>
                </td>
                <td>{r.status}</td>
                <td>{r.workflowId ? <a href={`#/workflows/${r.workflowId}`}>{r.workflowId}</a> : null}</td>
                <td>{when(r.startTime)}</td>
                <td>{when(r.stopTime)}</td>
              </tr>
            ))}
          </Table>
        ) : (
          <p>No runs{status ? ` with status ${status}` : ''}.</p>
        )
      ) : (
        <p>Loading…</p>
      )}
    </Page>
  );
}

/** A log stream's lines, oldest first (up to 10,000 lines: GetLogEvents pages forward from the start). */
async function logLines(clients: Clients, stream: string): Promise<string[]> {
  const logs = await clients.logs();
  const { GetLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs'); // its own chunk, loaded here
  const lines: string[] = [];
  let token: string | undefined;
  for (let i = 0; i < 10; i++) {
    const page = await logs.send(new GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: stream, startFromHead: true, limit: 1000, ...(token ? { nextToken: token } : {}) }));
    lines.push(...(page.events ?? []).map((e) => e.message ?? ''));
    if (!page.nextForwardToken || page.nextForwardToken === token || !page.events?.length) break;
    token = page.nextForwardToken;
  }
  return lines;
}

function LogView({ clients, stream, label }: { clients: Clients; stream: string; label: string }) {
  const [lines, setLines] = useState<string[]>();
  const [error, setError] = useState<string>();
  const [open, setOpen] = useState(false);
  const show = () => {
    if (open) return setOpen(false);
    setOpen(true);
    setError(undefined);
    logLines(clients, stream).then(setLines, (e: unknown) =>
      setError((e as Error).name === 'ResourceNotFoundException' ? 'No log yet: this stream is written once the task (or run) has output.' : describeError(e).message),
    );
  };
  return (
    <>
      <button type="button" class="small" aria-expanded={open} onClick={show}>
        {open ? `Hide ${label}` : `Show ${label}`}
      </button>
      {open ? (
        <div>
          <ErrorNote text={error} />
          {lines ? (
            <pre class="log" aria-label={`${label} (${stream})`} tabIndex={0}>
              {lines.length ? lines.join('\n') : '(empty)'}
            </pre>
          ) : error ? null : (
            <p>Loading…</p>
          )}
        </div>
      ) : null}
    </>
  );
}

/** A run: status and reason, where its outputs are, its tasks with their logs, the run's own log; cancel while it runs. */
export function Run({ clients, id }: { clients: Clients; id: string }) {
  const state = usePolling(
    async () => {
      const run = await clients.omics.send(new GetRunCommand({ id }));
      const tasks = await allPages<TaskListItem>(
        (startingToken) => clients.omics.send(new ListRunTasksCommand({ id, maxResults: 100, ...(startingToken ? { startingToken } : {}) })),
        5000,
      );
      return { run, tasks };
    },
    (v) => !ENDED.has(v.run.status!),
    [clients, id],
  );
  const [note, setNote] = useState<string>();
  const r = state.value?.run;
  const cancel = () =>
    clients.omics.send(new CancelRunCommand({ id })).then(
      () => state.reload(),
      (e: unknown) => setNote(describeError(e).message),
    );
  return (
    <Page title={r ? `Run ${r.name || r.id}` : 'Run'}>
      <p>
        <a href="#/runs">← All runs</a>
      </p>
      <ErrorNote text={state.error ?? note} />
      {r ? (
        <>
          <dl class="facts" aria-live="polite">
            <dt>ID</dt>
            <dd>
              <Copyable value={r.id!} label="run ID" />
            </dd>
            <dt>Status</dt>
            <dd>
              <strong>{r.status}</strong>
              {r.statusMessage ? ` — ${r.statusMessage}` : ''}
              {r.failureReason ? ` (${r.failureReason})` : ''}
            </dd>
            <dt>Workflow</dt>
            <dd>
              <a href={`#/workflows/${r.workflowId}`}>{r.workflowId}</a>
            </dd>
            <dt>Created / started / stopped</dt>
            <dd>
              {when(r.creationTime)} / {when(r.startTime)} / {when(r.stopTime)}
            </dd>
            {r.runOutputUri ? (
              <>
                <dt>Outputs</dt>
                <dd>
                  <Copyable value={r.runOutputUri} label="run output URI" />
                </dd>
              </>
            ) : null}
            <dt>Parameters</dt>
            <dd>
              <pre class="log">{JSON.stringify(r.parameters ?? {}, null, 2)}</pre>
            </dd>
          </dl>
          <div class="actions">
            <LogView clients={clients} stream={`run/${id}`} label="run log" />
            {r.status === 'FAILED' ? <LogView clients={clients} stream={`run/${id}/engine`} label="engine log" /> : null}
            {!ENDED.has(r.status!) && r.status !== 'STOPPING' ? (
              <ConfirmButton label="Cancel run…" question={`Cancel run ${r.name || r.id}? Its running tasks are stopped.`} confirm="Cancel the run" onConfirm={() => void cancel()} />
            ) : null}
          </div>
          <h2>Tasks</h2>
          {state.value!.tasks.length ? (
            <Table columns={['Name', 'Status', 'CPUs / memory', 'Started / stopped', 'Log']}>
              {state.value!.tasks.map((t) => (
                <tr key={t.taskId}>
                  <td>
                    {t.name}
                    {t.cacheHit ? ' (from the cache)' : ''}
                  </td>
                  <td>{t.status}</td>
                  <td>
                    {t.cpus} / {t.memory} GiB
                  </td>
                  <td>
                    {when(t.startTime)} / {when(t.stopTime)}
                  </td>
                  <td>
                    <LogView clients={clients} stream={`run/${id}/task/${t.taskId}`} label={`log of ${t.name}`} />
                  </td>
                </tr>
              ))}
            </Table>
          ) : (
            <p>No tasks yet.</p>
          )}
        </>
      ) : state.loading ? (
        <p>Loading…</p>
      ) : null}
    </Page>
  );
}
