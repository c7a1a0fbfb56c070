/**
 * The cast of the client adapter tests: the bank's PKI (pinned), a partner's PKI (trusted, valid, not pinned for
 * localhost) and an interception proxy's CA that the client trusts, with the policy every adapter test starts from.
 */
import { PinPolicy } from '../../src/index.js';
import type { PinPolicyOptions } from '../../src/index.js';
import { backupPin, createCertificate, createPki, pinOf } from './pki.js';
import type { Issued, TestPki } from './pki.js';

export interface ClientWorld {
  /** The pinned server's chain (root, intermediate, leaf for localhost, 127.0.0.1 and ::1). */
  readonly pki: TestPki;
  /** A second, unrelated PKI whose root the policy also trusts: a valid chain that is not the pinned one. */
  readonly otherPki: TestPki;
  /** A proxy CA the client trusts, as a corporate proxy's or a debugging tool's root is. */
  readonly attacker: Issued;
  /** localhost pinned to the intermediate plus a backup; all three roots trusted, system roots not. */
  policyOf(extra?: Partial<PinPolicyOptions>): PinPolicy;
}

export function createClientWorld(other: { name: string; hosts?: readonly string[] } = { name: 'Partner', hosts: ['127.0.0.1'] }): ClientWorld {
  const pki = createPki();
  const otherPki = createPki(other);
  const attacker = createCertificate({ commonName: 'Corporate Proxy CA', organization: 'Proxy', ca: true });
  return {
    pki,
    otherPki,
    attacker,
    policyOf: (extra = {}) =>
      new PinPolicy({
        hosts: { localhost: [pinOf(pki.intermediate), backupPin()] },
        ca: [pki.root.pem, otherPki.root.pem, attacker.pem],
        trustSystemRoots: false,
        onWarning: () => {},
        ...extra,
      }),
  };
}
