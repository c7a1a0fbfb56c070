/**
 * The option check every pinned connection, agent and HTTP/2 session runs first: each option of the secure context is
 * refused whether the caller set it or an object it inherits from did, since Node reads both. The check first asks,
 * by name, whether any refused option is set at all; these tests hold that shortcut to every name the check refuses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PinPolicy, pinnedAgent, pinnedConnect } from '../src/index.js';
import { SECURE_CONTEXT_OPTIONS, assertSafeTlsOptions } from '../src/node/tls-options.js';
import { backupPin, createPki, pinOf } from './support/pki.js';

describe('every secure-context option is refused, own or inherited', () => {
  const pki = createPki();
  const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: pki.root.pem, trustSystemRoots: false, onWarning: () => {} });

  for (const option of SECURE_CONTEXT_OPTIONS) {
    it(`${option}: by assertSafeTlsOptions, pinnedConnect and pinnedAgent`, () => {
      // Any defined value counts, falsy ones included: Node reads them.
      for (const value of ['x', 0, false, null]) {
        assert.throws(() => assertSafeTlsOptions({ [option]: value }), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
        assert.throws(() => assertSafeTlsOptions(Object.create({ [option]: value }) as Record<string, unknown>), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
      }
      assert.throws(() => pinnedConnect(policy, { host: 'localhost', port: 1, [option]: 'x' }), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
      assert.throws(() => pinnedAgent(policy, { [option]: 'x' } as never), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
    });
  }

  const weakening: [string, unknown][] = [
    ['rejectUnauthorized', false],
    ['pskCallback', () => undefined],
    ['session', Buffer.from('a session from elsewhere')],
    ['minVersion', 'TLSv1'],
    ['minVersion', 'TLSv1.3'],
    ['maxVersion', 'TLSv1.2'],
  ];
  for (const [option, value] of weakening) {
    it(`${option}: ${typeof value === 'string' ? value : typeof value}, own or inherited`, () => {
      assert.throws(() => assertSafeTlsOptions({ [option]: value }), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
      assert.throws(() => assertSafeTlsOptions(Object.create({ [option]: value }) as Record<string, unknown>), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
      assert.throws(() => pinnedConnect(policy, { host: 'localhost', port: 1, [option]: value }), { code: 'ERR_CERTPIN_INSECURE_OPTION', option });
    });
  }

  it('options without any of them pass, and undefined values count as absent', () => {
    assertSafeTlsOptions({ host: 'localhost', port: 443, ALPNProtocols: ['h2'], servername: 'localhost' });
    assertSafeTlsOptions(Object.fromEntries(SECURE_CONTEXT_OPTIONS.map((option) => [option, undefined])));
    assertSafeTlsOptions({ rejectUnauthorized: true, minVersion: 'TLSv1.2', session: undefined, pskCallback: undefined });
  });
});
