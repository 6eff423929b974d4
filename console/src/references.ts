import { ListReferenceStoresCommand, ListReferencesCommand } from '@aws-sdk/client-omics';
import type { Clients } from './session.js';

/** The ACTIVE references of the account (every reference store), for pickers: an upload's, a variant store's. */
export async function allReferences(c: Clients): Promise<{ arn: string; label: string }[]> {
  const out: { arn: string; label: string }[] = [];
  const stores = await c.omics.send(new ListReferenceStoresCommand({ maxResults: 50 }));
  for (const s of stores.referenceStores ?? []) {
    let nextToken: string | undefined;
    do {
      const page = await c.omics.send(new ListReferencesCommand({ referenceStoreId: s.id!, maxResults: 100, ...(nextToken ? { nextToken } : {}) }));
      for (const r of page.references ?? []) if (r.status === 'ACTIVE') out.push({ arn: r.arn!, label: `${r.name ?? r.id} (${s.name ?? s.id})` });
      nextToken = page.nextToken;
    } while (nextToken && out.length < 1000);
  }
  return out;
}
