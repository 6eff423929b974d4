import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addBounded, GenerationCache, getOrAdd } from '../src/core/bounded-cache.js';
import { TurnMemoGeneration } from '../src/db/change-generation.js';

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

  it('generation cache: a row is trusted while the generation it was loaded at stands, absent rows too', async () => {
    let generation = 1;
    const loads: string[] = [];
    const cache = new GenerationCache<string, string | undefined>(() => generation);
    const get = (k: string) => cache.get(k, async () => (loads.push(k), k === 'gone' ? undefined : `${k}@${generation}`));
    assert.equal(await get('a'), 'a@1');
    assert.equal(await get('a'), 'a@1');
    assert.equal(await get('gone'), undefined);
    assert.equal(await get('gone'), undefined);
    assert.deepEqual(loads, ['a', 'gone'], 'one load each while nothing changed');
    generation = 2;
    assert.equal(await get('a'), 'a@2', 'a committed change anywhere: loaded again');
    // A change during the load: the row is returned but not kept.
    const racing = cache.get('b', async () => {
      generation = 3;
      return 'b-old';
    });
    assert.equal(await racing, 'b-old');
    assert.equal(await get('b'), 'b@3');
  });

  it('the generation is read once per event-loop turn, and again after a request arrives or this process writes', async () => {
    let reads = 0;
    let bumps = 0;
    const g = new TurnMemoGeneration({ current: () => ++reads, bump: () => bumps++, close: async () => {} });
    assert.equal(g.current(), 1);
    assert.equal(g.current(), 1, 'the same turn: the first read');
    await Promise.resolve();
    assert.equal(g.current(), 1, 'microtasks of the same turn too (cache hits resolve there)');
    g.forget(); // a request arrived
    assert.equal(g.current(), 2, 'a request that arrived reads anew: it sees what was committed before it');
    g.bump(); // this process wrote
    assert.equal(bumps, 1);
    assert.equal(g.current(), 3, "after this process's own write, read anew");
    await new Promise((r) => setImmediate(r));
    assert.equal(g.current(), 4, 'the next turn reads anew');
  });
});
