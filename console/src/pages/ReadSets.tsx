import { useState } from 'preact/hooks';
import {
  BatchDeleteReadSetCommand,
  GetSequenceStoreCommand,
  ListReadSetsCommand,
  StartReadSetActivationJobCommand,
  UpdateSequenceStoreCommand,
  type GetSequenceStoreCommandOutput,
  type ReadSetFilter,
  type ReadSetListItem,
} from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { ConfirmButton, Copyable, ErrorNote, Page, useLoad, when } from '../ui.js';
import { AccessPolicy } from './AccessPolicy.js';

type SortKey = 'name' | 'fileType' | 'subjectId' | 'sampleId' | 'status' | 'creationTime';
const COLUMNS: [SortKey, string][] = [
  ['name', 'Name'],
  ['fileType', 'Type'],
  ['subjectId', 'Subject'],
  ['sampleId', 'Sample'],
  ['status', 'Status'],
  ['creationTime', 'Created'],
];

function sorted(list: ReadSetListItem[], key: SortKey, ascending: boolean): ReadSetListItem[] {
  const value = (r: ReadSetListItem) => (key === 'creationTime' ? (r.creationTime?.toISOString() ?? '') : String(r[key] ?? ''));
  return [...list].sort((a, b) => value(a).localeCompare(value(b)) * (ascending ? 1 : -1));
}

/** In chunks the API takes at once (20 read sets per activation job, 100 per batch delete). */
const chunks = <T,>(l: T[], n: number): T[][] => Array.from({ length: Math.ceil(l.length / n) }, (_, i) => l.slice(i * n, (i + 1) * n));

/** The store's settings the API lets change: name, description, fallback location, tags propagated to S3 objects. */
function StoreSettings({ clients, store, onSaved }: { clients: Clients; store: GetSequenceStoreCommandOutput; onSaved: () => void }) {
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const v = (k: string) => String(f.get(k) ?? '').trim();
    setError(undefined);
    setSaved(false);
    try {
      await clients.omics.send(
        new UpdateSequenceStoreCommand({
          id: store.id!,
          name: v('name'),
          description: v('description'),
          ...(v('fallbackLocation') ? { fallbackLocation: v('fallbackLocation') } : {}),
          propagatedSetLevelTags: v('propagatedSetLevelTags').split(/[\s,]+/).filter(Boolean),
        }),
      );
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(describeError(err).message);
    }
  };
  return (
    <form onSubmit={(e) => void save(e)} aria-label="Store settings">
      <label>
        Name
        <input name="name" defaultValue={store.name ?? ''} required maxLength={127} />
      </label>
      <label>
        Description
        <input name="description" defaultValue={store.description ?? ''} maxLength={255} />
      </label>
      <label>
        Fallback location (S3 URI where files that cannot be ingested are kept)
        <input name="fallbackLocation" defaultValue={store.fallbackLocation ?? ''} placeholder="s3://bucket/prefix/" />
      </label>
      <label>
        Tags propagated to the S3 objects (keys, comma-separated)
        <input name="propagatedSetLevelTags" defaultValue={(store.propagatedSetLevelTags ?? []).join(', ')} />
      </label>
      <ErrorNote text={error} />
      {saved ? (
        <p class="ok" role="status">
          Saved.
        </p>
      ) : null}
      <button type="submit">Save settings</button>
    </form>
  );
}

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
  const [sortKey, setSortKey] = useState<SortKey>('creationTime');
  const [ascending, setAscending] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [actionNote, setActionNote] = useState<{ text: string; error?: boolean; jobs?: boolean }>();
  const rows = sorted(page.value?.readSets ?? [], sortKey, ascending);
  const chosen = rows.filter((r) => selected.has(r.id!));
  const toggle = (id: string) =>
    setSelected((sel) => {
      const next = new Set(sel);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const activate = async () => {
    const archived = chosen.filter((r) => r.status === 'ARCHIVED');
    setActionNote(undefined);
    try {
      const ids: string[] = [];
      for (const c of chunks(archived, 20)) {
        ids.push((await clients.omics.send(new StartReadSetActivationJobCommand({ sequenceStoreId: storeId, sources: c.map((r) => ({ readSetId: r.id! })) }))).id!);
      }
      setActionNote({ text: `Activation job${ids.length > 1 ? 's' : ''} ${ids.join(', ')} started for ${archived.length} read set${archived.length === 1 ? '' : 's'}.`, jobs: true });
      setSelected(new Set());
      page.reload();
    } catch (e) {
      setActionNote({ text: describeError(e).message, error: true });
    }
  };
  const remove = async () => {
    setActionNote(undefined);
    try {
      const failed: string[] = [];
      for (const c of chunks(chosen, 100)) {
        const r = await clients.omics.send(new BatchDeleteReadSetCommand({ sequenceStoreId: storeId, ids: c.map((x) => x.id!) }));
        for (const e of r.errors ?? []) failed.push(`${e.id}: ${e.message ?? e.code}`);
      }
      setActionNote(
        failed.length
          ? { text: `Not deleted: ${failed.join('; ')}`, error: true }
          : { text: `Deleted ${chosen.length} read set${chosen.length === 1 ? '' : 's'}.` },
      );
      setSelected(new Set());
      page.reload();
    } catch (e) {
      setActionNote({ text: describeError(e).message, error: true });
    }
  };
  const sortBy = (k: SortKey) => {
    if (k === sortKey) setAscending((a) => !a);
    else {
      setSortKey(k);
      setAscending(k !== 'creationTime');
    }
  };
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
    setSelected(new Set());
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
          {s.fallbackLocation ? (
            <>
              <dt>Fallback location</dt>
              <dd>
                <code>{s.fallbackLocation}</code>
              </dd>
            </>
          ) : null}
          {s.propagatedSetLevelTags?.length ? (
            <>
              <dt>Propagated tags</dt>
              <dd>{s.propagatedSetLevelTags.join(', ')}</dd>
            </>
          ) : null}
        </dl>
      ) : null}
      {s ? (
        <details>
          <summary>Settings</summary>
          <StoreSettings clients={clients} store={s} onSaved={store.reload} />
        </details>
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
      <div class="actions" aria-label="Selected read sets">
        <span>{chosen.length ? `${chosen.length} selected` : 'Select read sets to activate or delete them.'}</span>
        <button type="button" disabled={!chosen.some((r) => r.status === 'ARCHIVED')} onClick={() => void activate()}>
          Activate selected
        </button>
        <ConfirmButton
          label="Delete selected…"
          disabled={!chosen.length}
          question={`Delete ${chosen.length} read set${chosen.length === 1 ? '' : 's'} (${chosen.map((r) => r.name || r.id).join(', ')})? Their files are removed; this cannot be undone.`}
          confirm="Delete"
          onConfirm={() => void remove()}
        />
      </div>
      {actionNote ? (
        <p class={actionNote.error ? 'error' : 'ok'} role={actionNote.error ? 'alert' : 'status'}>
          {actionNote.text}
          {actionNote.jobs ? (
            <>
              {' '}
              <a href={`#/stores/${storeId}/jobs`}>Follow it on the jobs page</a>
            </>
          ) : null}
        </p>
      ) : null}
      {page.value ? (
        rows.length ? (
          <table>
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select all on this page"
                    checked={chosen.length === rows.length}
                    onChange={(e) => setSelected(new Set((e.currentTarget as HTMLInputElement).checked ? rows.map((r) => r.id!) : []))}
                  />
                </th>
                {COLUMNS.map(([k, label]) => (
                  <th scope="col" aria-sort={k === sortKey ? (ascending ? 'ascending' : 'descending') : 'none'}>
                    <button type="button" class="sort" onClick={() => sortBy(k)} title="Sorts this page">
                      {label}
                      {k === sortKey ? (ascending ? ' ▲' : ' ▼') : ''}
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id}>
                  <td>
                    <input type="checkbox" aria-label={`Select ${r.name || r.id}`} checked={selected.has(r.id!)} onChange={() => toggle(r.id!)} />
                  </td>
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
        <button type="button" disabled={tokens.length < 2} onClick={() => {
            setTokens((t) => t.slice(0, -1));
            setSelected(new Set());
          }}>
          Previous
        </button>
        <button type="button" disabled={!page.value?.nextToken} onClick={() => {
            setTokens((t) => [...t, page.value!.nextToken]);
            setSelected(new Set());
          }}>
          Next
        </button>
      </nav>
    </Page>
  );
}
