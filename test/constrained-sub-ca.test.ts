/**
 * The constrained sub-CA pin bypass, end to end. The client trusts a MITM CA (a corporate proxy's) and the bank's
 * root, and pins the bank's root. The attacker holds "Sub CA" under the MITM root, and a certificate with the same
 * name and key issued under the pinned root but constrained (EKU emailProtection only, or name constraints to another
 * domain), and serves both with its leaf. OpenSSL validates the handshake through the MITM root; a verifier that
 * ignores EKU and name constraints finds leaf → constrained Sub CA → pinned root and matches the pin. certpin must
 * refuse, through every client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as undici from 'undici';
import { PinPolicy, checkConnection, pinnedAgent, pinnedDispatcher } from '../src/index.js';
import { spkiPin } from '../src/tools/index.js';
import { backupPin } from './support/pki.js';
import { httpsGet, startHttpsServer } from './support/servers.js';
import type { RunningServer } from './support/servers.js';
import { OID, intermediate, leaf, pooledKey, root } from './support/x509-builder.js';
import type { Built, CertSpec } from './support/x509-builder.js';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const variants: [string, Partial<CertSpec>][] = [
  ['EKU emailProtection only', { eku: [OID.emailProtection] }],
  ['name constraints to another domain', { nameConstraints: { permitted: [{ dns: 'other.test' }] } }],
];

for (const [name, constraint] of variants) {
  describe(`constrained sub-CA (${name})`, () => {
    // Distinct keys everywhere but for the two Sub CAs: a pin names a key, and only the pinned root may carry this one.
    const pinnedRoot = root('Pinned Root', { key: pooledKey('ec-p256', 12) });
    const mitmRoot = root('MITM Root', { key: pooledKey('ec-p256', 13) });
    const subKey = pooledKey('ec-p256', 11);
    const viaMitm = intermediate('Sub CA', mitmRoot, { key: subKey });
    const constrained = intermediate('Sub CA', pinnedRoot, { key: subKey, ...constraint });
    const target = leaf('localhost', viaMitm, { key: pooledKey('ec-p256', 14), sans: ['localhost', '127.0.0.1'] });
    const pinOfBuilt = (b: Built) => spkiPin(b.cert);
    const policy = () => new PinPolicy({ hosts: { localhost: [pinOfBuilt(pinnedRoot), backupPin()] }, ca: [mitmRoot.pem, pinnedRoot.pem], trustSystemRoots: false, onWarning: () => {} });
    let server: RunningServer;

    before(async () => {
      // Both Sub CAs, in either order: OpenSSL could build either chain.
      server = await startHttpsServer({ key: target.key.keyPem, cert: target.pem + viaMitm.pem + constrained.pem, name: 'attacker' });
      cleanups.push(() => server.close());
    });

    it('pinnedAgent refuses, nothing sent', async () => {
      const agent = pinnedAgent(policy());
      cleanups.push(() => agent.destroy());
      await assert.rejects(httpsGet(`https://localhost:${server.port}/`, { agent }), (error: Error & { code?: string }) => error.code === 'ERR_CERTPIN_PIN_MISMATCH' || error.code === 'ERR_CERTPIN_CHAIN_UNVERIFIED');
      assert.equal(server.requests.length, 0);
    });

    it('pinnedDispatcher refuses, nothing sent', async () => {
      const dispatcher = pinnedDispatcher(policy());
      cleanups.push(() => dispatcher.destroy());
      await assert.rejects(undici.request(`https://localhost:${server.port}/`, { dispatcher }), (error: Error & { code?: string }) => error.code === 'ERR_CERTPIN_PIN_MISMATCH' || error.code === 'ERR_CERTPIN_CHAIN_UNVERIFIED');
      assert.equal(server.requests.length, 0);
    });

    it('checkConnection says not secure', async () => {
      const check = await checkConnection(`https://localhost:${server.port}/`, policy());
      assert.equal(check.status, 'CONNECTION_NOT_SECURE');
    });

    it('control: the same chain without the constrained copy, pinned to the MITM root, connects (the handshake itself is valid)', async () => {
      const honest = await startHttpsServer({ key: target.key.keyPem, cert: target.pem + viaMitm.pem });
      cleanups.push(() => honest.close());
      const agent = pinnedAgent(new PinPolicy({ hosts: { localhost: [pinOfBuilt(mitmRoot), backupPin()] }, ca: [mitmRoot.pem, pinnedRoot.pem], trustSystemRoots: false, onWarning: () => {} }));
      cleanups.push(() => agent.destroy());
      assert.equal((await httpsGet(`https://localhost:${honest.port}/`, { agent })).body, 'hello from origin');
    });
  });
}
