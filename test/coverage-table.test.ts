// The compatibility table and the committed service model cannot drift.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { coverageTable } from '../src/api/omics/coverage.js';
import { MODEL_FILE } from '../src/api/omics/model.js';
import { OPERATIONS } from '../src/api/omics/operations.js';
import { ROOT } from './helpers/server.js';

describe('compatibility table', () => {
  it('docs/compatibility.md is what `npm run coverage-table` generates', () => {
    const committed = readFileSync(join(ROOT, 'docs', 'compatibility.md'), 'utf8');
    assert.equal(committed, coverageTable(), 'run `npm run coverage-table` and commit docs/compatibility.md');
  });

  it('every implemented operation exists in the model', () => {
    const model = JSON.parse(readFileSync(MODEL_FILE, 'utf8'));
    for (const name of Object.keys(OPERATIONS)) assert.ok(model.operations[name], `${name} is not an operation of the model`);
  });

  it('model/ is the service model botocore ships on this machine', () => {
    const installed = execFileSync(
      'python3',
      ['-c', "import botocore.session as s, json; print(json.dumps(s.get_session().get_service_model('omics').operation_names))"],
      { encoding: 'utf8' },
    );
    const model = JSON.parse(readFileSync(MODEL_FILE, 'utf8'));
    assert.deepEqual(JSON.parse(installed).sort(), Object.keys(model.operations).sort());
  });
});
