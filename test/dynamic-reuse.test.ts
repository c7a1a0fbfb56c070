/**
 * After a dynamic policy changes, no request is served by a connection checked under the earlier policy, however the
 * client pools its sockets. The built-in pins below accept a rogue server (they stand for a key the next document
 * revokes); the document then pins the bank's CA, which the rogue's chain does not contain, so every request after
 * the change that reaches the rogue went out on an old connection.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type tls from 'node:tls';
import { DynamicPinPolicy, PinPolicy, pinnedAgent, pinnedConnect, pinnedTlsOptions } from '../src/index.js';
import { AUDIENCE, jwksOf, signDocument, signingKey } from './support/pinset.js';
import { backupPin, createCertificate, createPki, pinOf } from './support/pki.js';
import { startHttpsServer } from './support/servers.js';
import type { RunningServer } from './support/servers.js';

const pki = createPki();
const attacker = createCertificate({ commonName: 'Trusted Proxy CA', organization: 'Proxy', ca: true });
const rogueLeaf = createCertificate({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'], issuer: attacker });
const key = signingKey('pins-1');

let rogue: RunningServer;
before(async () => {
  // /slow keeps its socket busy across the change.
  rogue = await startHttpsServer({ key: rogueLeaf.key.keyPem, cert: rogueLeaf.pem + attacker.pem, name: 'rogue', handler: (req, res) => setTimeout(() => res.end('rogue'), req.url === '/slow' ? 300 : 0) });
});
after(() => rogue.close());

/** A dynamic policy whose built-in pins accept the rogue, and the document that revokes them. */
async function revocablePolicy(): Promise<{ policy: DynamicPinPolicy; revoke: () => Promise<void> }> {
  const bootstrap = new PinPolicy({ hosts: { localhost: [pinOf(attacker), backupPin()] }, ca: [pki.root.pem, attacker.pem], trustSystemRoots: false, onWarning: () => {} });
  const policy = new DynamicPinPolicy({ bootstrap, keys: jwksOf(key), audience: AUDIENCE, document: () => Promise.reject(new Error('offline')), autoRefresh: false });
  await policy.ready();
  return {
    policy,
    async revoke() {
      const result = await policy.offer(await signDocument(key, { seq: 1, pinset: { hosts: { localhost: [pinOf(pki.intermediate), backupPin()] } } }));
      assert.equal(result.event, 'updated');
    },
  };
}

/** A TCP relay to the rogue that holds back the server's first flight (its ServerHello) for 300 ms. */
async function stallingRelay(): Promise<net.Server> {
  const relay = net.createServer((client) => {
    const upstream = net.connect(rogue.port, '127.0.0.1');
    let first = true;
    upstream.on('data', (chunk: Buffer) => {
      if (!first) return void client.write(chunk);
      first = false;
      upstream.pause();
      setTimeout(() => {
        client.write(chunk);
        upstream.resume();
      }, 300);
    });
    client.pipe(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return relay;
}

/** GET through `options`: the status and body, or the certpin code it failed with. */
function get(path: string, options: https.RequestOptions): Promise<string> {
  return new Promise((resolve) => {
    https
      .get(`https://localhost:${rogue.port}${path}`, { ...options, headers: { authorization: 'Bearer SECRET' } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      })
      .on('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message));
  });
}

describe('a dynamic policy change retires the connections checked under the earlier policy', () => {
  it('pinnedAgent: a request queued after the change never gets a socket freed by a request of before', async () => {
    const { policy, revoke } = await revocablePolicy();
    // One socket in all: the request after the change queues until the slow one frees its socket, and Node hands a
    // freed socket straight to a queued request of the same pool name, which is now the new policy's.
    const agent = pinnedAgent(policy, { maxTotalSockets: 1 });
    try {
      const slow = get('/slow', { agent });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const before = rogue.requests.length;
      await revoke();
      const queued = [get('/after-1', { agent }), get('/after-2', { agent })];
      assert.equal(await slow, '200 rogue');
      assert.deepEqual(await Promise.all(queued), ['ERR_CERTPIN_PIN_MISMATCH', 'ERR_CERTPIN_PIN_MISMATCH']);
      assert.deepEqual(rogue.requests.slice(before).map((r) => r.url), []);
    } finally {
      agent.destroy();
      policy.close();
    }
  });

  it('pinnedAgent: the pool name of a request names the policy in force', async () => {
    // Node pools, counts and queues requests by this name: after a change, requests share no pool with the sockets
    // checked under the earlier policy, even the name Node computes again for an old socket's own options.
    const { policy, revoke } = await revocablePolicy();
    const agent = pinnedAgent(policy);
    try {
      const options = { host: 'localhost', port: rogue.port, servername: 'localhost' };
      const before = agent.getName(options);
      assert.equal(agent.getName({ ...options }), before);
      await revoke();
      assert.notEqual(agent.getName(options), before);
      assert.notEqual(agent.getName({ ...options }), before);
    } finally {
      agent.destroy();
      policy.close();
    }
  });

  it('pinnedAgent: an idle socket checked under the earlier policy is closed by the change', async () => {
    // Nothing should be left connected on the strength of revoked pins, waiting in the pool for a request.
    const { policy, revoke } = await revocablePolicy();
    const agent = pinnedAgent(policy);
    try {
      assert.equal(await get('/before', { agent }), '200 rogue');
      await new Promise((resolve) => setImmediate(resolve));
      const idle = Object.values(agent.freeSockets).flat();
      assert.equal(idle.length, 1);
      const socket = idle[0];
      assert.ok(socket);
      assert.equal(socket.destroyed, false);
      await revoke();
      assert.equal(socket.destroyed, true);
    } finally {
      agent.destroy();
      policy.close();
    }
  });

  it('pinnedAgent: a socket checked under the earlier policy is refused when Node asks to keep it alive', async () => {
    // Node asks keepSocketAlive before it pools a freed socket: the answer for one checked under pins since revoked is
    // no, whatever path freed it, so that it is closed instead of pooled.
    const { policy, revoke } = await revocablePolicy();
    const agent = pinnedAgent(policy);
    try {
      const slow = get('/slow', { agent });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const busy = Object.values(agent.sockets).flat();
      assert.equal(busy.length, 1);
      const socket = busy[0];
      assert.ok(socket);
      // Node's Agent reads the return value; the declared type says void.
      const keepAlive = () => agent.keepSocketAlive(socket) as unknown as boolean;
      assert.equal(keepAlive(), true);
      await revoke();
      assert.equal(keepAlive(), false);
      assert.equal(await slow, '200 rogue');
    } finally {
      agent.destroy();
      policy.close();
    }
  });

  it('a handshake under way when a document revokes the pins it would have met is judged by the new pins', async () => {
    // A network attacker holding the key about to be revoked stalls its ServerHello while the revocation arrives.
    const relay = await stallingRelay();
    const { policy, revoke } = await revocablePolicy();
    const agent = pinnedAgent(policy);
    try {
      const before = rogue.requests.length;
      const pending = new Promise<string>((resolve) => {
        https
          .get(`https://localhost:${(relay.address() as net.AddressInfo).port}/in-flight`, { agent, headers: { authorization: 'Bearer SECRET' } }, (res) => resolve(String(res.statusCode)))
          .on('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message));
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await revoke();
      assert.equal(await pending, 'ERR_CERTPIN_PIN_MISMATCH');
      assert.deepEqual(rogue.requests.slice(before).map((r) => r.url), []);
    } finally {
      agent.destroy();
      policy.close();
      relay.close();
    }
  });

  it('a session resumed while a document revokes the pins that checked it is refused: a resumption runs no check', async () => {
    const relay = await stallingRelay();
    const { policy, revoke } = await revocablePolicy();
    const port = (relay.address() as net.AddressInfo).port;
    // Closed whatever the outcome: a connection left open would keep the run from ending when the assertion fails.
    const sockets: tls.TLSSocket[] = [];
    try {
      // Checked under the built-in pins; its session is kept for the same name and port.
      const first = pinnedConnect(policy, { host: 'localhost', port });
      sockets.push(first);
      await once(first, 'secureConnect');
      await new Promise((resolve) => setTimeout(resolve, 100));
      first.destroy();
      // The next connection offers that session; the revocation arrives while its ServerHello is held back.
      const second = pinnedConnect(policy, { host: 'localhost', port });
      sockets.push(second);
      const outcome = new Promise<string>((resolve) => {
        second.once('secureConnect', () => resolve(`connected, resumed: ${second.isSessionReused()}`));
        second.once('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message));
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await revoke();
      // A full handshake would have met the new pins (ERR_CERTPIN_PIN_MISMATCH); only the resumption, which runs no
      // check, is refused this way. Without the guard: "connected, resumed: true".
      assert.equal(await outcome, 'ERR_CERTPIN_CHECK_FAILED');
    } finally {
      for (const socket of sockets) socket.destroy();
      policy.close();
      relay.close();
    }
  });

  it('pinnedTlsOptions spread into each request of a keep-alive https.Agent: the pool key follows the policy', async () => {
    const { policy, revoke } = await revocablePolicy();
    const options = pinnedTlsOptions(policy);
    const agent = new https.Agent({ keepAlive: true });
    try {
      assert.equal(await get('/before', { agent, ...options }), '200 rogue');
      const before = rogue.requests.length;
      await revoke();
      // The same options object, spread again: its kept-alive socket was checked under the built-in pins.
      assert.equal(await get('/after', { agent, ...options }), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.deepEqual(rogue.requests.slice(before).map((r) => r.url), []);
    } finally {
      agent.destroy();
      policy.close();
    }
  });
});
