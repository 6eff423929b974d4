import { useEffect, useRef, useState } from 'preact/hooks';
import { ListReadSetUploadPartsCommand, type FileType } from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { ErrorNote, Page, bytes, useLoad } from '../ui.js';
import { allReferences } from '../references.js';
import {
  abandonUpload,
  fileTypeOf,
  forgetUpload,
  matchFiles,
  readSetNameOf,
  runUpload,
  savedUploads,
  startUpload,
  MAX_PART_SIZE,
  type UploadDescription,
  type UploadProgress,
} from '../upload.js';

interface Run {
  d: UploadDescription;
  files: File[];
  state: 'running' | 'paused' | 'done' | 'failed';
  progress?: UploadProgress;
  message?: string;
  readSetId?: string;
  controller?: AbortController;
}

/**
 * The uploads of this tab, kept outside the page: an upload goes on while the user looks at other pages, and the
 * upload page shows it again when they come back. Closing or reloading the tab while one runs asks first.
 */
let tabRuns: Run[] = [];
const listeners = new Set<(runs: Run[]) => void>();
function setTabRuns(change: (runs: Run[]) => Run[]): void {
  tabRuns = change(tabRuns);
  for (const l of listeners) l(tabRuns);
}
/** Signing out pauses this tab's uploads (their parts stay on the server; they resume after signing in again). */
export function pauseTabUploads(): void {
  for (const r of tabRuns) r.controller?.abort();
  setTabRuns(() => []);
}
window.addEventListener('beforeunload', (e) => {
  if (tabRuns.some((r) => r.state === 'running')) e.preventDefault(); // the browser asks "leave the page?"
});

const seconds = (s: number) => (s < 90 ? `${Math.ceil(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

function ProgressLine({ run }: { run: Run }) {
  const p = run.progress;
  if (!p) return null;
  const speed = p.seconds > 0 ? p.sent / p.seconds : 0;
  const left = speed > 0 ? (p.total - p.done) / speed : undefined;
  const phase =
    p.phase === 'checking'
      ? 'checking what the server holds'
      : p.phase === 'completing'
        ? 'all parts sent; completing'
        : p.phase === 'processing'
          ? 'processing on the server (statistics, checksums, index)'
          : `${bytes(speed)}/s${left !== undefined && run.state === 'running' ? `, about ${seconds(left)} left` : ''}`;
  return (
    <div class="progress">
      <progress max={p.total} value={p.done} aria-label={`Upload of ${run.d.name}`} />
      <span>
        {bytes(p.done)} of {bytes(p.total)} · {phase}
      </span>
    </div>
  );
}

/**
 * Uploads to a store from the browser: drop (or choose) a FASTQ, a FASTQ pair, a BAM/uBAM or a CRAM; parts go in
 * parallel with their checksums verified; an upload interrupted by a reload, a closed tab or a server that went
 * away is listed here and resumes when its files are chosen again.
 */
export function Upload({ clients, accessKeyId, storeId }: { clients: Clients; accessKeyId: string; storeId: string }) {
  const references = useLoad(() => allReferences(clients), [clients]);
  const [files, setFiles] = useState<File[]>([]);
  const [fileType, setFileType] = useState<FileType | ''>('');
  const [name, setName] = useState('');
  const [formError, setFormError] = useState<string>();
  const [runs, setRuns] = useState<Run[]>(tabRuns);
  useEffect(() => {
    listeners.add(setRuns);
    return () => void listeners.delete(setRuns);
  }, []);
  const [saved, setSaved] = useState<UploadDescription[]>([]);
  const [dragging, setDragging] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);

  // Uploads started here before (a reload, a closed tab): those still in progress on the server can resume.
  const refreshSaved = async () => {
    const mine = savedUploads(accessKeyId).filter((d) => d.storeId === storeId && !tabRuns.some((r) => r.d.uploadId === d.uploadId));
    const alive: UploadDescription[] = [];
    for (const d of mine) {
      try {
        await clients.omics.send(new ListReadSetUploadPartsCommand({ sequenceStoreId: storeId, uploadId: d.uploadId, partSource: 'SOURCE1', maxResults: 1 }));
        alive.push(d);
      } catch (e) {
        if ((e as Error).name === 'ResourceNotFoundException') forgetUpload(accessKeyId, d.uploadId);
        else alive.push(d); // the server cannot say now: keep it
      }
    }
    setSaved(alive);
  };
  useEffect(() => {
    void refreshSaved();
  }, [clients, storeId]);

  const update = (uploadId: string, change: Partial<Run>) => setTabRuns((rs) => rs.map((r) => (r.d.uploadId === uploadId ? { ...r, ...change } : r)));

  const go = (d: UploadDescription, chosen: File[]) => {
    const controller = new AbortController();
    setTabRuns((rs) => [...rs.filter((r) => r.d.uploadId !== d.uploadId), { d, files: chosen, state: 'running', controller }]);
    setSaved((s) => s.filter((x) => x.uploadId !== d.uploadId));
    runUpload(clients, accessKeyId, d, chosen, (progress) => update(d.uploadId, { progress }), controller.signal).then(
      (r) =>
        update(d.uploadId, {
          state: r.status === 'ACTIVE' ? 'done' : 'failed',
          readSetId: r.readSetId,
          message: r.status === 'ACTIVE' ? 'ACTIVE' : `${r.status}${r.statusMessage ? `: ${r.statusMessage}` : ''}`,
        }),
      (e: unknown) => {
        const paused = controller.signal.aborted;
        const gone = (e as Error).name === 'ResourceNotFoundException';
        update(d.uploadId, {
          state: gone ? 'failed' : 'paused',
          message: paused
            ? 'Paused. The parts sent so far are kept on the server.'
            : gone
              ? `The upload is no longer on the server (completed, given up or expired): ${describeError(e).message}`
              : `${describeError(e).message} The parts sent so far are kept on the server: press Resume to continue.`,
        });
        if (gone) forgetUpload(accessKeyId, d.uploadId);
      },
    );
  };

  const choose = (list: FileList | File[] | null | undefined) => {
    const chosen = Array.from(list ?? []).sort((a, b) => a.name.localeCompare(b.name));
    setFormError(undefined);
    if (chosen.length === 0) return;
    if (chosen.length > 2) return setFormError('Choose one file, or the two files of a FASTQ pair.');
    const t = fileTypeOf(chosen[0]!.name);
    if (chosen.length === 2 && (t !== 'FASTQ' || fileTypeOf(chosen[1]!.name) !== 'FASTQ')) return setFormError('Two files make a read set only as a FASTQ pair (R1 and R2).');
    setFiles(chosen);
    if (t) setFileType(t);
    setName(readSetNameOf(chosen[0]!.name));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const v = (k: string) => String(f.get(k) ?? '').trim();
    setFormError(undefined);
    if (!files.length) return setFormError('Choose or drop the files to upload first.');
    if (!fileType) return setFormError('Choose the file type.');
    if (fileType === 'CRAM' && !v('referenceArn')) return setFormError('A CRAM read set needs its reference: choose one.');
    const partMiB = Number(v('partSize') || 0);
    if (partMiB && !(partMiB >= 1 && partMiB * 1024 * 1024 <= MAX_PART_SIZE)) return setFormError('The part size is between 1 and 100 MiB.');
    try {
      const d = await startUpload(
        clients,
        accessKeyId,
        {
          storeId,
          fileType,
          name,
          subjectId: v('subjectId'),
          sampleId: v('sampleId'),
          ...(v('referenceArn') ? { referenceArn: v('referenceArn') } : {}),
          ...(partMiB ? { partSize: Math.round(partMiB * 1024 * 1024) } : {}),
        },
        files,
      );
      go(d, files);
      setFiles([]);
      setName('');
      setFileType('');
      form.reset();
    } catch (err) {
      setFormError(describeError(err).message);
    }
  };

  return (
    <Page title="Upload read sets">
      <p>
        <a href={`#/stores/${storeId}`}>← Store {storeId}</a>
      </p>
      {saved.length ? (
        <section aria-labelledby="interrupted">
          <h2 id="interrupted">Interrupted uploads</h2>
          {saved.map((d) => (
            <SavedUpload
              key={d.uploadId}
              d={d}
              onResume={(chosen) => go(d, chosen)}
              onDiscard={() => abandonUpload(clients, accessKeyId, d).then(() => setSaved((s) => s.filter((x) => x.uploadId !== d.uploadId)))}
            />
          ))}
        </section>
      ) : null}
      {runs.some((r) => r.d.storeId === storeId) ? (
        <section aria-labelledby="uploads">
          <h2 id="uploads">Uploads</h2>
          <ul class="uploads">
            {runs
              .filter((r) => r.d.storeId === storeId)
              .map((r) => (
                <li key={r.d.uploadId} aria-label={`Upload ${r.d.name}`}>
                  <strong>{r.d.name}</strong> ({r.d.fileType}, {r.d.files.map((f) => f.name).join(' + ')})
                  <ProgressLine run={r} />
                  {r.message ? (
                    <p class={r.state === 'done' ? 'ok' : r.state === 'failed' || r.state === 'paused' ? 'error' : ''} role="status">
                      {r.message}
                      {r.readSetId ? (
                        <>
                          {' '}
                          <a href={`#/stores/${storeId}/readsets/${r.readSetId}`}>Open the read set</a>
                        </>
                      ) : null}
                    </p>
                  ) : null}
                  {r.state === 'running' ? (
                    <button type="button" class="small" onClick={() => r.controller?.abort()}>
                      Pause
                    </button>
                  ) : r.state === 'paused' ? (
                    <>
                      <button type="button" class="small" onClick={() => go(r.d, r.files)}>
                        Resume
                      </button>{' '}
                      <button
                        type="button"
                        class="small"
                        onClick={() =>
                          abandonUpload(clients, accessKeyId, r.d).then(
                            () => setTabRuns((rs) => rs.filter((x) => x.d.uploadId !== r.d.uploadId)),
                            (e: unknown) => update(r.d.uploadId, { message: describeError(e).message }),
                          )
                        }
                      >
                        Give up
                      </button>
                    </>
                  ) : null}
                </li>
              ))}
          </ul>
        </section>
      ) : null}
      <h2>New upload</h2>
      <form onSubmit={(e) => void submit(e)} aria-label="New upload">
        <div
          class={`dropzone${dragging ? ' over' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => {
            e.preventDefault();
            setDragging(false);
            choose(e.dataTransfer?.files);
          }}
        >
          <p>
            Drop a FASTQ (or its R1 and R2), a BAM, a uBAM or a CRAM here, or{' '}
            <label class="inline-label">
              choose files
              <input ref={fileInput} type="file" multiple accept=".fastq,.fq,.gz,.bam,.cram" onChange={(e) => choose((e.currentTarget as HTMLInputElement).files)} />
            </label>
          </p>
          {files.length ? <p class="chosen">{files.map((f) => `${f.name} (${bytes(f.size)})`).join(' + ')}</p> : null}
        </div>
        <label>
          File type
          <select name="fileType" value={fileType} onChange={(e) => setFileType((e.currentTarget as HTMLSelectElement).value as FileType)} required>
            <option value="">choose</option>
            <option value="FASTQ">FASTQ</option>
            <option value="BAM">BAM (aligned)</option>
            <option value="UBAM">uBAM (unaligned)</option>
            <option value="CRAM">CRAM</option>
          </select>
        </label>
        <label>
          Read set name
          <input name="name" value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} required maxLength={127} />
        </label>
        <label>
          Subject ID
          <input name="subjectId" required maxLength={127} />
        </label>
        <label>
          Sample ID
          <input name="sampleId" required maxLength={127} />
        </label>
        {fileType === 'BAM' || fileType === 'CRAM' ? (
          <label>
            Reference
            <select name="referenceArn" required={fileType === 'CRAM'}>
              <option value="">{fileType === 'CRAM' ? 'choose (required for CRAM)' : 'none'}</option>
              {(references.value ?? []).map((r) => (
                <option value={r.arn}>{r.label}</option>
              ))}
            </select>
          </label>
        ) : null}
        <details>
          <summary>Advanced</summary>
          <label>
            Part size (MiB; empty: 16 MiB, more for very large files)
            <input name="partSize" type="number" min={1} max={100} step="any" />
          </label>
        </details>
        <ErrorNote text={formError ?? references.error} />
        <button type="submit">Upload</button>
      </form>
    </Page>
  );
}

function SavedUpload({ d, onResume, onDiscard }: { d: UploadDescription; onResume: (files: File[]) => void; onDiscard: () => Promise<void> }) {
  const [error, setError] = useState<string>();
  return (
    <div class="saved-upload" aria-label={`Interrupted upload ${d.name}`}>
      <p>
        <strong>{d.name}</strong> ({d.fileType}): {d.files.map((f) => `${f.name} (${bytes(f.size)})`).join(' + ')}, started {new Date(d.startedAt).toLocaleString()}.
      </p>
      <label>
        Choose the same file{d.files.length > 1 ? 's' : ''} to resume
        <input
          type="file"
          multiple={d.files.length > 1}
          onChange={(e) => {
            try {
              setError(undefined);
              onResume(matchFiles(d, Array.from((e.currentTarget as HTMLInputElement).files ?? [])));
            } catch (err) {
              setError((err as Error).message);
            }
          }}
        />
      </label>{' '}
      <button type="button" class="small" onClick={() => void onDiscard().catch((e: unknown) => setError(describeError(e).message))}>
        Discard
      </button>
      <ErrorNote text={error} />
    </div>
  );
}
