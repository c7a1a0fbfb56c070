/**
 * The policy's trust store as certpin's path validation sees it: the same certificates OpenSSL is given, read only
 * when a chain needs them. A process's first pinned connection used to read every root of the system store (20 to
 * 45 ms of certpin's reader, and 11 to 31 ms of parsing each as an X509Certificate) before its first decision.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { PinPolicy, pinnedConnect } from '../src/index.js';
import { systemTrustStore, tlsTrustFor } from '../src/node/trust-store.js';
import { backupPin, createPki, pinOf } from './support/pki.js';

const pki = createPki();

describe('trust store', () => {
  it('holds every certificate of Node\'s default store, as the DER Node reads from each PEM', () => {
    const getCACertificates = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
    // Before tls.getCACertificates, Node's default store is its bundled roots plus NODE_EXTRA_CA_CERTS.
    const extra = process.env.NODE_EXTRA_CA_CERTS ? readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8').split(/(?=-----BEGIN CERTIFICATE-----)/).filter((b) => b.includes('-----END CERTIFICATE-----')) : [];
    const expected = (getCACertificates ? getCACertificates('default') : [...tls.rootCertificates, ...extra]).map((pem) => new X509Certificate(pem).raw);
    const store = systemTrustStore();
    assert.ok(expected.length > 100, `${expected.length} roots`);
    assert.equal(store.ders.length, expected.length);
    assert.equal(store.pems().length, expected.length);
    // What OpenSSL is given when the policy adds anchors is made from the very bytes certpin reads.
    store.pems().forEach((pem, i) => assert.ok(new X509Certificate(pem).raw.equals(expected[i]!), `root ${i} as PEM`));
    store.ders.forEach((der, i) => assert.ok(Buffer.from(der).equals(expected[i]!), `root ${i}`));
  });

  it('a NODE_EXTRA_CA_CERTS file with a block OpenSSL cannot read: certpin trusts what Node does, or refuses', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'certpin-extra-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'extra.pem');
    // A good certificate, a block whose base64 is not a certificate, then another good one.
    writeFileSync(file, `${pki.root.pem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n${pki.intermediate.pem}`);
    const script = `
      import tls from 'node:tls';
      import { systemTrustStore } from ${JSON.stringify(new URL('../src/node/trust-store.ts', import.meta.url).href)};
      let outcome;
      try { outcome = { count: systemTrustStore().ders.length }; } catch (error) { outcome = { code: error.code }; }
      const nodes = tls.getCACertificates ? tls.getCACertificates('default').length : undefined;
      console.log(JSON.stringify({ ...outcome, nodes }));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: file } });
    assert.equal(child.status, 0, child.stderr);
    const result = JSON.parse(child.stdout.trim()) as { count?: number; code?: string; nodes?: number };
    if (result.nodes === undefined) assert.equal(result.code, 'ERR_CERTPIN_INVALID_CERTIFICATE', child.stdout);
    else assert.equal(result.count, result.nodes);
  });

  it('a pinned connection reads only the trust anchors its chain names, not the whole system store', async () => {
    const server = tls.createServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem }, (socket) => socket.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    after(() => server.close());
    // System roots trusted (the default), the test's root added.
    const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: pki.root.pem });
    const socket = pinnedConnect(policy, { host: 'localhost', port: (server.address() as AddressInfo).port });
    socket.on('error', () => {});
    await once(socket, 'secureConnect');
    socket.destroy();
    const index = tlsTrustFor(policy).anchors.index;
    assert.ok(index.size > 100, `${index.size} anchors`);
    // The policy's own root (read when the index files it), and any system root whose name falls in its bucket.
    assert.ok(index.readCount <= 2, `${index.readCount} of ${index.size} anchors read`);
  });
});
