/**
 * TLS options a caller may not set on a pinned connection. Each is refused with an error that says why and what to
 * do instead, never ignored: an option silently dropped is a defence the caller believes in and does not have.
 * @module
 */
import { InsecureOptionError } from '../errors.js';

const WEAK_VERSIONS = new Set(['SSLv3', 'TLSv1', 'TLSv1.1']);

/**
 * Options of the secure context. A pinned connection uses the policy's one context, and Node ignores these options
 * whenever a context is given, so they are refused rather than dropped.
 */
export const SECURE_CONTEXT_OPTIONS = [
  'ca', 'secureContext', 'cert', 'key', 'pfx', 'passphrase', 'secureProtocol', 'crl', 'ciphers', 'sigalgs',
  'ecdhCurve', 'dhparam', 'secureOptions', 'honorCipherOrder', 'privateKeyEngine', 'privateKeyIdentifier',
  'clientCertEngine', 'ticketKeys', 'sessionTimeout',
] as const;

/**
 * Throws when `options` asks for anything that would weaken TLS, skip the certificate check, or bypass the policy's
 * trust configuration. Inherited properties count: Node reads them too.
 * @param policyMinVersion the policy's minimum version; a `minVersion` equal to it is accepted.
 */
export function assertSafeTlsOptions(options: Readonly<Record<string, unknown>>, where = 'options', policyMinVersion = 'TLSv1.2'): void {
  refuseWeakening(options, where, policyMinVersion);
  // Node's agents hand over options without a prototype, and the copy a connection is made from is an ordinary
  // object: what Object.prototype holds is read through it, so it counts as inherited here too.
  if (Object.getPrototypeOf(options) === null) refuseWeakening(Object.prototype as Record<string, unknown>, where, policyMinVersion);
}

function refuseWeakening(options: Readonly<Record<string, unknown>>, where: string, policyMinVersion: string): void {
  if (!mayBeRefused(options)) return;
  if (options.rejectUnauthorized === false) {
    throw new InsecureOptionError('rejectUnauthorized', `${where}.rejectUnauthorized is false: certpin never turns certificate validation off. For a development CA, add it to the policy's "ca" or "developmentOverrides".`);
  }
  if (options.pskCallback !== undefined) {
    throw new InsecureOptionError('pskCallback', `${where}.pskCallback is set: a TLS-PSK handshake authenticates with a shared key and no certificate, so no pin could be checked. Pinned connections use certificates only.`);
  }
  if (options.session !== undefined) {
    throw new InsecureOptionError('session', `${where}.session is set: Node resumes a session without checking the certificate again, so a session from outside certpin would skip the pins. certpin resumes only sessions it checked; leave "session" out.`);
  }
  for (const name of ['minVersion', 'maxVersion'] as const) {
    const value = options[name];
    if (typeof value === 'string' && WEAK_VERSIONS.has(value)) {
      throw new InsecureOptionError(name, `${where}.${name} is ${value}: certpin requires TLS 1.2 or later.`);
    }
  }
  for (const name of SECURE_CONTEXT_OPTIONS) {
    const value = options[name];
    if (value === undefined) continue;
    throw new InsecureOptionError(
      name,
      `${where}.${name} is set: trust anchors, client certificates and TLS settings belong to the PinPolicy (ca, trustSystemRoots, clientCertificate, minVersion), so that every pinned connection uses one secure context and pins are verified against the same store.`,
    );
  }
  if (options.minVersion !== undefined && options.minVersion !== policyMinVersion) {
    throw new InsecureOptionError('minVersion', `${where}.minVersion is ${String(options.minVersion)} but the policy's is ${policyMinVersion}: set minVersion in the PinPolicy.`);
  }
  if (options.maxVersion !== undefined) {
    throw new InsecureOptionError('maxVersion', `${where}.maxVersion is set: pinned connections negotiate the highest version both sides support, from the policy's minVersion up.`);
  }
}

/**
 * False when {@link assertSafeTlsOptions} cannot refuse `options`: none of the options it refuses is set. Every
 * connection passes here, and loads of named properties cost a fraction of looking the names up from a list; the
 * list decides what is refused, and a test holds this shortcut to every name in it.
 */
function mayBeRefused(o: Readonly<Record<string, unknown>>): boolean {
  return (
    o.rejectUnauthorized === false || o.pskCallback !== undefined || o.session !== undefined || o.minVersion !== undefined || o.maxVersion !== undefined ||
    o.ca !== undefined || o.secureContext !== undefined || o.cert !== undefined || o.key !== undefined || o.pfx !== undefined ||
    o.passphrase !== undefined || o.secureProtocol !== undefined || o.crl !== undefined || o.ciphers !== undefined || o.sigalgs !== undefined ||
    o.ecdhCurve !== undefined || o.dhparam !== undefined || o.secureOptions !== undefined || o.honorCipherOrder !== undefined ||
    o.privateKeyEngine !== undefined || o.privateKeyIdentifier !== undefined || o.clientCertEngine !== undefined || o.ticketKeys !== undefined ||
    o.sessionTimeout !== undefined
  );
}
