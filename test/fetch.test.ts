/**
 * pinnedDispatcher with Node's global fetch, undici's fetch and undici's request, against real servers on 127.0.0.1:
 * direct connections, a real interception proxy (mockttp) and a transparent MITM whose CA the client trusts,
 * keep-alive and TLS session reuse, redirects (to other hosts, and from https to http), report-only mode, HTTP/2.
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { setImmediate as idle } from 'node:timers/promises';
import * as undici from 'undici';
import type { Dispatcher } from 'undici';
import { PinPolicy, pinnedDispatcher } from '../src/index.js';
import { PinningError } from '../src/errors.js';
import type { PinReport } from '../src/index.js';
import { startHttp2Server } from './support/http2-server.js';
import { startInterceptingProxy } from './support/intercepting-proxy.js';
import type { InterceptingProxy } from './support/intercepting-proxy.js';
import { createClientWorld } from './support/client-world.js';
import { backupPin, pinOf } from './support/pki.js';
import { startHttpsServer, startMitm } from './support/servers.js';
import type { RunningMitm, RunningServer } from './support/servers.js';

const { pki, otherPki, attacker, policyOf } = createClientWorld({ name: 'Other' });
const cleanups: (() => unknown)[] = [];

function dispatcherOf(policy: PinPolicy, options?: Parameters<typeof pinnedDispatcher>[1]): Dispatcher {
  const dispatcher = pinnedDispatcher(policy, options);
  cleanups.push(() => dispatcher.destroy());
  return dispatcher;
}

interface Client {
  readonly name: string;
  get(url: string, dispatcher: Dispatcher): Promise<{ status: number; body: string }>;
  /** The certpin code of a rejection, after checking that it has this client's shape. */
  codeOf(error: unknown): string;
}

function fetchCodeOf(error: unknown): string {
  // fetch's idiom: TypeError('fetch failed') with the real error as `cause`.
  assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
  assert.equal(error.message, 'fetch failed');
  return (error.cause as { code: string }).code;
}

// Node's RequestInit types `dispatcher` with its bundled undici's types, not undici 7's: hence the casts.
const clients: readonly Client[] = [
  {
    name: 'global fetch',
    async get(url, dispatcher) {
      const response = await fetch(url, { dispatcher, redirect: 'follow' } as unknown as RequestInit);
      return { status: response.status, body: await response.text() };
    },
    codeOf: fetchCodeOf,
  },
  {
    name: 'undici.fetch',
    async get(url, dispatcher) {
      const response = await undici.fetch(url, { dispatcher });
      return { status: response.status, body: await response.text() };
    },
    codeOf: fetchCodeOf,
  },
  {
    name: 'undici.request (redirect interceptor)',
    async get(url, dispatcher) {
      const response = await undici.request(url, { dispatcher: dispatcher.compose(undici.interceptors.redirect({ maxRedirections: 3 })) });
      return { status: response.statusCode, body: await response.body.text() };
    },
    codeOf(error) {
      assert.ok(error instanceof Error);
      return (error as Error & { code: string }).code;
    },
  },
];

async function rejectsWithCode(client: Client, promise: Promise<unknown>, code: string): Promise<unknown> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.equal(client.codeOf(caught), code);
  return caught;
}

/** A plain HTTP server that counts connections and requests: proof that nothing reached it. */
async function startPlainServer(): Promise<{ port: number; connections: number; requests: string[]; close(): Promise<void> }> {
  const state = { port: 0, connections: 0, requests: [] as string[], close: async () => {} };
  const server = http.createServer((req, res) => {
    state.requests.push(req.url ?? '');
    res.end('plain hello');
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return state;
}

let origin: RunningServer;
let mitm: RunningMitm;
let proxy: InterceptingProxy;

before(async () => {
  origin = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
  mitm = await startMitm({ attackerCa: attacker, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
  proxy = await startInterceptingProxy({ caCert: attacker.pem, caKey: attacker.key.keyPem, upstreamCa: pki.root.pem });
  cleanups.push(() => origin.close(), () => mitm.close(), () => proxy.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('pinnedDispatcher: direct connections', () => {
  it(`uses undici ${process.versions.undici} in Node ${process.version}'s global fetch, and undici 7 for the dispatcher`, () => {
    assert.match(process.versions.undici ?? '', /^[67]\./);
  });

  for (const client of clients) {
    it(`${client.name}: connects to the pinned origin`, async () => {
      const result = await client.get(`${origin.url}/direct`, dispatcherOf(policyOf()));
      assert.deepEqual(result, { status: 200, body: 'hello from origin' });
    });

    it(`${client.name}: a transparent MITM with a trusted CA is refused, nothing sent`, async () => {
      const before = mitm.intercepted.length;
      const error = await rejectsWithCode(client, client.get(`https://localhost:${mitm.port}/secret`, dispatcherOf(policyOf())), 'ERR_CERTPIN_PIN_MISMATCH');
      const pinning = error instanceof TypeError ? error.cause : error;
      assert.ok(pinning instanceof PinningError);
      assert.equal(pinning.host, 'localhost');
      assert.equal(mitm.intercepted.length, before);
    });
  }
});

describe('pinnedDispatcher: through a CONNECT proxy', () => {
  it('control: without pinning, an interception proxy (mockttp) whose CA is trusted reads the request', async () => {
    const unpinned = new undici.ProxyAgent({ uri: proxy.url, requestTls: { ca: [pki.root.pem, attacker.pem] } });
    cleanups.push(() => unpinned.destroy());
    const before = proxy.intercepted();
    const response = await fetch(`${origin.url}/unpinned-secret?token=abc`, { dispatcher: unpinned } as unknown as RequestInit);
    assert.equal(await response.text(), 'hello from origin');
    assert.equal(proxy.intercepted(), before + 1);
    assert.equal(proxy.seen.at(-1)?.url, `${origin.url}/unpinned-secret?token=abc`);
  });

  for (const client of clients) {
    it(`${client.name}: pinned through the interception proxy is refused and the proxy sees nothing`, async () => {
      const before = proxy.intercepted();
      const requestsBefore = origin.requests.length;
      await rejectsWithCode(client, client.get(`${origin.url}/pinned-secret`, dispatcherOf(policyOf(), { proxy: proxy.url })), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(proxy.intercepted(), before);
      assert.equal(origin.requests.length, requestsBefore);
    });
  }

  it('through an honest tunnel (the proxy passes TLS through), the pins are checked on the origin and match', async () => {
    const tunnel = await startInterceptingProxy({ caCert: attacker.pem, caKey: attacker.key.keyPem, upstreamCa: pki.root.pem, passthroughHosts: ['localhost'] });
    cleanups.push(() => tunnel.close());
    const connectionsBefore = origin.stats.connections;
    for (const client of clients) {
      assert.deepEqual(await client.get(`${origin.url}/tunnelled`, dispatcherOf(policyOf(), { proxy: tunnel.url })), { status: 200, body: 'hello from origin' });
    }
    assert.equal(tunnel.intercepted(), 0);
    assert.ok(origin.stats.connections > connectionsBefore);
    // The same tunnel to a server whose chain does not carry the pins: refused, so the pins were applied to the origin.
    const impostor = await startHttpsServer({ key: otherPki.leaf.key.keyPem, cert: otherPki.chainPem, name: 'impostor' });
    cleanups.push(() => impostor.close());
    await rejectsWithCode(clients[0]!, clients[0]!.get(`${impostor.url}/`, dispatcherOf(policyOf(), { proxy: tunnel.url })), 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(impostor.requests.length, 0);
  });

  it('refuses a non-http proxy URL', () => {
    assert.throws(() => pinnedDispatcher(policyOf(), { proxy: 'socks5://127.0.0.1:1080' }), TypeError);
  });

  it("refuses undici's own TLS options, which would otherwise be silently ignored, and an unvalidated proxy", () => {
    const insecure = { code: 'ERR_CERTPIN_INSECURE_OPTION' };
    assert.throws(() => pinnedDispatcher(policyOf(), { connect: { rejectUnauthorized: false } } as never), insecure);
    assert.throws(() => pinnedDispatcher(policyOf(), { proxy: proxy.url, requestTls: { rejectUnauthorized: false } } as never), insecure);
    assert.throws(() => pinnedDispatcher(policyOf(), { proxy: proxy.url, proxyTls: { rejectUnauthorized: false } } as never), insecure);
  });
});

describe('pinnedDispatcher: connection reuse', () => {
  for (const client of clients) {
    it(`${client.name}: keep-alive reuses the one checked connection`, async () => {
      const server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
      cleanups.push(() => server.close());
      const dispatcher = dispatcherOf(policyOf());
      // Between requests, one turn of the event loop lets undici mark the connection idle (otherwise a request
      // sent the moment the previous body ended may get a second connection, pinned too, but not the point here).
      for (const path of ['/1', '/2', '/3']) {
        await client.get(`${server.url}${path}`, dispatcher);
        await idle();
      }
      assert.equal(server.stats.connections, 1);
      assert.equal(server.requests.length, 3);
    });
  }

  it('a dispatcher never serves a request with a connection checked under another policy', async () => {
    const server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
    cleanups.push(() => server.close());
    const right = dispatcherOf(policyOf());
    const wrong = dispatcherOf(policyOf({ hosts: { localhost: [backupPin(), backupPin()] } }));
    assert.equal((await clients[0]!.get(`${server.url}/right`, right)).status, 200);
    for (const client of clients) await rejectsWithCode(client, client.get(`${server.url}/wrong`, wrong), 'ERR_CERTPIN_PIN_MISMATCH');
    // And the right one still works on its own pooled connection.
    assert.equal((await clients[0]!.get(`${server.url}/right-again`, right)).status, 200);
    assert.deepEqual(server.requests.map((r) => r.url), ['/right', '/right-again']);
  });

  it('TLS sessions are resumed only under the policy that checked them', async () => {
    const sockets: tls.TLSSocket[] = [];
    const onConnected = (message: unknown) => sockets.push((message as { socket: tls.TLSSocket }).socket);
    diagnosticsChannel.subscribe('undici:client:connected', onConnected);
    try {
      // Resumption happens (a new dispatcher under the same policy resumes the session of the first):
      const server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
      cleanups.push(() => server.close());
      const policy = policyOf();
      await clients[2]!.get(`${server.url}/first`, dispatcherOf(policy));
      await clients[2]!.get(`${server.url}/second`, dispatcherOf(policy));
      assert.equal(server.stats.connections, 2);
      assert.equal(server.stats.resumed, 1);

      // A policy that does not pin localhost (CA validation only, attacker CA trusted) connects to the MITM and gets
      // a session from it; a second dispatcher under that policy resumes it, so the MITM does offer resumption:
      const lax = policyOf({ hosts: {} });
      const mitmUrl = `https://localhost:${mitm.port}`;
      await clients[2]!.get(`${mitmUrl}/lax-1`, dispatcherOf(lax));
      sockets.length = 0;
      await clients[2]!.get(`${mitmUrl}/lax-2`, dispatcherOf(lax));
      assert.equal(sockets.at(-1)?.isSessionReused(), true);

      // The pinned policy, same host and port, never resumes that session: it does a full handshake and refuses.
      for (const client of clients) await rejectsWithCode(client, client.get(`${mitmUrl}/pinned`, dispatcherOf(policyOf())), 'ERR_CERTPIN_PIN_MISMATCH');
    } finally {
      diagnosticsChannel.unsubscribe('undici:client:connected', onConnected);
    }
  });
});

describe('pinnedDispatcher: redirects', () => {
  let unpinnedTarget: RunningServer;
  let plain: Awaited<ReturnType<typeof startPlainServer>>;
  let redirector: RunningServer;
  let location = '';

  before(async () => {
    // 127.0.0.1 with a valid chain from another CA: not pinned unless a test's policy pins it.
    unpinnedTarget = await startHttpsServer({ key: otherPki.leaf.key.keyPem, cert: otherPki.chainPem, name: 'other host' });
    plain = await startPlainServer();
    redirector = await startHttpsServer({
      key: pki.leaf.key.keyPem,
      cert: pki.chainPem,
      handler: (_req, res) => res.writeHead(302, { location }).end(),
    });
    cleanups.push(() => unpinnedTarget.close(), () => plain.close(), () => redirector.close());
  });

  for (const client of clients) {
    it(`${client.name}: to an unpinned host, validated by its CA`, async () => {
      location = `https://127.0.0.1:${unpinnedTarget.port}/landing`;
      assert.deepEqual(await client.get(`${redirector.url}/go`, dispatcherOf(policyOf())), { status: 200, body: 'hello from other host' });
    });

    it(`${client.name}: to a differently pinned host whose pins do not match, refused`, async () => {
      location = `https://127.0.0.1:${unpinnedTarget.port}/landing`;
      const before = unpinnedTarget.requests.length;
      const policy = policyOf({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()], '127.0.0.1': [pinOf(pki.intermediate), backupPin()] } });
      await rejectsWithCode(client, client.get(`${redirector.url}/go`, dispatcherOf(policy)), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(unpinnedTarget.requests.length, before);
      // Its own pins: accepted.
      const matching = policyOf({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()], '127.0.0.1': [pinOf(otherPki.intermediate), backupPin()] } });
      assert.equal((await client.get(`${redirector.url}/go`, dispatcherOf(matching))).body, 'hello from other host');
    });

    it(`${client.name}: from https to http on a pinned host, refused before anything reaches the http server`, async () => {
      location = `http://localhost:${plain.port}/downgraded?secret=1`;
      const error = await rejectsWithCode(client, client.get(`${redirector.url}/go`, dispatcherOf(policyOf())), 'ERR_CERTPIN_INSECURE_REDIRECT');
      const refusal = error instanceof TypeError ? error.cause : error;
      assert.doesNotMatch((refusal as Error).message, /secret/);
      assert.equal(plain.connections, 0);
      assert.deepEqual(plain.requests, []);
    });
  }

  it('plain http to a host the policy does not pin is allowed; under onlyPinnedHosts it is not', async () => {
    const url = `http://127.0.0.1:${plain.port}/plain`;
    assert.equal((await clients[0]!.get(url, dispatcherOf(policyOf()))).body, 'plain hello');
    const connections = plain.connections;
    await rejectsWithCode(clients[0]!, clients[0]!.get(url, dispatcherOf(policyOf({ onlyPinnedHosts: true }))), 'ERR_CERTPIN_INSECURE_REDIRECT');
    await rejectsWithCode(clients[0]!, clients[0]!.get(url, dispatcherOf(policyOf({ onlyPinnedHosts: true }), { proxy: proxy.url })), 'ERR_CERTPIN_INSECURE_REDIRECT');
    assert.equal(plain.connections, connections);
  });

  it('a redirect to an unpinned host under onlyPinnedHosts is refused', async () => {
    location = `https://127.0.0.1:${unpinnedTarget.port}/landing`;
    await rejectsWithCode(clients[0]!, clients[0]!.get(`${redirector.url}/go`, dispatcherOf(policyOf({ onlyPinnedHosts: true }))), 'ERR_CERTPIN_HOST_NOT_PINNED');
  });
});

describe('pinnedDispatcher: report-only mode and HTTP/2', () => {
  it('report-only: connects through the MITM and reports a pin-mismatch', async () => {
    const reports: PinReport[] = [];
    const policy = policyOf({ reportOnly: true, onReport: (report) => reports.push(report) });
    const result = await clients[0]!.get(`https://localhost:${mitm.port}/report-only`, dispatcherOf(policy));
    assert.equal(result.body, 'hello from origin');
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.reason, 'pin-mismatch');
    assert.equal(reports[0]!.enforce, false);
    assert.equal(reports[0]!.hostname, 'localhost');
  });

  it('allowH2: requests go over one pinned HTTP/2 connection; a wrong pin is refused', async () => {
    const server = await startHttp2Server({ key: pki.leaf.key.keyPem, cert: pki.chainPem, allowHTTP1: true });
    cleanups.push(() => server.close());
    const dispatcher = dispatcherOf(policyOf(), { allowH2: true });
    for (const client of clients.slice(0, 2)) assert.equal((await client.get(`${server.url}/h2`, dispatcher)).body, 'h2 hello from origin');
    assert.deepEqual(server.requests.map((r) => r.httpVersion), ['2.0', '2.0']);
    assert.equal(server.stats.connections, 1);
    const wrong = dispatcherOf(policyOf({ hosts: { localhost: [backupPin(), backupPin()] } }), { allowH2: true });
    await rejectsWithCode(clients[0]!, clients[0]!.get(`${server.url}/h2`, wrong), 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(server.requests.length, 2);
  });
});
