/**
 * Verified chains. Pins are matched only against certificates on a path that certpin verified itself: each
 * certificate's signature checked with its issuer's key, each issuer a CA allowed to sign (basicConstraints,
 * path length, keyUsage), every certificate inside its validity period, ending at a trust anchor.
 *
 * Node's `getPeerCertificate(true)` links certificates by name and key identifier without checking signatures and
 * appends a root from the store; it is the list of candidates here, never proof.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { issuerConstraints, spkiDer } from './certificate.js';
import type { IssuerConstraints } from './certificate.js';
import { certificateDigests } from './pin.js';
import type { CertificateDigests } from './pin.js';
import type { TrustAnchors } from './trust.js';

/** A certificate with what the checks need, computed once. */
export interface ChainCertificate {
  readonly certificate: X509Certificate;
  readonly digests: CertificateDigests;
  readonly notBefore: number;
  readonly notAfter: number;
  /** `undefined` when the extensions do not parse: such a certificate may never act as an issuer. */
  readonly constraints: IssuerConstraints | undefined;
}

/** A verified path: leaf first, trust anchor last. */
export type VerifiedPath = readonly ChainCertificate[];

/** The outcome of path verification. */
export type ChainVerification =
  | { readonly verified: true; readonly paths: readonly VerifiedPath[] }
  | { readonly verified: false; readonly reason: string; readonly leaf: ChainCertificate };

const MAX_DEPTH = 8;
const MAX_PATHS = 8;
const MAX_CANDIDATES = 32;
const CACHE_LIMIT = 2048;
const factsCache = new Map<string, ChainCertificate>();
const verifiedCache = new WeakMap<TrustAnchors, Map<string, { result: ChainVerification; from: number; until: number }>>();

/**
 * Parses a DER certificate and computes its digests, with a bounded cache keyed by the DER itself, so that a
 * server's chain is parsed and hashed once per process rather than once per handshake.
 * @throws when the DER is not a certificate.
 */
export function chainCertificate(der: Uint8Array): ChainCertificate {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
  const cached = factsCache.get(key);
  if (cached) return cached;
  const certificate = new X509Certificate(der);
  let constraints: IssuerConstraints | undefined;
  try {
    constraints = issuerConstraints(certificate);
  } catch {
    constraints = undefined;
  }
  const facts: ChainCertificate = Object.freeze({
    certificate,
    digests: certificateDigests(certificate.raw, spkiDer(certificate)),
    notBefore: Date.parse(certificate.validFrom),
    notAfter: Date.parse(certificate.validTo),
    constraints,
  });
  if (factsCache.size >= CACHE_LIMIT) factsCache.delete(factsCache.keys().next().value!);
  factsCache.set(key, facts);
  return facts;
}

/**
 * Builds every verified path (up to a small bound) from `leaf` to an anchor, using `presented` (what the server
 * sent, in any order, possibly with junk) and the anchors' own certificates as candidate issuers.
 *
 * @param leaf the leaf's DER, or its {@link chainCertificate} facts when the caller already has them.
 * @param now milliseconds since the epoch; validity is checked at this time.
 * @throws when a DER input is not a certificate.
 */
export function verifyChain(
  leaf: Uint8Array | ChainCertificate,
  presented: readonly (Uint8Array | ChainCertificate)[],
  anchors: TrustAnchors,
  now: number,
): ChainVerification {
  const leafFacts = factsOf(leaf);
  return verifyFacts(leafFacts, presented.slice(0, MAX_CANDIDATES).map(factsOf), anchors, now);
}

function factsOf(input: Uint8Array | ChainCertificate): ChainCertificate {
  return input instanceof Uint8Array ? chainCertificate(input) : input;
}

function verifyFacts(leaf: ChainCertificate, presented: readonly ChainCertificate[], anchors: TrustAnchors, now: number): ChainVerification {
  // A verified result holds while every certificate on its paths is valid, so repeat handshakes with the same
  // chain skip the signature checks.
  const cacheKey = [leaf, ...presented].map((c) => c.digests.certSha256).join(',');
  let cache = verifiedCache.get(anchors);
  const hit = cache?.get(cacheKey);
  if (hit && hit.from <= now && now <= hit.until) return hit.result;
  const result = buildPaths(leaf, presented, anchors, now);
  if (result.verified) {
    const all = result.paths.flat();
    if (!cache) verifiedCache.set(anchors, (cache = new Map()));
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(cacheKey, { result, from: Math.max(...all.map((c) => c.notBefore)), until: Math.min(...all.map((c) => c.notAfter)) });
  }
  return result;
}

function buildPaths(leaf: ChainCertificate, presented: readonly ChainCertificate[], anchors: TrustAnchors, now: number): ChainVerification {
  if (!withinValidity(leaf, now)) return { verified: false, reason: 'the leaf certificate is outside its validity period', leaf };
  const anchorFacts = new Map<X509Certificate, ChainCertificate>();
  const paths: VerifiedPath[] = [];

  const extend = (path: ChainCertificate[]): void => {
    if (paths.length >= MAX_PATHS) return;
    const current = path[path.length - 1]!;
    if (anchors.isAnchor(current.certificate, current.digests.spkiSha256)) {
      paths.push(Object.freeze([...path]));
      return;
    }
    if (path.length >= MAX_DEPTH) return;
    const candidates: ChainCertificate[] = presented.filter((c) => c.certificate.subject === current.certificate.issuer);
    for (const anchor of anchors.withSubject(current.certificate.issuer)) {
      let facts = anchorFacts.get(anchor);
      if (!facts) {
        facts = chainCertificate(anchor.raw);
        anchorFacts.set(anchor, facts);
      }
      candidates.push(facts);
    }
    for (const issuer of candidates) {
      if (path.some((c) => c.digests.certSha256 === issuer.digests.certSha256)) continue;
      if (!mayIssue(issuer, path, now)) continue;
      if (!signed(current, issuer)) continue;
      path.push(issuer);
      extend(path);
      path.pop();
    }
  };
  extend([leaf]);
  if (paths.length === 0) {
    return { verified: false, reason: 'no path from the leaf to a trust anchor of the policy has valid signatures, CA issuers and validity', leaf };
  }
  return { verified: true, paths };
}

function withinValidity(c: ChainCertificate, now: number): boolean {
  return Number.isFinite(c.notBefore) && Number.isFinite(c.notAfter) && c.notBefore <= now && now <= c.notAfter;
}

/**
 * Whether `issuer` may sign the last certificate of `path`: a CA (basicConstraints cA), allowed to sign
 * certificates (keyUsage, when present), within its path length (counting the intermediate CAs below it,
 * self-issued ones excepted as RFC 5280 says), and valid now.
 */
function mayIssue(issuer: ChainCertificate, path: readonly ChainCertificate[], now: number): boolean {
  const constraints = issuer.constraints;
  if (!constraints || !constraints.ca || constraints.keyCertSign === false) return false;
  if (!withinValidity(issuer, now)) return false;
  if (constraints.pathLength !== undefined) {
    const intermediatesBelow = path.slice(1).filter((c) => c.certificate.subject !== c.certificate.issuer).length;
    if (intermediatesBelow > constraints.pathLength) return false;
  }
  return true;
}

function signed(subject: ChainCertificate, issuer: ChainCertificate): boolean {
  try {
    return subject.certificate.checkIssued(issuer.certificate) && subject.certificate.verify(issuer.certificate.publicKey);
  } catch {
    return false;
  }
}
