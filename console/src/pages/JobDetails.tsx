import { useState } from 'preact/hooks';
import {
  GetReadSetActivationJobCommand,
  GetReadSetExportJobCommand,
  GetReadSetImportJobCommand,
  GetReferenceImportJobCommand,
} from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { ErrorNote } from '../ui.js';

export type JobKind = 'Import' | 'Export' | 'Activation' | 'Reference import';

interface Detail {
  statusMessage?: string;
  destination?: string;
  items: { what: string; status?: string; statusMessage?: string; href?: string }[];
}

/** One job in full: its message and each source's (or read set's) own status and reason. */
async function jobDetail(c: Clients, kind: JobKind, storeId: string, id: string): Promise<Detail> {
  const rs = (readSetId?: string) => (readSetId ? `#/stores/${storeId}/readsets/${readSetId}` : undefined);
  if (kind === 'Import') {
    const j = await c.omics.send(new GetReadSetImportJobCommand({ sequenceStoreId: storeId, id }));
    return {
      ...(j.statusMessage ? { statusMessage: j.statusMessage } : {}),
      items: (j.sources ?? []).map((s) => ({
        what: `${s.name ?? ''} ${s.sourceFiles?.source1 ?? ''}${s.sourceFiles?.source2 ? ` + ${s.sourceFiles.source2}` : ''}`.trim(),
        status: s.status,
        statusMessage: s.statusMessage,
        href: rs(s.readSetId),
      })),
    };
  }
  if (kind === 'Export') {
    const j = await c.omics.send(new GetReadSetExportJobCommand({ sequenceStoreId: storeId, id }));
    return {
      ...(j.statusMessage ? { statusMessage: j.statusMessage } : {}),
      ...(j.destination ? { destination: j.destination } : {}),
      items: (j.readSets ?? []).map((r) => ({ what: `read set ${r.id}`, status: r.status, statusMessage: r.statusMessage, href: rs(r.id) })),
    };
  }
  if (kind === 'Activation') {
    const j = await c.omics.send(new GetReadSetActivationJobCommand({ sequenceStoreId: storeId, id }));
    return {
      ...(j.statusMessage ? { statusMessage: j.statusMessage } : {}),
      items: (j.sources ?? []).map((r) => ({ what: `read set ${r.readSetId}`, status: r.status, statusMessage: r.statusMessage, href: rs(r.readSetId) })),
    };
  }
  const j = await c.omics.send(new GetReferenceImportJobCommand({ referenceStoreId: storeId, id }));
  return {
    ...(j.statusMessage ? { statusMessage: j.statusMessage } : {}),
    items: (j.sources ?? []).map((s) => ({ what: `${s.name ?? ''} ${s.sourceFile ?? ''}`.trim(), status: s.status, statusMessage: s.statusMessage })),
  };
}

/** A button that shows a job's details under it (loaded when asked, again on each opening). */
export function JobDetails({ clients, kind, storeId, id }: { clients: Clients; kind: JobKind; storeId: string; id: string }) {
  const [detail, setDetail] = useState<Detail>();
  const [error, setError] = useState<string>();
  const [open, setOpen] = useState(false);
  const toggle = () => {
    if (open) return setOpen(false);
    setOpen(true);
    setError(undefined);
    jobDetail(clients, kind, storeId, id).then(setDetail, (e: unknown) => setError(describeError(e).message));
  };
  return (
    <>
      <button type="button" class="small" aria-expanded={open} onClick={toggle}>
        {open ? 'Hide details' : 'Details'}
      </button>
      {open ? (
        <div class="job-detail" aria-label={`Details of job ${id}`}>
          <ErrorNote text={error} />
          {detail ? (
            <>
              {detail.statusMessage ? <p>{detail.statusMessage}</p> : null}
              {detail.destination ? (
                <p>
                  Destination: <code>{detail.destination}</code>
                </p>
              ) : null}
              <ul>
                {detail.items.map((x) => (
                  <li>
                    {x.href ? <a href={x.href}>{x.what}</a> : x.what}: {x.status}
                    {x.statusMessage ? ` — ${x.statusMessage}` : ''}
                  </li>
                ))}
              </ul>
            </>
          ) : error ? null : (
            <p>Loading…</p>
          )}
        </div>
      ) : null}
    </>
  );
}
