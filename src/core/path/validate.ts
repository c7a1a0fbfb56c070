/**
 * Certificate path validation as strict as OpenSSL's, for a TLS client (purpose sslserver, default flags, no CRLs),
 * with bounded work.
 *
 * How the path is chosen. OpenSSL does not search: it builds one chain greedily (X509_verify_cert → build_chain,
 * "trusted first"): for the certificate at the top it takes an issuer from the trust store if the store has one,
 * otherwise one of the served certificates; among several candidates it takes one that is valid now (expired ones
 * only if nothing else fits). Only then does it check that chain, and a failure is final. certpin follows the same
 * rules, but does not know the order the server sent its certificates in (nor the store's order among certificates
 * with one name), and so it follows every choice OpenSSL could have made: the verdict is "valid" only if every
 * chain OpenSSL could have built is valid, and those chains are the paths returned. certpin therefore never accepts
 * what OpenSSL refuses, and matches pins only on a chain OpenSSL itself verifies.
 *
 * What is checked on each chain, as OpenSSL does (x509_vfy.c check_extensions, check_auth_level, internal_verify,
 * check_name_constraints): no certificate invalid or with an unhandled critical extension; every issuer a CA
 * (basicConstraints cA; the trust anchor may also be a v1 self-signed root or a keyUsage-only CA); purpose sslserver
 * on every certificate (EKU, and keyUsage on the leaf); pathLenConstraint (self-issued intermediates not counted);
 * key and signature strength at the TLS security level; validity of every certificate, anchor included; keyCertSign
 * and the signature of every certificate below the top; name constraints of every CA on every certificate below it
 * (self-issued intermediates skipped).
 *
 * Bounded work: a cap on search steps, on the chains examined, and on fresh signature verifications per call (memoised
 * across calls); past a cap the answer is `work-limit`, a refusal.
 * @module
 */
import { keyIdentifiersAgree } from '../x509/index.js';
import type { CertificateFacts } from '../x509/index.js';
import { IssuerIndex } from './issuer-index.js';
import type { TrustAnchorIndex } from './issuer-index.js';
import { checkNameConstraints } from './name-constraints.js';
import { caKind, caServesTls, leafServesTls } from './purpose.js';
import { SignatureBudgetExceeded, signatureVerifies } from './signature.js';
import type { SignatureWork } from './signature.js';

/** Caps on the work of one validation. */
export interface PathBudget {
  /**
   * Fresh public-key signature verifications (memoised results are free), counted by cost: a costlier key counts as
   * several (see `verificationCost`).
   */
  readonly maxSignatureChecks: number;
  /** Search steps: issuer look-ups plus candidates examined. */
  readonly maxSteps: number;
  /** Complete chains examined (alternative chains OpenSSL could have built). */
  readonly maxPaths: number;
  /** Served certificates considered; a server sending more is refused. */
  readonly maxCandidates: number;
  /**
   * Name-constraint comparisons (names × subtrees, summed over the chains). OpenSSL allows 2^20 per certificate
   * pair, which in JavaScript is tens of milliseconds; certpin caps the whole call far lower.
   */
  readonly maxNameChecks: number;
}

/** The default caps: a few milliseconds of CPU in the worst case, far above what a real chain needs. */
export const DEFAULT_PATH_BUDGET: PathBudget = Object.freeze({ maxSignatureChecks: 6, maxSteps: 2000, maxPaths: 8, maxCandidates: 256, maxNameChecks: 1 << 16 });

/** A signature budget for one decision, to share among its {@link validatePath} calls. */
export function newSignatureWork(budget: Partial<PathBudget> = {}): SignatureWork {
  return { fresh: 0, cost: 0, limit: budget.maxSignatureChecks ?? DEFAULT_PATH_BUDGET.maxSignatureChecks };
}

/** How to validate. */
export interface PathValidationOptions {
  /** The time to validate at, milliseconds since the epoch (compared at whole seconds, as OpenSSL does). */
  readonly now: number;
  /**
   * OpenSSL's X509_V_FLAG_PARTIAL_CHAIN (Node's `allowPartialTrustChain`): any certificate of the store ends a path.
   * Without it a path ends only at a self-signed certificate of the store. Default false.
   */
  readonly partialChain?: boolean;
  /**
   * The TLS security level whose key and digest sizes apply (OpenSSL's auth level; measured with handshakes: Node 20
   * and 22 verify at level 1, Node 24 at level 2). Level 1 refuses SHA-1 and MD5 signatures below the anchor and keys
   * under 80 bits (RSA < 1024); level 2 also RSA < 2048 and P-192. Default 2, the stricter; 0 turns the check off.
   */
  readonly securityLevel?: number;
  /** The longest chain accepted, leaf and anchor included. Default 100 (OpenSSL stops at 102). */
  readonly maxChainLength?: number;
  /** Overrides of {@link DEFAULT_PATH_BUDGET} (tests raise them to show what the caps prevent). */
  readonly budget?: Partial<PathBudget>;
  /**
   * The signature work of the decision this call is part of, when it makes more than one (a handshake's linked chain,
   * then the chain as served): the calls then share one budget. Default: a budget of this call's own.
   */
  readonly signatureWork?: SignatureWork;
  /**
   * Served certificates certpin could not read: the canonical subject name and the subject key identifier each
   * carries, where that much could be read. OpenSSL may read one and take it as an issuer, and fail on it; so a
   * chain that needs an issuer from the served certificates is refused when one of these may be it.
   */
  readonly unreadable?: readonly UnreadableCertificate[];
}

/** What could be read of a served certificate certpin cannot read (see {@link PathValidationOptions.unreadable}). */
export interface UnreadableCertificate {
  /** Its subject's canonical key, `undefined` when unreadable: then it may carry any name. */
  readonly name: string | undefined;
  /** Its subjectKeyIdentifier, when it has one that could be read. */
  readonly keyId: Uint8Array | undefined;
}

/** Why a path was refused. */
export type PathFailureCode =
  | 'malformed'
  | 'no-path'
  | 'chain-too-long'
  | 'expired'
  | 'not-yet-valid'
  | 'critical-extension'
  | 'not-a-ca'
  | 'purpose'
  | 'path-length'
  | 'name-constraints'
  | 'weak-key'
  | 'weak-signature'
  | 'unsupported-algorithm'
  | 'signature'
  | 'work-limit';

/** What a validation cost. */
export interface PathWork {
  readonly steps: number;
  readonly paths: number;
  readonly signatureChecks: number;
}

/** A path: leaf first, the certificate that made it trusted last. */
export type CertificatePath = readonly CertificateFacts[];

/** The outcome of {@link validatePath}. */
export type PathValidation =
  | {
      readonly verified: true;
      readonly paths: readonly CertificatePath[];
      readonly work: PathWork;
      /**
       * The first moment (ms since the epoch, at a whole second) at which a certificate this validation looked at
       * becomes valid or expires; until then the same input gets the same answer. Infinity if none ever does.
       */
      readonly stableUntil: number;
    }
  | {
      readonly verified: false;
      readonly code: PathFailureCode;
      readonly reason: string;
      /** The certificate the failure is about, and its depth on the chain (0 = leaf), when there is one. */
      readonly certificate?: CertificateFacts;
      readonly depth?: number;
      readonly work: PathWork;
    };

interface Failure {
  readonly code: PathFailureCode;
  readonly reason: string;
  readonly certificate?: CertificateFacts;
  readonly depth?: number;
}

class WorkLimit extends Error {}

const MIN_BITS = [0, 80, 112, 128, 192, 256];

/**
 * Validates the paths from `leaf` to `anchors` that OpenSSL could build from `candidates` (what the server sent, in
 * any order, duplicates and junk included; a copy of the leaf among them is ignored).
 *
 * @example
 * ```ts
 * const facts = chainDer.map((der) => certificateFacts(der)).filter((r) => r.ok).map((r) => r.facts);
 * const result = validatePath(facts[0], facts.slice(1), anchors, { now: Date.now(), partialChain: false });
 * if (result.verified) pinned = result.paths.some((path) => path.some((c) => matches(pin, c)));
 * ```
 */
export function validatePath(leaf: CertificateFacts, candidates: readonly CertificateFacts[], anchors: TrustAnchorIndex, options: PathValidationOptions): PathValidation {
  const search = new PathSearch(anchors, options);
  try {
    const failure = search.run(leaf, candidates);
    if (failure) return search.refuse(failure);
    if (search.paths.length === 0) return search.refuse({ code: 'no-path', reason: 'no chain reaches a trust anchor' });
    return { verified: true, paths: search.paths, work: search.work(), stableUntil: search.stableUntil };
  } catch (error) {
    if (error instanceof WorkLimit || error instanceof SignatureBudgetExceeded) return search.refuse({ code: 'work-limit', reason: error.message });
    throw error;
  }
}

/** One validation: OpenSSL's chain building over every order, and the checks on each chain built. */
class PathSearch {
  readonly paths: CertificatePath[] = [];
  readonly #anchors: TrustAnchorIndex;
  readonly #budget: PathBudget;
  readonly #partialChain: boolean;
  readonly #level: number;
  readonly #maxChainLength: number;
  readonly #now: number;
  readonly #signatures: SignatureWork;
  #served = new IssuerIndex();
  readonly #unreadable: readonly UnreadableCertificate[];
  #steps = 0;
  #nameChecks = 0;
  /** The next validity boundary of any certificate looked at: a choice or a check can change there. */
  stableUntil = Infinity;

  constructor(anchors: TrustAnchorIndex, options: PathValidationOptions) {
    this.#anchors = anchors;
    this.#budget = { ...DEFAULT_PATH_BUDGET, ...options.budget };
    this.#partialChain = options.partialChain ?? false;
    this.#level = Math.max(0, Math.min(5, options.securityLevel ?? 2));
    this.#maxChainLength = options.maxChainLength ?? 100;
    this.#now = Math.floor(options.now / 1000) * 1000;
    this.#signatures = options.signatureWork ?? newSignatureWork(this.#budget);
    this.#unreadable = options.unreadable ?? [];
  }

  work(): PathWork {
    return { steps: this.#steps, paths: this.paths.length, signatureChecks: this.#signatures.fresh };
  }

  refuse(f: Failure): PathValidation {
    return { verified: false, ...f, work: this.work() };
  }

  run(leaf: CertificateFacts, candidates: readonly CertificateFacts[]): Failure | undefined {
    if (leaf.invalid.length > 0) return { code: 'malformed', reason: `the leaf is invalid (${leaf.invalid[0]})`, certificate: leaf, depth: 0 };
    if (candidates.length > this.#budget.maxCandidates) throw new WorkLimit(`more than ${this.#budget.maxCandidates} certificates served`);
    for (const c of candidates) if (c.sha256 !== leaf.sha256) this.#served.add(c);
    if (this.#level > 0 && leaf.key.securityBits < MIN_BITS[this.#level]!) {
      return { code: 'weak-key', reason: `the leaf key is weaker than security level ${this.#level} allows`, certificate: leaf, depth: 0 };
    }
    return this.#extend([leaf], false);
  }

  #step(count = 1): void {
    this.#steps += count;
    if (this.#steps > this.#budget.maxSteps) throw new WorkLimit(`more than ${this.#budget.maxSteps} search steps`);
  }

  #timeValid(c: CertificateFacts): boolean {
    this.#observe(c);
    return c.notBefore <= this.#now && this.#now < c.notAfter;
  }

  #observe(c: CertificateFacts): void {
    const boundary = c.notBefore > this.#now ? c.notBefore : this.#now < c.notAfter ? c.notAfter : Infinity;
    if (boundary < this.stableUntil) this.stableUntil = boundary;
  }

  #timeFailure(c: CertificateFacts, depth: number): Failure | undefined {
    this.#observe(c);
    if (c.notBefore > this.#now) return { code: 'not-yet-valid', reason: 'a certificate is not yet valid', certificate: c, depth };
    if (this.#now >= c.notAfter) return { code: 'expired', reason: 'a certificate has expired', certificate: c, depth };
    return undefined;
  }

  /** Extends `chain` as OpenSSL's build_chain would, along every choice it could make; the first failure ends it. */
  #extend(chain: CertificateFacts[], trusted: boolean): Failure | undefined {
    this.#step();
    const top = chain[chain.length - 1]!;
    const depth = chain.length - 1;
    if (chain.length > this.#maxChainLength) return { code: 'chain-too-long', reason: `a chain longer than ${this.#maxChainLength} certificates`, certificate: top, depth };
    // Trusted first: an issuer from the store is taken whenever the store has one.
    this.#step(this.#anchors.named(top).length);
    const named = this.#anchors.issuersOf(top);
    // A certificate already on the chain is not its issuer again: an anchor certpin reads as invalid is not
    // self-signed to it, and would otherwise be taken for its own issuer until the chain grew too long.
    const fromStore = top.selfSigned ? named : named.filter((c) => !isOn(chain, c));
    if (named.length > 0 && fromStore.length === 0) {
      return top.invalid.length > 0
        ? { code: 'malformed', reason: `a certificate is invalid (${top.invalid[0]})`, certificate: top, depth }
        : { code: 'no-path', reason: 'a trust anchor that names itself as its issuer without being self-signed', certificate: top, depth };
    }
    if (fromStore.length > 0) {
      const current = fromStore.filter((c) => this.#timeValid(c));
      if (current.length === 0) return this.#timeFailure(fromStore[0]!, depth + 1);
      for (const anchor of current) {
        let failure: Failure | undefined;
        if (top.selfSigned) {
          // A self-signed certificate is trusted only as the very certificate of the store (no look-alike).
          if (anchor.sha256 !== top.sha256) return { code: 'no-path', reason: 'a self-signed certificate that is not the trust anchor of that name', certificate: top, depth };
          failure = this.#complete([...chain.slice(0, -1), anchor]);
        } else {
          const next = [...chain, anchor];
          failure = anchor.selfSigned || this.#partialChain ? this.#complete(next) : this.#extend(next, true);
        }
        if (failure) return failure;
      }
      return undefined;
    }
    if (trusted) return { code: 'no-path', reason: 'a certificate of the trust store whose issuer is not in the store', certificate: top, depth };
    if (!top.selfSigned) {
      if (this.#unreadable.some((u) => mayHaveIssued(u, top))) {
        return { code: 'malformed', reason: 'a served certificate certpin cannot read may be the issuer OpenSSL chose', certificate: top, depth };
      }
      this.#step(this.#served.named(top).length);
      const unused = this.#served.issuersOf(top).filter((c) => !isOn(chain, c));
      if (unused.length > 0) {
        const current = unused.filter((c) => this.#timeValid(c));
        if (current.length === 0) return this.#timeFailure(unused[0]!, depth + 1);
        for (const issuer of current) {
          const failure = this.#extend([...chain, issuer], false);
          if (failure) return failure;
        }
        return undefined;
      }
    }
    // Last chance: with partial chains, the leaf itself may be in the store.
    if (this.#partialChain && this.#anchors.has(chain[0]!)) return this.#complete(chain);
    return {
      code: 'no-path',
      reason: top.selfSigned ? 'the chain ends at a self-signed certificate that is not a trust anchor' : 'no issuer found for a certificate: the chain does not reach a trust anchor',
      certificate: top,
      depth,
    };
  }

  #complete(chain: CertificatePath): Failure | undefined {
    if (chain.length > this.#maxChainLength) {
      return { code: 'chain-too-long', reason: `a chain longer than ${this.#maxChainLength} certificates`, certificate: chain[chain.length - 1], depth: chain.length - 1 };
    }
    if (this.paths.length >= this.#budget.maxPaths) throw new WorkLimit(`more than ${this.#budget.maxPaths} alternative chains`);
    const failure = this.#check(chain);
    if (!failure) this.paths.push(Object.freeze([...chain]));
    return failure;
  }

  /**
   * The checks OpenSSL runs on a built chain. One of OpenSSL's is implied here and not repeated: keyUsage
   * keyCertSign on every issuer (internal_verify's check is check_ca's, in caKind).
   */
  #check(chain: CertificatePath): Failure | undefined {
    const n = chain.length;
    let counted = 0;
    for (let i = 0; i < n; i++) {
      const x = chain[i]!;
      if (x.invalid.length > 0) return { code: 'malformed', reason: `a certificate is invalid (${x.invalid[0]})`, certificate: x, depth: i };
      if (x.unhandledCritical.length > 0) return { code: 'critical-extension', reason: `an unhandled critical extension ${x.unhandledCritical[0]}`, certificate: x, depth: i };
      if (x.proxy) return { code: 'purpose', reason: 'a proxy certificate', certificate: x, depth: i };
      if (i > 0) {
        const kind = caKind(x);
        if (kind === 0 || (i + 1 < n && kind !== 1)) return { code: 'not-a-ca', reason: 'an issuer that is not a CA', certificate: x, depth: i };
      }
      if (n > 1 && x.key.explicitCurve) return { code: 'unsupported-algorithm', reason: 'an EC key with explicit curve parameters', certificate: x, depth: i };
      if (!(i === 0 ? leafServesTls(x) : caServesTls(x))) {
        return { code: 'purpose', reason: i === 0 ? 'the leaf is not for TLS servers (extended or key usage)' : 'a CA is not for TLS servers (extended key usage)', certificate: x, depth: i };
      }
      const pathLength = x.basicConstraints?.pathLength;
      if (i > 1 && pathLength !== undefined && counted > pathLength) return { code: 'path-length', reason: 'a path length constraint is exceeded', certificate: x, depth: i };
      if (i > 0 && !x.selfIssued) counted++;
    }
    if (this.#level > 0) {
      const min = MIN_BITS[this.#level]!;
      for (let i = 0; i < n; i++) {
        const x = chain[i]!;
        if (x.key.securityBits < min) return { code: 'weak-key', reason: `a key weaker than security level ${this.#level} allows`, certificate: x, depth: i };
        if (i < n - 1 && x.signatureScheme.securityBits < min) return { code: 'weak-signature', reason: `a signature digest weaker than security level ${this.#level} allows`, certificate: x, depth: i };
      }
    }
    for (let i = 0; i < n; i++) {
      const failure = this.#timeFailure(chain[i]!, i);
      if (failure) return failure;
    }
    for (let i = n - 1; i >= 0; i--) {
      const x = chain[i]!;
      if (i > 0 && x.selfIssued) continue;
      for (let j = n - 1; j > i; j--) {
        const constraints = chain[j]!.nameConstraints;
        if (!constraints) continue;
        if (constraints.emptyList) return { code: 'name-constraints', reason: 'a CA with an empty list of name-constraint subtrees', certificate: chain[j], depth: j };
        // Names of x (its subject, each subject attribute, each SAN) × subtrees.
        this.#nameChecks += (1 + x.subject.attributes.length + (x.subjectAltNames?.length ?? 0)) * (constraints.permitted.length + constraints.excluded.length);
        if (this.#nameChecks > this.#budget.maxNameChecks) throw new WorkLimit(`more than ${this.#budget.maxNameChecks} name-constraint comparisons`);
        const failure = checkNameConstraints(x, constraints, i === 0);
        if (failure) return { code: 'name-constraints', reason: `a name constraint fails (${failure})`, certificate: x, depth: i };
      }
    }
    for (let i = n - 2; i >= 0; i--) {
      const subject = chain[i]!;
      const issuer = chain[i + 1]!;
      if (!subject.signatureScheme.supported) return { code: 'unsupported-algorithm', reason: 'a signature algorithm certpin does not verify', certificate: subject, depth: i };
      if (!signatureVerifies(subject, issuer, this.#signatures)) return { code: 'signature', reason: 'a signature does not verify', certificate: subject, depth: i };
    }
    return undefined;
  }
}

/** Whether `certificate` is already on `chain`: it is never taken again as an issuer (a path does not loop). */
function isOn(chain: readonly CertificateFacts[], certificate: CertificateFacts): boolean {
  return chain.some((onChain) => onChain.sha256 === certificate.sha256);
}

/**
 * Whether OpenSSL may take an unreadable certificate as the issuer of `subject`: its name is `subject`'s issuer name
 * (or unknown), and its key identifier does not contradict `subject`'s authority key identifier (X509_check_akid).
 */
function mayHaveIssued(unreadable: UnreadableCertificate, subject: CertificateFacts): boolean {
  if (unreadable.name !== undefined && unreadable.name !== subject.issuer.key) return false;
  return keyIdentifiersAgree(subject.authorityKeyId?.keyIdentifier, unreadable.keyId);
}
