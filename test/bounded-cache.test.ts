import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addBounded, GenerationCache, getOrAdd } from '../src/core/bounded-cache.js';
import { activity, oncePerRequest } from '../src/core/activity.js';

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

  it('once per request: a request reads the generation once; outside a request, every time', () => {
    let reads = 0;
    const read = oncePerRequest(() => ++reads);
    assert.equal(read(), 1);
    assert.equal(read(), 2, 'no request: read each time');
    activity.run({ requestId: 'r1' }, () => {
      assert.equal(read(), 3);
      assert.equal(read(), 3, 'the same request: the first read');
    });
    activity.run({ requestId: 'r2' }, () => assert.equal(read(), 4, 'the next request reads anew'));
    activity.run({ jobId: 'j1' }, () => assert.notEqual(read(), read(), 'jobs read each time'));
  });
});
