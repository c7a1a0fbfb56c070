/**
 * The pin decision: given a policy, every name a connection is for and the certificates the handshake produced,
 * whether the connection may go ahead. Pure: no sockets, no I/O, so every case is testable with certificates alone.
 * @module
 */
import { ChainVerificationError, PinningError, UnpinnedHostError } from '../errors.js';
import type { ChainEntry } from '../errors.js';
import { formatDigest, formatName, pemOfDer } from './certificate.js';
import { normalizeHost } from './hostname.js';
import { validateServedChain } from './path/index.js';
import type { SignatureWork } from './path/index.js';
import type { TrustAnchorIndex } from './path/index.js';
import { pathCertificate, verifiedPath } from './path-certificate.js';
import type { PathCertificate, VerifiedPath } from './path-certificate.js';
import { pinMatches } from './pin.js';
import type { Pin } from './pin.js';
import type { HostRule, PinPolicy } from './policy.js';
import { buildReport } from './report.js';
import type { PinReport, PinReportReason } from './report.js';
import { certificateFacts } from './x509/index.js';

/** What the handshake handed over. */
export interface Handshake {
  /**
   * Every name the connection is for: the name the certificate was checked for (SNI, or the host when no SNI was
   * sent), the host dialled (a name or an IP literal), the request's Host or `:authority`. Each pin set that covers
   * one of them must be satisfied; repeats are ignored.
   */
  readonly names: readonly string[];
  readonly port: number | undefined;
  /** DER of the leaf, then of every other certificate available from the handshake, in any order. */
  readonly chain: readonly Uint8Array[];
  /**
   * The SHA-256 of each certificate of `chain`, in the same order, when the caller has it (Node's `fingerprint256`):
   * the parsed certificates are then found in cache without hashing their DER again.
   */
  readonly fingerprints?: readonly string[];
  /**
   * The signature budget of the handshake, when it is decided more than once (the chain Node linked, then the chain as
   * served): both decisions draw on it, so that a server cannot double the work by making the first one fail.
   */
  readonly signatureWork?: SignatureWork;
}

/** The trust anchors a decision verifies paths against, as the TLS layer gave them to OpenSSL. */
export interface DecisionAnchors {
  readonly index: TrustAnchorIndex;
  /** OpenSSL's partial-chain mode (Node's `allowPartialTrustChain`): any anchor ends a path, not only a root. */
  readonly partialChain: boolean;
}

/** Fields every decision has. */
interface DecisionBase {
  /** Whether the connection may proceed. */
  readonly allowed: boolean;
  /** The name whose pin set decided (normalised when it could be). */
  readonly host: string;
  /** Reports to deliver: every failure (enforced or report-only) and every development override. */
  readonly reports: readonly PinReport[];
  /**
   * Until when (ms since the epoch, on the policy's clock) the same handshake would get the same decision: the first
   * validity boundary of a certificate the decision looked at, or the expiry of a pin set it applied. Infinity when
   * nothing it depends on changes with time.
   */
  readonly validUntil: number;
}

/** The outcome of a pin check. */
export type PinDecision =
  | (DecisionBase & { readonly outcome: 'not-pinned'; readonly allowed: true })
  | (DecisionBase & { readonly outcome: 'refused-not-pinned'; readonly allowed: false; readonly error: Error })
  | (DecisionBase & { readonly outcome: 'pin-set-expired'; readonly allowed: true; readonly rule: HostRule })
  | (DecisionBase & {
      readonly outcome: 'matched';
      readonly allowed: true;
      readonly rule: HostRule;
      readonly matchedPin: Pin;
      readonly matchedCertificate: PathCertificate;
      readonly path: VerifiedPath;
    })
  | (DecisionBase & {
      /** A chain that ends at a development CA with `overridePins`: accepted without a pin, and reported. */
      readonly outcome: 'development-override';
      readonly allowed: true;
      readonly rule: HostRule;
      readonly path: VerifiedPath;
    })
  | (DecisionBase & {
      readonly outcome: 'mismatch' | 'chain-unverified';
      /** True only in report-only mode. */
      readonly allowed: boolean;
      readonly rule: HostRule;
      readonly path: VerifiedPath | undefined;
      readonly error: Error;
    });

/**
 * Decides whether a handshake satisfies the policy. Never consults anything the server could forge: pins are matched
 * only on certificates of paths that OpenSSL would accept (see `validatePath`), verified against the policy's trust
 * anchors; a chain whose verification would exceed its work budget is refused.
 * @param anchors the trust anchors the TLS layer gave OpenSSL (system roots and `ca`, development CAs included).
 * @throws only for a programming error; callers must treat a throw as a refusal.
 */
export function decide(policy: PinPolicy, handshake: Handshake, anchors: DecisionAnchors): PinDecision {
  const now = policy.now();
  const applicable: { host: string; rule: HostRule }[] = [];
  let expired: { host: string; rule: HostRule } | undefined;
  let firstHost: string | undefined;
  for (const name of handshake.names) {
    const host = normalizeHost(name) ?? name;
    firstHost ??= host;
    const rule = policy.ruleFor(name);
    if (!rule) {
      if (policy.onlyPinnedHosts || policy.refusesUnreadable(name)) {
        return { outcome: 'refused-not-pinned', allowed: false, host, reports: [], validUntil: Infinity, error: new UnpinnedHostError(host, policy.source, normalizeHost(name) === undefined) };
      }
      continue;
    }
    if (rule.expires && now >= rule.expires.getTime()) expired ??= { host, rule };
    else if (!applicable.some((a) => a.rule === rule)) applicable.push({ host, rule });
  }
  if (applicable.length === 0) {
    if (expired) return { outcome: 'pin-set-expired', allowed: true, host: expired.host, rule: expired.rule, reports: [], validUntil: Infinity };
    return { outcome: 'not-pinned', allowed: true, host: firstHost ?? '', reports: [], validUntil: Infinity };
  }

  if (handshake.chain.length === 0) throw new Error('the handshake produced no certificate');
  const validation = validateServedChain(handshake.chain, anchors.index, { now, partialChain: anchors.partialChain, signatureWork: handshake.signatureWork }, handshake.fingerprints);
  const verification = validation.verified ? { verified: true as const, paths: validation.paths.map(verifiedPath) } : validation;
  let validUntil = validation.verified ? validation.stableUntil : now;
  for (const { rule } of applicable) if (rule.expires && rule.expires.getTime() < validUntil) validUntil = rule.expires.getTime();
  const reports: PinReport[] = [];
  const report = (host: string, rule: HostRule, validated: readonly PathCertificate[], reason: PinReportReason, enforce: boolean) => {
    const served = handshake.chain.map((der) => pemOfDer(der));
    reports.push(buildReport({ policy, host, port: handshake.port, rule, served, validated: validated.map((c) => c.certificate.toString()), reason, enforce, now }));
  };

  let refusal: PinDecision | undefined;
  let softFailure: PinDecision | undefined;
  let accepted: PinDecision | undefined;
  for (const { host, rule } of applicable) {
    if (!verification.verified) {
      report(host, rule, [], 'chain-unverified', !rule.reportOnly);
      const decision = { outcome: 'chain-unverified', allowed: rule.reportOnly, host, rule, path: undefined, reports, validUntil, error: new ChainVerificationError(host, verification.reason, verification.code) } as const;
      if (rule.reportOnly) softFailure ??= decision;
      else refusal ??= decision;
      continue;
    }
    const match = matchOnPaths(rule, verification.paths);
    if (match) {
      accepted ??= { outcome: 'matched', allowed: true, host, rule, matchedPin: match.pin, matchedCertificate: match.certificate, path: match.path, reports, validUntil };
      continue;
    }
    const overridden = policy.trust.developmentOverridesPins ? verification.paths.find((path) => endsAtDevelopmentAnchor(policy, path)) : undefined;
    if (overridden) {
      report(host, rule, overridden, 'development-override', false);
      accepted ??= { outcome: 'development-override', allowed: true, host, rule, path: overridden, reports, validUntil };
      continue;
    }
    const path = verification.paths[0]!;
    report(host, rule, path, 'pin-mismatch', !rule.reportOnly);
    const error = new PinningError({
      host,
      port: handshake.port,
      chain: chainEntries(path),
      expectedPins: rule.pins.map((p) => p.canonical),
      pattern: rule.pattern.text,
      policySource: policy.source,
      expires: rule.expires,
    });
    const decision = { outcome: 'mismatch', allowed: rule.reportOnly, host, rule, path, reports, validUntil, error } as const;
    if (rule.reportOnly) softFailure ??= decision;
    else refusal ??= decision;
  }
  return refusal ?? softFailure ?? accepted!;
}

function matchOnPaths(rule: HostRule, paths: readonly VerifiedPath[]): { pin: Pin; certificate: PathCertificate; path: VerifiedPath } | undefined {
  for (const path of paths) {
    // From the top down: a CA's digests are computed once and kept, a new leaf's only when no CA of its path matches.
    for (let i = path.length - 1; i >= 0; i--) {
      const certificate = path[i]!;
      const pin = rule.pins.find((p) => pinMatches(p, certificate.digests));
      if (pin) return { pin, certificate, path };
    }
  }
  return undefined;
}

const developmentDigests = new WeakMap<object, Set<string>>();

function endsAtDevelopmentAnchor(policy: PinPolicy, path: VerifiedPath): boolean {
  let digests = developmentDigests.get(policy.trust);
  if (!digests) {
    digests = new Set(
      policy.trust.developmentAnchors.flatMap((der) => {
        const read = certificateFacts(der);
        return read.ok ? [pathCertificate(read.facts).digests.spkiSha256] : [];
      }),
    );
    developmentDigests.set(policy.trust, digests);
  }
  const anchor = path[path.length - 1];
  return anchor !== undefined && digests.has(anchor.digests.spkiSha256);
}


/** The certificates of a path as error messages and reports list them. */
export function chainEntries(path: readonly PathCertificate[]): ChainEntry[] {
  return path.map((c) => ({
    spkiPin: `sha256/${c.digests.spkiSha256}`,
    sha256: formatDigest(Buffer.from(c.digests.certSha256, 'base64'), 'colon'),
    subject: formatName(c.certificate.subject),
    issuer: formatName(c.certificate.issuer),
    validTo: new Date(c.notAfter).toISOString(),
  }));
}
