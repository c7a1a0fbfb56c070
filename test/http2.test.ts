/**
 * pinnedHttp2Connect against real HTTP/2 servers on 127.0.0.1: direct sessions, a real interception proxy (mockttp,
 * through a CONNECT tunnel), a transparent MITM, session reuse and TLS resumption, sessions bound to their origin
 * (no coalescing onto another pinned host), report-only mode.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { PinPolicy, pinnedHttp2Connect } from '../src/index.js';
import { InsecureOptionError, PinningError } from '../src/errors.js';
import type { PinPolicyOptions, PinReport } from '../src/index.js';
import { skipUnlessIpv6SanMatch } from './support/node-quirks.js';
import { startHttp2Server } from './support/http2-server.js';
import type { RunningHttp2Server } from './support/http2-server.js';
import { startInterceptingProxy } from './support/intercepting-proxy.js';
import type { InterceptingProxy } from './support/intercepting-proxy.js';
import { backupPin, createCertificate, createPki, pinOf } from './support/pki.js';
import { startMitm } from './support/servers.js';
import type { RunningMitm } from './support/servers.js';

const pki = createPki();
const attacker = createCertificate({ commonName: 'Corporate Proxy CA', organization: 'Proxy', ca: true });
const cleanups: (() => unknown)[] = [];

function policyOf(extra: Partial<PinPolicyOptions> = {}): PinPolicy {
  return new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: [pki.root.pem, attacker.pem], trustSystemRoots: false, onWarning: () => {}, ...extra });
}

function track(session: http2.ClientHttp2Session): http2.ClientHttp2Session {
  cleanups.push(() => session.destroy());
  return session;
}

/** One GET on a session; rejects with the request's or the session's error. */
function get(session: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    session.once('error', reject);
    const req = session.request({ ':path': path, ...headers });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with the error a session emits (and fails if it connects instead). */
function sessionError(session: http2.ClientHttp2Session): Promise<Error & { code?: string }> {
  return new Promise((resolve, reject) => {
    session.once('error', resolve);
    session.once('connect', () => reject(new Error('the session connected')));
  });
}

/** A CONNECT tunnel through an HTTP proxy to `authority`. */
function openTunnel(proxyPort: number, authority: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method: 'CONNECT', path: authority, agent: false });
    req.once('connect', (res: http.IncomingMessage, socket: Socket) => {
      if (res.statusCode === 200) resolve(socket);
      else reject(new Error(`CONNECT answered ${res.statusCode}`));
    });
    req.once('error', reject);
    req.end();
  });
}

/** A TCP relay on a fixed port whose target can change: the same host and port, first the origin, then a MITM. */
async function startRelay(target: number): Promise<{ port: number; target: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const relay = { port: 0, target, close: async () => {} };
  const server = net.createServer((client) => {
    const upstream = net.connect(relay.target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = (server.address() as AddressInfo).port;
  relay.close = () => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  });
  return relay;
}

let origin: RunningHttp2Server;
let mitm: RunningMitm;
let proxy: InterceptingProxy;

before(async () => {
  origin = await startHttp2Server({ key: pki.leaf.key.keyPem, cert: pki.chainPem, allowHTTP1: true });
  mitm = await startMitm({ attackerCa: attacker, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
  proxy = await startInterceptingProxy({ caCert: attacker.pem, caKey: attacker.key.keyPem, upstreamCa: pki.root.pem, http2: true });
  cleanups.push(() => origin.close(), () => mitm.close(), () => proxy.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('pinnedHttp2Connect', () => {
  it('connects to the pinned origin; many requests share the one checked connection', async () => {
    const connections = origin.stats.connections;
    const session = track(pinnedHttp2Connect(policyOf(), origin.url));
    assert.deepEqual(await Promise.all([get(session, '/a'), get(session, '/b'), get(session, '/c')]), Array(3).fill('h2 hello from origin'));
    assert.equal(await get(session, '/d'), 'h2 hello from origin');
    assert.equal(origin.stats.connections, connections + 1);
    assert.equal((session.socket as tls.TLSSocket).alpnProtocol, 'h2');
    assert.ok(origin.requests.slice(-4).every((r) => r.httpVersion === '2.0'));
  });

  it('a transparent MITM with a trusted CA is refused with ERR_CERTPIN_PIN_MISMATCH, nothing sent', async () => {
    const error = await sessionError(track(pinnedHttp2Connect(policyOf(), `https://localhost:${mitm.port}`)));
    assert.ok(error instanceof PinningError);
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.deepEqual(mitm.intercepted, []);
  });

  it('control: without pinning, the interception proxy (mockttp) reads an h2 request sent through its tunnel', async () => {
    const before = proxy.intercepted();
    const tunnel = await openTunnel(proxy.port, `localhost:${origin.port}`);
    const session = track(http2.connect(origin.url, {
      createConnection: () => tls.connect({ socket: tunnel, servername: 'localhost', ca: [pki.root.pem, attacker.pem], ALPNProtocols: ['h2'] }),
    }));
    assert.equal(await get(session, '/unpinned-secret'), 'h2 hello from origin');
    assert.equal(proxy.intercepted(), before + 1);
    assert.match(proxy.seen.at(-1)?.url ?? '', /\/unpinned-secret$/);
  });

  it('pinned through the interception proxy is refused and the proxy sees nothing', async () => {
    const before = proxy.intercepted();
    const requests = origin.requests.length;
    const tunnel = await openTunnel(proxy.port, `localhost:${origin.port}`);
    const error = await sessionError(track(pinnedHttp2Connect(policyOf(), origin.url, { socket: tunnel })));
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(proxy.intercepted(), before);
    assert.equal(origin.requests.length, requests);
  });

  it('pinned through an honest tunnel reaches the origin (the pins are checked on its chain)', async () => {
    const honest = await startInterceptingProxy({ caCert: attacker.pem, caKey: attacker.key.keyPem, upstreamCa: pki.root.pem, passthroughHosts: ['localhost'] });
    cleanups.push(() => honest.close());
    const tunnel = await openTunnel(honest.port, `localhost:${origin.port}`);
    assert.equal(await get(track(pinnedHttp2Connect(policyOf(), origin.url, { socket: tunnel })), '/tunnelled'), 'h2 hello from origin');
    assert.equal(honest.intercepted(), 0);
  });

  it('a session is bound to its origin: a request for another, differently pinned authority is refused', async () => {
    // 127.0.0.1 is pinned to keys the origin does not have: a session of its own is refused…
    const policy = policyOf({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()], '127.0.0.1': [backupPin(), backupPin()] } });
    const other = `127.0.0.1:${origin.port}`;
    assert.equal((await sessionError(track(pinnedHttp2Connect(policy, `https://${other}`)))).code, 'ERR_CERTPIN_PIN_MISMATCH');
    // …and the localhost session (same server, the certificate names both) does not carry its requests either.
    const session = track(pinnedHttp2Connect(policy, origin.url));
    assert.equal(await get(session, '/own', { ':authority': `localhost:${origin.port}` }), 'h2 hello from origin');
    const requests = origin.requests.length;
    for (const headers of [{ ':authority': other }, { host: other }, { ':authority': 'localhost' }, { ':authority': `user@localhost:${origin.port}` }]) {
      assert.throws(() => session.request({ ':path': '/coalesced', ...headers }), (error: unknown) => error instanceof InsecureOptionError && error.code === 'ERR_CERTPIN_INSECURE_OPTION');
    }
    assert.equal(origin.requests.length, requests);
    assert.equal(await get(session, '/still-usable'), 'h2 hello from origin');
    // A getter that answers the check with the session's origin and Node with another: what goes out is what was checked.
    let reads = 0;
    const twoFaced = { ':path': '/getter' } as Record<string, string>;
    Object.defineProperty(twoFaced, ':authority', { enumerable: true, get: () => (reads++ === 0 ? `localhost:${origin.port}` : other) });
    await new Promise<void>((resolve, reject) => {
      const stream = session.request(twoFaced);
      stream.on('response', () => stream.resume().on('end', resolve)).on('error', reject);
      stream.end();
    });
    assert.equal(origin.requests.at(-1)!.authority, `localhost:${origin.port}`);
  });

  it('TLS resumption: a new session resumes a checked one; a MITM at the same address afterwards is refused', async () => {
    const relay = await startRelay(origin.port);
    cleanups.push(() => relay.close());
    const policy = policyOf();
    const url = `https://localhost:${relay.port}`;
    const first = pinnedHttp2Connect(policy, url);
    assert.equal(await get(first, '/first'), 'h2 hello from origin');
    first.close();
    const resumedBefore = origin.stats.resumed;
    const second = pinnedHttp2Connect(policy, url);
    assert.equal(await get(second, '/second'), 'h2 hello from origin');
    assert.equal((second.socket as tls.TLSSocket).isSessionReused(), true);
    assert.equal(origin.stats.resumed, resumedBefore + 1);
    second.close();

    relay.target = mitm.port;
    const error = await sessionError(track(pinnedHttp2Connect(policy, url)));
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.deepEqual(mitm.intercepted, []);
  });

  it('report-only: connects despite a mismatch and reports it', async () => {
    const reports: PinReport[] = [];
    const policy = policyOf({ hosts: { localhost: [backupPin(), backupPin()] }, reportOnly: true, onReport: (r) => reports.push(r) });
    assert.equal(await get(track(pinnedHttp2Connect(policy, origin.url)), '/report-only'), 'h2 hello from origin');
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.reason, 'pin-mismatch');
    assert.equal(reports[0]!.enforce, false);
  });

  it('works with IPv6 literals', { skip: skipUnlessIpv6SanMatch }, async () => {
    const server = await startHttp2Server({ key: pki.leaf.key.keyPem, cert: pki.chainPem, host: '::1' });
    cleanups.push(() => server.close());
    const url = `https://[::1]:${server.port}`;
    const good = policyOf({ hosts: { '::1': [pinOf(pki.intermediate), backupPin()] } });
    assert.equal(await get(track(pinnedHttp2Connect(good, url)), '/v6', { ':authority': `[::1]:${server.port}` }), 'h2 hello from origin');
    const bad = policyOf({ hosts: { '::1': [backupPin(), backupPin()] } });
    assert.equal((await sessionError(track(pinnedHttp2Connect(bad, url)))).code, 'ERR_CERTPIN_PIN_MISMATCH');
  });

  it('refuses bad arguments', () => {
    assert.throws(() => pinnedHttp2Connect(policyOf(), 'http://localhost:1'), TypeError);
    assert.throws(() => pinnedHttp2Connect(policyOf(), origin.url, { rejectUnauthorized: false } as never), InsecureOptionError);
    assert.throws(() => pinnedHttp2Connect(policyOf(), origin.url, { ca: attacker.pem } as never), InsecureOptionError);
  });
});
