/**
 * The entry point for the pin decision: the DER certificates a handshake produced, in, and a path validation out.
 * @module
 */
import { certificateFacts } from '../x509/index.js';
import type { CertificateFacts } from '../x509/index.js';
import type { TrustAnchorIndex } from './issuer-index.js';
import { validatePath } from './validate.js';
import type { PathValidation, PathValidationOptions } from './validate.js';

/**
 * Validates a served chain given as DER: the leaf first, then every other certificate the handshake produced, in any
 * order. Facts come from the process-wide cache (pass Node's `fingerprint256` of each certificate, in the same order,
 * to skip hashing). An unreadable leaf is a refusal (`malformed`); an unreadable other certificate is left out, as it
 * can issue nothing. Never throws for hostile input.
 *
 * @example
 * ```ts
 * const chain = peerChain(socket.getPeerCertificate(true)); // [leaf, …] as DetailedPeerCertificate
 * const result = validateServedChain(chain.map((c) => c.raw), anchors, { now: Date.now(), partialChain }, chain.map((c) => c.fingerprint256));
 * if (!result.verified) refuse(result.reason);
 * else matched = result.paths.some((path) => path.some((c) => pinMatches(pin, c)));
 * ```
 */
export function validateServedChain(
  chain: readonly Uint8Array[],
  anchors: TrustAnchorIndex,
  options: PathValidationOptions,
  fingerprints?: readonly string[],
): PathValidation {
  const noWork = { steps: 0, paths: 0, signatureChecks: 0 };
  if (chain.length === 0) return { verified: false, code: 'malformed', reason: 'no certificate was served', work: noWork };
  const read = chain.map((der, i) => certificateFacts(der, fingerprints?.[i]));
  const leaf = read[0]!;
  if (!leaf.ok) return { verified: false, code: 'malformed', reason: `the leaf certificate does not parse (${leaf.reason})`, work: noWork };
  const others: CertificateFacts[] = [];
  for (const r of read.slice(1)) if (r.ok) others.push(r.facts);
  return validatePath(leaf.facts, others, anchors, options);
}
