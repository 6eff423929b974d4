import { useState } from 'preact/hooks';
import { describeError, type Clients } from '../session.js';
import { ErrorNote, Page, Table, useLoad, when } from '../ui.js';

interface Connection {
  name: string;
  bucket: string;
  prefix: string;
  region: string;
  endpoint?: string;
  versioned: boolean;
  sse?: { type: string; kmsKeyId?: string };
  accessKeyId?: string;
  hasSecret: boolean;
  roleArn?: string;
  jobRoleArn?: string;
  creationTime: number;
}

interface CheckStep {
  step: string;
  ok: boolean;
  detail: string;
}

const call = (c: Clients, op: string, body: object) => c.json('openomics', `OpenOmicsConnections.${op}`, body);

function CheckButton({ clients, name }: { clients: Clients; name: string }) {
  const [steps, setSteps] = useState<CheckStep[]>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const check = (write: boolean) => {
    setBusy(true);
    setError(undefined);
    setSteps(undefined);
    (call(clients, 'CheckConnection', { name, write }) as Promise<{ steps: CheckStep[] }>)
      .then(
        (r) => setSteps(r.steps),
        (e: unknown) => setError(describeError(e).message),
      )
      .finally(() => setBusy(false));
  };
  return (
    <>
      <button type="button" class="small" disabled={busy} onClick={() => check(false)}>
        {busy ? 'Checking…' : 'Check'}
      </button>{' '}
      <button type="button" class="small" disabled={busy} onClick={() => check(true)} title="Also writes and deletes a small object under the prefix">
        Check with a write
      </button>
      <ErrorNote text={error} />
      {steps ? (
        <ul class="check" aria-label={`Check of ${name}`}>
          {steps.map((s) => (
            <li class={s.ok ? 'ok' : 'error'}>
              {s.ok ? '✓' : '✗'} {s.step}: {s.detail}
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

/**
 * The account's storage connections — customers' S3-compatible buckets that s3:// import sources, export
 * destinations and run outputs go through — with the connectivity check. Read-only here: the operator adds and
 * removes them with `openomics admin connection` (decision 82).
 */
export function Connections({ clients }: { clients: Clients }) {
  const list = useLoad(() => call(clients, 'ListConnections', {}) as Promise<{ connections: Connection[] }>, [clients]);
  return (
    <Page title="Storage connections">
      <p>
        Buckets of yours that <code>s3://</code> import sources, export destinations and workflow outputs go through. The server's operator adds them with{' '}
        <code>openomics admin connection add</code>; check here that each one works.
      </p>
      <ErrorNote text={list.error} />
      {list.value ? (
        list.value.connections.length ? (
          <Table columns={['Name', 'Bucket and prefix', 'Endpoint / region', 'Access', 'Added', 'Connectivity']}>
            {list.value.connections.map((c) => (
              <tr key={c.name}>
                <td>{c.name}</td>
                <td>
                  <code>
                    s3://{c.bucket}/{c.prefix}
                  </code>
                  {c.versioned ? ' (versioned)' : ''}
                  {c.sse ? ` · ${c.sse.type}` : ''}
                </td>
                <td>
                  {c.endpoint ?? 'AWS'} / {c.region}
                </td>
                <td>
                  {c.roleArn ? `role ${c.roleArn}` : c.accessKeyId ? `key ${c.accessKeyId}${c.hasSecret ? '' : ' (no secret)'}` : 'default credentials'}
                  {c.jobRoleArn ? ` · only jobs of ${c.jobRoleArn}` : ''}
                </td>
                <td>{when(new Date(c.creationTime * 1000))}</td>
                <td>
                  <CheckButton clients={clients} name={c.name} />
                </td>
              </tr>
            ))}
          </Table>
        ) : (
          <p>No storage connections. The operator adds one with <code>openomics admin connection add</code>.</p>
        )
      ) : list.loading ? (
        <p>Loading…</p>
      ) : null}
    </Page>
  );
}
