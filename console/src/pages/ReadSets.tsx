import { useState } from 'preact/hooks';
import { GetSequenceStoreCommand, ListReadSetsCommand, type ReadSetFilter } from '@aws-sdk/client-omics';
import type { Clients } from '../session.js';
import { Copyable, ErrorNote, Page, useLoad, when } from '../ui.js';
import { AccessPolicy } from './AccessPolicy.js';

const STATUSES = ['', 'ACTIVE', 'ARCHIVED', 'ACTIVATING', 'PROCESSING_UPLOAD', 'UPLOAD_FAILED', 'DELETING', 'DELETED'];

/** A store's read sets: its S3 URI and access point, filters, and pages of 50 (the API's own paging: any size of store). */
export function ReadSets({ clients, storeId }: { clients: Clients; storeId: string }) {
  const store = useLoad(() => clients.omics.send(new GetSequenceStoreCommand({ id: storeId })), [clients, storeId]);
  const [filter, setFilter] = useState<ReadSetFilter>({});
  // Tokens of the pages before this one: back goes to the previous token.
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const token = tokens[tokens.length - 1];
  const page = useLoad(
    () => clients.omics.send(new ListReadSetsCommand({ sequenceStoreId: storeId, maxResults: 50, filter, ...(token ? { nextToken: token } : {}) })),
    [clients, storeId, JSON.stringify(filter), token],
  );
  const applyFilter = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const v = (k: string) => String(f.get(k) ?? '').trim();
    setFilter({
      ...(v('subjectId') ? { subjectId: v('subjectId') } : {}),
      ...(v('sampleId') ? { sampleId: v('sampleId') } : {}),
      ...(v('status') ? { status: v('status') as ReadSetFilter['status'] } : {}),
      ...(v('createdAfter') ? { createdAfter: new Date(v('createdAfter')) } : {}),
      ...(v('createdBefore') ? { createdBefore: new Date(`${v('createdBefore')}T23:59:59.999Z`) } : {}),
      ...(v('name') ? { name: v('name') } : {}),
    });
    setTokens([undefined]);
  };
  const s = store.value;
  return (
    <Page title={s ? `Store ${s.name || s.id}` : 'Store'}>
      <p>
        <a href="#/">← All stores</a> · <a href={`#/stores/${storeId}/jobs`}>Import, export and activation jobs</a> ·{' '}
        <a href={`#/stores/${storeId}/upload`}>Upload read sets</a>
      </p>
      <ErrorNote text={store.error} />
      {s ? (
        <dl class="facts">
          <dt>ID</dt>
          <dd>
            <Copyable value={s.id!} label="store ID" />
          </dd>
          {s.s3Access?.s3Uri ? (
            <>
              <dt>S3 URI</dt>
              <dd>
                <Copyable value={s.s3Access.s3Uri} label="S3 URI" />
              </dd>
            </>
          ) : null}
          {s.s3Access?.s3AccessPointArn ? (
            <>
              <dt>Access point ARN</dt>
              <dd>
                <Copyable value={s.s3Access.s3AccessPointArn} label="access point ARN" />
              </dd>
            </>
          ) : null}
          {s.description ? (
            <>
              <dt>Description</dt>
              <dd>{s.description}</dd>
            </>
          ) : null}
        </dl>
      ) : null}
      {s?.s3Access?.s3AccessPointArn && s.arn ? (
        <details>
          <summary>S3 access policy and sharing</summary>
          <AccessPolicy clients={clients} accessPointArn={s.s3Access.s3AccessPointArn} accountId={s.arn.split(':')[4]!} storeId={s.id!} />
        </details>
      ) : null}
      <h2>Read sets</h2>
      <form class="inline" onSubmit={applyFilter} aria-label="Filter read sets">
        <label>
          Name
          <input name="name" />
        </label>
        <label>
          Subject
          <input name="subjectId" />
        </label>
        <label>
          Sample
          <input name="sampleId" />
        </label>
        <label>
          Status
          <select name="status">
            {STATUSES.map((x) => (
              <option value={x}>{x || 'any'}</option>
            ))}
          </select>
        </label>
        <label>
          Created from
          <input name="createdAfter" type="date" />
        </label>
        <label>
          Created to
          <input name="createdBefore" type="date" />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorNote text={page.error} />
      {page.value ? (
        page.value.readSets?.length ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Subject</th>
                <th scope="col">Sample</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {page.value.readSets.map((r) => (
                <tr key={r.id}>
                  <td>
                    <a href={`#/stores/${storeId}/readsets/${r.id}`}>{r.name || r.id}</a>
                  </td>
                  <td>{r.fileType}</td>
                  <td>{r.subjectId}</td>
                  <td>{r.sampleId}</td>
                  <td>{r.status}</td>
                  <td>{when(r.creationTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>No read sets match.</p>
        )
      ) : page.loading ? (
        <p>Loading…</p>
      ) : null}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={tokens.length < 2} onClick={() => setTokens((t) => t.slice(0, -1))}>
          Previous
        </button>
        <button type="button" disabled={!page.value?.nextToken} onClick={() => setTokens((t) => [...t, page.value!.nextToken])}>
          Next
        </button>
      </nav>
    </Page>
  );
}
