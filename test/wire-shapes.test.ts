// The handlers' types come from the model: the committed wire-shapes.ts is what the generator prints, and a
// handler that returns a misspelt or missing member, or takes a member its input does not have, does not compile
// (the @ts-expect-error lines below fail the build if any of them stops being an error).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderWireShapes, WIRE_SHAPES_FILE } from '../scripts/wire-shapes.js';
import { loadModel } from '../src/api/omics/model.js';
import type { OperationTable } from '../src/api/omics/operation-types.js';
import { OPERATIONS } from '../src/api/omics/operations.js';
import { WireSerde } from '../src/api/omics/serde.js';

const created = new Date(0);
const sse = { type: 'KMS' as const };

export const misspeltRequiredMember = {
  GetReferenceStore: {
    resource: () => '*',
    // @ts-expect-error `creationtime` is not `creationTime`, which the model requires
    handle: async () => ({ id: '1', arn: 'a', name: 'n', sseConfig: sse, creationtime: created }),
  },
} satisfies OperationTable;

export const missingRequiredMember = {
  GetReferenceStore: {
    resource: () => '*',
    // @ts-expect-error creationTime is required by the model
    handle: async () => ({ id: '1', arn: 'a', name: 'n', sseConfig: sse }),
  },
} satisfies OperationTable;

export const wrongEnum = {
  GetReferenceStore: {
    resource: () => '*',
    // @ts-expect-error the model's EncryptionType is only KMS
    handle: async () => ({ id: '1', arn: 'a', name: 'n', sseConfig: { type: 'AES' }, creationTime: created }),
  },
} satisfies OperationTable;

export const unknownInputMember = {
  DeleteReferenceStore: {
    // @ts-expect-error DeleteReferenceStoreRequest has `id`, not `storeId`
    resource: (i) => i.storeId,
    handle: async () => ({}),
  },
} satisfies OperationTable;

describe('typed wire boundary', () => {
  it('src/api/omics/wire-shapes.ts is what `npm run wire-shapes` generates from model/', () => {
    assert.equal(readFileSync(WIRE_SHAPES_FILE, 'utf8'), renderWireShapes(loadModel()), 'run `npm run wire-shapes` and commit src/api/omics/wire-shapes.ts');
  });

  it('strict output (tests) refuses a member the model lacks and a missing required one; production leaves the stray out', () => {
    // A misspelt optional member compiles (TypeScript does not check excess members of a returned object), so
    // the test servers run with strict output and the serde names it.
    const model = loadModel();
    const op = model.operations['GetReferenceStore']!;
    const strict = new WireSerde(model, true);
    assert.throws(
      () => strict.serializeOutput(op, { id: '1', arn: 'a', nmae: 'n', creationTime: created }),
      /GetReferenceStore output does not match the model: GetReferenceStoreResponse\.nmae is not a member of the model/,
    );
    assert.throws(() => strict.serializeOutput(op, { id: '1', arn: 'a' }), /GetReferenceStoreResponse\.creationTime is required by the model but missing/);
    const lenient = new WireSerde(model, false);
    assert.deepEqual(JSON.parse(lenient.serializeOutput(op, { id: '1', arn: 'a', nmae: 'n', creationTime: created }).json!), {
      id: '1',
      arn: 'a',
      creationTime: '1970-01-01T00:00:00.000Z',
    });
  });

  it('every implemented operation has a typed handler of an operation of the model', () => {
    const model = loadModel();
    for (const name of Object.keys(OPERATIONS)) assert.ok(model.operations[name], `${name} is not an operation of the model`);
    assert.ok(Object.keys(OPERATIONS).length >= 41);
  });
});
