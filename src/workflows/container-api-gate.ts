import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, request, type ClientRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, resolve as resolvePath } from 'node:path';
import { newTaskId, taskCgroupParent, taskContainer, taskEnvironment, taskLimits, UsageSampler, writeTask, type TaskFile, type TaskRunContext } from './task-files.js';

/**
 * The Docker Engine API as a workflow engine that calls it (Toil's legacy WDL runner, through docker-py) sees
 * it: a gate on a Unix socket in front of the real runtime's API (Podman's `podman system service`, or a Docker
 * daemon). It lets through only what running a task needs, and makes every container a HealthOmics task the
 * way the task shim does for engines that call a container command: no network, CPUs and memory rounded up
 * from the task's declared runtime, the AWS_WORKFLOW_* variables, the run's labels, bind mounts only under the
 * run's folder, no privileges; and it writes the task's record and log for the run monitor.
 *
 * Allowed: `_ping`, `version`, `info`, inspecting an image, creating a container, and inspecting, starting,
 * waiting for, reading the logs of, stopping, killing and removing the containers this gate created (by the
 * engine's name for them or their id); pulling an image when the deployment allows it. Anything else — builds, exec, other containers, volumes,
 * networks — is refused with 403 in the Docker API's error format.
 */
export interface ContainerApiGateOptions {
  /** Where the engine connects (DOCKER_HOST=unix://<socketPath>). */
  socketPath: string;
  /** The runtime's own API socket. */
  upstream: string;
  /** Podman's API (its libpod endpoints give the container's cgroup path); else Docker's. */
  podman: boolean;
  run: TaskRunContext;
  /** Bind mounts must lie under this folder (the run's own). */
  allowedRoot: string;
  /** Whether the engine may pull an image the runtime lacks (`POST /images/create`, from the image's registry). */
  allowPull?: boolean;
  /** The task behind a container the engine names (its name for it), and the resources the task declares. */
  task(engineContainerName: string): { name: string; cpus?: number; memoryMiB?: number };
}

interface GateContainer {
  id: string;
  task: TaskFile;
  usage?: UsageSampler;
  cgroupParent: string | undefined;
  log?: WriteStream;
  /** Settles when the runtime's log stream of the container has ended. */
  logCopied?: Promise<void>;
  ended?: Promise<void>;
}

const MAX_CREATE_BODY = 1 << 20;

export class ContainerApiGate {
  private server: Server | undefined;
  /** The containers this gate created, by the engine's name, our name and the runtime's id. */
  private readonly containers = new Map<string, GateContainer>();
  private readonly pending = new Set<Promise<void>>();
  private keepalive: ClientRequest | undefined;

  constructor(private readonly o: ContainerApiGateOptions) {}

  async start(): Promise<void> {
    await rm(this.o.socketPath, { force: true });
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => refuse(res, 500, `openomics container gate: ${(e as Error).message}`));
    });
    await new Promise<void>((ok, fail) => {
      this.server!.once('error', fail);
      this.server!.listen(this.o.socketPath, ok);
    });
    // An open events stream: the runtime's API service stays up while the gate lives (it exits when idle).
    this.keepalive = request({ socketPath: this.o.upstream, path: '/events', headers: { host: 'd' } }, (r) => r.resume());
    this.keepalive.on('error', () => undefined);
    this.keepalive.end();
  }

  /** Stops listening and waits for the records of containers that were still running to be written. */
  async close(): Promise<void> {
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      await closed;
    }
    await Promise.race([Promise.all(this.pending), new Promise((r) => setTimeout(r, 5000))]);
    this.keepalive?.destroy();
    await rm(this.o.socketPath, { force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gate');
    const path = url.pathname.replace(/^\/v\d+(\.\d+)?(?=\/)/, '');
    const method = req.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && (path === '/_ping' || path === '/version' || path === '/info')) return this.forward(req, res);
    if (method === 'GET' && /^\/images\/.+\/json$/.test(path)) return this.forward(req, res);
    if (method === 'POST' && path === '/images/create' && this.o.allowPull && url.searchParams.has('fromImage')) return this.forward(req, res);
    if (method === 'POST' && path === '/containers/create') return this.create(req, res, url);
    const m = /^\/containers\/([^/]+)(?:\/(json|start|wait|logs|kill|stop))?$/.exec(path);
    if (m) {
      const c = this.containers.get(decodeURIComponent(m[1]!));
      const action = m[2] ?? (method === 'DELETE' ? 'delete' : '');
      const allowed = { json: 'GET', logs: 'GET', start: 'POST', wait: 'POST', kill: 'POST', stop: 'POST', delete: 'DELETE' }[action];
      if (allowed === method) {
        if (!c) return refuse(res, 404, `No such container: ${decodeURIComponent(m[1]!)}`);
        const upstreamPath = req.url!.replace(`/containers/${m[1]!}`, `/containers/${c.id}`);
        if (action === 'start') return this.startContainer(req, res, c, upstreamPath);
        return this.forward(req, res, upstreamPath);
      }
    }
    return refuse(res, 403, `openomics: ${method} ${path} is not allowed for workflow tasks (only running task containers is)`);
  }

  /** A container, made a task: refused if it asks for more than a task may have, else created with the task's settings. */
  private async create(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req, MAX_CREATE_BODY);
    if (body === undefined) return refuse(res, 413, 'openomics: the container definition is too large');
    let spec: Record<string, unknown>;
    try {
      spec = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return refuse(res, 400, 'openomics: the container definition is not JSON');
    }
    const host = (spec['HostConfig'] ?? {}) as Record<string, unknown>;
    const problem = this.unsafe(host);
    if (problem) return refuse(res, 403, `openomics: ${problem}`);
    const engineName = url.searchParams.get('name') ?? '';
    const declared = this.o.task(engineName);
    const { cpus, memoryGiB } = taskLimits(declared.cpus, declared.memoryMiB);
    const ids = newTaskId();
    const { name, labels } = taskContainer(this.o.run, ids.id);
    const envVars = Object.entries(taskEnvironment(this.o.run, ids)).map(([k, v]) => `${k}=${v}`);
    const memory = memoryGiB * 1024 ** 3;
    const cgroupParent = taskCgroupParent(this.o.run, ids.id);
    const rewritten = {
      ...spec,
      Env: [...((spec['Env'] as string[] | undefined) ?? []), ...envVars],
      Labels: { ...((spec['Labels'] as Record<string, string> | undefined) ?? {}), ...labels },
      NetworkDisabled: true,
      ExposedPorts: undefined,
      NetworkingConfig: undefined,
      HostConfig: { ...host, NetworkMode: 'none', Memory: memory, MemorySwap: memory, NanoCpus: cpus * 1e9, CpuQuota: undefined, CpuPeriod: undefined, PortBindings: undefined, AutoRemove: false, CgroupParent: cgroupParent },
    };
    const out = Buffer.from(JSON.stringify(rewritten));
    const search = new URLSearchParams(url.search);
    search.set('name', name);
    const r = await this.call('POST', `${req.url!.split('?')[0]}?${search.toString()}`, out, { 'content-type': 'application/json' });
    if (r.status !== 201) return send(res, r.status, r.body);
    const id = (JSON.parse(r.body.toString('utf8')) as { Id: string }).Id;
    const command = [...asList(spec['Entrypoint']), ...asList(spec['Cmd'])];
    const task: TaskFile = { ...ids, name: declared.name, image: String(spec['Image'] ?? ''), cpus, memoryGiB, cidfile: null, command, creationTime: Date.now(), startTime: Date.now() };
    writeTask(this.o.run.tasksDir, task);
    const c: GateContainer = { id, task, cgroupParent };
    for (const key of [engineName, name, id, id.slice(0, 12)]) if (key) this.containers.set(key, c);
    send(res, 201, r.body);
  }

  /** What a task container may not have: privileges, host namespaces, devices, or mounts outside the run. */
  private unsafe(host: Record<string, unknown>): string | null {
    if (host['Privileged'] === true) return 'privileged containers are not allowed';
    for (const k of ['CapAdd', 'Devices', 'DeviceRequests', 'VolumesFrom', 'SecurityOpt', 'Links']) {
      const v = host[k];
      if (Array.isArray(v) && v.length > 0) return `${k} is not allowed`;
    }
    for (const k of ['PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode']) {
      if (typeof host[k] === 'string' && host[k] === 'host') return `${k}=host is not allowed`;
    }
    const root = resolvePath(this.o.allowedRoot);
    const inside = (p: string) => {
      const abs = resolvePath(p);
      return abs === root || abs.startsWith(`${root}/`);
    };
    for (const b of asList(host['Binds'])) {
      const source = b.split(':')[0]!;
      if (!source.startsWith('/')) return `named volumes are not allowed (${source})`;
      if (!inside(source)) return `bind mounts must be under the run's folder (${source} is not)`;
    }
    for (const m of (host['Mounts'] as { Type?: string; Source?: string }[] | undefined) ?? []) {
      if (m.Type !== 'bind' && m.Type !== 'tmpfs') return `${m.Type ?? 'unknown'} mounts are not allowed`;
      if (m.Type === 'bind' && !inside(m.Source ?? '')) return `bind mounts must be under the run's folder (${m.Source ?? ''} is not)`;
    }
    return null;
  }

  /** Starts the container; from then on its log is copied and its use sampled until it ends. */
  private async startContainer(req: IncomingMessage, res: ServerResponse, c: GateContainer, upstreamPath: string): Promise<void> {
    const r = await this.call('POST', upstreamPath, await readBody(req, MAX_CREATE_BODY));
    if (r.status === 204 && !c.ended) {
      c.task.startTime = Date.now();
      writeTask(this.o.run.tasksDir, c.task);
      c.log = createWriteStream(join(this.o.run.tasksDir, `${c.task.id}.log`));
      c.usage = new UsageSampler(() => this.cgroupOf(c.id), c.cgroupParent);
      c.logCopied = this.copyLog(c);
      const ended = this.watch(c);
      c.ended = ended;
      this.pending.add(ended);
      void ended.finally(() => this.pending.delete(ended));
    }
    send(res, r.status, r.body);
  }

  /** Waits (on the runtime, not the engine) for the container to end, then completes its record. */
  private async watch(c: GateContainer): Promise<void> {
    const w = await this.call('POST', `/containers/${c.id}/wait`).catch(() => undefined);
    let exitCode = w?.status === 200 ? Number((JSON.parse(w.body.toString('utf8')) as { StatusCode?: number }).StatusCode ?? 1) : 1;
    let oom = false;
    const inspect = await this.call('GET', `/containers/${c.id}/json`).catch(() => undefined);
    if (inspect?.status === 200) {
      const state = (JSON.parse(inspect.body.toString('utf8')) as { State?: { ExitCode?: number; OOMKilled?: boolean } }).State;
      exitCode = state?.ExitCode ?? exitCode;
      oom = state?.OOMKilled === true;
    }
    let digest: string | null = null;
    const image = await this.call('GET', `/images/${encodeURIComponent(c.task.image)}/json`).catch(() => undefined);
    if (image?.status === 200) {
      const info = JSON.parse(image.body.toString('utf8')) as { Digest?: string; RepoDigests?: string[] };
      digest = info.Digest ?? info.RepoDigests?.[0]?.split('@')[1] ?? null;
    }
    await Promise.race([c.logCopied, new Promise((r) => setTimeout(r, 5000))]);
    await new Promise((r) => (c.log ? c.log.end(r) : r(undefined)));
    writeTask(this.o.run.tasksDir, c.usage!.finish(c.task, exitCode, oom, digest));
    await c.usage!.release();
  }

  /** The container's stdout and stderr, as they come, into the task's log (the runtime's multiplexed stream, demultiplexed). */
  private copyLog(c: GateContainer): Promise<void> {
    return new Promise((done) => {
      const r = request({ socketPath: this.o.upstream, method: 'GET', path: `/containers/${c.id}/logs?follow=1&stdout=1&stderr=1`, headers: { host: 'd' } }, (res) => {
        let pending = Buffer.alloc(0);
        res.on('data', (b: Buffer) => {
          pending = Buffer.concat([pending, b]);
          while (pending.length >= 8) {
            const size = pending.readUInt32BE(4);
            if (pending.length < 8 + size) break;
            c.log?.write(pending.subarray(8, 8 + size));
            pending = pending.subarray(8 + size);
          }
        });
        res.on('end', () => done());
        res.on('error', () => done());
      });
      r.on('error', () => done());
      r.end();
    });
  }

  private async cgroupOf(id: string): Promise<string | undefined> {
    if (!this.o.podman) return `docker/${id}`;
    const r = await this.call('GET', `/v4.0.0/libpod/containers/${id}/json`);
    if (r.status !== 200) return undefined;
    return (JSON.parse(r.body.toString('utf8')) as { State?: { CgroupPath?: string } }).State?.CgroupPath || undefined;
  }

  /** Passes the request to the runtime as it is (streaming both ways: logs follow, waits block). */
  private forward(req: IncomingMessage, res: ServerResponse, path = req.url ?? '/'): Promise<void> {
    return new Promise((done) => {
      const up = request({ socketPath: this.o.upstream, method: req.method, path, headers: { ...req.headers, host: 'd' } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
        r.on('end', () => done());
        r.on('error', () => done());
      });
      up.on('error', (e) => {
        refuse(res, 502, `openomics: the container runtime did not answer: ${e.message}`);
        done();
      });
      req.pipe(up);
    });
  }

  private call(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
    return new Promise((ok, fail) => {
      const r = request({ socketPath: this.o.upstream, method, path, headers: { host: 'd', ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => ok({ status: res.statusCode ?? 502, body: Buffer.concat(chunks) }));
        res.on('error', fail);
      });
      r.on('error', fail);
      r.end(body);
    });
  }
}

function asList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size <= limit) chunks.push(b);
    });
    req.on('end', () => ok(size <= limit ? Buffer.concat(chunks) : undefined));
    req.on('error', fail);
  });
}

function send(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(body);
}

/** An error in the Docker Engine API's format (`{"message": ...}`), which docker-py shows as the error's explanation. */
function refuse(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.destroy();
  send(res, status, Buffer.from(JSON.stringify({ message })));
}
