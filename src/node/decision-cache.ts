/**
 * Pin decisions already made, for the handshakes that repeat them. A client meets the same few chains again and
 * again; a handshake with the same policy, port, names and linked chain (each certificate known by the SHA-256 Node
 * computed for it) gets the same decision without validating the path again, for as long as that decision holds:
 * until a certificate it looked at changes validity, or a pin set it applied expires. Only decisions that let a
 * connection through without a report are kept; each refusal and each report is decided afresh.
 *
 * Entries are found by the leaf's fingerprint and compared field by field, so that a lookup builds no key string:
 * it runs inside every handshake.
 * @module
 */
import type tls from 'node:tls';
import type { PinDecision } from '../core/decision.js';
import type { PinPolicy } from '../core/policy.js';

/** Decisions kept per policy; the oldest leaf's go first. */
const LIMIT = 1024;
/** Node ends the chain it links at a certificate that is its own issuer; a longer chain is not kept. */
const MAX_DEPTH = 16;

/** What a handshake that repeats a decision gets back. */
export interface CachedDecision {
  readonly decision: PinDecision;
  /** The latest a session of this decision may be resumed (the certificates' end, the pin set's expiry). */
  readonly sessionCap: number;
}

interface Entry extends CachedDecision {
  /**
   * The policy's time when the decision was made. The validator reports only the next validity boundary; one passed
   * by a clock going back (before a certificate's notBefore) is not known, so an earlier time decides afresh.
   */
  readonly decidedAt: number;
  readonly port: number | undefined;
  /** The name Node checked the certificate for, then the connection's other names, as the check received them. */
  readonly names: readonly string[];
  /** Fingerprints of the certificates Node linked above the leaf, in order. */
  readonly issuers: readonly string[];
}

const caches = new WeakMap<PinPolicy, { byLeaf: Map<string, Entry[]>; size: number }>();

/** The decision made before for this very handshake, if it still holds at the policy's `now` (never earlier than when it was made). */
export function cachedDecision(
  policy: PinPolicy,
  port: number | undefined,
  hostname: string,
  names: readonly (string | undefined)[],
  leaf: tls.DetailedPeerCertificate,
): CachedDecision | undefined {
  const cache = caches.get(policy);
  if (!cache) return undefined;
  const entries = cache.byLeaf.get(leaf.fingerprint256);
  if (!entries) return undefined;
  // Indexed loops throughout: this runs once per handshake, mostly before the JIT has optimised it, where for-of's
  // iterator protocol costs more than the comparisons.
  for (let e = 0; e < entries.length; e++) {
    const entry = entries[e]!;
    if (entry.port === port && sameNames(entry.names, hostname, names) && sameIssuers(entry.issuers, leaf)) {
      const now = policy.now();
      return now >= entry.decidedAt && now < entry.decision.validUntil ? entry : undefined;
    }
  }
  return undefined;
}

/** Keeps an allowed decision without reports, made on the certificates Node linked from `leaf` (and on nothing else). */
export function rememberDecision(
  policy: PinPolicy,
  port: number | undefined,
  hostname: string,
  names: readonly (string | undefined)[],
  leaf: tls.DetailedPeerCertificate,
  made: CachedDecision,
): void {
  const decidedAt = policy.now();
  if (!made.decision.allowed || made.decision.reports.length > 0 || !(made.decision.validUntil > decidedAt)) return;
  const issuers = issuerFingerprints(leaf);
  if (!issuers || !validFingerprint(leaf.fingerprint256)) return;
  let cache = caches.get(policy);
  if (!cache) caches.set(policy, (cache = { byLeaf: new Map(), size: 0 }));
  const entry: Entry = {
    decision: Object.freeze(made.decision),
    sessionCap: made.sessionCap,
    decidedAt,
    port,
    names: [hostname, ...names.filter((n): n is string => typeof n === 'string' && n !== '')],
    issuers,
  };
  const entries = cache.byLeaf.get(leaf.fingerprint256) ?? [];
  // Replace an expired decision for the same handshake rather than keep both.
  const same = entries.findIndex((e) => e.port === port && sameNames(e.names, hostname, names) && sameIssuers(e.issuers, leaf));
  if (same !== -1) {
    entries[same] = entry;
    return;
  }
  while (cache.size >= LIMIT) {
    const [oldest, dropped] = cache.byLeaf.entries().next().value!;
    cache.byLeaf.delete(oldest);
    cache.size -= dropped.length;
  }
  entries.push(entry);
  cache.byLeaf.delete(leaf.fingerprint256);
  cache.byLeaf.set(leaf.fingerprint256, entries);
  cache.size++;
}

/** `hostname`, then the non-empty strings of `names`, exactly as `kept` lists them. */
function sameNames(kept: readonly string[], hostname: string, names: readonly (string | undefined)[]): boolean {
  if (kept[0] !== hostname) return false;
  let i = 1;
  for (let n = 0; n < names.length; n++) {
    const name = names[n];
    if (typeof name !== 'string' || name === '') continue;
    if (kept[i++] !== name) return false;
  }
  return i === kept.length;
}

function sameIssuers(kept: readonly string[], leaf: tls.DetailedPeerCertificate): boolean {
  let current = nextIssuer(leaf);
  for (let k = 0; k < kept.length; k++) {
    if (!current || current.fingerprint256 !== kept[k]) return false;
    current = nextIssuer(current);
  }
  return current === undefined;
}

function issuerFingerprints(leaf: tls.DetailedPeerCertificate): string[] | undefined {
  const issuers: string[] = [];
  for (let current = nextIssuer(leaf); current; current = nextIssuer(current)) {
    if (issuers.length === MAX_DEPTH || !validFingerprint(current.fingerprint256)) return undefined;
    issuers.push(current.fingerprint256);
  }
  return issuers;
}

function nextIssuer(certificate: tls.DetailedPeerCertificate): tls.DetailedPeerCertificate | undefined {
  const issuer = certificate.issuerCertificate as tls.DetailedPeerCertificate | undefined;
  return issuer === certificate ? undefined : issuer;
}

function validFingerprint(fingerprint: unknown): fingerprint is string {
  return typeof fingerprint === 'string' && fingerprint.length === 95;
}
