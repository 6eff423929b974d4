import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addBounded, getOrAdd } from '../src/core/bounded-cache.js';

describe('bounded caches', () => {
  it('make once per key, and drop the oldest entry when full', () => {
    const cache = new Map<string, number>();
    let made = 0;
    const get = (k: string) => getOrAdd(cache, k, 2, () => ++made);
    assert.equal(get('a'), 1);
    assert.equal(get('a'), 1, 'cached');
    assert.equal(get('b'), 2);
    assert.equal(get('c'), 3);
    assert.deepEqual([...cache.keys()], ['b', 'c'], 'a, the oldest, made room');
    addBounded(cache, 'c', 30, 2);
    assert.deepEqual([...cache.entries()], [['b', 2], ['c', 30]], 'replacing a key drops nothing');
  });
});
