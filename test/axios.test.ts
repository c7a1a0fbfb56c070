/**
 * certpin/axios against real servers on 127.0.0.1: a pinned origin (`localhost`), a second origin (`127.0.0.1`), a
 * plain-HTTP server, and a transparent MITM whose CA the client trusts. Each attack has a control that shows the
 * setup can fail (the same request without certpin is intercepted or downgraded).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import axios, { AxiosError } from 'axios';
import { certificatePinningInterceptor, pinAxios } from '../src/adapters/axios.js';
import { PinPolicy, classifyError } from '../src/index.js';
import { certificateFingerprint } from '../src/tools/index.js';
import { PinningError } from '../src/errors.js';
import type { PinReport } from '../src/index.js';
import { createClientWorld, startAdapterServers } from './support/client-world.js';
import type { AdapterServers } from './support/client-world.js';
import { backupPin, createCertificate, pinOf } from './support/pki.js';
import type { RunningHttpServer, RunningMitm, RunningServer } from './support/servers.js';

const world = createClientWorld();
const { pki, otherPki, attacker, policyOf } = world;
const cleanups: (() => unknown)[] = [];

function pinned(policy: PinPolicy) {
  const instance = pinAxios(axios.create({ timeout: 5000 }), policy);
  cleanups.push(() => (instance.defaults.httpsAgent as https.Agent).destroy(), () => (instance.defaults.httpAgent as http.Agent).destroy());
  return instance;
}

async function rejection(promise: Promise<unknown>): Promise<AxiosError> {
  const error = await promise.then(() => assert.fail('the request succeeded'), (e: unknown) => e);
  assert.ok(error instanceof AxiosError, `expected an AxiosError, got ${String(error)}`);
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

describe('certpin/axios: pinAxios', () => {
  it('connects to the pinned origin and reuses the checked keep-alive connection', async () => {
    const api = pinned(policyOf());
    const before = origin.stats.connections;
    assert.equal((await api.get(`https://localhost:${origin.port}/a`)).data, 'hello from origin');
    assert.equal((await api.get(`https://localhost:${origin.port}/b`)).data, 'hello from origin');
    assert.equal(origin.stats.connections - before, 1, 'the second request reused the pooled connection');
  });

  it('refuses the MITM with ERR_CERTPIN_PIN_MISMATCH as an AxiosError whose cause is the PinningError, and sends nothing', async () => {
    const api = pinned(policyOf());
    const seen = mitm.intercepted.length;
    const error = await rejection(api.get(`https://localhost:${mitm.port}/account`, { headers: { authorization: 'Bearer SECRET' } }));
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.ok(error.cause instanceof PinningError);
    assert.deepEqual(classifyError(error).code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(classifyError(error).kind, 'pinning');
    assert.equal(mitm.intercepted.length, seen, 'the MITM read nothing');
  });

  it('control: the same instance without certpin, trusting the proxy CA, is intercepted', async () => {
    const agent = new https.Agent({ ca: [pki.root.pem, attacker.pem] });
    cleanups.push(() => agent.destroy());
    const seen = mitm.intercepted.length;
    const response = await axios.create({ httpsAgent: agent, proxy: false }).get(`https://localhost:${mitm.port}/account`, { headers: { authorization: 'Bearer SECRET' } });
    assert.equal(response.data, 'hello from origin');
    assert.ok(mitm.intercepted.slice(seen).join('').includes('Bearer SECRET'), 'the MITM read the secret');
  });

  it('a per-request httpsAgent, proxy, adapter, httpVersion or transport cannot bypass the pinned agent (refused before sending)', async () => {
    const api = pinned(policyOf());
    await api.get(`https://localhost:${origin.port}/warm`); // a checked connection is pooled
    const unpinned = new https.Agent({ ca: [pki.root.pem, attacker.pem] });
    cleanups.push(() => unpinned.destroy());
    const seen = mitm.intercepted.length;
    const overrides: [string, Record<string, unknown>][] = [
      ['httpsAgent', { httpsAgent: unpinned }],
      ['httpAgent', { httpAgent: new http.Agent() }],
      ['proxy', { proxy: { protocol: 'http', host: '127.0.0.1', port: plain.port } }],
      ['adapter', { adapter: 'fetch' }],
      ['adapter', { adapter: async () => ({ data: 'x', status: 200, statusText: 'OK', headers: {}, config: {} }) }],
      ['httpVersion', { httpVersion: 2 }],
      ['transport', { transport: https }],
    ];
    for (const [option, override] of overrides) {
      const error = await api.get(`https://localhost:${mitm.port}/account`, override).then(() => assert.fail(`${option} bypassed the pins`), (e: unknown) => e as { code?: string; option?: string });
      assert.equal(error.code, 'ERR_CERTPIN_INSECURE_OPTION', option);
      assert.equal(error.option, option);
    }
    assert.equal(mitm.intercepted.length, seen);
    assert.equal(plain.requests.length, 0, 'nothing reached the would-be proxy');
  });

  it('ignores HTTPS_PROXY from the environment (axios would tunnel and run its own TLS)', async () => {
    const api = pinned(policyOf());
    const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, https_proxy: process.env.https_proxy, NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };
    process.env.HTTPS_PROXY = process.env.https_proxy = plain.url;
    delete process.env.NO_PROXY;
    delete process.env.no_proxy;
    try {
      const connections = plain.connections();
      assert.equal((await api.get(`https://localhost:${origin.port}/env`)).data, 'hello from origin');
      assert.equal(plain.connections(), connections, 'the proxy from the environment was not used');
      // Control: plain axios does use it.
      await axios.get(`https://localhost:${origin.port}/env`, { timeout: 2000 }).catch(() => undefined);
      assert.deepEqual(plain.requests.splice(0), [`CONNECT localhost:${origin.port}`], 'control: unpinned axios went to the environment proxy');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('follows a redirect to an unpinned host (normal validation there)', async () => {
    const api = pinned(policyOf());
    const response = await api.get(`https://localhost:${origin.port}/r?to=${encodeURIComponent(`https://127.0.0.1:${second.port}/landing`)}`);
    assert.equal(response.data, 'hello from second');
  });

  it('refuses a redirect to a host pinned to other keys, before anything reaches it', async () => {
    const api = pinned(policyOf({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()], '127.0.0.1': [backupPin(), backupPin()] } }));
    const requests = second.requests.length;
    const error = await rejection(api.get(`https://localhost:${origin.port}/r?to=${encodeURIComponent(`https://127.0.0.1:${second.port}/landing`)}`));
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal((error.cause as PinningError).host, '127.0.0.1');
    assert.equal(second.requests.length, requests);
  });

  it('refuses https→http on a pinned host with ERR_CERTPIN_INSECURE_REDIRECT; the http server gets no connection', async () => {
    const api = pinned(policyOf({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, onlyPinnedHosts: false }));
    const connections = plain.connections();
    const error = await rejection(api.get(`https://localhost:${origin.port}/r?to=${encodeURIComponent(`http://localhost:${plain.port}/downgraded`)}`));
    assert.equal(error.code, 'ERR_CERTPIN_INSECURE_REDIRECT');
    assert.equal(classifyError(error).kind, 'pinning');
    assert.equal(plain.connections(), connections);
    assert.equal(plain.requests.length, 0);
    // Control: without certpin the downgrade is followed.
    await axios.get(`https://localhost:${origin.port}/r?to=${encodeURIComponent(`http://localhost:${plain.port}/downgraded`)}`, { httpsAgent: new https.Agent({ ca: pki.root.pem }), proxy: false });
    assert.deepEqual(plain.requests.splice(0), ['GET /downgraded']);
  });

  it('allows https→http to a host the policy does not pin', async () => {
    const api = pinned(policyOf());
    const response = await api.get(`https://localhost:${origin.port}/r?to=${encodeURIComponent(`${plain.url}/fine`)}`);
    assert.equal(response.data, 'plain');
    assert.deepEqual(plain.requests.splice(0), ['GET /fine']);
  });

  it('report-only mode lets the MITM connection through and reports it', async () => {
    const reports: PinReport[] = [];
    const api = pinned(policyOf({ reportOnly: true, onReport: (r) => reports.push(r) }));
    const response = await api.get(`https://localhost:${mitm.port}/report-only`);
    assert.equal(response.data, 'hello from origin');
    await new Promise((r) => setImmediate(r));
    assert.ok(reports.length >= 1);
    assert.equal(reports[0]!.hostname, 'localhost');
  });
});

describe('certpin/axios: certificatePinningInterceptor (dio shape)', () => {
  const fingerprint = certificateFingerprint(pki.leaf.pem, 'sha256', 'colon');
  const spare = certificateFingerprint(createCertificate({ commonName: 'spare' }).pem, 'sha256', 'colon');

  function client() {
    const interceptor = certificatePinningInterceptor({ allowedSHAFingerprints: [fingerprint, spare], ca: [pki.root.pem, otherPki.root.pem, attacker.pem], trustSystemRoots: false, onWarning: () => {} });
    cleanups.push(() => interceptor.destroy());
    const instance = axios.create();
    instance.interceptors.request.use(interceptor);
    return instance;
  }

  it('accepts the server whose certificate fingerprint is allowed', async () => {
    assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal((await client().get(`https://localhost:${origin.port}/dio`)).data, 'hello from origin');
  });

  it('refuses the MITM in the handshake: no request byte reaches it', async () => {
    const seen = mitm.intercepted.length;
    const error = await rejection(client().get(`https://localhost:${mitm.port}/dio`, { headers: { authorization: 'Bearer SECRET' } }));
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(mitm.intercepted.length, seen);
  });

  it('pins every host, as dio does (defaultPins): another host with another certificate is refused', async () => {
    const error = await rejection(client().get(`https://127.0.0.1:${second.port}/`));
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
  });
});
