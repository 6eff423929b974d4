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
