/**
 * Certificates indexed by canonical subject, so that finding the possible issuers of a certificate is one map
 * lookup. "Possible issuer" is OpenSSL's ossl_x509_likely_issued: same name (canonically), an authorityKeyIdentifier
 * that agrees, a signature algorithm the issuer's key makes, and neither certificate invalid. The signature itself
 * is checked later, once, on the path that is kept.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { authorityKeyIdMatches, certificateFacts, signatureAlgorithmFits } from '../x509/index.js';
import type { CertificateFacts } from '../x509/index.js';

/** Whether `issuer` may have issued `subject`, short of the signature (ossl_x509_likely_issued). */
export function likelyIssued(issuer: CertificateFacts, subject: CertificateFacts): boolean {
  return (
    issuer.subject.key === subject.issuer.key &&
    issuer.invalid.length === 0 &&
    subject.invalid.length === 0 &&
    authorityKeyIdMatches(issuer, subject) &&
    signatureAlgorithmFits(issuer, subject)
  );
}

/** A set of certificates, de-duplicated by SHA-256 and indexed by canonical subject. */
export class IssuerIndex {
  readonly #bySubject = new Map<string, CertificateFacts[]>();
  readonly #byDigest = new Map<string, CertificateFacts>();

  constructor(certificates: Iterable<CertificateFacts> = []) {
    for (const c of certificates) this.add(c);
  }

  /** Adds a certificate (a duplicate of one already present is ignored). */
  add(c: CertificateFacts): void {
    if (this.#byDigest.has(c.sha256)) return;
    this.#byDigest.set(c.sha256, c);
    const list = this.#bySubject.get(c.subject.key);
    if (list) list.push(c);
    else this.#bySubject.set(c.subject.key, [c]);
  }

  /** The certificates that may have issued `subject` (see {@link likelyIssued}). */
  issuersOf(subject: CertificateFacts): CertificateFacts[] {
    return this.named(subject).filter((issuer) => likelyIssued(issuer, subject));
  }

  /** Every certificate whose subject is `subject`'s issuer name (the ones {@link issuersOf} looks at). */
  named(subject: CertificateFacts): readonly CertificateFacts[] {
    return this.#bySubject.get(subject.issuer.key) ?? [];
  }

  /** Whether this exact certificate (same DER) is in the set. */
  has(c: CertificateFacts): boolean {
    return this.#byDigest.has(c.sha256);
  }

  get size(): number {
    return this.#byDigest.size;
  }
}

/**
 * The trust anchors of a policy (the certificates of the store OpenSSL verifies against), indexed by canonical
 * subject. Built on first use: a store of 150 system roots costs nothing until a handshake needs it, then one parse
 * per root, once per process. Anchors given as Node's `X509Certificate` (as a trust store holds them) lend their
 * already decoded public keys: the first chain under a root does not decode its key again.
 *
 * @example
 * ```ts
 * const anchors = new TrustAnchorIndex(tls.rootCertificates.map((pem) => new X509Certificate(pem)));
 * validatePath(leaf, served, anchors, { now: Date.now(), partialChain: false });
 * ```
 */
export class TrustAnchorIndex {
  readonly #input: readonly (CertificateFacts | Uint8Array | X509Certificate)[];
  #index: IssuerIndex | undefined;
  #unreadable = 0;

  constructor(anchors: readonly (CertificateFacts | Uint8Array | X509Certificate)[]) {
    this.#input = [...anchors];
  }

  #built(): IssuerIndex {
    if (!this.#index) {
      const index = new IssuerIndex();
      for (const anchor of this.#input) {
        const read =
          anchor instanceof X509Certificate ? certificateFacts(anchor.raw, anchor.fingerprint256, anchor)
          : anchor instanceof Uint8Array ? certificateFacts(anchor)
          : { ok: true as const, facts: anchor };
        if (read.ok) index.add(read.facts);
        else this.#unreadable++;
      }
      this.#index = index;
    }
    return this.#index;
  }

  /** Anchors that may have issued `subject`. */
  issuersOf(subject: CertificateFacts): CertificateFacts[] {
    return this.#built().issuersOf(subject);
  }

  /** Anchors whose subject is `subject`'s issuer name. */
  named(subject: CertificateFacts): readonly CertificateFacts[] {
    return this.#built().named(subject);
  }

  /** Whether this exact certificate is an anchor. */
  has(c: CertificateFacts): boolean {
    return this.#built().has(c);
  }

  /** How many anchors were given. */
  get size(): number {
    return this.#input.length;
  }

  /** How many anchors could not be read (they are left out, as OpenSSL leaves out a store entry it cannot load). */
  get unreadable(): number {
    this.#built();
    return this.#unreadable;
  }
}
