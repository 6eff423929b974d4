import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** nginx (Debian) serving `root` on a free loopback port, the yardstick of the read benchmarks. */
export async function startNginx(root: string): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  writeFileSync(
    join(root, 'nginx.conf'),
    `daemon off; worker_processes 1;${process.getuid?.() === 0 ? ' user root;' : ''} pid ${root}/nginx.pid; error_log ${root}/nginx.err;
events { worker_connections 1024; }
http { access_log off; sendfile on; server { listen 127.0.0.1:${port}; root ${root}; } }`,
  );
  const child = spawn('nginx', ['-c', join(root, 'nginx.conf'), '-p', root], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/nginx.conf`, { method: 'HEAD' }).then((r) => r.status === 200, () => false);
    if (ok) return { url, stop: () => child.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  throw new Error('nginx did not start');
}
