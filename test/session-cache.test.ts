/**
 * pinnedConnect's cache of checked TLS sessions, observed from a real server that reads each ClientHello: which
 * handshakes offered a session (the pre_shared_key extension) and which the server resumed.
 */
import assert from 'node:assert/strict';
import { constants, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { trackClientHellos } from 'read-tls-client-hello';
import { PinPolicy, pinnedConnect } from '../src/index.js';
import { backupPin, createPki, pinOf } from './support/pki.js';

const pki = createPki();
const PRE_SHARED_KEY = 41;

interface Handshake {
  readonly offered: boolean;
  readonly resumed: boolean;
}

async function startServer(options: tls.TlsOptions = {}): Promise<{ server: tls.Server; port: number; handshakes: Handshake[] }> {
  const handshakes: Handshake[] = [];
  const server = trackClientHellos(tls.createServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem, ...options }));
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const extensions = socket.tlsClientHello?.extensions ?? [];
    handshakes.push({ offered: extensions.some((e) => e.id === PRE_SHARED_KEY), resumed: socket.isSessionReused() });
    socket.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port: (server.address() as AddressInfo).port, handshakes };
}

const policyOf = () => new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: pki.root.pem, trustSystemRoots: false });
const MINUTE = 60_000;

/** One connection that reads the server's reply, then waits for the session ticket to arrive and be cached. */
async function connectOnce(policy: PinPolicy, port: number, end: (socket: tls.TLSSocket) => void = (s) => s.end()): Promise<void> {
  const socket = pinnedConnect(policy, { host: '127.0.0.1', port, servername: 'localhost' });
  await once(socket, 'secureConnect');
  await once(socket, 'data');
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.on('error', () => {});
  end(socket);
  await closed;
}

describe('pinnedConnect: TLS session cache', () => {
  it('offers a checked session and the server resumes it', async () => {
    const { port, handshakes } = await startServer();
    const policy = policyOf();
    for (let i = 0; i < 3; i++) await connectOnce(policy, port);
    assert.deepEqual(handshakes, [
      { offered: false, resumed: false },
      { offered: true, resumed: true },
      { offered: true, resumed: true },
    ]);
  });

  it('keeps a session whose connection ended in an error (undici destroys idle sockets with one)', async () => {
    const { port, handshakes } = await startServer();
    const policy = policyOf();
    await connectOnce(policy, port, (socket) => socket.destroy(new Error('idle timeout')));
    await connectOnce(policy, port);
    assert.deepEqual(handshakes.map((h) => h.resumed), [false, true]);
  });

  it('forgives one declined session (a restarted server), and resumes again', async () => {
    const { server, port, handshakes } = await startServer();
    const policy = policyOf();
    await connectOnce(policy, port);
    server.setTicketKeys(randomBytes(48)); // as after a restart: the cached ticket no longer decrypts
    await connectOnce(policy, port);
    await connectOnce(policy, port);
    assert.deepEqual(handshakes, [
      { offered: false, resumed: false },
      { offered: true, resumed: false },
      { offered: true, resumed: true },
    ]);
  });

  it('stops offering sessions to a server that keeps declining them', async () => {
    // Tickets off and no session cache: the server still issues sessions but can never resume one.
    const { port, handshakes } = await startServer({ secureOptions: constants.SSL_OP_NO_TICKET, sessionTimeout: 0 });
    const policy = policyOf();
    for (let i = 0; i < 5; i++) await connectOnce(policy, port);
    assert.ok(handshakes.every((h) => !h.resumed));
    assert.deepEqual(handshakes.map((h) => h.offered), [false, true, true, false, false]);
  });

  it('does not ask for the sessions of a server it has stopped offering them to', async () => {
    // A `session` listener makes Node have OpenSSL serialise every ticket the server sends: only wanted tickets.
    const declining = await startServer({ secureOptions: constants.SSL_OP_NO_TICKET, sessionTimeout: 0 });
    const resuming = await startServer();
    const policy = policyOf();
    const sessionListeners = (port: number) => {
      const socket = pinnedConnect(policy, { host: '127.0.0.1', port, servername: 'localhost' });
      const count = socket.listenerCount('session');
      socket.destroy();
      return count;
    };
    assert.equal(sessionListeners(declining.port), 1);
    for (let i = 0; i < 3; i++) await connectOnce(policy, declining.port);
    assert.equal(sessionListeners(declining.port), 0);
    assert.equal(sessionListeners(resuming.port), 1);
  });

  it('offers a checked session for five minutes after its full handshake, and no longer', async (t) => {
    // A resumption runs no pin check: however long the server's ticket lives, what the check earned is five minutes,
    // and a ticket from a resumed handshake does not start them again.
    const { port, handshakes } = await startServer();
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const policy = policyOf();
    await connectOnce(policy, port);
    t.mock.timers.tick(5 * MINUTE - 1000);
    await connectOnce(policy, port);
    t.mock.timers.tick(2000);
    await connectOnce(policy, port);
    assert.deepEqual(handshakes, [
      { offered: false, resumed: false },
      { offered: true, resumed: true },
      { offered: false, resumed: false },
    ]);
  });

  it('offers no session past the expiry of the pin set that checked it, even within five minutes', async (t) => {
    // Once the pin set expires it is no longer what the connection must meet: a session it checked stops there.
    const { port, handshakes } = await startServer();
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const policy = new PinPolicy({
      hosts: { localhost: { pins: [pinOf(pki.intermediate), backupPin()], expires: new Date(Date.now() + 2 * MINUTE) } },
      ca: pki.root.pem,
      trustSystemRoots: false,
      onWarning: () => {},
    });
    await connectOnce(policy, port);
    t.mock.timers.tick(MINUTE);
    await connectOnce(policy, port);
    t.mock.timers.tick(MINUTE + 1000);
    await connectOnce(policy, port);
    assert.deepEqual(handshakes, [
      { offered: false, resumed: false },
      { offered: true, resumed: true },
      { offered: false, resumed: false },
    ]);
  });
});
