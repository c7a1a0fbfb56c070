/**
 * Facts about the running Node that tests must know to assert the right thing on every supported version.
 */
import tls from 'node:tls';

/**
 * Node 22.23.x (and 24.17 to 24.18) stopped matching IPv6 hosts against IP-address SANs (nodejs/node#64032, fixed by
 * nodejs/node#64145): every client fails closed there with ERR_TLS_CERT_ALTNAME_INVALID, pinned or not. Measured
 * here, not inferred from the version string.
 */
export const ipv6SanMatchBroken =
  tls.checkServerIdentity('::1', { subject: {}, subjectaltname: 'IP Address:0:0:0:0:0:0:0:1' } as unknown as tls.PeerCertificate) !== undefined;

/** The `skip` option for a test that connects to an IPv6 literal. */
export const skipUnlessIpv6SanMatch = ipv6SanMatchBroken && `Node ${process.version} does not match IPv6 SANs (nodejs/node#64032)`;
