import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './moto.js';

/**
 * A PostgreSQL cluster of the test's own (initdb + pg_ctl in a temp dir, on a
 * free loopback port, trust auth), so a test can restart, stop or freeze the
 * database without touching the machine's shared one. Runs as the `postgres`
 * user when the test runs as root (initdb refuses root).
 */
export interface PrivatePg {
  url: string;
  port: number;
  restart(): void;
  stop(): void;
  start(): void;
  /** SIGSTOP (true) or SIGCONT (false) every process of the cluster: a database that hangs. */
  freeze(on: boolean): void;
  destroy(): void;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  if (!version) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  return join(root, version, 'bin');
}

export async function startPrivatePg(): Promise<PrivatePg> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'openomics-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) => {
    const r = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { encoding: 'utf8' }) : spawnSync(join(bin, cmd), args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB`;
  const start = () => run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
  const stop = () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  start();
  /** This cluster's processes only: the postmaster (first line of postmaster.pid) and its children. */
  const pids = () => {
    const main = readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
    const children = spawnSync('pgrep', ['-P', main], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    return [main, ...children].map(Number);
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    restart: () => {
      stop();
      start();
    },
    stop,
    start,
    freeze: (on) => {
      for (const pid of pids()) {
        try {
          process.kill(pid, on ? 'SIGSTOP' : 'SIGCONT');
        } catch {
          // gone meanwhile
        }
      }
    },
    destroy: () => {
      try {
        stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
