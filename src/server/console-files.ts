import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the console (scripts/build-console.mjs): dist/console beside dist/src. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../console', import.meta.url));
export const CONSOLE_PATH = '/console';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

/**
 * The page may talk only to this origin (the API it signs for), run only its own scripts (and the WebAssembly
 * igv.js decodes CRAM with), and show images it draws; it cannot be framed.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self' blob: data:",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * The web console's static files under /console/ (no credentials: the page signs its API requests itself).
 * Whether `rawPath` was one of its paths: answered (a file, a redirect, 404, or 405 for other methods).
 */
export function serveConsole(req: IncomingMessage, res: ServerResponse, rawPath: string, dir = CONSOLE_DIR): boolean {
  if (rawPath !== CONSOLE_PATH && !rawPath.startsWith(`${CONSOLE_PATH}/`)) return false;
  req.resume();
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return true;
  }
  if (rawPath === CONSOLE_PATH) {
    res.writeHead(308, { location: `${CONSOLE_PATH}/` }).end();
    return true;
  }
  let rel: string;
  try {
    rel = decodeURIComponent(rawPath.slice(CONSOLE_PATH.length + 1)) || 'index.html';
  } catch {
    res.writeHead(400).end();
    return true;
  }
  // Only files under the console's folder: no `..`, no absolute paths, no NUL.
  const file = normalize(join(dir, rel));
  if (rel.includes('\0') || !file.startsWith(dir + sep) || !TYPES[extname(file)]) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
    return true;
  }
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    const missing = rel === 'index.html' ? 'The console is not built: run `npm run build`.\n' : 'Not found\n';
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(missing);
    return true;
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(file)]!,
    'content-length': size,
    // Chunks carry a content hash in their names; the page and its entry points are checked on every load.
    'cache-control': rel.startsWith('chunks/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).on('error', () => res.destroy()).pipe(res);
  return true;
}
