/**
 * CONNECT proxies and plain-HTTP downgrades, against real servers on 127.0.0.1.
 *
 * - `pinnedProxyAgent` through an honest forwarding proxy (a node:http server piping CONNECT tunnels to their
 *   target) reaches the pinned origin, and checks the pins on the origin's chain: a proxy that sends the tunnel to
 *   a TLS-intercepting MITM is refused, for node:https, axios and got. Controls: `https-proxy-agent` and axios' own
 *   proxy support, trusting the proxy CA, are intercepted.
 * - `pinnedHttpAgent` refuses plain HTTP to pinned hosts, for node:http users.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import axios, { AxiosError } from 'axios';
import got from 'got';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { pinAxios } from '../src/adapters/axios.js';
import { pinnedGotOptions } from '../src/adapters/got.js';
import { PinPolicy, pinnedHttpAgent, pinnedProxyAgent } from '../src/index.js';
import { PinningError, ProxyConnectError } from '../src/errors.js';
import type { PinReport } from '../src/index.js';
import { createClientWorld } from './support/client-world.js';
import { httpsGet, startHttpsServer, startMitm } from './support/servers.js';
import type { RunningMitm, RunningServer } from './support/servers.js';
import { startConnectProxy } from './support/connect-proxy.js';
import type { ConnectProxy } from './support/connect-proxy.js';

const { pki, attacker, policyOf } = createClientWorld();
const cleanups: (() => unknown)[] = [];

let origin: RunningServer;
let mitm: RunningMitm;
let honest: ConnectProxy;
let intercepting: ConnectProxy;
let refusing: ConnectProxy;

before(async () => {
  origin = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
  mitm = await startMitm({ attackerCa: attacker, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
  honest = await startConnectProxy();
  intercepting = await startConnectProxy({ divertTo: mitm.port });
  refusing = await startConnectProxy({ refuse: true });
});

after(async () => {
  for (const cleanup of cleanups) await cleanup();
  await Promise.all([origin.close(), mitm.close(), honest.close(), intercepting.close(), refusing.close()]);
});

function proxyAgent(policy: PinPolicy, proxy: ConnectProxy) {
  const agent = pinnedProxyAgent(policy, proxy.url);
  cleanups.push(() => agent.destroy());
  return agent;
}

describe('pinnedProxyAgent (node:https) through a CONNECT proxy', () => {
  it('reaches the pinned origin through an honest proxy, and keep-alive reuses the checked tunnel', async () => {
    const agent = proxyAgent(policyOf(), honest);
    const tunnels = honest.connects.length;
    assert.equal((await httpsGet(`https://localhost:${origin.port}/a`, { agent })).body, 'hello from origin');
    assert.equal((await httpsGet(`https://localhost:${origin.port}/b`, { agent })).body, 'hello from origin');
    assert.deepEqual(honest.connects.slice(tunnels), [`localhost:${origin.port}`]);
  });

  it("checks the pins on the origin's chain: an intercepting proxy is refused with ERR_CERTPIN_PIN_MISMATCH and reads nothing", async () => {
    const agent = proxyAgent(policyOf(), intercepting);
    const seen = mitm.intercepted.length;
    await assert.rejects(httpsGet(`https://localhost:${origin.port}/account`, { agent, headers: { authorization: 'Bearer SECRET' } }), (e: NodeJS.ErrnoException) => e.code === 'ERR_CERTPIN_PIN_MISMATCH' && e instanceof PinningError);
    assert.equal(mitm.intercepted.length, seen);
    assert.ok(intercepting.connects.includes(`localhost:${origin.port}`), 'the request did go through the proxy');
  });

  it('control: https-proxy-agent trusting the proxy CA is intercepted (it runs its own TLS over the tunnel)', async () => {
    const agent = new HttpsProxyAgent(intercepting.url);
    cleanups.push(() => agent.destroy());
    const seen = mitm.intercepted.length;
    // https-proxy-agent takes the origin's TLS options from the request.
    assert.equal((await httpsGet(`https://localhost:${origin.port}/account`, { agent, ca: [pki.root.pem, attacker.pem], headers: { authorization: 'Bearer SECRET' } })).body, 'hello from origin');
    assert.ok(mitm.intercepted.slice(seen).join('').includes('Bearer SECRET'));
  });

  it('report-only mode connects through the intercepting proxy and reports', async () => {
    const reports: PinReport[] = [];
    const agent = proxyAgent(policyOf({ reportOnly: true, onReport: (r) => reports.push(r) }), intercepting);
    assert.equal((await httpsGet(`https://localhost:${origin.port}/report-only`, { agent })).body, 'hello from origin');
    await new Promise((r) => setImmediate(r));
    assert.ok(reports.length >= 1);
    assert.equal(reports[0]!.hostname, 'localhost');
  });

  it('a proxy that refuses the CONNECT fails the request with ProxyConnectError', async () => {
    const agent = proxyAgent(policyOf(), refusing);
    await assert.rejects(httpsGet(`https://localhost:${origin.port}/`, { agent }), (e: unknown) => e instanceof ProxyConnectError && e.statusCode === 403);
  });

  it('bytes a proxy sends after its 200 and before the TLS handshake are refused as the proxy\'s, not read as the origin\'s', { timeout: 10_000 }, async () => {
    // A TLS server speaks only after the ClientHello: anything already there (here a TLS alert record) was written by
    // the proxy.
    const talkative = net.createServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 200 Connection established\r\n\r\n\x15\x03\x03\x00\x02\x02\x28'));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => talkative.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => talkative.close(() => resolve())));
    const agent = pinnedProxyAgent(policyOf(), `http://127.0.0.1:${(talkative.address() as AddressInfo).port}`);
    cleanups.push(() => agent.destroy());
    await assert.rejects(httpsGet(`https://localhost:${origin.port}/`, { agent }), (e: unknown) => e instanceof ProxyConnectError && /sent data before the TLS handshake/.test(e.message));
  });
});

describe('axios and got through a CONNECT proxy', () => {
  it('axios: pinAxios(instance, policy, { proxy }) checks the origin; the intercepting proxy is refused', async () => {
    const honestApi = pinAxios(axios.create(), policyOf(), { proxy: honest.url });
    const evilApi = pinAxios(axios.create(), policyOf(), { proxy: intercepting.url });
    cleanups.push(() => (honestApi.defaults.httpsAgent as https.Agent).destroy(), () => (evilApi.defaults.httpsAgent as https.Agent).destroy());
    assert.equal((await honestApi.get(`https://localhost:${origin.port}/axios`)).data, 'hello from origin');
    assert.ok(honest.connects.includes(`localhost:${origin.port}`));
    const seen = mitm.intercepted.length;
    const error = await evilApi.get(`https://localhost:${origin.port}/axios`).then(() => assert.fail('connected'), (e: unknown) => e as AxiosError);
    assert.ok(error instanceof AxiosError);
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(mitm.intercepted.length, seen);
  });

  it("control: axios' own proxy support, trusting the proxy CA, is intercepted", async () => {
    const seen = mitm.intercepted.length;
    const { port } = new URL(intercepting.url);
    const agent = new https.Agent({ ca: [pki.root.pem, attacker.pem] });
    cleanups.push(() => agent.destroy());
    const response = await axios.get(`https://localhost:${origin.port}/axios`, { proxy: { protocol: 'http', host: '127.0.0.1', port: Number(port) }, httpsAgent: agent, headers: { authorization: 'Bearer SECRET' } });
    assert.equal(response.data, 'hello from origin');
    assert.ok(mitm.intercepted.slice(seen).join('').includes('Bearer SECRET'));
  });

  it('got: pinnedGotOptions(policy, { proxy }) checks the origin; the intercepting proxy is refused', async () => {
    const honestOptions = pinnedGotOptions(policyOf(), { proxy: honest.url });
    const evilOptions = pinnedGotOptions(policyOf(), { proxy: intercepting.url });
    cleanups.push(honestOptions.destroy, evilOptions.destroy);
    assert.equal(await got.extend(honestOptions)(`https://localhost:${origin.port}/got`).text(), 'hello from origin');
    const seen = mitm.intercepted.length;
    await assert.rejects(got.extend({ retry: { limit: 0 } }, evilOptions)(`https://localhost:${origin.port}/got`).text(), (e: NodeJS.ErrnoException) => e.code === 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(mitm.intercepted.length, seen);
  });
});

describe('pinnedHttpAgent (node:http): plain HTTP to pinned hosts', () => {
  let server: http.Server;
  let port: number;
  let connections = 0;
  before(async () => {
    server = http.createServer((_req, res) => res.end('plain'));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));

  function get(url: string, agent: http.Agent): Promise<string> {
    return new Promise((resolve, reject) => {
      http.get(url, { agent }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
  }

  it('refuses http:// to a pinned host with ERR_CERTPIN_INSECURE_REDIRECT before connecting; allows an unpinned host', async () => {
    const agent = pinnedHttpAgent(policyOf());
    cleanups.push(() => agent.destroy());
    const before = connections;
    await assert.rejects(get(`http://localhost:${port}/secret?token=42`, agent), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'ERR_CERTPIN_INSECURE_REDIRECT');
      assert.ok(!e.message.includes('token=42'), 'no query string in the message');
      return true;
    });
    assert.equal(connections, before);
    assert.equal(await get(`http://127.0.0.1:${port}/`, agent), 'plain');
    // Control: Node's own agent connects.
    assert.equal(await get(`http://localhost:${port}/`, new http.Agent()), 'plain');
  });

  it('under onlyPinnedHosts, refuses plain HTTP to every host', async () => {
    const agent = pinnedHttpAgent(policyOf({ onlyPinnedHosts: true }));
    cleanups.push(() => agent.destroy());
    await assert.rejects(get(`http://127.0.0.1:${port}/`, agent), (e: NodeJS.ErrnoException) => e.code === 'ERR_CERTPIN_INSECURE_REDIRECT');
  });
});
