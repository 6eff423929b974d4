import { useEffect, useRef, useState } from 'preact/hooks';
import { GetReadSetMetadataCommand, GetReferenceCommand, GetReferenceMetadataCommand, type ReadSetFile, type ReferenceFile } from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { presign } from '../s3-links.js';
import { ErrorNote, Page } from '../ui.js';

interface IgvBrowser {
  search(locus: string): Promise<unknown>;
  loadTrack(t: object): Promise<unknown>;
}
interface Igv {
  createBrowser(div: HTMLElement, options: object): Promise<IgvBrowser>;
  removeAllBrowsers(): void;
}

/** A ranged read of a reference file: the GetReference parts it overlaps, each asked for just the bytes needed. */
async function referenceBytes(c: Clients, referenceStoreId: string, id: string, file: ReferenceFile, partSize: number, start: number, end: number): Promise<ArrayBuffer> {
  const out = new Uint8Array(Math.max(0, end - start));
  let at = start;
  while (at < end) {
    const partNumber = Math.floor(at / partSize) + 1;
    const partStart = (partNumber - 1) * partSize;
    const last = Math.min(end, partStart + partSize) - 1;
    const r = await c.omics.send(new GetReferenceCommand({ referenceStoreId, id, file, partNumber, range: `${at - partStart}-${last - partStart}` }));
    const got = await r.payload!.transformToByteArray();
    if (got.length !== last - at + 1) throw new Error(`the reference answered ${got.length} bytes for ${last - at + 1} asked`);
    out.set(got, at - start);
    at = last + 1;
  }
  return out.buffer;
}

/**
 * A reference file as igv.js takes a local file (an object with `name`, `slice` and `arrayBuffer`): each slice it
 * reads is fetched by range from the reference store when it is read, so a 3 GB genome costs only the bytes of
 * the regions on screen — sequence drawn and CRAM decoded at any size.
 */
function rangedReferenceFile(c: Clients, referenceStoreId: string, id: string, file: ReferenceFile, name: string, size: number, partSize: number): object {
  const region = (start: number, end: number) => ({
    name,
    slice: (a = 0, b = end - start) => region(start + a, Math.min(end, start + b)),
    arrayBuffer: () => referenceBytes(c, referenceStoreId, id, file, partSize, start, end),
  });
  return region(0, size);
}

/** The reference for igv.js, from the read set's linked reference: its FASTA read by range, its index (.fai) whole. */
async function igvReference(c: Clients, referenceArn: string): Promise<{ reference: object; firstSequence: string }> {
  const m = /referenceStore\/([^/]+)\/reference\/([^/]+)$/.exec(referenceArn);
  if (!m) throw new Error(`not a reference ARN: ${referenceArn}`);
  const [, referenceStoreId, id] = m as unknown as [string, string, string];
  const meta = await c.omics.send(new GetReferenceMetadataCommand({ referenceStoreId, id }));
  const source = meta.files?.source;
  const index = meta.files?.index;
  if (!source?.contentLength || !source.partSize || !index?.contentLength || !index.partSize) throw new Error('the reference has no FASTA or no index');
  const fai = new TextDecoder().decode(await referenceBytes(c, referenceStoreId, id, 'INDEX', index.partSize, 0, index.contentLength));
  const firstSequence = fai.split('\n')[0]?.split('\t')[0] ?? '';
  const fasta = rangedReferenceFile(c, referenceStoreId, id, 'SOURCE', 'reference.fa', source.contentLength, source.partSize);
  const faiFile = rangedReferenceFile(c, referenceStoreId, id, 'INDEX', 'reference.fa.fai', index.contentLength, index.partSize);
  return { reference: { id, name: meta.name ?? id, fastaURL: fasta, indexURL: faiFile, format: 'fasta' }, firstSequence };
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
    (async () => {
      const r = await clients.omics.send(new GetReadSetMetadataCommand({ sequenceStoreId: storeId, id }));
      if (!r.referenceArn || !r.files?.source1?.s3Access?.s3Uri || !r.files.index?.s3Access?.s3Uri) throw new Error('this read set has no reference or no index to view');
      const ref = await igvReference(clients, r.referenceArn);
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
