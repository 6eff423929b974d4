import { useState } from 'preact/hooks';
import { GetObjectTaggingCommand, ListObjectsV2Command, type _Object } from '@aws-sdk/client-s3';
import { describeError, type Clients } from '../session.js';
import { presign } from '../s3-links.js';
import { Copyable, ErrorNote, Page, bytes, Table } from '../ui.js';

interface SharedReadSet {
  id: string;
  files: _Object[];
  tags: Record<string, string>;
}

/** `s3://<alias>/<prefix>`: the S3 URI a store's owner copies from the store page. */
function parseStoreUri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri.trim());
  if (!m) throw new Error('Paste the S3 URI of the store, as its owner copies it: s3://<access point alias>/<account>/sequenceStore/<store ID>/');
  return { bucket: m[1]!, prefix: m[2] && !m[2].endsWith('/') ? `${m[2]}/` : (m[2] ?? '') };
}

/**
 * The read sets of another account's store that this key may read through the S3 view: the store's files are listed
 * (the owner's policy grants `s3:ListBucket`), and a read set is shown when its tags can be read — the same
 * `s3:GetObjectTagging`/`s3:GetObject` grant, so a policy limited to some read sets or to one sample's tag shows
 * exactly those.
 */
async function readableReadSets(c: Clients, bucket: string, prefix: string): Promise<{ shown: SharedReadSet[]; hidden: number }> {
  const byReadSet = new Map<string, _Object[]>();
  let token: string | undefined;
  do {
    const page = await c.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) {
      const m = /\/readSet\/([^/]+)\//.exec(o.Key ?? '');
      if (!m) continue;
      byReadSet.set(m[1]!, [...(byReadSet.get(m[1]!) ?? []), o]);
    }
    token = page.NextContinuationToken;
  } while (token && byReadSet.size < 5000);
  const all = [...byReadSet.entries()];
  const shown: SharedReadSet[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < all.length) {
        const [id, files] = all[next++]!;
        try {
          const t = await c.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: files[0]!.Key! }));
          shown.push({ id, files, tags: Object.fromEntries((t.TagSet ?? []).map((x) => [x.Key!, x.Value!])) });
        } catch (e) {
          if ((e as Error).name !== 'AccessDenied') throw e;
        }
      }
    }),
  );
  shown.sort((a, b) => a.id.localeCompare(b.id));
  return { shown, hidden: all.length - shown.length };
}

function SharedFile({ clients, bucket, o }: { clients: Clients; bucket: string; o: _Object }) {
  const [link, setLink] = useState<string>();
  const [error, setError] = useState<string>();
  const uri = `s3://${bucket}/${o.Key}`;
  return (
    <tr>
      <td>{o.Key!.split('/').pop()}</td>
      <td>{bytes(o.Size)}</td>
      <td>
        <Copyable value={uri} label={`${o.Key} S3 URI`} />
      </td>
      <td>
        <button type="button" class="small" onClick={() => presign(clients, uri).then(setLink, (e: unknown) => setError(describeError(e).message))}>
          Presigned URL (1 hour)
        </button>
        {link ? <Copyable value={link} label="presigned URL" /> : null}
        <ErrorNote text={error} />
      </td>
    </tr>
  );
}

const RECENT_KEY = 'openomics.console.shared';
const recentUris = (): string[] => {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]') as string[];
  } catch {
    return [];
  }
};

export function Shared({ clients }: { clients: Clients }) {
  const [result, setResult] = useState<{ bucket: string; shown: SharedReadSet[]; hidden: number }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const open = async (e: Event) => {
    e.preventDefault();
    const uri = String(new FormData(e.currentTarget as HTMLFormElement).get('uri') ?? '');
    setError(undefined);
    setResult(undefined);
    setBusy(true);
    try {
      const { bucket, prefix } = parseStoreUri(uri);
      setResult({ bucket, ...(await readableReadSets(clients, bucket, prefix)) });
      localStorage.setItem(RECENT_KEY, JSON.stringify([uri.trim(), ...recentUris().filter((u) => u !== uri.trim())].slice(0, 10)));
    } catch (err) {
      const name = (err as Error).name;
      setError(
        name === 'AccessDenied'
          ? "This store's owner has not granted you the listing of its files (s3:ListBucket). Ask them to share it with your account, or open a file by its S3 URI with an S3 tool."
          : name === 'NoSuchBucket'
            ? 'There is no store with that access point here.'
            : describeError(err).message,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <Page title="Shared with me">
      <p>Read sets of another account's sequence store that its owner lets you read through S3 (its S3 access policy). Paste the store's S3 URI, which the owner copies from the store page.</p>
      <form class="inline" onSubmit={(e) => void open(e)} aria-label="Open a shared store">
        <label>
          Store S3 URI
          <input name="uri" required size={60} list="recent-shared" placeholder="s3://…-s3alias/123456789012/sequenceStore/1234567890/" />
          <datalist id="recent-shared">
            {recentUris().map((u) => (
              <option value={u} />
            ))}
          </datalist>
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Opening…' : 'Open'}
        </button>
      </form>
      <ErrorNote text={error} />
      {result ? (
        result.shown.length ? (
          <>
            {result.shown.map((r) => (
              <section key={r.id} aria-label={`Read set ${r.id}`}>
                <h2>
                  Read set {r.id}
                  {r.tags['omics:sampleId'] ? ` · sample ${r.tags['omics:sampleId']}` : ''}
                  {r.tags['omics:subjectId'] ? ` · subject ${r.tags['omics:subjectId']}` : ''}
                </h2>
                <Table columns={['File', 'Size', 'S3 URI', 'Link']}>
                  {r.files.map((o) => (
                    <SharedFile key={o.Key} clients={clients} bucket={result.bucket} o={o} />
                  ))}
                </Table>
              </section>
            ))}
            <p>
              {result.shown.length} read set{result.shown.length === 1 ? '' : 's'} shared with you
              {result.hidden ? `; the store holds ${result.hidden} more that you may not read` : ''}.
            </p>
          </>
        ) : (
          <p>None of this store's read sets are shared with you{result.hidden ? ` (it holds ${result.hidden})` : ''}.</p>
        )
      ) : null}
    </Page>
  );
}
