import { useState } from 'preact/hooks';
import {
  CreateReferenceStoreCommand,
  ListReferenceImportJobsCommand,
  ListReferencesCommand,
  ListReferenceStoresCommand,
  StartReferenceImportJobCommand,
  type ReferenceListItem,
  type ReferenceStoreDetail,
} from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { Copyable, ErrorNote, Page, RoleArnField, Table, allPages, useLoad, usePolling, when } from '../ui.js';
import { JobDetails } from './JobDetails.js';

const DONE = new Set(['COMPLETED', 'COMPLETED_WITH_FAILURES', 'FAILED', 'CANCELLED']);

/** Reference stores: list and create (one per account is the service's quota; the server says so when it is reached). */
export function ReferenceStores({ clients }: { clients: Clients }) {
  const stores = useLoad(
    () =>
      allPages<ReferenceStoreDetail>(async (t) => {
        const p = await clients.omics.send(new ListReferenceStoresCommand({ maxResults: 100, ...(t ? { nextToken: t } : {}) }));
        return { items: p.referenceStores, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
      }),
    [clients],
  );
  const [error, setError] = useState<string>();
  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    setError(undefined);
    try {
      await clients.omics.send(new CreateReferenceStoreCommand({ name: String(new FormData(form).get('name') ?? '').trim() }));
      form.reset();
      stores.reload();
    } catch (err) {
      setError(describeError(err).message);
    }
  };
  return (
    <Page title="Reference stores">
      <ErrorNote text={stores.error} />
      {stores.value ? (
        stores.value.length ? (
          <Table columns={['Name', 'ID', 'Created']}>
            {stores.value.map((s) => (
              <tr key={s.id}>
                <td>
                  <a href={`#/references/${s.id}`}>{s.name || s.id}</a>
                </td>
                <td>
                  <code>{s.id}</code>
                </td>
                <td>{when(s.creationTime)}</td>
              </tr>
            ))}
          </Table>
        ) : (
          <p>No reference store yet. Create one, then import FASTA references into it.</p>
        )
      ) : stores.loading ? (
        <p>Loading…</p>
      ) : null}
      <h2>New reference store</h2>
      <form class="inline" onSubmit={(e) => void create(e)} aria-label="New reference store">
        <label>
          Reference store name
          <input name="name" required maxLength={127} />
        </label>
        <button type="submit">Create reference store</button>
      </form>
      <ErrorNote text={error} />
    </Page>
  );
}

/** A reference store's references, and FASTA imports into it followed while they run. */
export function ReferenceStore({ clients, storeId }: { clients: Clients; storeId: string }) {
  const state = usePolling(
    async () => {
      const [references, j] = await Promise.all([
        allPages<ReferenceListItem>(async (t) => {
          const p = await clients.omics.send(new ListReferencesCommand({ referenceStoreId: storeId, maxResults: 100, ...(t ? { nextToken: t } : {}) }));
          return { items: p.references, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
        }),
        clients.omics.send(new ListReferenceImportJobsCommand({ referenceStoreId: storeId, maxResults: 50 })),
      ]);
      const jobs = [...(j.importJobs ?? [])].sort((a, b) => (b.creationTime?.getTime() ?? 0) - (a.creationTime?.getTime() ?? 0));
      return { references, jobs };
    },
    (v) => v.jobs.some((x) => !DONE.has(x.status!)),
    [clients, storeId],
  );
  const refs = state.value?.references;
  const jobs = state.value?.jobs;
  const error = state.error;
  const [importError, setImportError] = useState<string>();
  const startImport = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const v = (k: string) => String(f.get(k) ?? '').trim();
    setImportError(undefined);
    try {
      await clients.omics.send(
        new StartReferenceImportJobCommand({ referenceStoreId: storeId, roleArn: v('roleArn'), sources: [{ sourceFile: v('sourceFile'), name: v('name') }] }),
      );
      form.reset();
      state.reload();
    } catch (err) {
      setImportError(describeError(err).message);
    }
  };
  return (
    <Page title={`Reference store ${storeId}`}>
      <p>
        <a href="#/references">← All reference stores</a>
      </p>
      <ErrorNote text={error} />
      <h2>References</h2>
      {refs === undefined ? (
        <p>Loading…</p>
      ) : refs.length ? (
        <Table columns={['Name', 'Status', 'ARN', 'MD5', 'Created']}>
          {refs.map((r) => (
            <tr key={r.id}>
              <td>{r.name}</td>
              <td>{r.status}</td>
              <td>
                <Copyable value={r.arn!} label={`${r.name} ARN`} />
              </td>
              <td>
                <code>{r.md5}</code>
              </td>
              <td>{when(r.creationTime)}</td>
            </tr>
          ))}
        </Table>
      ) : (
        <p>No references in this store yet.</p>
      )}
      <h2>Import a reference (FASTA)</h2>
      <form onSubmit={(e) => void startImport(e)} aria-label="Import a reference">
        <label>
          Source FASTA (an S3 URI of a connected bucket, or a file:// path under the server's import roots)
          <input name="sourceFile" required placeholder="s3://bucket/genomes/GRCh38.fa" />
        </label>
        <label>
          Reference name
          <input name="name" required maxLength={127} />
        </label>
        <RoleArnField role="OmicsImport" />
        <ErrorNote text={importError} />
        <button type="submit">Start import</button>
      </form>
      {jobs?.length ? (
        <>
          <h2>Import jobs</h2>
          <Table columns={['ID', 'Status', 'Created', 'Completed']} live>
            {jobs.map((j) => (
              <tr key={j.id}>
                <td>
                  <code>{j.id}</code> <JobDetails clients={clients} kind="Reference import" storeId={storeId} id={j.id!} />
                </td>
                <td>{j.status}</td>
                <td>{when(j.creationTime)}</td>
                <td>{when(j.completionTime)}</td>
              </tr>
            ))}
          </Table>
        </>
      ) : null}
    </Page>
  );
}
