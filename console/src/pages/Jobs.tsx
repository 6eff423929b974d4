import { ListReadSetActivationJobsCommand, ListReadSetExportJobsCommand, ListReadSetImportJobsCommand } from '@aws-sdk/client-omics';
import type { Clients } from '../session.js';
import { ErrorNote, Page, usePolling, when, Table } from '../ui.js';
import { JobDetails } from './JobDetails.js';

interface JobRow {
  kind: 'Import' | 'Export' | 'Activation';
  id: string;
  status: string;
  creationTime?: Date;
  completionTime?: Date;
}

const DONE = new Set(['COMPLETED', 'COMPLETED_WITH_FAILURES', 'FAILED', 'CANCELLED']);

async function storeJobs(c: Clients, sequenceStoreId: string): Promise<JobRow[]> {
  const [imports, exports, activations] = await Promise.all([
    c.omics.send(new ListReadSetImportJobsCommand({ sequenceStoreId, maxResults: 100 })),
    c.omics.send(new ListReadSetExportJobsCommand({ sequenceStoreId, maxResults: 100 })),
    c.omics.send(new ListReadSetActivationJobsCommand({ sequenceStoreId, maxResults: 100 })),
  ]);
  const rows: JobRow[] = [
    ...(imports.importJobs ?? []).map((j) => ({ kind: 'Import' as const, id: j.id!, status: j.status!, creationTime: j.creationTime, completionTime: j.completionTime })),
    ...(exports.exportJobs ?? []).map((j) => ({ kind: 'Export' as const, id: j.id!, status: j.status!, creationTime: j.creationTime, completionTime: j.completionTime })),
    ...(activations.activationJobs ?? []).map((j) => ({ kind: 'Activation' as const, id: j.id!, status: j.status!, creationTime: j.creationTime, completionTime: j.completionTime })),
  ];
  return rows.sort((a, b) => (b.creationTime?.getTime() ?? 0) - (a.creationTime?.getTime() ?? 0));
}

/** A store's import, export and activation jobs, newest first, refreshed every two seconds while any is running. */
export function Jobs({ clients, storeId }: { clients: Clients; storeId: string }) {
  const jobs = usePolling(() => storeJobs(clients, storeId), (r) => r.some((j) => !DONE.has(j.status)), [clients, storeId]);
  const rows = jobs.value;
  const error = jobs.error;
  return (
    <Page title="Jobs">
      <p>
        <a href={`#/stores/${storeId}`}>← Store {storeId}</a>
      </p>
      <ErrorNote text={error} />
      {rows === undefined ? <p>Loading…</p> : rows.length === 0 ? <p>No jobs in this store.</p> : null}
      {rows && rows.length > 0 ? (
        <Table columns={['Kind', 'ID', 'Status', 'Created', 'Completed']} live>
          {rows.map((j) => (
            <tr key={`${j.kind}-${j.id}`}>
              <td>{j.kind}</td>
              <td>
                <code>{j.id}</code> <JobDetails clients={clients} kind={j.kind} storeId={storeId} id={j.id} />
              </td>
              <td>{j.status}</td>
              <td>{when(j.creationTime)}</td>
              <td>{when(j.completionTime)}</td>
            </tr>
          ))}
        </Table>
      ) : null}
    </Page>
  );
}
