import type { DomainDeps } from './context.js';
import { READ_SET_IMPORT_JOB, type ReadSetImportPayload } from './read-set-jobs.js';
import { REFERENCE_IMPORT_JOB, type ReferenceImportPayload } from './references.js';

/**
 * Blobs nothing refers to any more: a read set's or reference's files whose record does not exist (an import
 * item that failed, or whose cleanup failed) or that can never be read (UPLOAD_FAILED), and the parts of an
 * upload whose row is gone. Ingest and import clean up after themselves; this sweep catches what a failed
 * cleanup (the storage was down) or a killed process left.
 *
 * Safe against work in flight: the blobs are listed first, the records and jobs read after. An import writes
 * a read set's or reference's blobs only after its job saved the id it chose, so a blob listed here belongs to
 * a record that exists by now, or to an item of a job that is still running (kept), or to one that ended
 * without it (an orphan).
 */
export async function sweepOrphanBlobs(d: DomainDeps): Promise<{ removed: number }> {
  const readSets = new Map<string, Set<string>>(); // store -> read set ids with blobs
  const references = new Map<string, Set<string>>();
  const uploads = new Map<string, Set<string>>();
  const keysOf = new Map<string, string[]>(); // `${kind}/${store}/${id}` -> keys
  const note = (map: Map<string, Set<string>>, kind: string, store: string, id: string, key: string) => {
    if (!map.has(store)) map.set(store, new Set());
    map.get(store)!.add(id);
    const k = `${kind}/${store}/${id}`;
    if (!keysOf.has(k)) keysOf.set(k, []);
    keysOf.get(k)!.push(key);
  };
  for await (const b of d.blobs.list('seq/')) {
    const m = /^seq\/([^/]+)\/(readsets|uploads)\/([^/]+)\//.exec(b.key);
    if (m) note(m[2] === 'readsets' ? readSets : uploads, m[2]!, m[1]!, m[3]!, b.key);
  }
  for await (const b of d.blobs.list('ref/')) {
    const m = /^ref\/([^/]+)\/references\/([^/]+)\//.exec(b.key);
    if (m) note(references, 'references', m[1]!, m[2]!, b.key);
  }

  const orphans: string[] = [];
  for (const [store, ids] of readSets) {
    const running = await idsOfRunningJobs<ReadSetImportPayload>(d, READ_SET_IMPORT_JOB, store, (p) => p.items.map((i) => i.readSetId));
    for (const id of ids) {
      if (running.has(id)) continue;
      const rs = await d.db.readSets.get(store, id);
      if (!rs || rs.status === 'UPLOAD_FAILED') orphans.push(`readsets/${store}/${id}`);
    }
  }
  for (const [store, ids] of references) {
    const running = await idsOfRunningJobs<ReferenceImportPayload>(d, REFERENCE_IMPORT_JOB, store, (p) => p.items.map((i) => i.referenceId));
    for (const id of ids) if (!running.has(id) && !(await d.db.references.get(store, id))) orphans.push(`references/${store}/${id}`);
  }
  for (const [store, ids] of uploads) {
    for (const id of ids) if (!(await d.db.uploads.get(store, id))) orphans.push(`uploads/${store}/${id}`);
  }
  let removed = 0;
  for (const o of orphans) {
    for (const key of keysOf.get(o)!) {
      await d.blobs.delete(key);
      removed++;
    }
  }
  return { removed };
}

/** The ids the store's running (submitted or in progress) jobs of `kind` chose for their items. */
async function idsOfRunningJobs<P>(d: DomainDeps, kind: string, store: string, ids: (p: P) => (string | undefined)[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const status of ['SUBMITTED', 'IN_PROGRESS']) {
    let nextToken: string | undefined;
    do {
      const page = await d.db.jobs.list(kind, store, { status }, { maxResults: 100, ...(nextToken ? { nextToken } : {}) });
      for (const j of page.items) for (const id of ids(j.payload as P)) if (id) out.add(id);
      nextToken = page.nextToken;
    } while (nextToken);
  }
  return out;
}
