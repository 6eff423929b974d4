import { useState } from 'preact/hooks';
import { BatchDeleteReadSetCommand, GetReadSetMetadataCommand, StartReadSetActivationJobCommand, type FileInformation } from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { presign } from '../s3-links.js';
import { ConfirmButton, Copyable, ErrorNote, Page, bytes, useLoad, when, Table } from '../ui.js';

function FileRow({ clients, name, f }: { clients: Clients; name: string; f: FileInformation }) {
  const [link, setLink] = useState<string>();
  const [error, setError] = useState<string>();
  const uri = f.s3Access?.s3Uri;
  return (
    <tr>
      <td>{name}</td>
      <td>{bytes(f.contentLength)}</td>
      <td>{uri ? <Copyable value={uri} label={`${name} S3 URI`} /> : null}</td>
      <td>
        {uri ? (
          <button
            type="button"
            class="small"
            onClick={() => {
              setError(undefined);
              presign(clients, uri).then(setLink, (e: unknown) => setError(describeError(e).message));
            }}
          >
            Presigned URL (1 hour)
          </button>
        ) : null}
        {link ? <Copyable value={link} label={`${name} presigned URL`} /> : null}
        <ErrorNote text={error} />
      </td>
    </tr>
  );
}

export function ReadSet({ clients, storeId, id }: { clients: Clients; storeId: string; id: string }) {
  const m = useLoad(() => clients.omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id })), [clients, storeId, id]);
  const r = m.value;
  const viewable = r && r.status === 'ACTIVE' && (r.fileType === 'BAM' || r.fileType === 'CRAM') && r.referenceArn;
  const [note, setNote] = useState<{ text: string; error?: boolean }>();
  const activate = () =>
    clients.omics.send(new StartReadSetActivationJobCommand({ sequenceStoreId: storeId, sources: [{ readSetId: id }] })).then(
      (j) => {
        setNote({ text: `Activation job ${j.id} started.` });
        m.reload();
      },
      (e: unknown) => setNote({ text: describeError(e).message, error: true }),
    );
  const remove = () =>
    clients.omics.send(new BatchDeleteReadSetCommand({ sequenceStoreId: storeId, ids: [id] })).then(
      (out) => {
        const failed = out.errors?.[0];
        if (failed) setNote({ text: `Not deleted: ${failed.message ?? failed.code}`, error: true });
        else window.location.hash = `#/stores/${storeId}`;
      },
      (e: unknown) => setNote({ text: describeError(e).message, error: true }),
    );
  return (
    <Page title={r ? `Read set ${r.name || r.id}` : 'Read set'}>
      <p>
        <a href={`#/stores/${storeId}`}>← Store {storeId}</a>
      </p>
      <ErrorNote text={m.error} />
      {r ? (
        <>
          <dl class="facts">
            <dt>ID</dt>
            <dd>
              <Copyable value={r.id!} label="read set ID" />
            </dd>
            <dt>Status</dt>
            <dd>
              {r.status}
              {r.statusMessage ? ` — ${r.statusMessage}` : ''}
            </dd>
            <dt>Type</dt>
            <dd>{r.fileType}</dd>
            <dt>Subject / sample</dt>
            <dd>
              {r.subjectId} / {r.sampleId}
            </dd>
            <dt>Created</dt>
            <dd>{when(r.creationTime)}</dd>
            {r.referenceArn ? (
              <>
                <dt>Reference</dt>
                <dd>
                  <Copyable value={r.referenceArn} label="reference ARN" />
                </dd>
              </>
            ) : null}
            {r.sequenceInformation ? (
              <>
                <dt>Reads / bases</dt>
                <dd>
                  {r.sequenceInformation.totalReadCount?.toLocaleString()} / {r.sequenceInformation.totalBaseCount?.toLocaleString()}
                </dd>
              </>
            ) : null}
            {r.etag ? (
              <>
                <dt>ETag ({r.etag.algorithm})</dt>
                <dd>
                  <code>{r.etag.source1}</code>
                  {r.etag.source2 ? (
                    <>
                      {' '}
                      <code>{r.etag.source2}</code>
                    </>
                  ) : null}
                </dd>
              </>
            ) : null}
          </dl>
          <div class="actions">
            {viewable ? (
              <a class="button" href={`#/stores/${storeId}/readsets/${id}/view`}>
                View reads
              </a>
            ) : null}
            {r.status === 'ARCHIVED' ? (
              <button type="button" onClick={() => void activate()}>
                Activate
              </button>
            ) : null}
            <ConfirmButton
              label="Delete…"
              question={`Delete read set ${r.name || r.id}? Its files are removed; this cannot be undone.`}
              confirm="Delete"
              onConfirm={() => void remove()}
            />
          </div>
          {note ? (
            <p class={note.error ? 'error' : 'ok'} role={note.error ? 'alert' : 'status'}>
              {note.text}
            </p>
          ) : null}
          <h2>Files</h2>
          <Table columns={['File', 'Size', 'S3 URI', 'Link']}>
            {(['source1', 'source2', 'index'] as const).map((k) => (r.files?.[k] ? <FileRow key={k} clients={clients} name={k} f={r.files[k]} /> : null))}
          </Table>
        </>
      ) : m.loading ? (
        <p>Loading…</p>
      ) : null}
    </Page>
  );
}
