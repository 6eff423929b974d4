import { useState } from 'preact/hooks';
import { CreateSequenceStoreCommand, ListSequenceStoresCommand, type SequenceStoreDetail } from '@aws-sdk/client-omics';
import { describeError, type Clients } from '../session.js';
import { Copyable, ErrorNote, Page, useLoad, when, Table } from '../ui.js';

async function allStores(c: Clients): Promise<SequenceStoreDetail[]> {
  const out: SequenceStoreDetail[] = [];
  let nextToken: string | undefined;
  do {
    const page = await c.omics.send(new ListSequenceStoresCommand({ maxResults: 100, ...(nextToken ? { nextToken } : {}) }));
    out.push(...(page.sequenceStores ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

export function Stores({ clients }: { clients: Clients }) {
  const stores = useLoad(() => allStores(clients), [clients]);
  const [createError, setCreateError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const description = String(f.get('description') ?? '').trim();
    setBusy(true);
    setCreateError(undefined);
    try {
      await clients.omics.send(new CreateSequenceStoreCommand({ name: String(f.get('name')).trim(), ...(description ? { description } : {}) }));
      form.reset();
      stores.reload();
    } catch (err) {
      setCreateError(describeError(err).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Page title="Sequence stores">
      <ErrorNote text={stores.error} />
      {stores.loading && !stores.value ? <p>Loading…</p> : null}
      {stores.value && stores.value.length === 0 ? <p>No sequence stores yet: create one below.</p> : null}
      {stores.value && stores.value.length > 0 ? (
        <Table columns={['Name', 'ID', 'Created', 'Status']}>
          {stores.value.map((s) => (
            <tr key={s.id}>
              <td>
                <a href={`#/stores/${s.id}`}>{s.name || s.id}</a>
              </td>
              <td>
                <Copyable value={s.id!} label="store ID" />
              </td>
              <td>{when(s.creationTime)}</td>
              <td>{s.status}</td>
            </tr>
          ))}
        </Table>
      ) : null}
      <h2>Create a sequence store</h2>
      <form class="inline" onSubmit={(e) => void create(e)}>
        <label>
          Name
          <input name="name" required maxLength={127} />
        </label>
        <label>
          Description
          <input name="description" maxLength={255} />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create store'}
        </button>
      </form>
      <ErrorNote text={createError} />
    </Page>
  );
}
