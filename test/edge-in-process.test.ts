// The request listener called in-process, without a socket (light-my-request's inject): the quick way to test
// what the edges answer. Each check here is about the wire (status, x-amzn-ErrorType, the error body) and goes
// through the same listener `openomics serve` puts behind its socket.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess, type InProcessServer } from './helpers/in-process.js';

describe('the request listener in-process (inject)', () => {
  let s: InProcessServer;
  let creds: { accessKeyId: string; secretAccessKey: string };
  before(async () => {
    s = await startInProcess();
    creds = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
  });
  after(async () => s?.stop());

  it('creates and reads a sequence store with a signed request', async () => {
    const created = await s.inject({ method: 'POST', path: '/sequencestore', body: JSON.stringify({ name: 'injected' }), credentials: creds });
    assert.equal(created.status, 200, created.body);
    const { id } = JSON.parse(created.body) as { id: string };
    const got = await s.inject({ method: 'GET', path: `/sequencestore/${id}`, credentials: creds });
    assert.equal(got.status, 200);
    const store = JSON.parse(got.body) as { name: string; status: string; creationTime: string };
    assert.equal(store.name, 'injected');
    assert.equal(store.status, 'ACTIVE');
    assert.match(store.creationTime, /^\d{4}-\d\d-\d\dT/);
  });

  it('refuses an unsigned request in the protocol format', async () => {
    const r = await s.inject({ method: 'POST', path: '/sequencestores', body: '{}' });
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
    assert.equal((JSON.parse(r.body) as { message: string }).message, 'Missing Authentication Token');
  });

  it('reports every violation of the model at once as ValidationException', async () => {
    const r = await s.inject({ method: 'POST', path: '/sequencestore', body: JSON.stringify({ name: '', eTagAlgorithmFamily: 'CRC32' }), credentials: creds });
    assert.equal(r.status, 400);
    assert.equal(r.headers['x-amzn-errortype'], 'ValidationException');
    const { message } = JSON.parse(r.body) as { message: string };
    assert.match(message, /^3 validation errors detected: /);
    assert.match(message, /at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern/);
    assert.match(message, /at 'eTagAlgorithmFamily' failed to satisfy constraint: Member must satisfy enum value set/);
  });

  it('answers an option it does not build (Ready2Run) with NotSupportedOperationException naming it', async () => {
    const body = JSON.stringify({ workflowType: 'READY2RUN', workflowId: '1234567', roleArn: 'arn:aws:iam::123456789012:role/R', outputUri: 's3://b/o', requestId: 'r2r' });
    const r = await s.inject({ method: 'POST', path: '/run', body, credentials: creds });
    assert.equal(r.status, 405);
    assert.equal(r.headers['x-amzn-errortype'], 'NotSupportedOperationException');
    assert.match((JSON.parse(r.body) as { message: string }).message, /Ready2Run/);
  });
});
