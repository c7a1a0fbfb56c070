/**
 * A certificate on a verified path as the pin decision, its errors, reports and the tools use it: its facts, the
 * digests pins are compared with, and Node's `X509Certificate` for display. Digests and the `X509Certificate` are
 * made on first use and kept with the facts, so a chain met again costs no hashing.
 * @module
 */
import { createHash } from 'node:crypto';
import type { X509Certificate } from 'node:crypto';
import type { CertificateDigests } from './pin.js';
import type { CertificatePath } from './path/index.js';
import type { CertificateFacts } from './x509/index.js';

/** A certificate of a verified path. */
export interface PathCertificate {
  readonly facts: CertificateFacts;
  /** Node's parsed certificate (for subject, issuer and PEM). */
  readonly certificate: X509Certificate;
  /** What pins are compared with. */
  readonly digests: CertificateDigests;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** A verified path: leaf first, the certificate that made it trusted last. */
export type VerifiedPath = readonly PathCertificate[];

const views = new WeakMap<CertificateFacts, PathCertificate>();

/** The view of a certificate's facts (one per facts object). */
export function pathCertificate(facts: CertificateFacts): PathCertificate {
  let view = views.get(facts);
  if (!view) {
    view = new FactsView(facts);
    views.set(facts, view);
  }
  return view;
}

/** The views of a path's certificates. */
export function verifiedPath(path: CertificatePath): VerifiedPath {
  return path.map(pathCertificate);
}

class FactsView implements PathCertificate {
  readonly facts: CertificateFacts;
  #digests: CertificateDigests | undefined;

  constructor(facts: CertificateFacts) {
    this.facts = facts;
  }

  get certificate(): X509Certificate {
    return this.facts.x509();
  }

  get digests(): CertificateDigests {
    this.#digests ??= new LazyDigests(this.facts);
    return this.#digests;
  }

  get notBefore(): number {
    return this.facts.notBefore;
  }

  get notAfter(): number {
    return this.facts.notAfter;
  }
}

/** The certificate's SHA-256 is known already; the SPKI digest is made on first match, SHA-1 forms only for legacy pins. */
class LazyDigests implements CertificateDigests {
  readonly #facts: CertificateFacts;
  #spkiSha256: string | undefined;
  #spkiSha1: string | undefined;
  #certSha1: string | undefined;
  readonly certSha256: string;

  constructor(facts: CertificateFacts) {
    this.#facts = facts;
    this.certSha256 = Buffer.from(facts.sha256, 'hex').toString('base64');
  }

  get spkiSha256(): string {
    this.#spkiSha256 ??= createHash('sha256').update(this.#facts.spki).digest('base64');
    return this.#spkiSha256;
  }

  get spkiSha1(): string {
    this.#spkiSha1 ??= createHash('sha1').update(this.#facts.spki).digest('base64');
    return this.#spkiSha1;
  }

  get certSha1(): string {
    this.#certSha1 ??= createHash('sha1').update(this.#facts.der).digest('base64');
    return this.#certSha1;
  }
}
