/**
 * Pin failure reports, in the shape of RFC 7469 section 3 (HPKP reporting), plus what certpin adds: its version,
 * whether the failure was enforced, the reason, and where the pin set came from. A report never carries the
 * request's path, query, headers or body: the check happens in the handshake, before any of them exist.
 * @module
 */
import { CERTPIN_VERSION } from '../version.js';
import type { HostRule, PinPolicy } from './policy.js';

/** Why a report was made. */
export type PinReportReason = 'pin-mismatch' | 'chain-unverified' | 'host-not-pinned' | 'check-failed' | 'development-override';

/** What became of a report: posted, left out as a repeat, skipped (no URI, or a URI the failing policy covers), dropped (queue full), or failed to post. */
export type ReportDelivery = 'sent' | 'deduplicated' | 'skipped' | 'dropped' | 'failed';

/** A pin validation failure report (RFC 7469 field names, then certpin's). */
export interface PinReport {
  readonly 'date-time': string;
  readonly hostname: string;
  readonly port: number | undefined;
  readonly 'effective-expiration-date': string | undefined;
  readonly 'include-subdomains': boolean;
  /** The pattern of the pin set that applied (RFC 7469: the host the pins were noted for). */
  readonly 'noted-hostname': string | undefined;
  /** PEM, leaf first, as the server sent it. */
  readonly 'served-certificate-chain': readonly string[];
  /** PEM, leaf first: the path certpin verified (empty when none could be). */
  readonly 'validated-certificate-chain': readonly string[];
  /** The pins of the pin set: `pin-sha256="…"` for key pins, canonical text for certificate pins. */
  readonly 'known-pins': readonly string[];
  readonly 'certpin-version': string;
  /** False in report-only mode and for development overrides: the connection went ahead. */
  readonly enforce: boolean;
  readonly reason: PinReportReason;
  /** Where the policy came from: a file, `inline`, or a dynamic pin-set document. */
  readonly 'policy-source': string;
  /** The `seq` of the signed pin-set document in force, when pins are dynamic. */
  readonly 'pin-set-sequence'?: number;
}

/** Builds a report. Certificates are given as PEM, leaf first. */
export function buildReport(input: {
  policy: PinPolicy;
  host: string;
  port: number | undefined;
  rule: HostRule | undefined;
  served: readonly string[];
  validated: readonly string[];
  reason: PinReportReason;
  enforce: boolean;
  now: number;
}): PinReport {
  const { rule, policy } = input;
  return Object.freeze({
    'date-time': new Date(input.now).toISOString(),
    hostname: input.host,
    port: input.port,
    'effective-expiration-date': rule?.expires?.toISOString(),
    'include-subdomains': rule ? rule.includeSubdomains || rule.pattern.type === 'any-depth' : false,
    'noted-hostname': rule?.pattern.text,
    'served-certificate-chain': Object.freeze([...input.served]),
    'validated-certificate-chain': Object.freeze([...input.validated]),
    'known-pins': Object.freeze(rule ? rule.pins.map((p) => (p.kind === 'spki' ? `pin-${p.algorithm}="${p.digest}"` : p.canonical)) : []),
    'certpin-version': CERTPIN_VERSION,
    enforce: input.enforce,
    reason: input.reason,
    'policy-source': policy.source,
    ...(policy.pinSetSequence === undefined ? {} : { 'pin-set-sequence': policy.pinSetSequence }),
  });
}

/**
 * What makes two reports the same for de-duplication, as TrustKit counts them: host, port, validated chain, known
 * pins and result. (The served chain, the time and the policy's source do not count.)
 */
export function reportIdentity(report: PinReport): string {
  return JSON.stringify([
    report.hostname,
    report.port,
    report['validated-certificate-chain'],
    report['known-pins'],
    report.reason,
    report.enforce,
  ]);
}
