import { fileURLToPath } from 'node:url';
// dist/scripts/root.js -> repository root
export const ROOT_DIR = fileURLToPath(new URL('../../', import.meta.url));
