/**
 * Ways around the pin check, tried the way an attacker and a careless caller would, through every entry point they
 * apply to: TLS-PSK and sessions from elsewhere, an IP literal dialled with another server name or Host header, names
 * that cannot be normalised, IPv4-mapped IPv6, axios interceptors and got hooks in every order, undici interceptors
 * composed in every order, and options read through a polluted Object.prototype. The rogue server below presents a
 * chain from a CA the client trusts (a corporate proxy's, a debugging tool's) that is valid for every name it is
 * asked for; each test proves that no request byte reaches it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import axios from 'axios';
import got from 'got';
import * as undici from 'undici';
import WebSocket from 'ws';
import { PinPolicy, checkConnection, pinnedAgent, pinnedConnect, pinnedDispatcher, pinnedFetch, pinnedHttp2Connect, pinnedProxyAgent, pinnedTlsOptions } from '../src/index.js';
import type { PinPolicyOptions } from '../src/index.js';
import { certificatePinningInterceptor, pinAxios } from '../src/adapters/axios.js';
import { refuseUncheckedHandshake } from '../src/node/connect.js';
import { pinnedGotOptions } from '../src/adapters/got.js';
import { pinnedWebSocketOptions } from '../src/adapters/ws.js';
import { certpin } from './support/cli.js';
import { startConnectProxy } from './support/connect-proxy.js';
import { ipv6SanMatchBroken } from './support/node-quirks.js';
import { backupPin, createCertificate, createPki, pinOf } from './support/pki.js';
import { startHttp2Server } from './support/http2-server.js';
import type { RunningHttp2Server } from './support/http2-server.js';
import { startHttpsServer } from './support/servers.js';
import type { RunningServer } from './support/servers.js';

const pki = createPki();
const attacker = createCertificate({ commonName: 'Trusted Proxy CA', organization: 'Proxy', ca: true });
const ODD_NAMES = ['x!y.example.com', `${'a'.repeat(64)}.example.com`, 'bad-.example.com'];
// Valid for every name a test asks for: only the pins can tell it apart from the bank.
const rogueLeaf = createCertificate({
  commonName: 'unpinned.test',
  sans: ['unpinned.test', 'localhost', '127.0.0.1', '::ffff:127.0.0.1', 'x!y.elsewhere.test', ...ODD_NAMES],
  issuer: attacker,
});
const bankPins = () => [pinOf(pki.intermediate), backupPin()];
const policyOf = (extra: Partial<PinPolicyOptions> = {}) =>
  new PinPolicy({
    hosts: { localhost: bankPins(), '127.0.0.1': bankPins(), '**.example.com': bankPins() },
    ca: [pki.root.pem, attacker.pem],
    trustSystemRoots: false,
    onWarning: () => {},
    ...extra,
  });
const toLoopback = (_host: string, options: unknown, callback: (...args: unknown[]) => void) =>
  (options as { all?: boolean } | undefined)?.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4);

let rogue: RunningServer;
let bank: RunningServer;
let rogueH2: RunningHttp2Server;
let bankH2: RunningHttp2Server;
let plain: { port: number; requests: string[]; close(): Promise<void> };
const cleanups: (() => unknown)[] = [];

before(async () => {
  rogue = await startHttpsServer({ key: rogueLeaf.key.keyPem, cert: rogueLeaf.pem + attacker.pem, name: 'rogue' });
  bank = await startHttpsServer({
    key: pki.leaf.key.keyPem,
    cert: pki.chainPem,
    name: 'bank',
    handler: (req, res) => {
      const to = new URL(req.url ?? '/', 'https://localhost').searchParams.get('to');
      if (to) res.writeHead(302, { location: to }).end();
      else res.end('hello from bank');
    },
  });
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.headers.host} ${req.url}`);
    res.end('plain');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  plain = {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  rogueH2 = await startHttp2Server({ key: rogueLeaf.key.keyPem, cert: rogueLeaf.pem + attacker.pem, name: 'rogue' });
  bankH2 = await startHttp2Server({ key: pki.leaf.key.keyPem, cert: pki.chainPem, name: 'bank' });
  cleanups.push(() => rogue.close(), () => bank.close(), () => plain.close(), () => rogueH2.close(), () => bankH2.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A TLS session of the rogue server, from an unpinned connection that trusts the attacker's CA. */
function foreignSession(): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: rogue.port, servername: 'localhost', ca: attacker.pem });
    socket.once('session', (session: Buffer) => {
      resolve(session);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/** The certpin code of a failure, under any client's wrapping (fetch's TypeError, axios, got). */
function codeOf(error: unknown): string | undefined {
  let first: string | undefined;
  for (let current: unknown = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_CERTPIN_')) return code;
    // fetch wraps the TLS error in a TypeError without a code: its cause carries it.
    if (typeof code === 'string') first ??= code;
  }
  return first;
}

async function refusal(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    if (process.env.DEBUG_BYPASS) console.error(error);
    return codeOf(error);
  }
  assert.fail('the request was accepted');
}

/** Runs `body` and asserts that the rogue server received no request during it. */
async function rogueReadsNothing(body: () => Promise<void>): Promise<void> {
  const before = rogue.requests.length;
  const bytes = rogue.stats.bytesReceived;
  await body();
  assert.equal(rogue.requests.length, before, 'a request reached the rogue server');
  // The TLS handshake itself is bytes too; what must never arrive is application data, i.e. a request.
  assert.ok(rogue.stats.bytesReceived >= bytes);
}

function get(url: string, options: https.RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get(url, options, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

function wsOpen(url: string, options: WebSocket.ClientOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options);
    socket.on('open', () => {
      socket.close();
      resolve();
    });
    socket.on('error', reject);
  });
}

function http2Get(session: ReturnType<typeof pinnedHttp2Connect>, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    session.on('error', reject);
    try {
      const request = session.request({ ':path': '/', ...headers });
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (d: string) => (body += d));
      request.on('end', () => {
        session.close();
        resolve(body);
      });
      request.on('error', reject);
      request.end();
    } catch (error) {
      session.destroy();
      reject(error);
    }
  });
}

describe('TLS-PSK and sessions from elsewhere: no handshake without a certificate check', () => {
  let pskServer: tls.Server;
  let pskPort = 0;
  let pskConnections = 0;
  const key = Buffer.alloc(32, 7);
  const pskCallback = () => ({ psk: key, identity: 'client' });

  before(async () => {
    // A server that speaks TLS-PSK only: no certificate at all.
    pskServer = tls.createServer({ pskCallback: () => key, ciphers: 'PSK-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' }, (socket) => socket.end('psk hello'));
    pskServer.on('secureConnection', () => pskConnections++);
    pskServer.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => pskServer.listen(0, '127.0.0.1', resolve));
    pskPort = (pskServer.address() as AddressInfo).port;
    cleanups.push(() => new Promise<void>((resolve) => pskServer.close(() => resolve())));
  });

  it('pinnedConnect, pinnedAgent, http2 and ws refuse pskCallback before connecting', async () => {
    const policy = policyOf();
    assert.throws(() => pinnedConnect(policy, { host: '127.0.0.1', port: pskPort, pskCallback }), { code: 'ERR_CERTPIN_INSECURE_OPTION', option: 'pskCallback' });
    const agent = pinnedAgent(policy);
    cleanups.push(() => agent.destroy());
    assert.equal(await refusal(get(`https://127.0.0.1:${pskPort}/`, { agent, pskCallback } as https.RequestOptions)), 'ERR_CERTPIN_INSECURE_OPTION');
    assert.throws(() => pinnedHttp2Connect(policy, `https://127.0.0.1:${pskPort}`, { pskCallback } as never), { code: 'ERR_CERTPIN_INSECURE_OPTION' });
    const pinned = pinnedWebSocketOptions(policy);
    cleanups.push(() => pinned.agent.destroy());
    assert.equal(await refusal(wsOpen(`wss://127.0.0.1:${pskPort}/`, { pskCallback, ...pinned } as WebSocket.ClientOptions)), 'ERR_CERTPIN_INSECURE_OPTION');
    assert.equal(pskConnections, 0);
  });

  it('pinnedTlsOptions spread last clears a pskCallback written before it', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: pskPort, pskCallback, ...pinnedTlsOptions(policyOf()) });
    await assert.rejects(new Promise((resolve, reject) => socket.on('secureConnect', resolve).on('error', reject)));
    assert.equal(pskConnections, 0);
  });

  it('after PSK attempts, the same policy still checks the certificate of every new connection', async () => {
    const policy = policyOf();
    assert.throws(() => pinnedConnect(policy, { host: '127.0.0.1', port: rogue.port, servername: 'localhost', pskCallback }));
    const dispatcher = pinnedDispatcher(policy);
    cleanups.push(() => dispatcher.destroy());
    await rogueReadsNothing(async () => {
      assert.equal(await refusal(undici.request(`https://localhost:${rogue.port}/`, { dispatcher })), 'ERR_CERTPIN_PIN_MISMATCH');
      const socket = pinnedConnect(policy, { host: '127.0.0.1', port: rogue.port, servername: 'localhost' });
      assert.equal(await refusal(new Promise((resolve, reject) => socket.on('secureConnect', resolve).on('error', reject))), 'ERR_CERTPIN_PIN_MISMATCH');
    });
  });

  it('the last line: a handshake that completes without the check (a resumed foreign session) is destroyed before any byte leaves', async () => {
    const session = await foreignSession();
    await rogueReadsNothing(async () => {
      // Resumption skips checkServerIdentity: this is what the guard exists for.
      const socket = tls.connect({ host: '127.0.0.1', port: rogue.port, servername: 'localhost', ca: attacker.pem, session });
      refuseUncheckedHandshake(socket, () => false, false, 'localhost');
      socket.write('GET /secret HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const outcome = await new Promise<string>((resolve) => {
        socket.on('secureConnect', () => resolve(`connected (resumed: ${socket.isSessionReused()})`));
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      });
      assert.equal(outcome, 'ERR_CERTPIN_CHECK_FAILED');
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
  });

  it('a TLS session from an unpinned connection is refused by pinnedConnect and cleared by pinnedTlsOptions', async () => {
    const session = await foreignSession();
    assert.throws(() => pinnedConnect(policyOf(), { host: '127.0.0.1', port: rogue.port, servername: 'localhost', session }), { code: 'ERR_CERTPIN_INSECURE_OPTION', option: 'session' });
    await rogueReadsNothing(async () => {
      // Resumed, it would skip checkServerIdentity: spread last, the options clear it and the full check refuses.
      const socket = tls.connect({ host: '127.0.0.1', port: rogue.port, servername: 'localhost', session, ...pinnedTlsOptions(policyOf()) });
      const code = await refusal(new Promise((resolve, reject) => socket.on('secureConnect', () => resolve(socket.isSessionReused())).on('error', reject)));
      assert.equal(code, 'ERR_CERTPIN_PIN_MISMATCH');
    });
  });
});

describe('an IP literal dialled with another server name or Host header keeps its pin set', () => {
  const url = () => `https://127.0.0.1:${rogue.port}/`;

  it('node:https (pinnedAgent): a Host header, or a servername', async () => {
    const agent = pinnedAgent(policyOf());
    cleanups.push(() => agent.destroy());
    await rogueReadsNothing(async () => {
      assert.equal(await refusal(get(url(), { agent, headers: { host: 'unpinned.test' } })), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(get(url(), { agent, headers: { Host: 'unpinned.test' } })), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(get(url(), { agent, servername: 'unpinned.test' })), 'ERR_CERTPIN_PIN_MISMATCH');
    });
  });

  it('pinnedConnect with a servername', async () => {
    await rogueReadsNothing(async () => {
      const socket = pinnedConnect(policyOf(), { host: '127.0.0.1', port: rogue.port, servername: 'unpinned.test' });
      socket.write('GET / HTTP/1.1\r\nHost: unpinned.test\r\n\r\n');
      assert.equal(await refusal(new Promise((resolve, reject) => socket.on('secureConnect', resolve).on('error', reject))), 'ERR_CERTPIN_PIN_MISMATCH');
    });
  });

  it('undici (pinnedDispatcher): a Host header', async () => {
    const dispatcher = pinnedDispatcher(policyOf());
    cleanups.push(() => dispatcher.destroy());
    await rogueReadsNothing(async () => {
      assert.equal(await refusal(undici.request(url(), { dispatcher, headers: { host: 'unpinned.test' } })), 'ERR_CERTPIN_PIN_MISMATCH');
    });
  });

  it('got: a Host header, or https.serverName', async () => {
    const options = pinnedGotOptions(policyOf());
    cleanups.push(() => options.destroy());
    const client = got.extend(options, { retry: { limit: 0 } });
    await rogueReadsNothing(async () => {
      assert.equal(await refusal(client(url(), { headers: { host: 'unpinned.test' } }).text()), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(client(url(), { https: { serverName: 'unpinned.test' } }).text()), 'ERR_CERTPIN_PIN_MISMATCH');
    });
  });

  it('axios: a Host header', async () => {
    const client = pinAxios(axios.create(), policyOf());
    cleanups.push(() => (client.defaults.httpsAgent as https.Agent).destroy());
    await rogueReadsNothing(async () => {
      assert.equal(await refusal(client.get(url(), { headers: { Host: 'unpinned.test' } })), 'ERR_CERTPIN_PIN_MISMATCH');
    });
  });

  it('ws: a Host header, or a servername', async () => {
    const pinned = pinnedWebSocketOptions(policyOf());
    cleanups.push(() => pinned.agent.destroy());
    await rogueReadsNothing(async () => {
      assert.equal(await refusal(wsOpen(`wss://127.0.0.1:${rogue.port}/`, { headers: { host: 'unpinned.test' }, ...pinned })), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(wsOpen(`wss://127.0.0.1:${rogue.port}/`, { servername: 'unpinned.test', ...pinned } as WebSocket.ClientOptions)), 'ERR_CERTPIN_PIN_MISMATCH');
    });
  });

  it('http2: a servername', async () => {
    const session = pinnedHttp2Connect(policyOf(), `https://127.0.0.1:${rogueH2.port}`, { servername: 'unpinned.test' });
    assert.equal(await refusal(http2Get(session)), 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(rogueH2.requests.length, 0);
  });

  it('the CLI: certpin check 127.0.0.1:PORT --servername NAME', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-bypass-'));
    writeFileSync(path.join(dir, 'root.pem'), pki.root.pem);
    writeFileSync(path.join(dir, 'proxy.pem'), attacker.pem);
    writeFileSync(path.join(dir, 'policy.json'), JSON.stringify({ hosts: { '127.0.0.1': bankPins() }, ca: ['root.pem', 'proxy.pem'], trustSystemRoots: false }));
    const result = await certpin(['check', `127.0.0.1:${rogue.port}`, '--servername', 'unpinned.test', '--policy', path.join(dir, 'policy.json')]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /Refused by pinning/);
  });

  it('a Host header changed in a \'socket\' listener of the caller\'s, after the check, before the request is written, is refused', async () => {
    const agent = pinnedAgent(policyOf({ hosts: { 'pinned.test': bankPins() } }));
    cleanups.push(() => agent.destroy());
    await rogueReadsNothing(async () => {
      for (const change of [
        (r: http.ClientRequest) => r.setHeader('Host', 'pinned.test'),
        (r: http.ClientRequest) => r.setHeaders(new Map([['host', 'pinned.test']])),
        (r: http.ClientRequest) => r.appendHeader('host', 'pinned.test'),
      ]) {
        const request = https.request(`https://127.0.0.1:${rogue.port}/`, { agent, headers: { host: 'unpinned.test', authorization: 'Bearer T' } });
        request.on('socket', () => {
          change(request);
          request.end();
        });
        assert.equal(await refusal(new Promise((resolve, reject) => request.on('response', resolve).on('error', reject))), 'ERR_CERTPIN_INSECURE_OPTION');
      }
    });
  });

  it('a request whose Host header changes after it was bound to a connection is refused', async () => {
    const agent = pinnedAgent(policyOf({ hosts: { 'pinned.test': bankPins() } }));
    cleanups.push(() => agent.destroy());
    await rogueReadsNothing(async () => {
      const request = https.request(`https://127.0.0.1:${rogue.port}/`, { agent, headers: { host: 'unpinned.test' } });
      // The pool key and the handshake were chosen for unpinned.test; the request would carry pinned.test.
      request.setHeader('host', 'pinned.test');
      request.end();
      assert.equal(await refusal(new Promise((resolve, reject) => request.on('response', resolve).on('error', reject))), 'ERR_CERTPIN_INSECURE_OPTION');
    });
  });
});

describe('a connection checked for one set of names is never reused for another', () => {
  // The policy pins 127.0.0.1 and not localhost: a connection to localhost passes unpinned, and a request to the same
  // server whose Host is 127.0.0.1 must get its own connection, checked against 127.0.0.1's pins.
  const addressOnly = () => policyOf({ hosts: { '127.0.0.1': bankPins() } });

  it('pinnedAgent: a kept-alive connection to an unpinned name does not carry a request whose Host is pinned', async () => {
    const agent = pinnedAgent(addressOnly(), { keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const before = rogue.requests.length;
    assert.equal(typeof (await get(`https://localhost:${rogue.port}/`, { agent })), 'string', 'localhost is not pinned');
    assert.equal(await refusal(get(`https://localhost:${rogue.port}/`, { agent, headers: { host: '127.0.0.1' } })), 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(rogue.requests.length, before + 1, 'only the unpinned request reached the server');
  });

  it('pinnedConnect: a session of a connection to an unpinned name is not resumed for a request Host that is pinned', async () => {
    const policy = addressOnly();
    const first = pinnedConnect(policy, { host: 'localhost', port: rogue.port });
    await new Promise<void>((resolve, reject) => first.once('session', () => resolve()).once('error', reject));
    first.destroy();
    const second = pinnedConnect(policy, { host: 'localhost', port: rogue.port, requestHost: '127.0.0.1' });
    try {
      let resumed = false;
      // Before Node's own 'secure' listener, which checks the certificate and may destroy the socket.
      second.prependOnceListener('secure', () => (resumed = second.isSessionReused()));
      assert.equal(await refusal(new Promise((resolve, reject) => second.once('secureConnect', resolve).once('error', reject))), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(resumed, false, 'the session checked for localhost alone was not offered');
    } finally {
      second.destroy();
    }
  });
});

describe('a Host header the connection check cannot count is refused, never ignored', () => {
  it('undici (pinnedDispatcher): an IP-literal Host naming a pinned address, on a request to another origin', async () => {
    // localhost is not pinned; the addresses are. undici passes no IP literal to the connection as a server name.
    const dispatcher = pinnedDispatcher(policyOf({ hosts: { '127.0.0.1': bankPins(), '::1': bankPins() } }));
    cleanups.push(() => dispatcher.destroy());
    const url = `https://localhost:${rogue.port}/`;
    await rogueReadsNothing(async () => {
      for (const host of [`127.0.0.1:${rogue.port}`, '127.0.0.1', `[::1]:${rogue.port}`]) {
        assert.equal(await refusal(undici.request(url, { dispatcher, headers: { host, authorization: 'Bearer T' } })), 'ERR_CERTPIN_INSECURE_OPTION', host);
        assert.equal(await refusal(undici.request(url, { dispatcher, headers: ['Host', host] })), 'ERR_CERTPIN_INSECURE_OPTION', host);
      }
    });
    // An address the policy leaves alone is no reason to refuse: the request reaches the (unpinned) server.
    const open = pinnedDispatcher(policyOf({ hosts: { '10.9.9.9': bankPins() } }));
    cleanups.push(() => open.destroy());
    const response = await undici.request(url, { dispatcher: open, headers: { host: `127.0.0.1:${rogue.port}` } });
    assert.equal(response.statusCode, 200);
    await response.body.text();
  });

  it('node:https (pinnedAgent): two different Host headers, in a raw header array, two keys or an array value', async () => {
    const agent = pinnedAgent(policyOf({ hosts: { 'pinned.test': bankPins() } }));
    cleanups.push(() => agent.destroy());
    const url = `https://localhost:${rogue.port}/`;
    await rogueReadsNothing(async () => {
      // Node sends each of them; its server, like many, reads the first, while the connection was chosen for another.
      const raw = ['Host', 'pinned.test', 'Host', 'localhost', 'Authorization', 'Bearer T'] as unknown as http.OutgoingHttpHeaders;
      assert.equal(await refusal(get(url, { agent, headers: raw })), 'ERR_CERTPIN_INSECURE_OPTION');
      assert.equal(await refusal(get(url, { agent, headers: { Host: 'pinned.test', host: 'localhost' } })), 'ERR_CERTPIN_INSECURE_OPTION');
      assert.equal(await refusal(get(url, { agent, headers: { host: ['pinned.test', 'localhost'] as unknown as string } })), 'ERR_CERTPIN_INSECURE_OPTION');
    });
  });
});

describe('names that cannot be normalised get the most restrictive rule, never none', () => {
  for (const name of ODD_NAMES) {
    it(`pinnedConnect and pinnedAgent: ${name.length > 30 ? `${name.slice(0, 12)}… (${name.length} chars)` : name} falls under **.example.com`, async () => {
      await rogueReadsNothing(async () => {
        const socket = pinnedConnect(policyOf(), { host: name, port: rogue.port, lookup: toLoopback as never });
        assert.equal(await refusal(new Promise((resolve, reject) => socket.on('secureConnect', resolve).on('error', reject))), 'ERR_CERTPIN_PIN_MISMATCH');
        const agent = pinnedAgent(policyOf());
        cleanups.push(() => agent.destroy());
        assert.equal(await refusal(get(`https://127.0.0.1:${rogue.port}/`, { agent, servername: name })), 'ERR_CERTPIN_PIN_MISMATCH');
      });
    });
  }

  it('a name no pattern covers is refused while the policy pins hosts', async () => {
    await rogueReadsNothing(async () => {
      const socket = pinnedConnect(policyOf({ hosts: { 'api.bank.test': bankPins() } }), { host: 'x!y.elsewhere.test', port: rogue.port, lookup: toLoopback as never });
      assert.equal(await refusal(new Promise((resolve, reject) => socket.on('secureConnect', resolve).on('error', reject))), 'ERR_CERTPIN_HOST_NOT_PINNED');
    });
  });

  it('the dio-style axios interceptor (defaultPins) pins them too', async () => {
    const client = axios.create();
    const interceptor = certificatePinningInterceptor({ allowedSHAFingerprints: bankPins(), ca: [pki.root.pem, attacker.pem], trustSystemRoots: false, onWarning: () => {} });
    client.interceptors.request.use(interceptor);
    cleanups.push(() => interceptor.destroy());
    await rogueReadsNothing(async () => {
      assert.equal(await refusal(client.get(`https://x!y.example.com:${rogue.port}/`, { lookup: toLoopback } as never)), 'ERR_CERTPIN_PIN_MISMATCH');
    });
  });

  it('the CLI: certpin check --pin with an unreadable server name', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-bypass-'));
    writeFileSync(path.join(dir, 'cas.pem'), pki.root.pem + attacker.pem);
    const result = await certpin(['check', `127.0.0.1:${rogue.port}`, '--servername', 'x!y.example.com', '--pin', pinOf(pki.intermediate), '--ca', path.join(dir, 'cas.pem')]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
  });
});

describe('IPv4-mapped IPv6 addresses meet the IPv4 literal\'s pin set', () => {
  const byAddress = () => policyOf({ hosts: { '127.0.0.1': bankPins() } });
  // Node 22.23 matches no IPv6 host against IP SANs: there the connection fails closed before the pins.
  const expected = ipv6SanMatchBroken ? ['ERR_CERTPIN_PIN_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID'] : ['ERR_CERTPIN_PIN_MISMATCH'];
  for (const literal of ['[::ffff:127.0.0.1]', '[::ffff:7f00:1]']) {
    it(`fetch, node:https, checkConnection and the CLI: ${literal}`, async () => {
      const fetchPinned = pinnedFetch(byAddress());
      cleanups.push(() => fetchPinned.dispatcher.destroy());
      const agent = pinnedAgent(byAddress());
      cleanups.push(() => agent.destroy());
      const url = `https://${literal}:${rogue.port}/`;
      await rogueReadsNothing(async () => {
        assert.ok(expected.includes((await refusal(fetchPinned(url)))!));
        assert.ok(expected.includes((await refusal(get(url, { agent })))!));
        const check = await checkConnection(url, byAddress());
        assert.equal(check.status, 'CONNECTION_NOT_SECURE');
        assert.ok(expected.includes(check.error!.code), check.error?.code);
      });
      const dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-bypass-'));
      writeFileSync(path.join(dir, 'cas.pem'), pki.root.pem + attacker.pem);
      writeFileSync(path.join(dir, 'policy.json'), JSON.stringify({ hosts: { '127.0.0.1': bankPins() }, ca: ['cas.pem'], trustSystemRoots: false }));
      const result = await certpin(['check', `${literal}:${rogue.port}`, '--policy', path.join(dir, 'policy.json')]);
      assert.notEqual(result.code, 0, result.stdout);
    });
  }
});

describe('axios: interceptors, defaults and per-request options, in any order, cannot route around the pinned agents', () => {
  const unpinnedAgent = () => {
    const agent = new https.Agent({ ca: [pki.root.pem, attacker.pem] });
    cleanups.push(() => agent.destroy());
    return agent;
  };
  const swaps: [string, (config: Record<string, unknown>) => void, string][] = [
    ['httpsAgent', (config) => (config.httpsAgent = unpinnedAgent()), 'httpsAgent'],
    ['httpAgent', (config) => (config.httpAgent = new http.Agent()), 'httpAgent'],
    ['proxy', (config) => (config.proxy = { host: '127.0.0.1', port: plain.port, protocol: 'http' }), 'proxy'],
    ['adapter', (config) => (config.adapter = 'fetch'), 'adapter'],
    ['transport', (config) => (config.transport = https), 'transport'],
    ['httpVersion', (config) => (config.httpVersion = 2), 'httpVersion'],
  ];
  for (const legacyOrder of [true, false]) {
    for (const [name, swap, option] of swaps) {
      for (const when of ['before pinAxios', 'after pinAxios'] as const) {
        it(`an interceptor registered ${when} that swaps ${name} (${legacyOrder ? 'legacy' : 'registration'} interceptor order)`, async () => {
          const client = axios.create({ transitional: { legacyInterceptorReqResOrdering: legacyOrder } as never });
          const register = () => client.interceptors.request.use((config) => {
            swap(config as unknown as Record<string, unknown>);
            return config;
          });
          if (when === 'before pinAxios') register();
          pinAxios(client, policyOf());
          if (when === 'after pinAxios') register();
          cleanups.push(() => (client.defaults.httpsAgent as https.Agent).destroy());
          await rogueReadsNothing(async () => {
            const error = await refusal(client.get(`https://localhost:${rogue.port}/secret`));
            assert.equal(error, 'ERR_CERTPIN_INSECURE_OPTION', `${name}: ${error}`);
          });
          void option;
        });
      }
    }
  }

  it('per-request options, defaults changed after pinAxios, transformRequest and instance.create() children', async () => {
    const client = pinAxios(axios.create(), policyOf());
    cleanups.push(() => (client.defaults.httpsAgent as https.Agent).destroy());
    const url = `https://localhost:${rogue.port}/secret`;
    await rogueReadsNothing(async () => {
      assert.equal(await refusal(client.get(url, { httpsAgent: unpinnedAgent() })), 'ERR_CERTPIN_INSECURE_OPTION');
      assert.equal(await refusal(client.get(url, { adapter: 'fetch' })), 'ERR_CERTPIN_INSECURE_OPTION');
      assert.equal(await refusal(client.get(url, { proxy: { host: '127.0.0.1', port: plain.port } })), 'ERR_CERTPIN_INSECURE_OPTION');
      assert.equal(
        await refusal(client.post(url, 'x', {
          transformRequest: [
            function (this: unknown, data: unknown) {
              (this as Record<string, unknown>).httpsAgent = unpinnedAgent();
              return data;
            } as never,
          ],
        })),
        'ERR_CERTPIN_INSECURE_OPTION',
      );
      const child = client.create();
      assert.equal(await refusal(child.get(url)), 'ERR_CERTPIN_PIN_MISMATCH');
      const shared = axios.create();
      pinAxios(shared, policyOf());
      cleanups.push(() => (shared.defaults.httpsAgent as https.Agent).destroy());
      shared.defaults.httpsAgent = unpinnedAgent();
      assert.equal(await refusal(shared.get(url)), 'ERR_CERTPIN_INSECURE_OPTION');
    });
  });

  it('a redirect hop cannot be moved to another agent by a beforeRedirect hook', async () => {
    const client = pinAxios(axios.create(), policyOf());
    cleanups.push(() => (client.defaults.httpsAgent as https.Agent).destroy());
    const target = `https://localhost:${rogue.port}/landing`;
    await rogueReadsNothing(async () => {
      const error = await refusal(client.get(`${bank.url}/r?to=${encodeURIComponent(target)}`, {
        beforeRedirect: (options: Record<string, unknown>) => {
          options.agents = { https: unpinnedAgent(), http: new http.Agent() };
          options.agent = unpinnedAgent();
        },
      }));
      assert.equal(error, 'ERR_CERTPIN_PIN_MISMATCH');
    });
  });
});

describe('got: hooks from any extend, in any order, cannot route around the pinned agents', () => {
  const unpinnedAgent = () => {
    const agent = new https.Agent({ ca: [pki.root.pem, attacker.pem] });
    cleanups.push(() => agent.destroy());
    return agent;
  };
  type Hook = (options: { agent: Record<string, unknown>; request: unknown; http2: boolean }) => void;
  // A hook must return nothing: got takes a returned value as the response and sends no request.
  const swaps: [string, Hook][] = [
    ['agent.https', (options) => void (options.agent.https = unpinnedAgent())],
    ['agent (object replaced)', (options) => void (options.agent = { https: unpinnedAgent(), http: new http.Agent() })],
    ['agent.http', (options) => void (options.agent.http = new http.Agent())],
    ['request', (options) => void (options.request = https.request)],
    ['http2', (options) => void (options.http2 = true)],
  ];
  for (const [name, hook] of swaps) {
    for (const order of ['extended before', 'extended after'] as const) {
      it(`a beforeRequest hook ${order} the pinned options that swaps ${name}`, async () => {
        const pinned = pinnedGotOptions(policyOf());
        cleanups.push(() => pinned.destroy());
        const swapping = { hooks: { beforeRequest: [hook as never] } };
        const client = order === 'extended before' ? got.extend(swapping).extend(pinned, { retry: { limit: 0 } }) : got.extend(pinned, { retry: { limit: 0 } }).extend(swapping);
        const plainBefore = plain.requests.length;
        await rogueReadsNothing(async () => {
          // The plain-HTTP agent matters on a downgrade redirect; every other swap on the first request.
          const url = name === 'agent.http' ? `https://localhost:${bank.port}/r?to=${encodeURIComponent(`http://localhost:${plain.port}/down`)}` : `https://localhost:${rogue.port}/secret`;
          const code = await refusal(client(url).text());
          assert.equal(code, 'ERR_CERTPIN_INSECURE_OPTION', `${name}: ${code}`);
        });
        assert.equal(plain.requests.length, plainBefore);
      });
    }
  }

  it('a later extend with its own agent or request function', async () => {
    const pinned = pinnedGotOptions(policyOf());
    cleanups.push(() => pinned.destroy());
    await rogueReadsNothing(async () => {
      const withAgent = got.extend(pinned, { retry: { limit: 0 } }).extend({ agent: { https: unpinnedAgent() } });
      assert.equal(await refusal(withAgent(`https://localhost:${rogue.port}/`).text()), 'ERR_CERTPIN_INSECURE_OPTION');
      const withRequest = got.extend(pinned, { retry: { limit: 0 } }).extend({ request: https.request });
      assert.equal(await refusal(withRequest(`https://localhost:${rogue.port}/`).text()), 'ERR_CERTPIN_INSECURE_OPTION');
    });
  });
});

describe('undici interceptors composed in any order keep the plaintext refusal and the pins', () => {
  type Interceptor = Parameters<undici.Dispatcher['compose']>[0];
  const stacks: [string, () => Interceptor[]][] = [
    ['dns, redirect', () => [undici.interceptors.dns(), undici.interceptors.redirect({ maxRedirections: 3 })]],
    ['redirect, dns', () => [undici.interceptors.redirect({ maxRedirections: 3 }), undici.interceptors.dns()]],
    ['dns, retry, redirect', () => [undici.interceptors.dns(), undici.interceptors.retry({ maxRetries: 1 }), undici.interceptors.redirect({ maxRedirections: 3 })]],
    ['retry, redirect, dns', () => [undici.interceptors.retry({ maxRetries: 1 }), undici.interceptors.redirect({ maxRedirections: 3 }), undici.interceptors.dns()]],
  ];
  for (const [name, stack] of stacks) {
    it(`${name}: https → http redirect on a pinned host, a direct http:// request, and the MITM`, async () => {
      const base = pinnedDispatcher(policyOf());
      cleanups.push(() => base.destroy());
      const dispatcher = base.compose(...stack());
      const before = plain.requests.length;
      const downgrade = `http://localhost:${plain.port}/downgraded`;
      assert.equal(await refusal(undici.request(`https://localhost:${bank.port}/r?to=${encodeURIComponent(downgrade)}`, { dispatcher })), 'ERR_CERTPIN_INSECURE_REDIRECT');
      assert.equal(await refusal(undici.request(`http://localhost:${plain.port}/direct`, { dispatcher })), 'ERR_CERTPIN_INSECURE_REDIRECT');
      assert.equal(await refusal(fetch(`http://localhost:${plain.port}/fetch`, { dispatcher } as unknown as RequestInit)), 'ERR_CERTPIN_INSECURE_REDIRECT');
      assert.equal(plain.requests.length, before, 'a plaintext request reached a pinned host');
      await rogueReadsNothing(async () => {
        assert.equal(await refusal(undici.request(`https://localhost:${rogue.port}/`, { dispatcher })), 'ERR_CERTPIN_PIN_MISMATCH');
      });
      const ok = await undici.request(`https://localhost:${bank.port}/`, { dispatcher });
      assert.equal(await ok.body.text(), 'hello from bank');
    });
  }
});

describe('undici: a plain-HTTP request is judged by every name it carries, also on a kept-alive connection', () => {
  it('an unpinned address, then the same address with the Host header of a pinned name', async () => {
    const dispatcher = pinnedDispatcher(policyOf({ hosts: { localhost: bankPins() } }));
    cleanups.push(() => dispatcher.destroy());
    const before = plain.requests.length;
    const first = await undici.request(`http://127.0.0.1:${plain.port}/first`, { dispatcher });
    assert.equal(await first.body.text(), 'plain');
    assert.equal(await refusal(undici.request(`http://127.0.0.1:${plain.port}/second`, { dispatcher, headers: { host: `localhost:${plain.port}` } })), 'ERR_CERTPIN_INSECURE_REDIRECT');
    assert.deepEqual(plain.requests.slice(before), [`127.0.0.1:${plain.port} /first`]);
  });
});

describe('NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment turns off neither validation nor pins, through every entry point', () => {
  // Left on from a debugging session (Charles, Burp, mitmproxy), it makes Node's own default `rejectUnauthorized`
  // false: a failed check would then only mark the socket unauthorized and the request would go out.
  const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  before(() => {
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  });
  after(() => {
    if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
  });
  const url = () => `https://localhost:${rogue.port}/`;
  const opened = (socket: tls.TLSSocket) =>
    new Promise((resolve, reject) => {
      socket.write('GET /secret HTTP/1.1\r\nHost: localhost\r\n\r\n');
      socket.on('secureConnect', resolve).on('error', reject);
    });

  it('the pins: pinnedConnect, pinnedTlsOptions, node:https, fetch, undici, axios, got, ws, http2 and checkConnection refuse the trusted proxy', async () => {
    const policy = policyOf();
    const agent = pinnedAgent(policy);
    const fetchPinned = pinnedFetch(policy);
    const gotOptions = pinnedGotOptions(policy);
    const client = pinAxios(axios.create(), policy);
    const ws = pinnedWebSocketOptions(policy);
    cleanups.push(() => agent.destroy(), () => fetchPinned.dispatcher.destroy(), () => gotOptions.destroy(), () => (client.defaults.httpsAgent as https.Agent).destroy(), () => ws.agent.destroy());
    await rogueReadsNothing(async () => {
      assert.equal(await refusal(opened(pinnedConnect(policy, { host: 'localhost', port: rogue.port }))), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(opened(tls.connect({ host: 'localhost', port: rogue.port, ...pinnedTlsOptions(policy) }))), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(get(url(), { agent })), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(fetchPinned(url())), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(undici.request(url(), { dispatcher: fetchPinned.dispatcher })), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(client.get(url())), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(got.extend(gotOptions, { retry: { limit: 0 } })(url()).text()), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(await refusal(wsOpen(`wss://localhost:${rogue.port}/`, ws)), 'ERR_CERTPIN_PIN_MISMATCH');
      const check = await checkConnection(url(), policy);
      assert.equal(check.error?.code, 'ERR_CERTPIN_PIN_MISMATCH');
    });
    assert.equal(await refusal(http2Get(pinnedHttp2Connect(policy, `https://localhost:${rogueH2.port}`))), 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(rogueH2.requests.length, 0);
  });

  it('validation: a chain from a CA the policy does not trust is refused even when its pin matches', async () => {
    // The rogue's CA pinned, but not trusted: only OpenSSL's verification stands between it and the request.
    const policy = new PinPolicy({ hosts: { localhost: [pinOf(attacker), backupPin()] }, ca: [pki.root.pem], trustSystemRoots: false, onWarning: () => {} });
    const agent = pinnedAgent(policy);
    const fetchPinned = pinnedFetch(policy);
    cleanups.push(() => agent.destroy(), () => fetchPinned.dispatcher.destroy());
    await rogueReadsNothing(async () => {
      for (const attempt of [
        refusal(opened(pinnedConnect(policy, { host: 'localhost', port: rogue.port }))),
        refusal(opened(tls.connect({ host: 'localhost', port: rogue.port, ...pinnedTlsOptions(policy) }))),
        refusal(get(url(), { agent })),
        refusal(fetchPinned(url())),
      ]) {
        assert.equal(await attempt, 'SELF_SIGNED_CERT_IN_CHAIN');
      }
    });
  });

  it('an https proxy is validated too: its credentials never reach a proxy the machine does not trust', async () => {
    const untrusted = createPki({ name: 'Untrusted Proxy', hosts: ['localhost', '127.0.0.1'] });
    const proxy = await startConnectProxy({ tls: { key: untrusted.leaf.key.keyPem, cert: untrusted.chainPem } });
    cleanups.push(() => proxy.close());
    const credentials = new URL(proxy.url);
    credentials.username = 'user';
    credentials.password = 'secret';
    const agent = pinnedProxyAgent(policyOf(), credentials);
    const dispatcher = pinnedDispatcher(policyOf(), { proxy: credentials.href });
    cleanups.push(() => agent.destroy(), () => dispatcher.destroy());
    assert.equal(await refusal(get(`https://localhost:${bank.port}/`, { agent })), 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    assert.equal(await refusal(undici.request(`https://localhost:${bank.port}/`, { dispatcher })), 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    // The same proxy at an address the policy does not pin: no pins to check it, its certificate is checked all the same.
    const unpinnedHop = Object.assign(new URL(credentials.href), { hostname: '127.0.0.1' });
    const toUnpinnedProxy = pinnedProxyAgent(policyOf({ hosts: { localhost: bankPins() } }), unpinnedHop);
    cleanups.push(() => toUnpinnedProxy.destroy());
    assert.equal(await refusal(get(`https://localhost:${bank.port}/`, { agent: toUnpinnedProxy })), 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    assert.deepEqual(proxy.connects, []);
    // Given the proxy's CA, the same proxy carries the pinned request (reached at an address the policy does not pin:
    // a pinned proxy host must pass its pins too).
    const unpinnedProxy = Object.assign(new URL(credentials.href), { hostname: '127.0.0.1' });
    const trusting = pinnedDispatcher(policyOf({ hosts: { localhost: bankPins() } }), { proxy: unpinnedProxy.href, proxyTls: { ca: untrusted.root.pem } });
    cleanups.push(() => trusting.destroy());
    const response = await undici.request(`https://localhost:${bank.port}/`, { dispatcher: trusting });
    assert.equal(await response.body.text(), 'hello from bank');
    assert.deepEqual(proxy.connects, [`localhost:${bank.port}`]);
  });
});

describe('a proxy whose host the policy pins gets its pins before it is sent the CONNECT and its credentials', () => {
  it('pinnedProxyAgent and pinnedDispatcher({ proxy })', async () => {
    // The proxy lives at localhost, which the policy pins to the bank's keys.
    const rogueProxy = await startConnectProxy({ tls: { key: rogueLeaf.key.keyPem, cert: rogueLeaf.pem + attacker.pem } });
    const bankProxy = await startConnectProxy({ tls: { key: pki.leaf.key.keyPem, cert: pki.chainPem } });
    cleanups.push(() => rogueProxy.close(), () => bankProxy.close());
    const withCredentials = (url: string) => Object.assign(new URL(url), { username: 'user', password: 'secret' });
    const target = `https://localhost:${bank.port}/`;
    const agent = pinnedProxyAgent(policyOf(), withCredentials(rogueProxy.url));
    // The proxy's CA is trusted for the proxy hop: only the pins can refuse it.
    const dispatcher = pinnedDispatcher(policyOf(), { proxy: withCredentials(rogueProxy.url).href, proxyTls: { ca: attacker.pem } });
    cleanups.push(() => agent.destroy(), () => dispatcher.destroy());
    assert.equal(await refusal(get(target, { agent })), 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(await refusal(undici.request(target, { dispatcher })), 'ERR_CERTPIN_PIN_MISMATCH');
    assert.deepEqual(rogueProxy.connects, []);
    // The bank's own proxy passes its pins, on the policy's trust anchors (Node's default store does not hold them).
    const bankAgent = pinnedProxyAgent(policyOf(), withCredentials(bankProxy.url));
    cleanups.push(() => bankAgent.destroy());
    assert.equal(await get(target, { agent: bankAgent }), 'hello from bank');
    assert.deepEqual(bankProxy.connects, [`localhost:${bank.port}`]);
  });
});

describe('what the README promises', () => {
  it('a caller\'s checkServerIdentity runs on every connection it is given for, also when a session could be resumed', async () => {
    const pinned = pinnedGotOptions(policyOf({ hosts: { localhost: [pinOf(pki.root), backupPin()] } }));
    cleanups.push(() => pinned.destroy());
    const client = got.extend(pinned, { retry: { limit: 0 } });
    const url = `https://localhost:${bank.port}/`;
    assert.equal(await client(url).text(), 'hello from bank');
    // A fresh connection (no keep-alive) whose session is cached: the stricter check must still run.
    let calls = 0;
    const refusing = () => {
      calls++;
      return new Error('refused by the caller');
    };
    await assert.rejects(client(url, { agent: pinned.agent, https: { checkServerIdentity: refusing }, headers: { connection: 'close' } }).text(), /refused by the caller/);
    assert.equal(calls, 1);
  });

  it('pinnedHttp2Connect runs a caller\'s checkServerIdentity, and binds :authority and Host in any case', async () => {
    const session = pinnedHttp2Connect(policyOf(), `https://localhost:${bankH2.port}`, { checkServerIdentity: () => new Error('caller says no') });
    await assert.rejects(http2Get(session), /caller says no/);
    assert.equal(bankH2.requests.length, 0);
    const bound = pinnedHttp2Connect(policyOf(), `https://localhost:${bankH2.port}`);
    for (const header of ['Host', 'HOST', ':Authority']) {
      assert.throws(() => bound.request({ ':path': '/', [header]: 'unpinned.test' }), { code: 'ERR_CERTPIN_INSECURE_OPTION' });
    }
    bound.destroy();
  });

  it('accessors on Object.prototype cannot take the pin check off a connection', async () => {
    // Code that can define accessors owns the process anyway; still, a setter must not silently swallow the pin check
    // certpin sets, nor a getter supply its own. (A getter that supplies a session is refused on entry.)
    const acceptAll = () => undefined;
    const proto = Object.prototype as Record<string, unknown>;
    const agent = pinnedAgent(policyOf(), { keepAlive: false });
    try {
      for (const [name, value] of [['checkServerIdentity', acceptAll], ['session', undefined]] as const) {
        Object.defineProperty(proto, name, { configurable: true, get: () => value, set: () => {} });
      }
      await rogueReadsNothing(async () => {
        const code = await refusal(new Promise((resolve, reject) => {
          const socket = pinnedConnect(policyOf(), { host: '127.0.0.1', port: rogue.port, servername: 'localhost' });
          socket.on('secureConnect', resolve).on('error', reject);
        }));
        assert.equal(code, 'ERR_CERTPIN_PIN_MISMATCH');
        assert.equal(await refusal(get(`https://localhost:${rogue.port}/`, { agent })), 'ERR_CERTPIN_PIN_MISMATCH');
      });
    } finally {
      delete proto.checkServerIdentity;
      delete proto.session;
      agent.destroy();
    }
  });

  it('ca entries are validated when the policy is built', () => {
    for (const ca of [null, [{}], [null], [42], '', 'not a certificate']) {
      assert.throws(() => new PinPolicy({ hosts: {}, ca: ca as never, onWarning: () => {} }), { code: 'ERR_CERTPIN_INVALID_POLICY' }, JSON.stringify(ca));
    }
  });

  it('a polluted Object.prototype does not weaken new policies or connections', async () => {
    const proto = Object.prototype as Record<string, unknown>;
    const polluted = { reportOnly: true, expires: '2000-01-01', includeSubdomains: true, trustSystemRoots: false, onlyPinnedHosts: false, pskCallback: () => ({ psk: Buffer.alloc(16), identity: 'x' }), session: Buffer.from('x'), rejectUnauthorized: false };
    const policy = policyOf();
    const agent = pinnedAgent(policy, { keepAlive: false });
    try {
      Object.assign(proto, polluted);
      const fresh = policyOf();
      assert.equal(fresh.reportOnly, false);
      assert.equal(fresh.ruleFor('localhost')?.reportOnly, false);
      assert.equal(fresh.ruleFor('localhost')?.expires, undefined);
      assert.equal(fresh.ruleFor('sub.localhost'), undefined);
      await rogueReadsNothing(async () => {
        // Inherited pskCallback, session or rejectUnauthorized either are refused outright or never reach Node.
        const code = await refusal(new Promise((resolve, reject) => {
          const socket = pinnedConnect(policy, { host: '127.0.0.1', port: rogue.port, servername: 'localhost' });
          socket.on('secureConnect', resolve).on('error', reject);
        }));
        assert.ok(code === 'ERR_CERTPIN_INSECURE_OPTION' || code === 'ERR_CERTPIN_PIN_MISMATCH', code);
        // An agent's request options have no prototype (Node makes them so); the connection is still made from an
        // ordinary object, and the inherited options are refused before it is.
        assert.equal(await refusal(get(`https://localhost:${rogue.port}/`, { agent })), 'ERR_CERTPIN_INSECURE_OPTION');
      });
    } finally {
      for (const key of Object.keys(polluted)) delete proto[key];
      agent.destroy();
    }
  });

  it('a polluted Object.prototype cannot choose the transport of a pinned connection', async () => {
    const proto = Object.prototype as Record<string, unknown>;
    const agent = pinnedAgent(policyOf(), { keepAlive: false });
    try {
      // Node would dial an IPC path, or run TLS over a socket of the attacker's, when it reads either inherited.
      proto.path = path.join(os.tmpdir(), 'certpin-no-such.sock');
      await new Promise<void>((resolve, reject) => {
        const socket = pinnedConnect(policyOf(), { host: 'localhost', port: bank.port });
        socket.on('secureConnect', () => {
          socket.end();
          resolve();
        }).on('error', reject);
      });
      assert.match(await get(`https://localhost:${bank.port}/`, { agent }), /bank/);
    } finally {
      delete proto.path;
      agent.destroy();
    }
  });
});
