/**
 * Certificates indexed by canonical subject, so that finding the possible issuers of a certificate is one map
 * lookup. "Possible issuer" is OpenSSL's ossl_x509_likely_issued: same name (canonically), an authorityKeyIdentifier
 * that agrees, and a signature algorithm the issuer's key makes. The signature itself is checked later, once, on the
 * path that is kept.
 *
 * OpenSSL also passes over a certificate it finds invalid (EXFLAG_INVALID). certpin finds more certificates invalid
 * than OpenSSL does, so it keeps them all as possible issuers and refuses a chain through one: passing over a
 * certificate OpenSSL would have chosen (and then failed on) would accept a chain OpenSSL refuses.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { authorityKeyIdMatches, certificateFacts, nameBucket, signatureAlgorithmFits, subjectNameDer } from '../x509/index.js';
import type { CertificateFacts, DistinguishedName } from '../x509/index.js';

/**
 * Whether `issuer` may have issued `subject`, short of the signature (ossl_x509_likely_issued), invalid certificates
 * included (a chain through one is refused when it is checked).
 */
export function likelyIssued(issuer: CertificateFacts, subject: CertificateFacts): boolean {
  return issuer.subject.key === subject.issuer.key && authorityKeyIdMatches(issuer, subject) && signatureAlgorithmFits(issuer, subject);
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

/** A trust anchor as a store hands it over: read already, DER, or Node's `X509Certificate`. */
export type TrustAnchorInput = CertificateFacts | Uint8Array | X509Certificate;

/**
 * The trust anchors of a policy (the certificates of the store OpenSSL verifies against), found by canonical subject.
 *
 * Read lazily: a store of 150 to 270 system roots is not read when the index is made, nor at the first handshake.
 * Each anchor is filed under the {@link nameBucket} of its subject, a pass over its bytes that allocates nothing;
 * an anchor is read (certpin's full parse, cached by SHA-256) only when a certificate names an issuer in its bucket,
 * and a lookup keeps only the anchors whose canonical subject is exactly the name asked for. Reading every root
 * before the first pin decision took 20 to 45 ms of a process's first pinned connection.
 *
 * Anchors given as Node's `X509Certificate` (the policy's own) are read when the index is first used, and lend their
 * already decoded public keys.
 *
 * @example
 * ```ts
 * const anchors = new TrustAnchorIndex(tls.rootCertificates.map((pem) => new X509Certificate(pem)));
 * validatePath(leaf, served, anchors, { now: Date.now(), partialChain: false });
 * ```
 */
export class TrustAnchorIndex {
  readonly #input: readonly TrustAnchorInput[];
  /** Positions in `#input` by subject bucket; made on first use. */
  #buckets: Map<number, number[]> | undefined;
  /** Positions whose bytes lead to no subject: looked at by every lookup (each is read once, and found unreadable). */
  #unfiled: number[] = [];
  /** Each position read so far: its facts, or null when it could not be read. */
  readonly #read = new Map<number, CertificateFacts | null>();
  /** Lookups that found anchors, by canonical name (at most one entry per anchor subject). */
  readonly #named = new Map<string, readonly CertificateFacts[]>();

  constructor(anchors: readonly TrustAnchorInput[]) {
    this.#input = [...anchors];
  }

  /** Anchors that may have issued `subject`. */
  issuersOf(subject: CertificateFacts): CertificateFacts[] {
    return this.named(subject).filter((issuer) => likelyIssued(issuer, subject));
  }

  /** Anchors whose subject is `subject`'s issuer name. */
  named(subject: CertificateFacts): readonly CertificateFacts[] {
    return this.#withSubject(subject.issuer);
  }

  /** Whether this exact certificate is an anchor. */
  has(c: CertificateFacts): boolean {
    return this.#withSubject(c.subject).some((anchor) => anchor.sha256 === c.sha256);
  }

  /**
   * Files every anchor under its subject's bucket now rather than at the first look-up. A connection calls it while
   * it waits for the server's first reply, so that its first decision does not pay for it.
   */
  prepare(): void {
    this.#filed();
  }

  /** Whether the anchors are filed ({@link TrustAnchorIndex.prepare}, or a look-up, did it). */
  get prepared(): boolean {
    return this.#buckets !== undefined;
  }

  /** How many anchors were given. */
  get size(): number {
    return this.#input.length;
  }

  /** How many anchors have been read so far (each is read once, when a lookup first needs it). */
  get readCount(): number {
    return this.#read.size;
  }

  /** How many anchors could not be read (they are left out, as OpenSSL leaves out a store entry it cannot load). */
  get unreadable(): number {
    let count = 0;
    for (let position = 0; position < this.#input.length; position++) if (!this.#facts(position)) count++;
    return count;
  }

  /** Every readable anchor whose canonical subject is `name`, each DER once, in the order given. */
  #withSubject(name: DistinguishedName): readonly CertificateFacts[] {
    const known = this.#named.get(name.key);
    if (known) return known;
    const bucket = nameBucket(name.der);
    const buckets = this.#filed();
    // A name that cannot be bucketed (certpin read it, so it is well formed; this is defence in depth) is looked for
    // among every anchor.
    const positions = bucket === undefined ? this.#input.keys() : [...(buckets.get(bucket) ?? []), ...this.#unfiled];
    const found: CertificateFacts[] = [];
    for (const position of positions) {
      const facts = this.#facts(position);
      if (facts && facts.subject.key === name.key && !found.some((f) => f.sha256 === facts.sha256)) found.push(facts);
    }
    // Only names that found anchors are kept: a server cannot grow this map with the issuer names it makes up.
    if (found.length > 0) this.#named.set(name.key, found);
    return found;
  }

  #filed(): Map<number, number[]> {
    if (!this.#buckets) {
      const buckets = new Map<number, number[]>();
      this.#input.forEach((anchor, position) => {
        // The policy's own anchors come as X509Certificates: read now. They are few, and the ones its pinned hosts
        // chain to, so their first chains need not read them in the handshake (the system store's roots, mostly
        // unused, are read when a chain names them).
        const subject = anchor instanceof Uint8Array ? subjectNameDer(anchor) : anchor instanceof X509Certificate ? this.#facts(position)?.subject.der : anchor.subject.der;
        const bucket = subject === undefined ? undefined : nameBucket(subject);
        if (bucket === undefined) this.#unfiled.push(position);
        else {
          const list = buckets.get(bucket);
          if (list) list.push(position);
          else buckets.set(bucket, [position]);
        }
      });
      this.#buckets = buckets;
    }
    return this.#buckets;
  }

  #facts(position: number): CertificateFacts | null {
    let facts = this.#read.get(position);
    if (facts === undefined) {
      const anchor = this.#input[position]!;
      const read =
        anchor instanceof X509Certificate ? certificateFacts(anchor.raw, anchor.fingerprint256, anchor)
        : anchor instanceof Uint8Array ? certificateFacts(anchor)
        : { ok: true as const, facts: anchor };
      facts = read.ok ? read.facts : null;
      this.#read.set(position, facts);
    }
    return facts;
  }
}
