/**
 * Pin failure reports, in the shape of RFC 7469 section 3 (HPKP reporting), plus what certpin adds: the outcome,
 * whether the failure was enforced, and the policy's source. A report never carries the request's path, query,
 * headers or body: the check happens before any of them exist.
 * @module
 */
import type { ChainCertificate } from './chain.js';
import type { HostRule } from './policy.js';

/** Why a report was made. */
export type PinReportOutcome = 'pin-mismatch' | 'chain-unverified' | 'host-not-pinned' | 'check-failed';

/** A pin validation failure report (RFC 7469 field names). */
export interface PinReport {
  readonly 'date-time': string;
  readonly hostname: string;
  readonly port: number | undefined;
  /** The pattern of the pin set that applied (RFC 7469: the host the pins were noted for). */
  readonly 'noted-hostname': string | undefined;
  readonly 'include-subdomains': boolean;
  readonly 'effective-expiration-date': string | undefined;
  /** PEM, leaf first, as the server sent it. */
  readonly 'served-certificate-chain': readonly string[];
  /** PEM, leaf first: the path certpin verified (empty when none could be). */
  readonly 'validated-certificate-chain': readonly string[];
  /** The pins of the pin set, `pin-sha256="…"` for key pins, canonical text for certificate pins. */
  readonly 'known-pins': readonly string[];
  readonly outcome: PinReportOutcome;
  /** False in report-only mode: the connection went ahead. */
  readonly enforced: boolean;
  readonly 'policy-source': string;
}

/** Builds a report. */
export function buildReport(input: {
  host: string;
  port: number | undefined;
  rule: HostRule | undefined;
  served: readonly ChainCertificate[];
  validated: readonly ChainCertificate[];
  outcome: PinReportOutcome;
  enforced: boolean;
  policySource: string;
  now: number;
}): PinReport {
  const { rule } = input;
  return Object.freeze({
    'date-time': new Date(input.now).toISOString(),
    hostname: input.host,
    port: input.port,
    'noted-hostname': rule?.pattern.text,
    'include-subdomains': rule ? rule.includeSubdomains || rule.pattern.type === 'any-depth' : false,
    'effective-expiration-date': rule?.expires?.toISOString(),
    'served-certificate-chain': input.served.map((c) => c.certificate.toString()),
    'validated-certificate-chain': input.validated.map((c) => c.certificate.toString()),
    'known-pins': rule ? rule.pins.map((p) => (p.kind === 'spki' ? `pin-${p.algorithm}="${p.digest}"` : p.canonical)) : [],
    outcome: input.outcome,
    enforced: input.enforced,
    'policy-source': input.policySource,
  });
}
