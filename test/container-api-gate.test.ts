// The container API gate between a workflow engine that speaks the Docker Engine API and Podman's API service:
// what it lets through, what it refuses (in the Docker API's error format), what it changes, and what it
// records — against a real `podman system service`, and through docker-py, the client Toil uses.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ContainerApiGate } from '../src/workflows/container-api-gate.js';
import type { TaskFile } from '../src/workflows/task-files.js';
import { until } from './helpers/omics.js';
import { workflowImage, type WorkflowImage } from './helpers/workflow-image.js';

function call(socketPath: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((ok, fail) => {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const r = request({ socketPath, method, path, headers: { host: 'd', 'content-type': 'application/json', ...(data ? { 'content-length': String(data.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          json = { text };
        }
        ok({ status: res.statusCode ?? 0, json });
      });
    });
    r.on('error', fail);
    r.end(data);
  });
}

describe('container API gate (Docker Engine API → Podman)', () => {
  let img: WorkflowImage;
  let dir: string;
  let service: ChildProcess;
  let gate: ContainerApiGate;
  let gateSocket: string;
  let upstream: string;
  const env = () => ({ ...process.env, CONTAINERS_CONF: img.containersConf });
  const runUuid = '0b7c8d5e-0000-4000-8000-000000000001';
  const outsider = `openomics-gate-test-outsider-${process.pid}`;

  before(async () => {
    img = workflowImage();
    dir = mkdtempSync(join(tmpdir(), 'openomics-gate-'));
    mkdirSync(join(dir, 'run', 'tasks'), { recursive: true });
    mkdirSync(join(dir, 'run', 'work'), { recursive: true });
    upstream = join(dir, 'podman.sock');
    gateSocket = join(dir, 'docker.sock');
    service = spawn('podman', ['system', 'service', '--time=0', `unix://${upstream}`], { env: env(), stdio: 'ignore' });
    await until('podman API', () => call(upstream, 'GET', '/_ping').catch(() => ({ status: 0, json: {} })), (r) => r.status === 200, 20_000, 100);
    gate = new ContainerApiGate({
      socketPath: gateSocket,
      upstream,
      podman: true,
      run: { tasksDir: join(dir, 'run', 'tasks'), runId: '1234567', runUuid, runArn: 'arn:aws:omics:us-east-1:123456789012:run/1234567', taskArnPrefix: 'arn:aws:omics:us-east-1:123456789012:task/', region: 'us-east-1' },
      allowedRoot: join(dir, 'run'),
      task: (name) => (name.startsWith('toil--') ? { name: 'count', cpus: 1.5, memoryMiB: 1500 } : { name }),
    });
    await gate.start();
    execFileSync('podman', ['create', '--name', outsider, img.image, 'true'], { env: env(), stdio: 'ignore' });
  });

  after(async () => {
    await gate?.close();
    execFileSync('podman', ['rm', '-f', outsider], { env: env(), stdio: 'ignore' });
    const left = execFileSync('podman', ['ps', '-a', '-q', '--filter', `label=openomics.run=${runUuid}`], { env: env(), encoding: 'utf8' }).split('\n').filter(Boolean);
    if (left.length) execFileSync('podman', ['rm', '-f', ...left], { env: env(), stdio: 'ignore' });
    service?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses pulls, exec, privileges, host namespaces, mounts outside the run folder and oversized definitions, in the Docker error format', async () => {
    const create = (hostConfig: Record<string, unknown>) => call(gateSocket, 'POST', '/v1.41/containers/create?name=x', { Image: img.image, Cmd: ['true'], HostConfig: hostConfig });
    const pull = await call(gateSocket, 'POST', '/v1.41/images/create?fromImage=docker.io/library/alpine&tag=latest');
    assert.equal(pull.status, 403);
    assert.match(String(pull.json['message']), /POST \/images\/create is not allowed/);
    assert.equal((await create({ Privileged: true })).status, 403);
    assert.match(String((await create({ CapAdd: ['SYS_ADMIN'] })).json['message']), /CapAdd is not allowed/);
    assert.match(String((await create({ PidMode: 'host' })).json['message']), /PidMode=host/);
    assert.match(String((await create({ Binds: ['/etc:/host-etc:ro'] })).json['message']), /bind mounts must be under the run's folder \(\/etc is not\)/);
    assert.equal((await create({ Binds: [`${join(dir, 'run')}/../../../etc:/x`] })).status, 403, 'a path that climbs out of the run folder');
    assert.match(String((await create({ Binds: ['data:/data'] })).json['message']), /named volumes/);
    assert.match(String((await create({ Mounts: [{ Type: 'volume', Source: 'v', Target: '/v' }] })).json['message']), /volume mounts/);
    assert.equal((await call(gateSocket, 'POST', '/v1.41/containers/create', `{"Image": "${'x'.repeat(1.5 * 1024 * 1024)}"}`)).status, 413);
    assert.equal((await call(gateSocket, 'POST', '/v1.41/containers/create', '{not json')).status, 400);
    // Containers the gate did not make are not there for the engine; other endpoints are closed.
    const other = await call(gateSocket, 'GET', `/v1.41/containers/${outsider}/json`);
    assert.equal(other.status, 404);
    assert.match(String(other.json['message']), /No such container/);
    assert.equal((await call(gateSocket, 'POST', `/v1.41/containers/${outsider}/exec`, { Cmd: ['sh'] })).status, 403);
    assert.equal((await call(gateSocket, 'GET', '/v1.41/containers/json')).status, 403);
    assert.equal((await call(gateSocket, 'POST', '/v1.41/volumes/create', {})).status, 403);
    assert.equal(readdirSync(join(dir, 'run', 'tasks')).length, 0, 'nothing refused became a task');
  });

  it('a task run by docker-py: no network whatever it asks, limits rounded up, AWS_WORKFLOW_* set, labelled; its record and log written', async () => {
    const work = join(dir, 'run', 'work');
    const script = [
      'import docker',
      `c = docker.DockerClient(base_url="unix://${gateSocket}", version="auto")`,
      `out = c.containers.run(image="${img.image}", command=["-c", "echo task=$AWS_WORKFLOW_TASK_ID run=$AWS_WORKFLOW_RUN_ID; echo oops >&2; ls /sys/class/net"], entrypoint="/bin/sh",`,
      `    name="toil--countClskind-countCls-instance-1", network_mode="host", volumes={"${work}": {"bind": "${work}"}}, working_dir="${work}", stderr=True)`,
      'print(out.decode(), end="")',
      'h = c.containers.get("toil--countClskind-countCls-instance-1").attrs["HostConfig"]',
      'print("network", h["NetworkMode"], "memory", h["Memory"], "cpus", h["NanoCpus"])',
      'try:',
      `    c.containers.run(image="${img.image}", command="true", name="toil--x", volumes={"/etc": {"bind": "/etc2"}})`,
      'except docker.errors.APIError as e:',
      '    print("refused", e.status_code, e.explanation)',
    ].join('\n');
    // Asynchronously: the gate answers from this process.
    const { stdout: out } = await promisify(execFile)('python3', ['-c', script], { encoding: 'utf8' });
    const lines = out.trim().split('\n');
    const tasks = readdirSync(join(dir, 'run', 'tasks')).filter((n) => n.endsWith('.json'));
    assert.equal(tasks.length, 1, out);
    const id = tasks[0]!.replace('.json', '');
    assert.match(lines[0]!, new RegExp(`^task=${id} run=1234567$`));
    assert.deepEqual(lines.slice(1, 3).sort(), ['lo', 'oops'].sort(), 'only the loopback interface: no network');
    assert.equal(lines[3], `network none memory ${2 * 1024 ** 3} cpus ${2e9}`, '1.5 vCPUs and 1500 MiB round up to 2 and 2 GiB');
    assert.match(lines[4]!, /^refused 403 openomics: bind mounts must be under the run's folder/);
    const record = await until('task record', async () => JSON.parse(readFileSync(join(dir, 'run', 'tasks', `${id}.json`), 'utf8')) as TaskFile, (t) => t.exitCode !== undefined, 10_000, 100);
    assert.equal(record.name, 'count');
    assert.equal(record.image, img.image);
    assert.equal(record.exitCode, 0);
    assert.equal(record.cpus, 2);
    assert.equal(record.memoryGiB, 2);
    assert.match(record.imageDigest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(typeof record.utilization?.runningSeconds, 'number');
    assert.equal(readFileSync(join(dir, 'run', 'tasks', `${id}.log`), 'utf8').split('\n').sort().join('\n'), ['', 'lo', 'oops', `task=${id} run=1234567`].sort().join('\n'));
    const labelled = execFileSync('podman', ['ps', '-a', '--filter', `label=openomics.task=${id}`, '--format', '{{.Names}}'], { env: env(), encoding: 'utf8' }).trim();
    assert.equal(labelled, `openomics-1234567-${id}`, 'named and labelled as the run’s task');
    assert.ok(existsSync(gateSocket));
  });
});
