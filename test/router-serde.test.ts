// Naming the operation first: every operation of the model routes from its own request line (a table test),
// and the model-driven serde binds and validates input the way the model says.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../src/api/omics/model.js';
import { OmicsRouter } from '../src/api/omics/router.js';
import { WireSerde } from '../src/api/omics/serde.js';

const model = loadModel();
const router = new OmicsRouter(model);
const serde = new WireSerde(model);

function sampleLabel(name: string): string {
  if (/arn/i.test(name)) return encodeURIComponent('arn:aws:omics:us-east-1:123456789012:sequenceStore/1234567890');
  return '1234567890';
}

describe('OmicsRouter', () => {
  it('routes every one of the model operations from its request line', () => {
    const ops = Object.values(model.operations);
    assert.equal(ops.length, 107);
    for (const op of ops) {
      const path = op.http.requestUri.split('?')[0]!.replace(/\{([^}+]+)\+?\}/g, (_, n: string) => sampleLabel(n));
      const m = router.match(op.http.method, path);
      assert.equal(m?.operation.name, op.name, `${op.http.method} ${path}`);
    }
  });

  it('decodes labels and prefers the more literal template', () => {
    const arn = 'arn:aws:omics:us-east-1:123456789012:sequenceStore/1234567890';
    const m = router.match('GET', `/tags/${encodeURIComponent(arn)}`);
    assert.equal(m?.operation.name, 'ListTagsForResource');
    assert.equal(m?.labels['resourceArn'], arn);
    assert.equal(router.match('POST', '/sequencestore/1234567890/readset/batch/delete')?.operation.name, 'BatchDeleteReadSet');
    assert.equal(router.match('GET', '/sequencestore/1234567890/readset/1111111111/metadata')?.operation.name, 'GetReadSetMetadata');
    assert.equal(router.match('GET', '/sequencestore/1234567890/readset/1111111111')?.operation.name, 'GetReadSet');
  });

  it('names nothing for unknown paths and methods', () => {
    assert.equal(router.match('GET', '/nope'), undefined);
    assert.equal(router.match('PUT', '/sequencestore'), undefined);
    assert.equal(router.match('GET', '/sequencestore/%E0%A4%A'), undefined, 'malformed escapes do not route');
    assert.ok(router.matchesAnyMethod('/sequencestore'));
  });
});

describe('WireSerde', () => {
  const op = (name: string) => model.operations[name]!;

  it('binds URI labels, query strings and the JSON body', () => {
    const input = serde.parseInput(op('ListSequenceStores'), {}, [['maxResults', '5'], ['nextToken', 'abc']], {}, Buffer.from('{"filter":{"name":"x","createdAfter":"2024-01-01T00:00:00Z"}}'), undefined);
    assert.equal(input['maxResults'], 5);
    assert.equal(input['nextToken'], 'abc');
    const filter = input['filter'] as { name: string; createdAfter: Date };
    assert.equal(filter.name, 'x');
    assert.equal(filter.createdAfter.toISOString(), '2024-01-01T00:00:00.000Z');
    const untag = serde.parseInput(op('UntagResource'), { resourceArn: 'arn:aws:omics:us-east-1:123456789012:sequenceStore/1' }, [['tagKeys', 'a'], ['tagKeys', 'b']], {}, undefined, undefined);
    assert.deepEqual(untag['tagKeys'], ['a', 'b']);
  });

  it('accepts epoch-second timestamps as well as ISO-8601', () => {
    const input = serde.parseInput(op('ListSequenceStores'), {}, [], {}, Buffer.from('{"filter":{"createdBefore":1700000000}}'), undefined);
    assert.equal((input['filter'] as { createdBefore: Date }).createdBefore.getTime(), 1_700_000_000_000);
  });

  it('reports every violation with its path, in the service wording', () => {
    assert.throws(
      () => serde.parseInput(op('CreateSequenceStore'), {}, [], {}, Buffer.from(JSON.stringify({ description: '', eTagAlgorithmFamily: 'X', sseConfig: {} })), undefined),
      (e: Error) =>
        /^5 validation errors detected/.test(e.message) &&
        e.message.includes("Value 'null' at 'name' failed to satisfy constraint: Member must not be null") &&
        e.message.includes("at 'description' failed to satisfy constraint: Member must have length greater than or equal to 1") &&
        e.message.includes("at 'sseConfig.type' failed to satisfy constraint: Member must not be null") &&
        e.message.includes('enum value set'),
    );
  });

  it('rejects wrong JSON types, malformed JSON and non-numeric query integers', () => {
    assert.throws(() => serde.parseInput(op('CreateSequenceStore'), {}, [], {}, Buffer.from('{"name": 5}'), undefined), /Member must be a string/);
    assert.throws(() => serde.parseInput(op('CreateSequenceStore'), {}, [], {}, Buffer.from('{"name":'), undefined), /not valid JSON/);
    assert.throws(() => serde.parseInput(op('CreateSequenceStore'), {}, [], {}, Buffer.from('[1]'), undefined), /JSON object/);
    assert.throws(() => serde.parseInput(op('ListSequenceStores'), {}, [['maxResults', 'ten']], {}, undefined, undefined), /must be an integer/);
    assert.throws(
      () => serde.parseInput(op('CreateSequenceStore'), {}, [], {}, Buffer.from('{"name":"ok","propagatedSetLevelTags":"a"}'), undefined),
      /must be a list/,
    );
  });

  it('matches patterns against the whole value', () => {
    assert.throws(() => serde.parseInput(op('GetSequenceStore'), { id: '12345678901x' }, [], {}, undefined, undefined), /pattern/);
    assert.throws(() => serde.parseInput(op('CreateSequenceStore'), {}, [], {}, Buffer.from('{"name":"n","fallbackLocation":"s3://UPPER/"}'), undefined), /fallbackLocation/);
    const ok = serde.parseInput(op('CreateSequenceStore'), {}, [], {}, Buffer.from('{"name":"n","fallbackLocation":""}'), undefined);
    assert.equal(ok['fallbackLocation'], '');
  });

  it('serialises timestamps as ISO-8601, drops absent members and sets the success code', () => {
    const out = serde.serializeOutput(op('GetSequenceStore'), { id: '1234567890', arn: 'arn:x', creationTime: new Date(0), description: undefined });
    assert.equal(out.status, 200);
    assert.deepEqual(JSON.parse(out.json!), { id: '1234567890', arn: 'arn:x', creationTime: '1970-01-01T00:00:00.000Z' });
    assert.equal(serde.serializeOutput(op('TagResource'), {}).status, 204);
  });
});
