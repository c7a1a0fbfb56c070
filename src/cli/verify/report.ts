/**
 * What `certpin verify` found, as data: the JSON it prints with `--json`, and what the text, table, HTML and SVG
 * renderers draw. One shape for all of them, so that the page a team looks at and the JSON its CI parses never
 * disagree.
 * @module
 */
import type { FailureKind } from '../explain.js';

/** `ok`: clients connect and nothing is due soon; `warning`: they connect, something needs doing; `failure`: they would not connect. */
export type HostStatus = 'ok' | 'warning' | 'failure';

/** A certificate of a host's chain, for the timeline. */
export interface ReportCertificate {
  readonly subject: string;
  readonly issuer: string;
  /** `leaf`, `intermediate` or `root` (self-signed). */
  readonly role: 'leaf' | 'intermediate' | 'root';
  /** ISO 8601. */
  readonly notBefore: string;
  /** ISO 8601. */
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly spkiPin: string;
  /** Sent by the server, or taken from the trust store to complete the verified path. */
  readonly source: 'served' | 'trust-store';
  /** A pin of the host's pin set matches this certificate. */
  readonly pinned: boolean;
  /** On the path certpin verified (false for what an unverifiable server sent). */
  readonly onVerifiedPath: boolean;
}

/** One host's result. */
export interface HostReport {
  readonly host: string;
  /** The pin set's pattern (`defaultPins` for the default pin set). */
  readonly pattern: string;
  /** `host:port` connected to. */
  readonly address: string;
  status: HostStatus;
  /** Whether clients with this policy would connect today. */
  readonly connects: boolean;
  /** The pin decision's outcome (`matched`, `mismatch`, …), `null` when the handshake stopped before it. */
  readonly outcome: string | null;
  /** One sentence: what clients experience. */
  reason: string;
  /** Why the connection failed, when it did. */
  failure: { readonly kind: FailureKind; readonly code: string | null } | null;
  /** The pin set's pins, in its order. */
  readonly pins: readonly string[];
  readonly matchedPins: { pin: string; subject: string; daysLeft: number; position: 'leaf' | 'ca' }[];
  leafDaysLeft: number | null;
  /** Spare pins: on no certificate of the chain, and not taken for a retired key. */
  backupPins: string[];
  /** Pins on no certificate of the chain, listed before the pin the leaf now carries: keys rotated out. */
  retiredPins: string[];
  /** The pin the leaf carries when it was listed as a backup (after a pin that is no longer served): the spare is in use. */
  backupInUse: string | null;
  /** The pin set's `expires`, ISO 8601. */
  readonly pinSetExpires: string | null;
  /** The `exp` of the signed pin-set document the pin set came from, once policies carry one. */
  readonly pinSetDocumentExpires: string | null;
  /** When clients would first be refused if nothing changes: now for a failure, else the first expiry on the path. */
  breaksAt: string | null;
  /** What happens then, in a few words. */
  breaksBecause: string | null;
  /** The verified path, leaf first; without one, what the server sent. */
  certificates: ReportCertificate[];
  /** What the server sent, in its order. */
  served: { spkiPin: string; subject: string }[];
  warnings: string[];
}

/** A pattern that names no server to connect to. */
export interface SkippedPattern {
  readonly pattern: string;
  readonly reason: string;
}

/** The whole run. */
export interface VerifyReport {
  readonly policy: string;
  /** ISO 8601: "today" of the report. */
  readonly checkedAt: string;
  /** Wall-clock time of the checks, in milliseconds. */
  readonly durationMs: number;
  readonly warnDays: number;
  readonly failOn: 'failure' | 'warning';
  readonly exitCode: 0 | 1;
  /** `--production`: whether it was asked, and what it found. */
  readonly production: { readonly checked: boolean; readonly developmentOverrides: boolean };
  readonly summary: { hosts: number; ok: number; warnings: number; failures: number; skipped: number };
  readonly hosts: readonly HostReport[];
  readonly skipped: readonly SkippedPattern[];
  readonly policyWarnings: readonly { code: string; message: string; pattern?: string }[];
  /** Failures of the policy itself (`--production` and development overrides), besides the hosts'. */
  readonly policyFailures: readonly string[];
}

const STATUS_RANK: Record<HostStatus, number> = { failure: 0, warning: 1, ok: 2 };

/**
 * Hosts in "breaks first" order: failing hosts, then by the date clients would first be refused, then warnings
 * before ok, then by name. The order the report page opens in, and `--sort breaks`.
 */
export function sortBreaksFirst(hosts: readonly HostReport[]): HostReport[] {
  return [...hosts].sort(
    (a, b) =>
      Number(b.status === 'failure') - Number(a.status === 'failure') ||
      breakTime(a) - breakTime(b) ||
      STATUS_RANK[a.status] - STATUS_RANK[b.status] ||
      byName(a, b),
  );
}

/** Hosts sorted by name. */
export function sortByHost(hosts: readonly HostReport[]): HostReport[] {
  return [...hosts].sort(byName);
}

// By code units, not locale: the report page's script sorts the same way, and host names are ASCII.
function byName(a: HostReport, b: HostReport): number {
  return a.host < b.host ? -1 : a.host > b.host ? 1 : 0;
}

/** The rank of a status for sorting: failure 0, warning 1, ok 2. */
export function statusRank(status: HostStatus): number {
  return STATUS_RANK[status];
}

/** A host's break time in milliseconds (`+Infinity` when nothing is known to break). */
export function breakTime(host: HostReport): number {
  return host.breaksAt ? Date.parse(host.breaksAt) : Number.POSITIVE_INFINITY;
}
