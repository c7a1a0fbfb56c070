/**
 * Trust anchors: the certificates a verified chain must end at. The TLS layer gives the same set to OpenSSL for the
 * handshake and to certpin's own path verification, so both judge the chain against one store.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { digestBase64, spkiDer } from './certificate.js';

/** A set of trust anchors, indexed by subject so that issuer lookup does not scan the store. */
export class TrustAnchors {
  readonly #bySubject = new Map<string, X509Certificate[]>();
  /** The anchors, as given. */
  readonly certificates: readonly X509Certificate[];

  constructor(certificates: readonly X509Certificate[]) {
    this.certificates = Object.freeze([...certificates]);
    for (const certificate of certificates) {
      const list = this.#bySubject.get(certificate.subject) ?? [];
      list.push(certificate);
      this.#bySubject.set(certificate.subject, list);
    }
  }

  /** Anchors whose subject is `name` (candidates to have issued a certificate with that issuer). */
  withSubject(name: string): readonly X509Certificate[] {
    return this.#bySubject.get(name) ?? [];
  }

  /**
   * Whether a certificate is itself a trust anchor: same subject and same public key as one in the store. An anchor
   * is trusted for its name and key, so a cross-signed copy of a root counts, and so does an intermediate that the
   * app trusts on purpose (a partial chain).
   */
  isAnchor(certificate: X509Certificate, spkiSha256?: string): boolean {
    const sameSubject = this.#bySubject.get(certificate.subject);
    if (!sameSubject) return false;
    const key = spkiSha256 ?? spkiDigest(certificate);
    return sameSubject.some((anchor) => spkiDigest(anchor) === key);
  }

  get size(): number {
    return this.certificates.length;
  }
}

// An anchor's digest is computed only when a certificate with its subject is looked up, and once: the system
// store's 150 roots cost nothing until one is on a path.
const spkiDigests = new WeakMap<X509Certificate, string>();

function spkiDigest(certificate: X509Certificate): string {
  let digest = spkiDigests.get(certificate);
  if (digest === undefined) {
    digest = digestBase64('sha256', spkiDer(certificate));
    spkiDigests.set(certificate, digest);
  }
  return digest;
}
