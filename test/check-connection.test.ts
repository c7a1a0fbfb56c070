/**
 * checkConnection against real servers on 127.0.0.1 and ::1: secure, and every way of not being secure (pin
 * mismatch behind a MITM, self-signed, expired, refused port, a server that never answers TLS), which resolve rather
 * than throw; bad arguments, which reject.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { checkConnection, pinnedConnect } from '../src/index.js';
import { InvalidPinError } from '../src/errors.js';
import { createClientWorld } from './support/client-world.js';
import { backupPin, createCertificate, createPki, pinOf } from './support/pki.js';
import { skipUnlessIpv6SanMatch } from './support/node-quirks.js';
import { startHttpsServer, startMitm } from './support/servers.js';
import type { RunningMitm, RunningServer } from './support/servers.js';

const { pki, attacker, policyOf } = createClientWorld();
const cleanups: (() => unknown)[] = [];

let origin: RunningServer;
let mitm: RunningMitm;

before(async () => {
  origin = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
  mitm = await startMitm({ attackerCa: attacker, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
  cleanups.push(() => origin.close(), () => mitm.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('checkConnection: secure', () => {
  it('with a list of pins (and a private CA): CONNECTION_SECURE, the matched pin and the chain; nothing sent', async () => {
    const result = await checkConnection(`${origin.url}/ignored/path`, [pinOf(pki.intermediate)], { ca: pki.root.pem, timeout: 5000 });
    assert.equal(result.status, 'CONNECTION_SECURE');
    assert.equal(result.matchedPin, pinOf(pki.intermediate));
    assert.equal(result.error, undefined);
    assert.match(result.reason, /pinned key/);
    assert.equal(result.chain[0]!.spkiPin, pinOf(pki.leaf));
    assert.equal(result.chain[1]!.spkiPin, pinOf(pki.intermediate));
    assert.deepEqual(origin.requests, []);
    assert.equal(origin.stats.bytesReceived, 0);
  });

  it('with a PinPolicy that already holds a checked TLS session: still a full handshake that reports its pin', async () => {
    const policy = policyOf();
    const warm = pinnedConnect(policy, { host: 'localhost', port: origin.port, servername: 'localhost' });
    warm.on('error', () => {});
    await once(warm, 'session');
    warm.destroy();
    for (let i = 0; i < 3; i++) {
      const result = await checkConnection(origin.url, policy);
      assert.equal(result.status, 'CONNECTION_SECURE');
      assert.equal(result.matchedPin, pinOf(pki.intermediate));
    }
  });

  it('a host the policy does not pin: secure under CA validation, no matched pin', async () => {
    const result = await checkConnection(`https://127.0.0.1:${origin.port}`, policyOf());
    assert.equal(result.status, 'CONNECTION_SECURE');
    assert.equal(result.matchedPin, undefined);
    assert.match(result.reason, /does not pin/);
  });

  it('an IPv6 literal URL', { skip: skipUnlessIpv6SanMatch }, async () => {
    const server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem, host: '::1' });
    cleanups.push(() => server.close());
    const url = `https://[::1]:${server.port}/`;
    const secure = await checkConnection(url, [pinOf(pki.leaf), backupPin()], { ca: pki.root.pem });
    assert.equal(secure.status, 'CONNECTION_SECURE');
    assert.equal(secure.matchedPin, pinOf(pki.leaf));
    const mismatch = await checkConnection(url, [backupPin()], { ca: pki.root.pem });
    assert.equal(mismatch.status, 'CONNECTION_NOT_SECURE');
    assert.equal(mismatch.error?.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.match(mismatch.reason, /\[::1\]/);
  });
});

describe('checkConnection: not secure, resolved rather than thrown', () => {
  it('pin mismatch behind a MITM whose CA is trusted: the forged chain is reported', async () => {
    const result = await checkConnection(`https://localhost:${mitm.port}`, [pinOf(pki.intermediate)], { ca: [pki.root.pem, attacker.pem] });
    assert.equal(result.status, 'CONNECTION_NOT_SECURE');
    assert.equal(result.error?.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.equal(result.matchedPin, undefined);
    assert.match(result.chain[0]!.issuer, /Corporate Proxy CA/);
    assert.deepEqual(mitm.intercepted, []);
  });

  it('report-only policy: a mismatch is still CONNECTION_NOT_SECURE', async () => {
    const result = await checkConnection(`https://localhost:${mitm.port}`, policyOf({ reportOnly: true }));
    assert.equal(result.status, 'CONNECTION_NOT_SECURE');
    assert.equal(result.error?.code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.match(result.reason, /report-only/);
  });

  it('a server that requires a client certificate the policy does not give: not secure, under TLS 1.3 (refused after the handshake) and 1.2', async () => {
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
      const strict = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem, requestCert: true, ca: pki.root.pem, maxVersion });
      cleanups.push(() => strict.close());
      const result = await checkConnection(strict.url, [pinOf(pki.intermediate)], { ca: pki.root.pem, timeout: 5000 });
      assert.equal(result.status, 'CONNECTION_NOT_SECURE', maxVersion);
      // OpenSSL 3.2 and later (Node 22, 24) name the TLS 1.2 alert ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE.
      assert.match(result.error?.code ?? '', maxVersion === 'TLSv1.3' ? /^ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED$/ : /^ERR_SSL_(SSLV3|SSL\/TLS)_ALERT_HANDSHAKE_FAILURE$/, maxVersion);
    }
  });

  it('self-signed certificate', async () => {
    const self = createCertificate({ commonName: 'localhost', sans: ['localhost'] });
    const server = await startHttpsServer({ key: self.key.keyPem, cert: self.pem });
    cleanups.push(() => server.close());
    const result = await checkConnection(server.url, [pinOf(self)], { ca: pki.root.pem });
    assert.equal(result.status, 'CONNECTION_NOT_SECURE');
    assert.equal(result.error?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(result.chain.length, 1);
    assert.equal(result.chain[0]!.selfSigned, true);
  });

  it('expired certificate', async () => {
    const expired = createPki({ name: 'Expired', leafNotBefore: new Date(Date.now() - 20 * 86_400_000), leafNotAfter: new Date(Date.now() - 86_400_000) });
    const server = await startHttpsServer({ key: expired.leaf.key.keyPem, cert: expired.chainPem });
    cleanups.push(() => server.close());
    const result = await checkConnection(server.url, [pinOf(expired.intermediate)], { ca: expired.root.pem });
    assert.equal(result.status, 'CONNECTION_NOT_SECURE');
    assert.equal(result.error?.code, 'CERT_HAS_EXPIRED');
    assert.ok(result.chain[0]!.daysLeft < 0);
  });

  it('refused port', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const result = await checkConnection(`https://127.0.0.1:${port}`, [backupPin()]);
    assert.equal(result.status, 'CONNECTION_NOT_SECURE');
    assert.equal(result.error?.code, 'ECONNREFUSED');
    assert.deepEqual(result.chain, []);
  });

  it('timeout: a server that accepts TCP but never answers the TLS handshake', async () => {
    const sockets = new Set<Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      silent.close(resolve);
    }));
    const started = Date.now();
    const result = await checkConnection(`https://localhost:${(silent.address() as AddressInfo).port}`, [backupPin()], { timeout: 300 });
    assert.ok(Date.now() - started < 3000);
    assert.equal(result.status, 'CONNECTION_NOT_SECURE');
    assert.equal(result.error?.code, 'ETIMEDOUT');
    assert.equal(sockets.size, 1);
  });
});

describe('checkConnection: bad arguments reject', () => {
  const pins = [pinOf(pki.intermediate)];

  it('a URL that does not parse, or is not https', async () => {
    await assert.rejects(checkConnection('not a url', pins), (error: unknown) => error instanceof TypeError && /not a URL/.test(error.message));
    await assert.rejects(checkConnection(`http://localhost:${origin.port}`, pins), (error: unknown) => error instanceof TypeError && /https:/.test(error.message));
  });

  it('an invalid pin, an empty list, a non-list', async () => {
    await assert.rejects(checkConnection(origin.url, ['sha256/not-a-pin']), (error: unknown) => error instanceof InvalidPinError && error.code === 'ERR_CERTPIN_INVALID_PIN');
    await assert.rejects(checkConnection(origin.url, []), TypeError);
    await assert.rejects(checkConnection(origin.url, 'sha256/abc' as never), TypeError);
  });

  it('a bad timeout, or a ca with a policy', async () => {
    await assert.rejects(checkConnection(origin.url, pins, { timeout: -1 }), TypeError);
    await assert.rejects(checkConnection(origin.url, policyOf(), { ca: pki.root.pem }), TypeError);
  });
});
