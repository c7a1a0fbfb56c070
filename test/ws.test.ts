/**
 * certpin/ws against real WebSocket servers on 127.0.0.1: a pinned wss origin (`localhost`), a second wss origin
 * (`127.0.0.1`), a plain ws server, and a transparent MITM whose CA the client trusts. Each attack has a control
 * that shows the setup can fail.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import type { ClientOptions } from 'ws';
import { pinnedWebSocketOptions } from '../src/adapters/ws.js';
import { PinPolicy } from '../src/index.js';
import { PinningError } from '../src/errors.js';
import type { PinReport } from '../src/index.js';
import { createClientWorld } from './support/client-world.js';
import { backupPin, pinOf } from './support/pki.js';
import { startConnectProxy } from './support/connect-proxy.js';
import { startInterceptingProxy } from './support/intercepting-proxy.js';
import { startMitm } from './support/servers.js';
import type { RunningMitm } from './support/servers.js';

const { pki, otherPki, attacker, policyOf } = createClientWorld();
const cleanups: (() => unknown)[] = [];

function pinned(policy: PinPolicy) {
  const options = pinnedWebSocketOptions(policy);
  cleanups.push(() => options.agent.destroy());
  return options;
}

interface WsServer {
  port: number;
  /** Upgrade requests that reached the WebSocket handler (path and headers seen). */
  upgrades: string[];
  connections: () => number;
  close(): Promise<void>;
}

/** An echo WebSocket server; `?to=URL` answers the upgrade with a 302 to URL. */
async function startWsServer(tlsOptions?: { key: string; cert: string }): Promise<WsServer> {
  const server = tlsOptions ? https.createServer(tlsOptions) : http.createServer();
  const wss = new WebSocketServer({ noServer: true });
  const upgrades: string[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  server.on(tlsOptions ? 'secureConnection' : 'connection', (s: Socket) => {
    connections++;
    sockets.add(s);
  });
  server.on('tlsClientError', () => {});
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to');
    if (to) {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${to}\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    upgrades.push(`${req.url} ${req.headers.authorization ?? ''}`);
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(`echo ${String(data)}`)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    upgrades,
    connections: () => connections,
    close: () => new Promise((resolve) => {
      for (const client of wss.clients) client.terminate();
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Opens a WebSocket, sends one message, closes, resolves to the reply; rejects with the 'error' event's error. */
function exchange(url: string, options: ClientOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('open', () => ws.send('ping'));
    ws.on('message', (data) => {
      ws.once('close', () => resolve(String(data)));
      ws.close();
    });
    ws.on('error', reject);
  });
}

async function errorOf(url: string, options: ClientOptions): Promise<NodeJS.ErrnoException> {
  return exchange(url, options).then(() => assert.fail('the WebSocket opened'), (e: NodeJS.ErrnoException) => e);
}

const SECRET = { headers: { authorization: 'Bearer SECRET' } };
let origin: WsServer;
let second: WsServer;
let plain: WsServer;
let mitm: RunningMitm;

before(async () => {
  origin = await startWsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
  second = await startWsServer({ key: otherPki.leaf.key.keyPem, cert: otherPki.chainPem });
  plain = await startWsServer();
  mitm = await startMitm({ attackerCa: attacker, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
});

after(async () => {
  for (const cleanup of cleanups) await cleanup();
  await Promise.all([origin.close(), second.close(), plain.close(), mitm.close()]);
});

describe('certpin/ws: pinnedWebSocketOptions', () => {
  it('opens a pinned wss connection', async () => {
    assert.equal(await exchange(`wss://localhost:${origin.port}/feed`, pinned(policyOf())), 'echo ping');
  });

  it("refuses the MITM: the 'error' event carries the PinningError (ERR_CERTPIN_PIN_MISMATCH); the upgrade request never left", async () => {
    const seen = mitm.intercepted.length;
    const error = await errorOf(`wss://localhost:${mitm.port}/feed`, { ...SECRET, ...pinned(policyOf()) });
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.ok(error instanceof PinningError);
    assert.equal(mitm.intercepted.length, seen);
  });

  it('control: ws without certpin, trusting the proxy CA, is intercepted', async () => {
    const seen = mitm.intercepted.length;
    assert.equal(await exchange(`wss://localhost:${mitm.port}/feed`, { ...SECRET, ca: [pki.root.pem, attacker.pem] }), 'echo ping');
    assert.ok(mitm.intercepted.slice(seen).join('').includes('Bearer SECRET'));
  });

  it("ws' own rejectUnauthorized, checkServerIdentity, ca and createConnection cannot bypass the pinned agent", async () => {
    const seen = mitm.intercepted.length;
    const url = `wss://localhost:${mitm.port}/feed`;
    const options = pinned(policyOf());
    assert.equal((await errorOf(url, { rejectUnauthorized: false, ...options })).code, 'ERR_CERTPIN_INSECURE_OPTION');
    assert.equal((await errorOf(url, { ca: attacker.pem, ...options })).code, 'ERR_CERTPIN_INSECURE_OPTION');
    // Node's contract: returning undefined accepts the certificate (ws' typings say boolean).
    const acceptAll = (() => undefined) as unknown as ClientOptions['checkServerIdentity'];
    assert.equal((await errorOf(url, { checkServerIdentity: acceptAll, ...options })).code, 'ERR_CERTPIN_PIN_MISMATCH');
    let ownConnect = 0;
    const createConnection = () => {
      ownConnect++;
      throw new Error('not used');
    };
    assert.equal((await errorOf(url, { createConnection, ...options } as ClientOptions)).code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(ownConnect, 0, "Node ignores ws' createConnection when an agent is given: the socket came from the pinned agent");
    assert.equal(mitm.intercepted.length, seen);
  });

  it('refuses ws:// to a pinned host with ERR_CERTPIN_INSECURE_REDIRECT, and allows it to an unpinned host', async () => {
    const connections = plain.connections();
    const error = await errorOf(`ws://localhost:${plain.port}/feed`, pinned(policyOf()));
    assert.equal(error.code, 'ERR_CERTPIN_INSECURE_REDIRECT');
    assert.equal(plain.connections(), connections);
    assert.equal(await exchange(`ws://127.0.0.1:${plain.port}/feed`, pinned(policyOf())), 'echo ping');
  });

  it('followRedirects: to an unpinned host is followed; to a host pinned to other keys is refused', async () => {
    const to = encodeURIComponent(`wss://127.0.0.1:${second.port}/moved`);
    const ok = await exchange(`wss://localhost:${origin.port}/r?to=${to}`, { followRedirects: true, ...pinned(policyOf()) });
    assert.equal(ok, 'echo ping');
    const upgrades = second.upgrades.length;
    const strict = policyOf({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()], '127.0.0.1': [backupPin(), backupPin()] } });
    const error = await errorOf(`wss://localhost:${origin.port}/r?to=${to}`, { followRedirects: true, ...pinned(strict) });
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(second.upgrades.length, upgrades);
  });

  it('followRedirects: wss→ws on a pinned host is refused with ERR_CERTPIN_INSECURE_REDIRECT; the ws server gets no connection', async () => {
    const connections = plain.connections();
    const to = encodeURIComponent(`ws://localhost:${plain.port}/downgraded`);
    const error = await errorOf(`wss://localhost:${origin.port}/r?to=${to}`, { followRedirects: true, ...pinned(policyOf()) });
    assert.equal(error.code, 'ERR_CERTPIN_INSECURE_REDIRECT');
    assert.equal(plain.connections(), connections);
    // Control: ws without certpin follows the downgrade.
    assert.equal(await exchange(`wss://localhost:${origin.port}/r?to=${to}`, { followRedirects: true, ca: pki.root.pem }), 'echo ping');
    assert.ok(plain.upgrades.some((u) => u.startsWith('/downgraded')));
  });

  it('report-only mode connects through the MITM and reports', async () => {
    const reports: PinReport[] = [];
    const options = pinned(policyOf({ reportOnly: true, onReport: (r) => reports.push(r) }));
    assert.equal(await exchange(`wss://localhost:${mitm.port}/feed`, options), 'echo ping');
    await new Promise((r) => setImmediate(r));
    assert.ok(reports.length >= 1);
  });
});

describe('certpin/ws through a CONNECT proxy', () => {
  it('pinnedWebSocketOptions(policy, { proxy }): an honest tunnel reaches the pinned origin', async () => {
    const proxy = await startConnectProxy();
    cleanups.push(() => proxy.close());
    const options = pinnedWebSocketOptions(policyOf(), { proxy: proxy.url });
    cleanups.push(() => options.agent.destroy());
    assert.equal(await exchange(`wss://localhost:${origin.port}/tunnelled`, options), 'echo ping');
    assert.deepEqual(proxy.connects, [`localhost:${origin.port}`]);
  });

  it('a real interception proxy (mockttp) whose CA the client trusts is refused; it reads nothing', async () => {
    const proxy = await startInterceptingProxy({ caCert: attacker.pem, caKey: attacker.key.keyPem, upstreamCa: pki.root.pem });
    cleanups.push(() => proxy.close());
    const options = pinnedWebSocketOptions(policyOf(), { proxy: proxy.url });
    cleanups.push(() => options.agent.destroy());
    const error = await errorOf(`wss://localhost:${origin.port}/feed`, { ...SECRET, ...options });
    assert.equal(error.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(proxy.intercepted(), 0);
  });
});
