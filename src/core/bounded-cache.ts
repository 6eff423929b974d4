/**
 * Small in-process caches on a Map: at most `max` entries, the oldest (first
 * inserted) dropped to make room. For memoising pure work by its input
 * (prepared statements, parsed policies, signing keys, blob headers).
 */

/** Stores `value` under `key`, dropping the oldest entry when `max` are held. */
export function addBounded<K, V>(cache: Map<K, V>, key: K, value: V, max: number): V {
  if (!cache.has(key) && cache.size >= max) cache.delete(cache.keys().next().value as K);
  cache.set(key, value);
  return value;
}

/** The value cached under `key`, or `make()`'s, cached (bounded by `max`). */
export function getOrAdd<K, V>(cache: Map<K, V>, key: K, max: number, make: () => V): V {
  const hit = cache.get(key);
  return hit !== undefined ? hit : addBounded(cache, key, make(), max);
}

/**
 * Rows of the metadata store kept in memory while nothing they came from can have changed: each entry holds the
 * change generation read before its row was loaded (MetadataStore#generation) and is trusted only while the
 * generation is still that number, so a change committed by any process is seen by the next lookup. A load
 * during which the generation moved is returned but not kept. Absent rows (`undefined`) are cached too.
 */
export class GenerationCache<K, V> {
  private readonly entries = new Map<K, { generation: number; value: V }>();

  constructor(
    private readonly generation: () => number,
    private readonly max = 10_000,
  ) {}

  async get(key: K, load: () => Promise<V>): Promise<V> {
    const generation = this.generation();
    const hit = this.entries.get(key);
    if (hit && hit.generation === generation) return hit.value;
    const value = await load();
    if (this.generation() === generation) addBounded(this.entries, key, { generation, value }, this.max);
    return value;
  }
}
