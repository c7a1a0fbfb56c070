/**
 * The bridge between Node's TLS handshake and the pure decision: a `checkServerIdentity` function that Node calls
 * after OpenSSL has validated the chain and before `secureConnect`, so before any byte of a request leaves.
 * It checks the host name first (Node's own check), then the pins, and fails closed on any exception.
 * @module
 */
import tls from 'node:tls';
import { PinCheckFailedError } from '../errors.js';
import { decide } from '../core/decision.js';
import type { PinDecision } from '../core/decision.js';
import type { PinPolicy } from '../core/policy.js';

/** The signature of `tls.ConnectionOptions.checkServerIdentity`. */
export type CheckServerIdentity = (hostname: string, certificate: tls.PeerCertificate) => Error | undefined;

/** Receives every pin decision a check makes (used by `checkConnection` and the CLI to show what matched). */
export type DecisionObserver = (decision: PinDecision) => void;

/**
 * Makes the `checkServerIdentity` function that enforces `policy`.
 * @param extraIdentityCheck a caller's own `checkServerIdentity`, run after Node's host-name check and before pins;
 *   it can add refusals, never remove one.
 */
export function createPinCheck(policy: PinPolicy, extraIdentityCheck?: CheckServerIdentity, observe?: DecisionObserver): CheckServerIdentity {
  // A plain function, not an arrow: Node calls it as a method of the connection's options, which carry the port and
  // the host actually dialled (which a Host header or `servername` may make differ from `hostname`).
  return function checkPinnedServerIdentity(this: { port?: unknown; host?: unknown } | undefined, hostname: string, certificate: tls.PeerCertificate) {
    try {
      const identityError = tls.checkServerIdentity(hostname, certificate);
      if (identityError) return identityError;
      const extraError = extraIdentityCheck?.(hostname, certificate);
      if (extraError) return extraError;
      const port = typeof this?.port === 'number' ? this.port : typeof this?.port === 'string' ? Number(this.port) || undefined : undefined;
      const connectHost = typeof this?.host === 'string' ? this.host : undefined;
      const decision = decide(policy, { host: hostname, connectHost, port, chain: peerChainDer(certificate as tls.DetailedPeerCertificate) });
      observe?.(decision);
      if ('report' in decision) policy.report(decision.report);
      return decision.allowed ? undefined : decision.error;
    } catch (error) {
      return new PinCheckFailedError(hostname, error);
    }
  };
}

/**
 * The DER of every certificate Node linked from the leaf (`getPeerCertificate(true)`): candidates for path
 * building only, since Node links them by name, not by signature.
 */
export function peerChainDer(leaf: tls.DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<object>();
  for (let current: tls.DetailedPeerCertificate | undefined = leaf; current && !seen.has(current); current = current.issuerCertificate) {
    seen.add(current);
    if (!Buffer.isBuffer(current.raw)) throw new Error('a certificate of the handshake has no DER');
    chain.push(current.raw);
  }
  return chain;
}
