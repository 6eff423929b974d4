// Builds the web console (console/) into dist/console: one ES module bundle for the browser (Preact, the AWS SDK's
// browser clients; igv.js split into its own chunk, loaded by the viewer page only), its CSS and index.html.
// esbuild alone: the console is a handful of pages, with nothing a bundler's dev server or plugins would add.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/console`;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: `${root}console/src/main.tsx` },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  legalComments: 'linked',
});
copyFileSync(`${root}console/index.html`, `${out}/index.html`);
copyFileSync(`${root}console/src/app.css`, `${out}/app.css`);
