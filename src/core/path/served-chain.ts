/**
 * The entry point for the pin decision: the DER certificates a handshake produced, in, and a path validation out.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { readChildren, readDerElement, readElement } from '../der.js';
import { certificateFacts, subjectNameDer } from '../x509/index.js';
import { parseName } from '../x509/name.js';
import type { CertificateFacts } from '../x509/index.js';
import type { TrustAnchorIndex } from './issuer-index.js';
import { validatePath } from './validate.js';
import type { PathValidation, PathValidationOptions, UnreadableCertificate } from './validate.js';

/**
 * Validates a served chain given as DER: the leaf first, then every other certificate the handshake produced, in any
 * order. Facts come from the process-wide cache (pass Node's `fingerprint256` of each certificate, in the same order,
 * to skip hashing). An unreadable leaf is a refusal (`malformed`). An unreadable other certificate issues nothing,
 * but OpenSSL, which reads more leniently, may take it as the issuer it needs and fail: when OpenSSL reads it, a
 * chain that looks among the served certificates for an issuer of its name (or of any name, when certpin cannot
 * read even the name) is refused. What OpenSSL cannot read either is left out. Never throws for hostile input.
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
  const unreadable: UnreadableCertificate[] = [];
  for (let i = 1; i < read.length; i++) {
    const r = read[i]!;
    if (r.ok) others.push(r.facts);
    else if (opensslReads(chain[i]!)) unreadable.push({ name: subjectKeyOf(chain[i]!), keyId: subjectKeyIdOf(chain[i]!) });
  }
  return validatePath(leaf.facts, others, anchors, unreadable.length ? { ...options, unreadable } : options);
}

/** Whether OpenSSL reads `der` as a certificate (what it cannot read, it cannot take as an issuer either). */
function opensslReads(der: Uint8Array): boolean {
  try {
    new X509Certificate(der);
    return true;
  } catch {
    return false;
  }
}

/** The canonical subject name of a certificate certpin cannot read otherwise, when that much can be read. */
function subjectKeyOf(der: Uint8Array): string | undefined {
  const name = subjectNameDer(der);
  if (!name) return undefined;
  try {
    return parseName(name, readDerElement(name), 0).key;
  } catch {
    return undefined;
  }
}

const SUBJECT_KEY_ID = [0x55, 0x1d, 0x0e];

/**
 * The subjectKeyIdentifier of a certificate certpin cannot read otherwise, read leniently (the first one, as OpenSSL
 * would find it), when that much can be read.
 */
function subjectKeyIdOf(der: Uint8Array): Uint8Array | undefined {
  try {
    const outer = readElement(der);
    const tbs = readElement(der, outer.start, outer.end);
    for (const field of readChildren(der, tbs)) {
      if (field.tag !== 0xa3) continue;
      for (const extension of readChildren(der, readElement(der, field.start, field.end))) {
        const parts = readChildren(der, extension);
        const oid = parts[0];
        if (!oid || oid.tag !== 0x06 || oid.end - oid.start !== 3 || SUBJECT_KEY_ID.some((byte, i) => der[oid.start + i] !== byte)) continue;
        const value = parts[parts.length - 1]!;
        const inner = readElement(der, value.start, value.end);
        return inner.tag === 0x04 ? der.subarray(inner.start, inner.end) : undefined;
      }
    }
  } catch {
    // Not readable even leniently: no key identifier to go by.
  }
  return undefined;
}
