/**
 * certpin's events on `node:diagnostics_channel`, in the idiom of undici and Node's own http: subscribe to a channel
 * by name and receive a message object. Publishing costs nothing when no one listens (one property read).
 *
 * @example
 * ```ts
 * import diagnostics from 'node:diagnostics_channel';
 * import { channels } from 'certpin';
 *
 * diagnostics.subscribe(channels.decision, (message) => {
 *   const { host, outcome, durationMs } = message as { host: string; outcome: string; durationMs: number };
 *   console.log(`pin check ${host}: ${outcome} in ${durationMs.toFixed(2)} ms`);
 * });
 * ```
 * @module
 */
import diagnostics from 'node:diagnostics_channel';
import type { PinDecision } from '../core/decision.js';
import type { PinPolicy } from '../core/policy.js';
import type { PinReport, ReportDelivery } from '../core/report.js';

/** The names of certpin's channels. */
export const channels = {
  /** Every pin decision: {@link DecisionMessage}. */
  decision: 'certpin:decision',
  /** Every failure report and what became of it: {@link ReportMessage}. */
  report: 'certpin:report',
  /** A dynamic policy took new pin sets, refused a document, or fell back: {@link PolicyUpdateMessage}. */
  policyUpdate: 'certpin:policy-update',
} as const;

/** Published on `certpin:decision` for each full handshake that reached the pin check. */
export interface DecisionMessage {
  readonly host: string;
  readonly port: number | undefined;
  readonly outcome: PinDecision['outcome'];
  readonly allowed: boolean;
  /** The pattern of the pin set that decided, when one applied. */
  readonly pattern: string | undefined;
  /** The pin that matched, canonical, when one did. */
  readonly matchedPin: string | undefined;
  /** Time the decision took, in milliseconds. */
  readonly durationMs: number;
}

/** Published on `certpin:report` when a report's delivery is settled. */
export interface ReportMessage {
  readonly report: PinReport;
  readonly delivery: ReportDelivery;
}

/**
 * Published on `certpin:policy-update` by a dynamic policy (and given to its `onEvent`):
 * - `updated`: a new document's pin sets are in force; `unchanged`: the document fetched is the one in force;
 * - `refused`: a document was refused (`code` says why, as a `PinSetRefusal` word); the pin sets in force stay;
 * - `unavailable`: the document could not be fetched (network, HTTP status); the pin sets in force stay;
 * - `fallback`: the document in force expired; the built-in (bootstrap) policy applies again.
 */
export interface PolicyUpdateMessage {
  readonly event: 'updated' | 'refused' | 'fallback' | 'unchanged' | 'unavailable';
  /** The policy in force after the event. */
  readonly policy: PinPolicy;
  /** Why a document was refused or could not be fetched, or why the policy fell back. */
  readonly reason?: string;
  /** For `refused`: the stable reason word (`rollback`, `signature`, `weakening`, …). */
  readonly code?: string;
  /** For `refused`: the `PinSetDocumentError` (code `ERR_CERTPIN_PINSET_INVALID`). */
  readonly error?: Error;
  /** The `seq` of the document concerned, when it is known. */
  readonly sequence?: number;
}

const decisionChannel = diagnostics.channel(channels.decision);
const reportChannel = diagnostics.channel(channels.report);
const policyChannel = diagnostics.channel(channels.policyUpdate);

/** Publishes a decision, only when someone listens. */
export function publishDecision(decision: PinDecision, port: number | undefined, durationMs: number): void {
  if (!decisionChannel.hasSubscribers) return;
  const message: DecisionMessage = {
    host: decision.host,
    port,
    outcome: decision.outcome,
    allowed: decision.allowed,
    pattern: 'rule' in decision ? decision.rule.pattern.text : undefined,
    matchedPin: decision.outcome === 'matched' ? decision.matchedPin.canonical : undefined,
    durationMs,
  };
  decisionChannel.publish(message);
}

/** Publishes a settled report. */
export function publishReport(report: PinReport, delivery: ReportDelivery): void {
  if (reportChannel.hasSubscribers) reportChannel.publish({ report, delivery } satisfies ReportMessage);
}

/** Publishes a dynamic policy event. */
export function publishPolicyUpdate(message: PolicyUpdateMessage): void {
  if (policyChannel.hasSubscribers) policyChannel.publish(message);
}
