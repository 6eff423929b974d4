import { useEffect, useRef, useState } from 'preact/hooks';
import { GetReadSetMetadataCommand, GetReferenceCommand, GetReferenceMetadataCommand, type ReadSetFile, type ReferenceFile } from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { presign } from '../s3-links.js';
import { ErrorNote, Page } from '../ui.js';

/** References up to this size are fetched whole for the viewer (their sequence drawn, CRAM decoded). */
const WHOLE_REFERENCE = 64 * 1024 * 1024;

interface IgvBrowser {
  search(locus: string): Promise<unknown>;
  loadTrack(t: object): Promise<unknown>;
}
interface Igv {
  createBrowser(div: HTMLElement, options: object): Promise<IgvBrowser>;
  removeAllBrowsers(): void;
}

/** A reference file from the reference store (GetReference, its parts in order), as a Blob URL for igv.js. */
async function referenceFile(c: Clients, referenceStoreId: string, id: string, file: ReferenceFile, parts: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  for (let partNumber = 1; partNumber <= parts; partNumber++) {
    const out = await c.omics.send(new GetReferenceCommand({ referenceStoreId, id, file, partNumber }));
    chunks.push(await out.payload!.transformToByteArray());
  }
  return URL.createObjectURL(new Blob(chunks as BlobPart[]));
}

/**
 * The reference for igv.js, from the read set's linked reference: the FASTA and its index when small enough to
 * fetch whole (sequence drawn, CRAM decodable), else only the sequence names and lengths (from the .fai).
 */
async function igvReference(c: Clients, referenceArn: string): Promise<{ reference: object; firstSequence: string; urls: string[] }> {
  const m = /referenceStore\/([^/]+)\/reference\/([^/]+)$/.exec(referenceArn);
  if (!m) throw new Error(`not a reference ARN: ${referenceArn}`);
  const [, referenceStoreId, id] = m as unknown as [string, string, string];
  const meta = await c.omics.send(new GetReferenceMetadataCommand({ referenceStoreId, id }));
  const indexUrl = await referenceFile(c, referenceStoreId, id, 'INDEX', meta.files?.index?.totalParts ?? 1);
  const fai = await (await fetch(indexUrl)).text();
  const firstSequence = fai.split('\n')[0]?.split('\t')[0] ?? '';
  if ((meta.files?.source?.contentLength ?? Infinity) <= WHOLE_REFERENCE) {
    const fastaUrl = await referenceFile(c, referenceStoreId, id, 'SOURCE', meta.files?.source?.totalParts ?? 1);
    return { reference: { id, name: meta.name ?? id, fastaURL: fastaUrl, indexURL: indexUrl, format: 'fasta' }, firstSequence, urls: [fastaUrl, indexUrl] };
  }
  const sizes = fai
    .split('\n')
    .filter((l) => l)
    .map((l) => l.split('\t').slice(0, 2).join('\t'))
    .join('\n');
  const sizesUrl = URL.createObjectURL(new Blob([sizes]));
  return { reference: { id, name: meta.name ?? id, chromSizesURL: sizesUrl }, firstSequence, urls: [indexUrl, sizesUrl] };
}

/** igv.js over the read set's presigned S3-view URLs (file and index), the reference from the reference store. */
export function Viewer({ clients, storeId, id }: { clients: Clients; storeId: string; id: string }) {
  const div = useRef<HTMLDivElement>(null);
  const browser = useRef<IgvBrowser | undefined>(undefined);
  const [error, setError] = useState<string>();
  const [status, setStatus] = useState('Loading the read set and its reference…');
  const [locus, setLocus] = useState(() => new URLSearchParams(window.location.hash.split('?')[1] ?? '').get('locus') ?? '');
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let live = true;
    let igv: Igv | undefined;
    const blobUrls: string[] = [];
    (async () => {
      const r = await clients.omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id }));
      if (!r.referenceArn || !r.files?.source1?.s3Access?.s3Uri || !r.files.index?.s3Access?.s3Uri) throw new Error('this read set has no reference or no index to view');
      const ref = await igvReference(clients, r.referenceArn);
      blobUrls.push(...ref.urls);
      const url = await presign(clients, r.files.source1.s3Access.s3Uri);
      const indexURL = await presign(clients, r.files.index.s3Access.s3Uri);
      igv = ((await import('igv/dist/igv.esm.js')) as unknown as { default: Igv }).default;
      if (!live || !div.current) return;
      const start = locus || `${ref.firstSequence}:1-10000`;
      browser.current = await igv.createBrowser(div.current, {
        loadDefaultGenomes: false,
        reference: ref.reference,
        locus: start,
        tracks: [{ name: r.name || r.id, type: 'alignment', format: (r.fileType as ReadSetFile | undefined)?.toLowerCase() ?? 'bam', url, indexURL }],
      });
      setLocus(start);
      setStatus('');
      setReady(true);
    })().catch((e: unknown) => {
      if (live) {
        setError(describeError(e).message);
        setStatus('');
      }
    });
    return () => {
      live = false;
      igv?.removeAllBrowsers();
      for (const u of blobUrls) URL.revokeObjectURL(u);
    };
  }, [clients, storeId, id]);
  const go = (e: Event) => {
    e.preventDefault();
    const want = locus.trim();
    if (!want || !browser.current) return;
    setError(undefined);
    browser.current.search(want).catch((err: unknown) => setError(describeError(err).message));
  };
  return (
    <Page title="Reads">
      <p>
        <a href={`#/stores/${storeId}/readsets/${id}`}>← Read set {id}</a>
      </p>
      <form class="inline" onSubmit={go} aria-label="Go to a region">
        <label>
          Region or sequence name
          <input name="locus" value={locus} onInput={(e) => setLocus((e.currentTarget as HTMLInputElement).value)} placeholder="chr1:10,000-20,000" />
        </label>
        <button type="submit" disabled={!ready}>
          Go
        </button>
      </form>
      {status ? <p>{status}</p> : null}
      <ErrorNote text={error} />
      <div ref={div} class="igv" data-testid="igv" />
    </Page>
  );
}
