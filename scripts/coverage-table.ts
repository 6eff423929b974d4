// Writes (--write) or prints docs/compatibility.md from the service model and the operation table.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { coverageTable } from '../src/api/omics/coverage.js';
import { ROOT_DIR } from './root.js';

const text = coverageTable();
if (process.argv.includes('--write')) {
  writeFileSync(join(ROOT_DIR, 'docs', 'compatibility.md'), text);
  console.log('wrote docs/compatibility.md');
} else {
  process.stdout.write(text);
}
