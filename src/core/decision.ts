/**
 * The pin decision: given a policy, the host connected to and the certificates the handshake produced, whether the
 * connection may go ahead. Pure: no sockets, no I/O, so every case is testable with certificates alone.
 * @module
 */
import { ChainVerificationError, PinningError, UnpinnedHostError } from '../errors.js';
import type { ChainEntry } from '../errors.js';
import { formatDigest, formatName } from './certificate.js';
import { chainCertificate, verifyChain } from './chain.js';
import type { ChainCertificate, VerifiedPath } from './chain.js';
import { isIpLiteral, normalizeHost } from './hostname.js';
import { pinMatches } from './pin.js';
import type { Pin } from './pin.js';
import type { HostRule, PinPolicy } from './policy.js';
import { buildReport } from './report.js';
import type { PinReport } from './report.js';

/** What the handshake handed over: the host and port connected to, the leaf and every certificate the server sent. */
export interface HandshakeCertificates {
  /** The name the certificate was validated for (SNI), or the IP literal connected to. */
  readonly host: string;
  /**
   * The host name dialled, when it differs from `host` (a Host header or `servername` option that names another
   * host). Its pin set applies too: pins follow the host actually connected to, not only the name the server was
   * asked to prove. An IP literal dialled with a server name is only an address and adds no pin set.
   */
  readonly connectHost?: string;
  readonly port: number | undefined;
  /** DER of the leaf, then of every other certificate available from the handshake, in any order. */
  readonly chain: readonly Uint8Array[];
}

/** The outcome of a pin check. `allowed` says whether the connection may proceed. */
export type PinDecision =
  | { readonly outcome: 'not-pinned'; readonly allowed: true; readonly host: string }
  | { readonly outcome: 'refused-not-pinned'; readonly allowed: false; readonly host: string; readonly error: Error }
  | { readonly outcome: 'pin-set-expired'; readonly allowed: true; readonly host: string; readonly rule: HostRule }
  | {
      readonly outcome: 'matched';
      readonly allowed: true;
      readonly host: string;
      readonly rule: HostRule;
      readonly matchedPin: Pin;
      readonly matchedCertificate: ChainCertificate;
      readonly path: VerifiedPath;
    }
  | {
      readonly outcome: 'mismatch' | 'chain-unverified';
      /** True only in report-only mode. */
      readonly allowed: boolean;
      readonly host: string;
      readonly rule: HostRule;
      readonly path: VerifiedPath | undefined;
      readonly error: Error;
      readonly report: PinReport;
    };

/**
 * Decides whether a handshake satisfies the policy. Never consults anything the server could forge: pins are matched
 * only on certificates of a path verified by {@link verifyChain} against the policy's trust anchors.
 * @throws only for a programming error or an unparseable certificate; callers must treat a throw as a refusal.
 */
export function decide(policy: PinPolicy, handshake: HandshakeCertificates): PinDecision {
  // Parsed (or fetched from the cache) at most once per handshake, and only when a pin set applies.
  let served: ChainCertificate[] | undefined;
  const servedChain = (): ChainCertificate[] => (served ??= handshake.chain.map(chainCertificate));
  const identity = decideForHost(policy, handshake.host, handshake.port, servedChain);
  const dialled = handshake.connectHost === undefined ? undefined : normalizeHost(handshake.connectHost);
  if (!dialled || isIpLiteral(dialled) || dialled === identity.host) return identity;
  const connected = decideForHost(policy, dialled, handshake.port, servedChain);
  // Both names must pass; when both do, the one whose pin set applied says more.
  if (!identity.allowed) return identity;
  if (!connected.allowed) return connected;
  return identity.outcome === 'not-pinned' ? connected : identity;
}

function decideForHost(policy: PinPolicy, hostInput: string, port: number | undefined, servedChain: () => ChainCertificate[]): PinDecision {
  const host = normalizeHost(hostInput) ?? hostInput;
  const rule = policy.ruleFor(host);
  if (!rule) {
    if (policy.onlyPinnedHosts) return { outcome: 'refused-not-pinned', allowed: false, host, error: new UnpinnedHostError(host, policy.source) };
    return { outcome: 'not-pinned', allowed: true, host };
  }
  const now = policy.now();
  if (rule.expires && now >= rule.expires.getTime()) return { outcome: 'pin-set-expired', allowed: true, host, rule };

  const served = servedChain();
  const [leaf, ...others] = served;
  if (!leaf) throw new Error('the handshake produced no certificate');
  const verification = verifyChain(leaf, others, policy.trustAnchors, now);
  const base = { host, rule, allowed: rule.reportOnly } as const;
  if (!verification.verified) {
    return {
      ...base,
      outcome: 'chain-unverified',
      path: undefined,
      error: new ChainVerificationError(host, verification.reason),
      report: buildReport({ host, port, rule, served, validated: [], outcome: 'chain-unverified', enforced: !rule.reportOnly, policySource: policy.source, now }),
    };
  }
  for (const path of verification.paths) {
    for (const certificate of path) {
      const matchedPin = rule.pins.find((pin) => pinMatches(pin, certificate.digests));
      if (matchedPin) return { outcome: 'matched', allowed: true, host, rule, matchedPin, matchedCertificate: certificate, path };
    }
  }
  const path = verification.paths[0]!;
  return {
    ...base,
    outcome: 'mismatch',
    path,
    error: new PinningError({
      host,
      port,
      chain: chainEntries(path),
      expectedPins: rule.pins.map((p) => p.canonical),
      pattern: rule.pattern.text,
      policySource: policy.source,
      expires: rule.expires,
    }),
    report: buildReport({ host, port, rule, served, validated: path, outcome: 'pin-mismatch', enforced: !rule.reportOnly, policySource: policy.source, now }),
  };
}

/** The certificates of a path as error messages and reports list them. */
export function chainEntries(path: readonly ChainCertificate[]): ChainEntry[] {
  return path.map((c) => ({
    spkiPin: `sha256/${c.digests.spkiSha256}`,
    sha256: formatDigest(Buffer.from(c.digests.certSha256, 'base64'), 'colon'),
    subject: formatName(c.certificate.subject),
    issuer: formatName(c.certificate.issuer),
    validTo: new Date(c.notAfter).toISOString(),
  }));
}
