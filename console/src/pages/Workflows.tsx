import { useState } from 'preact/hooks';
import { CreateWorkflowCommand, GetWorkflowCommand, ListWorkflowsCommand, StartRunCommand, type WorkflowListItem } from '@aws-sdk/client-omics';
import type { DocumentType } from '@smithy/types';
import { describeError, type Clients } from '../session.js';
import { Copyable, ErrorNote, Page, RoleArnField, Table, allPages, usePolling, when } from '../ui.js';

const SETTLED = new Set(['ACTIVE', 'FAILED', 'DELETED', 'INACTIVE']);

/** Private workflows: list (refreshed while one is being checked), and register one from a zip of its files. */
export function Workflows({ clients }: { clients: Clients }) {
  const list = usePolling(
    async () => {
      const out = await allPages<WorkflowListItem>(
        (startingToken) => clients.omics.send(new ListWorkflowsCommand({ type: 'PRIVATE', maxResults: 100, ...(startingToken ? { startingToken } : {}) })),
        1000,
      );
      return out.sort((a, b) => (b.creationTime?.getTime() ?? 0) - (a.creationTime?.getTime() ?? 0));
    },
    (l) => l.some((w) => !SETTLED.has(w.status!)),
    [clients],
  );
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const register = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const v = (k: string) => String(f.get(k) ?? '').trim();
    const zip = f.get('definition') as File | null;
    setError(undefined);
    if (!zip || !zip.size) return setError('Choose the workflow as a .zip of its files (the main file and what it imports).');
    setBusy(true);
    try {
      await clients.omics.send(
        new CreateWorkflowCommand({
          name: v('name'),
          definitionZip: new Uint8Array(await zip.arrayBuffer()),
          ...(v('main') ? { main: v('main') } : {}),
          ...(v('description') ? { description: v('description') } : {}),
        }),
      );
      form.reset();
      list.reload();
    } catch (err) {
      setError(describeError(err).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Page title="Workflows">
      <p>
        <a href="#/runs">Runs</a>
      </p>
      <ErrorNote text={list.error} />
      {list.value ? (
        list.value.length ? (
          <Table columns={['Name', 'ID', 'Status', 'Created']} live>
            {list.value.map((w) => (
              <tr key={w.id}>
                <td>
                  <a href={`#/workflows/${w.id}`}>{w.name || w.id}</a>
                </td>
                <td>
                  <code>{w.id}</code>
                </td>
                <td>{w.status}</td>
                <td>{when(w.creationTime)}</td>
              </tr>
            ))}
          </Table>
        ) : (
          <p>No workflows yet.</p>
        )
      ) : (
        <p>Loading…</p>
      )}
      <h2>Register a workflow</h2>
      <form onSubmit={(e) => void register(e)} aria-label="Register a workflow">
        <label>
          Workflow name
          <input name="name" required maxLength={128} />
        </label>
        <label>
          Definition (.zip of the CWL, WDL or Nextflow files; the engine is read from the main file)
          <input name="definition" type="file" accept=".zip,application/zip" required />
        </label>
        <label>
          Main file in the zip (empty: the only workflow file, or main.*)
          <input name="main" />
        </label>
        <label>
          Description
          <input name="description" maxLength={256} />
        </label>
        <ErrorNote text={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Registering…' : 'Register'}
        </button>
      </form>
    </Page>
  );
}

/** A workflow: what it is, its parameters, and a form that starts a run with them. */
export function Workflow({ clients, id }: { clients: Clients; id: string }) {
  const w = usePolling(() => clients.omics.send(new GetWorkflowCommand({ id })), (x) => !SETTLED.has(x.status!), [clients, id]);
  const [error, setError] = useState<string>();
  const wf = w.value;
  const template = (wf?.parameterTemplate ?? {}) as Record<string, { description?: string; optional?: boolean }>;
  const start = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const v = (k: string) => String(f.get(k) ?? '').trim();
    setError(undefined);
    let parameters: DocumentType;
    try {
      parameters = JSON.parse(v('parameters') || '{}') as DocumentType;
    } catch (err) {
      return setError(`The parameters are not JSON: ${(err as Error).message}`);
    }
    try {
      const run = await clients.omics.send(
        new StartRunCommand({
          workflowId: id,
          workflowType: 'PRIVATE',
          roleArn: v('roleArn'),
          outputUri: v('outputUri'),
          parameters,
          ...(v('name') ? { name: v('name') } : {}),
        }),
      );
      window.location.hash = `#/runs/${run.id}`;
    } catch (err) {
      setError(describeError(err).message);
    }
  };
  const skeleton = JSON.stringify(Object.fromEntries(Object.keys(template).filter((k) => !template[k]!.optional).map((k) => [k, ''])), null, 2);
  return (
    <Page title={wf ? `Workflow ${wf.name || wf.id}` : 'Workflow'}>
      <p>
        <a href="#/workflows">← All workflows</a>
      </p>
      <ErrorNote text={w.error} />
      {wf ? (
        <>
          <dl class="facts">
            <dt>ID</dt>
            <dd>
              <Copyable value={wf.id!} label="workflow ID" />
            </dd>
            <dt>Status</dt>
            <dd>
              {wf.status}
              {wf.statusMessage ? ` — ${wf.statusMessage}` : ''}
            </dd>
            <dt>Engine</dt>
            <dd>{wf.engine}</dd>
            <dt>Main file</dt>
            <dd>{wf.main}</dd>
            <dt>Digest</dt>
            <dd>
              <code>{wf.digest}</code>
            </dd>
            <dt>Created</dt>
            <dd>{when(wf.creationTime)}</dd>
          </dl>
          {Object.keys(template).length ? (
            <>
              <h2>Parameters</h2>
              <Table columns={['Name', 'Required', 'Description']}>
                {Object.entries(template).map(([k, p]) => (
                  <tr key={k}>
                    <td>
                      <code>{k}</code>
                    </td>
                    <td>{p.optional ? 'no' : 'yes'}</td>
                    <td>{p.description}</td>
                  </tr>
                ))}
              </Table>
            </>
          ) : null}
          {wf.status === 'ACTIVE' ? (
            <>
              <h2>Start a run</h2>
              <form onSubmit={(e) => void start(e)} aria-label="Start a run">
                <label>
                  Run name
                  <input name="name" maxLength={128} />
                </label>
                <label>
                  Parameters (JSON; files as omics:// or s3:// URIs)
                  <textarea name="parameters" rows={Math.min(16, 3 + Object.keys(template).length)} defaultValue={skeleton} />
                </label>
                <label>
                  Output URI (s3:// of a connected bucket, or file:/// under an export root)
                  <input name="outputUri" required />
                </label>
                <RoleArnField role="OmicsWorkflow" />
                <ErrorNote text={error} />
                <button type="submit">Start run</button>
              </form>
            </>
          ) : null}
        </>
      ) : w.loading ? (
        <p>Loading…</p>
      ) : null}
    </Page>
  );
}
