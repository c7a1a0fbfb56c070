/**
 * What a server can send, and what a caller can pass, that the pin check must survive: certificates whose bytes look
 * like PEM, a stale intermediate listed before the valid one (the 2021 Let's Encrypt cross-sign), sessions that
 * outlive their certificate, weakening TLS options, and input made to be slow. Real servers on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { trackClientHellos } from 'read-tls-client-hello';
import * as undici from 'undici';
import { PinPolicy, checkConnection, pinnedAgent, pinnedConnect, pinnedDispatcher, pinnedHttp2Connect } from '../src/index.js';
import { parseCertificates } from '../src/tools/index.js';
import { backupPin, createCertificate, createPki, generateKey, issueLeaf, pinOf } from './support/pki.js';
import { httpsGet, startHttpsServer } from './support/servers.js';

const DAY = 86_400_000;
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function connected(socket: tls.TLSSocket): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('served certificates are DER, whatever text they contain', () => {
  it('a certificate whose subject contains "-----BEGIN" is read as DER: no crash, a normal decision', async () => {
    const root = createCertificate({ commonName: '-----BEGIN CERTIFICATE-----', organization: '-----BEGIN X-----', ca: true });
    const leaf = issueLeaf(root, ['localhost']);
    const server = await startHttpsServer({ key: leaf.key.keyPem, cert: leaf.pem });
    cleanups.push(() => server.close());
    const policy = new PinPolicy({ hosts: { localhost: [pinOf(root), backupPin()] }, ca: root.pem, trustSystemRoots: false, onWarning: () => {} });
    const check = await checkConnection(`https://localhost:${server.port}/`, policy);
    assert.equal(check.status, 'CONNECTION_SECURE', check.reason);
    const refused = await checkConnection(`https://localhost:${server.port}/`, new PinPolicy({ hosts: { localhost: [backupPin(), backupPin()] }, ca: root.pem, trustSystemRoots: false, onWarning: () => {} }));
    assert.equal(refused.error?.code, 'ERR_CERTPIN_PIN_MISMATCH');
  });

  it('PEM reading is linear: 360 KB of unterminated BEGIN lines fail fast with a plain error', () => {
    const input = '-----BEGIN A-----\n'.repeat(20_000);
    const started = performance.now();
    assert.throws(() => parseCertificates(input, 'input.pem'), { code: 'ERR_CERTPIN_INVALID_CERTIFICATE' });
    assert.ok(performance.now() - started < 250, `took ${performance.now() - started} ms`);
  });
});

describe('every certificate the server sent is a candidate, not only those Node links', () => {
  // The 2021 pattern: "R3" cross-signed by an expired root is listed before "R3" signed by the current root (same
  // name, same key). Node links the leaf to the first, which leads nowhere valid; OpenSSL finds the second.
  const oldRoot = createCertificate({ commonName: 'Old Root', ca: true, notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() + 3650 * DAY) });
  const newRoot = createCertificate({ commonName: 'New Root', ca: true, notAfter: new Date(Date.now() + 3650 * DAY) });
  const r3Key = generateKey('ec-p256');
  const staleR3 = createCertificate({ commonName: 'R3', ca: true, key: r3Key, issuer: oldRoot, notBefore: new Date(Date.now() - 300 * DAY), notAfter: new Date(Date.now() - DAY) });
  const validR3 = createCertificate({ commonName: 'R3', ca: true, key: r3Key, issuer: newRoot });
  const leaf = issueLeaf(validR3, ['localhost']);
  const policy = () => new PinPolicy({ hosts: { localhost: [pinOf(newRoot), backupPin()] }, ca: [oldRoot.pem, newRoot.pem], trustSystemRoots: false, onWarning: () => {} });

  it('pinnedConnect, pinnedAgent and pinnedDispatcher accept the valid path through the second R3', async () => {
    const server = await startHttpsServer({ key: leaf.key.keyPem, cert: leaf.pem + staleR3.pem + validR3.pem });
    cleanups.push(() => server.close());
    const socket = await connected(pinnedConnect(policy(), { host: '127.0.0.1', port: server.port, servername: 'localhost' }));
    // The socket still answers for its certificates after certpin read every served one.
    assert.equal(socket.getPeerCertificate().subject.CN, 'localhost');
    assert.equal(socket.getPeerCertificate(true).issuerCertificate?.subject.CN, 'R3');
    socket.destroy();
    const agent = pinnedAgent(policy());
    cleanups.push(() => agent.destroy());
    assert.equal((await httpsGet(`https://localhost:${server.port}/`, { agent })).body, 'hello from origin');
    const dispatcher = pinnedDispatcher(policy());
    cleanups.push(() => dispatcher.destroy());
    assert.equal(await (await undici.request(`https://localhost:${server.port}/`, { dispatcher })).body.text(), 'hello from origin');
  });
});

describe('a TLS session never outlives what its full handshake checked', () => {
  it('a session is not resumed past the leaf\'s notAfter, also through a chain of resumptions', async () => {
    const pki = createPki();
    const shortLived = issueLeaf(pki.intermediate, ['localhost'], { notAfter: new Date(Date.now() + 2500) });
    const handshakes: { offered: boolean; resumed: boolean }[] = [];
    const server = trackClientHellos(tls.createServer({ key: shortLived.key.keyPem, cert: shortLived.pem + pki.intermediate.pem }));
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      handshakes.push({ offered: (socket.tlsClientHello?.extensions ?? []).some((e) => e.id === 41), resumed: socket.isSessionReused() });
      socket.end('ok');
    });
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: pki.root.pem, trustSystemRoots: false, onWarning: () => {} });
    const once_ = async () => {
      const socket = await connected(pinnedConnect(policy, { host: '127.0.0.1', port, servername: 'localhost' }));
      await once(socket, 'data');
      const closed = once(socket, 'close');
      socket.end();
      await closed;
    };
    await once_();
    await new Promise((resolve) => setTimeout(resolve, 800));
    await once_(); // resumed: its new ticket may not extend the first handshake's limit
    await new Promise((resolve) => setTimeout(resolve, 2200));
    // Resumed, it would succeed without looking at the certificate again; a full handshake meets the expired leaf.
    await assert.rejects(once_(), { code: 'CERT_HAS_EXPIRED' });
    assert.deepEqual(handshakes.map((h) => h.resumed), [false, true]);
  });
});

describe('options that would weaken TLS are refused, never silently dropped', () => {
  const pki = createPki();
  const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: pki.root.pem, trustSystemRoots: false, onWarning: () => {} });
  const weakening: [string, Record<string, unknown>][] = [
    ['ciphers', { ciphers: 'NULL-SHA' }],
    ['sigalgs', { sigalgs: 'RSA+SHA1' }],
    ['secureOptions', { secureOptions: 0 }],
    ['ecdhCurve', { ecdhCurve: 'prime192v1' }],
    ['maxVersion', { maxVersion: 'TLSv1.2' }],
    ['minVersion', { minVersion: 'TLSv1.1' }],
    ['minVersion', { minVersion: 'TLSv1.3' }],
    ['rejectUnauthorized', { rejectUnauthorized: false }],
    ['ca', { ca: pki.root.pem }],
    ['secureContext', { secureContext: tls.createSecureContext() }],
  ];
  for (const [option, options] of weakening) {
    it(`${option}=${JSON.stringify(Object.values(options)[0]).slice(0, 30)}: pinnedConnect, pinnedAgent (agent and request options) and http2`, async () => {
      assert.throws(() => pinnedConnect(policy, { host: 'localhost', port: 1, ...options }), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
      assert.throws(() => pinnedAgent(policy, options as never), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
      const agent = pinnedAgent(policy);
      cleanups.push(() => agent.destroy());
      await assert.rejects(httpsGet('https://localhost:1/', { agent, ...options }), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
      assert.throws(() => pinnedHttp2Connect(policy, 'https://localhost:1', options as never), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
    });
  }

  it('a minVersion equal to the policy\'s is accepted', () => {
    pinnedConnect(policy, { host: '127.0.0.1', port: 1, minVersion: 'TLSv1.2' }).on('error', () => {}).destroy();
  });
});
