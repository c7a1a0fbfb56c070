/**
 * The bridge between Node's TLS handshake and the pure decision: a `checkServerIdentity` function that Node calls
 * after OpenSSL has validated the chain and before `secureConnect`, so before any byte of a request leaves. It checks
 * the host name first (Node's own check), then the caller's check, then the pins, and fails closed on any exception.
 * @module
 */
import type tls from 'node:tls';
import { nodeTls } from '../builtins.js';
import { decide } from '../core/decision.js';
import { newSignatureWork } from '../core/path/index.js';
import type { PinDecision } from '../core/decision.js';
import type { PinPolicy, PolicyHolder } from '../core/policy.js';
import { PinCheckFailedError } from '../errors.js';
import { cachedDecision, rememberDecision } from './decision-cache.js';
import { publishDecision } from './diagnostics.js';
import { deliverReports } from './reporter.js';
import { SESSION_LIFETIME_MS } from './session-cache.js';
import { tlsTrustFor } from './trust-store.js';

/** The signature of `tls.ConnectionOptions.checkServerIdentity`. */
export type CheckServerIdentity = (hostname: string, certificate: tls.PeerCertificate) => Error | undefined;

/** Receives every pin decision a check makes (used by `checkConnection` and the CLI to show what matched). */
export type DecisionObserver = (decision: PinDecision) => void;

/** What one connection's check knows and records. */
export interface PinCheck {
  /** The function to hand to `tls.connect` as `checkServerIdentity`. */
  readonly checkServerIdentity: CheckServerIdentity;
  /** Whether a full handshake passed this check (false until it has). */
  passed(): boolean;
  /** Until when the checked handshake's session may be resumed: set when the check passed. */
  checkedUntil(): number | undefined;
}

/** What {@link createPinCheck} needs besides the policy. */
export interface PinCheckOptions {
  /** Names the connection is for besides the one Node checks the certificate for: the host dialled, the request's Host. */
  readonly names: readonly (string | undefined)[];
  readonly port: number | undefined;
  /** A caller's own `checkServerIdentity`: runs after Node's host-name check and before the pins; it can add refusals, never remove one. */
  readonly callerCheck?: CheckServerIdentity | undefined;
  readonly observe?: DecisionObserver | undefined;
  /**
   * Every certificate the server sent, in its order (see `readServedChain`): asked for only when the certificates
   * Node linked do not satisfy the pins, since a valid path may use a certificate Node's linking dropped.
   */
  readonly readServed?: (() => readonly Buffer[]) | undefined;
}

/**
 * Makes the check for one connection.
 * @param holder the policy, or a dynamic policy: the policy in force when the handshake ends decides, not the one in
 *   force when the connection opened, so that a pin revoked while a handshake is under way is refused by it.
 */
export function createPinCheck(holder: PinPolicy | PolicyHolder, options: PinCheckOptions): PinCheck {
  let passedAt: number | undefined;
  let until: number | undefined;
  const checkServerIdentity: CheckServerIdentity = (hostname, certificate) => {
    try {
      const policy = holder.current();
      const identityError = nodeTls().checkServerIdentity(hostname, certificate);
      if (identityError) return identityError;
      const callerError = options.callerCheck?.(hostname, certificate);
      if (callerError) return callerError;
      const started = performance.now();
      const leaf = certificate as tls.DetailedPeerCertificate;
      let made = cachedDecision(policy, options.port, hostname, options.names, leaf);
      if (!made) {
        const names = [hostname, ...options.names.filter((n): n is string => typeof n === 'string' && n !== '')];
        const anchors = tlsTrustFor(policy).anchors;
        const linked = peerChain(leaf);
        const signatureWork = newSignatureWork();
        let decision = decide(policy, { names, port: options.port, chain: linked.der, fingerprints: linked.fingerprints, signatureWork }, anchors);
        if (decision.allowed && decision.reports.length === 0) {
          made = { decision, sessionCap: sessionCapOf(decision, leaf) };
          rememberDecision(policy, options.port, hostname, options.names, leaf, made);
        } else {
          // A valid path may use a certificate Node's linking dropped. Such a decision is not kept: the cache knows
          // only the linked certificates.
          const extra = options.readServed?.().filter((der) => !linked.der.some((known) => known.equals(der))) ?? [];
          if (extra.length > 0) decision = decide(policy, { names, port: options.port, chain: [...linked.der, ...extra], signatureWork }, anchors);
          made = { decision, sessionCap: sessionCapOf(decision, leaf) };
        }
      }
      const { decision, sessionCap } = made;
      publishDecision(decision, options.port, performance.now() - started);
      options.observe?.(decision);
      if (decision.reports.length) deliverReports(policy, decision.reports);
      if (!decision.allowed) return decision.error;
      passedAt = Date.now();
      until = Math.min(passedAt + SESSION_LIFETIME_MS, sessionCap);
      return undefined;
    } catch (error) {
      return new PinCheckFailedError(hostname, error);
    }
  };
  return { checkServerIdentity, passed: () => passedAt !== undefined, checkedUntil: () => until };
}

/** A session may never be resumed past the certificates' end or the pin set's expiry. */
function sessionCapOf(decision: PinDecision, leaf: tls.PeerCertificate): number {
  let limit = Infinity;
  const leafEnd = Date.parse(leaf.valid_to);
  if (Number.isFinite(leafEnd)) limit = Math.min(limit, leafEnd);
  if ('path' in decision && decision.path) for (const c of decision.path) limit = Math.min(limit, c.notAfter);
  // An expired pin set no longer applies: it does not end the session either.
  if ('rule' in decision && decision.rule.expires && decision.rule.expires.getTime() > Date.now()) limit = Math.min(limit, decision.rule.expires.getTime());
  return limit;
}

/**
 * The DER of every certificate Node linked from the leaf (`getPeerCertificate(true)`), with the SHA-256 fingerprints
 * Node computed for them: candidates for path building only, since Node links them by name, not by signature.
 */
export function peerChain(leaf: tls.DetailedPeerCertificate): { der: Buffer[]; fingerprints: string[] } {
  const der: Buffer[] = [];
  const fingerprints: string[] = [];
  const seen = new Set<object>();
  for (let current: tls.DetailedPeerCertificate | undefined = leaf; current && !seen.has(current); current = current.issuerCertificate) {
    seen.add(current);
    if (!Buffer.isBuffer(current.raw)) throw new Error('a certificate of the handshake has no DER');
    der.push(current.raw);
    fingerprints.push(current.fingerprint256);
  }
  return { der, fingerprints };
}
