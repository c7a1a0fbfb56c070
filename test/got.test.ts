/**
 * certpin/got against real servers on 127.0.0.1: a pinned origin (`localhost`), a second origin (`127.0.0.1`), a
 * plain-HTTP server, and a transparent MITM whose CA the client trusts. Each attack has a control that shows the
 * setup can fail.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import got, { RequestError } from 'got';
import type { Got, OptionsOfTextResponseBody } from 'got';
import { pinnedGotOptions } from '../src/adapters/got.js';
import { PinPolicy, classifyError } from '../src/index.js';
import { PinningError } from '../src/errors.js';
import type { PinReport } from '../src/index.js';
import { createClientWorld, startAdapterServers } from './support/client-world.js';
import type { AdapterServers } from './support/client-world.js';
import { backupPin, pinOf } from './support/pki.js';
import type { RunningHttpServer, RunningMitm, RunningServer } from './support/servers.js';

const world = createClientWorld();
const { pki, attacker, policyOf } = world;
const cleanups: (() => unknown)[] = [];

function pinned(policy: PinPolicy): Got {
  const options = pinnedGotOptions(policy);
  cleanups.push(options.destroy);
  return got.extend({ retry: { limit: 0 }, timeout: { request: 5000 } }, options);
}

async function rejection(promise: Promise<unknown>): Promise<RequestError> {
  const error = await promise.then(() => assert.fail('the request succeeded'), (e: unknown) => e);
  assert.ok(error instanceof RequestError, `expected got's RequestError, got ${String(error)}`);
  return error;
}

let servers: AdapterServers;
let origin: RunningServer;
let second: RunningServer;
let plain: RunningHttpServer;
let mitm: RunningMitm;

before(async () => {
  servers = await startAdapterServers(world);
  ({ origin, second, plain, mitm } = servers);
});

after(async () => {
  for (const cleanup of cleanups) await cleanup();
  await servers.close();
});

describe('certpin/got: pinnedGotOptions', () => {
  it('connects to the pinned origin and reuses the checked keep-alive connection', async () => {
    const api = pinned(policyOf());
    const before = origin.stats.connections;
    assert.equal(await api(`https://localhost:${origin.port}/a`).text(), 'hello from origin');
    assert.equal(await api(`https://localhost:${origin.port}/b`).text(), 'hello from origin');
    assert.equal(origin.stats.connections - before, 1);
  });

  it('refuses the MITM: RequestError with code ERR_CERTPIN_PIN_MISMATCH and the PinningError as cause; nothing sent', async () => {
    const api = pinned(policyOf());
    const seen = mitm.intercepted.length;
    const error = await rejection(api(`https://localhost:${mitm.port}/account`, { headers: { authorization: 'Bearer SECRET' } }).text());
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.ok(error.cause instanceof PinningError);
    assert.equal(classifyError(error).kind, 'pinning');
    assert.equal(mitm.intercepted.length, seen);
  });

  it('control: got without certpin, trusting the proxy CA, is intercepted', async () => {
    const seen = mitm.intercepted.length;
    const body = await got(`https://localhost:${mitm.port}/account`, { headers: { authorization: 'Bearer SECRET' }, https: { certificateAuthority: [pki.root.pem, attacker.pem] }, retry: { limit: 0 } }).text();
    assert.equal(body, 'hello from origin');
    assert.ok(mitm.intercepted.slice(seen).join('').includes('Bearer SECRET'));
  });

  it("per-request https options cannot make a pinned instance accept the MITM (rejectUnauthorized: false, checkServerIdentity, ca)", async () => {
    const api = pinned(policyOf());
    await api(`https://localhost:${origin.port}/warm`).text(); // a checked connection is pooled
    const seen = mitm.intercepted.length;
    const url = `https://localhost:${mitm.port}/account`;
    const insecure = await rejection(api(url, { https: { rejectUnauthorized: false } }).text());
    assert.equal(insecure.code, 'ERR_CERTPIN_INSECURE_OPTION');
    const identity = await rejection(api(url, { https: { checkServerIdentity: () => undefined } }).text());
    assert.equal(identity.code, 'ERR_CERTPIN_PIN_MISMATCH', 'a caller checkServerIdentity only adds checks');
    const ca = await rejection(api(url, { https: { certificateAuthority: attacker.pem } }).text());
    assert.equal(ca.code, 'ERR_CERTPIN_INSECURE_OPTION');
    assert.equal(mitm.intercepted.length, seen);
  });

  it('refuses options that bypass the agents: http2, another agent, a custom request function', async () => {
    const api = pinned(policyOf());
    const seen = mitm.intercepted.length;
    const url = `https://localhost:${mitm.port}/account`;
    const unpinned = new https.Agent({ ca: [pki.root.pem, attacker.pem] });
    cleanups.push(() => unpinned.destroy());
    const cases: [string, OptionsOfTextResponseBody][] = [
      ['http2', { http2: true }],
      ['agent.https', { agent: { https: unpinned } }],
      ['agent.http', { agent: { http: new http.Agent() } }],
      ['request', { request: https.request }],
    ];
    for (const [option, override] of cases) {
      const error = await rejection(api(url, override).text());
      assert.equal(error.code, 'ERR_CERTPIN_INSECURE_OPTION', option);
      assert.equal((error.cause as { option?: string }).option, option);
    }
    assert.equal(mitm.intercepted.length, seen);
  });

  it('follows a redirect to an unpinned host', async () => {
    const api = pinned(policyOf());
    assert.equal(await api(`https://localhost:${origin.port}/r?to=${encodeURIComponent(`https://127.0.0.1:${second.port}/landing`)}`).text(), 'hello from second');
  });

  it('refuses a redirect to a host pinned to other keys', async () => {
    const api = pinned(policyOf({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()], '127.0.0.1': [backupPin(), backupPin()] } }));
    const requests = second.requests.length;
    const error = await rejection(api(`https://localhost:${origin.port}/r?to=${encodeURIComponent(`https://127.0.0.1:${second.port}/landing`)}`).text());
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(second.requests.length, requests);
  });

  it('refuses https→http on a pinned host with ERR_CERTPIN_INSECURE_REDIRECT; the http server gets no connection', async () => {
    const api = pinned(policyOf());
    const connections = plain.connections();
    const error = await rejection(api(`https://localhost:${origin.port}/r?to=${encodeURIComponent(`http://localhost:${plain.port}/downgraded`)}`).text());
    assert.equal(error.code, 'ERR_CERTPIN_INSECURE_REDIRECT');
    assert.equal(plain.connections(), connections);
    assert.equal(plain.requests.length, 0);
    // Control: got without certpin follows the downgrade.
    await got(`https://localhost:${origin.port}/r?to=${encodeURIComponent(`http://localhost:${plain.port}/downgraded`)}`, { https: { certificateAuthority: pki.root.pem } }).text();
    assert.deepEqual(plain.requests.splice(0), ['GET /downgraded']);
  });

  it('allows https→http to a host the policy does not pin', async () => {
    const api = pinned(policyOf());
    assert.equal(await api(`https://localhost:${origin.port}/r?to=${encodeURIComponent(`${plain.url}/fine`)}`).text(), 'plain');
    assert.deepEqual(plain.requests.splice(0), ['GET /fine']);
  });

  it('report-only mode lets the MITM connection through and reports it', async () => {
    const reports: PinReport[] = [];
    const api = pinned(policyOf({ reportOnly: true, onReport: (r) => reports.push(r) }));
    assert.equal(await api(`https://localhost:${mitm.port}/report-only`).text(), 'hello from origin');
    await new Promise((r) => setImmediate(r));
    assert.ok(reports.length >= 1);
  });
});
