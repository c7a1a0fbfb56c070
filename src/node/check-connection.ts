/**
 * `checkConnection`: is the connection to this URL pinned as expected, right now? One handshake, nothing sent, an
 * answer in the vocabulary of Flutter's `http_certificate_pinning` (`CONNECTION_SECURE` / `CONNECTION_NOT_SECURE`).
 * @module
 */
import { describeCertificate } from '../core/certificate.js';
import type { CertificateDetails, CertificateInput } from '../core/certificate.js';
import { formatAuthority, unbracketHost } from '../core/hostname.js';
import { parsePin } from '../core/pin.js';
import { PinPolicy } from '../core/policy.js';
import type { PolicyHolder } from '../core/policy.js';
import { probeServer } from './probe.js';
import type { ServerProbe } from './probe.js';

/** The answer of {@link checkConnection}. */
export interface ConnectionCheck {
  /** `CONNECTION_SECURE` only when the handshake succeeded and the pins (if the host is pinned) matched. */
  readonly status: 'CONNECTION_SECURE' | 'CONNECTION_NOT_SECURE';
  /** One sentence saying why. */
  readonly reason: string;
  /** The certificates the server sent, in its order, leaf first (empty when the handshake never got that far). */
  readonly chain: readonly CertificateDetails[];
  /** The pin that matched, canonical (`sha256/…`), when the host is pinned and a pin matched. */
  readonly matchedPin?: string;
  /** Why the connection is not secure: the error's `code` (`ERR_CERTPIN_PIN_MISMATCH`, `CERT_HAS_EXPIRED`, `ECONNREFUSED`, …). */
  readonly error?: { readonly code: string; readonly message: string };
}

/** Options of {@link checkConnection}. */
export interface CheckConnectionOptions {
  /** Milliseconds for the TCP connection and TLS handshake together. Default 10 000. */
  timeout?: number;
  /**
   * With an array of pins: extra trust anchors besides the system roots (a development or private CA). With a
   * {@link PinPolicy}, not allowed: the policy's own `ca` applies.
   */
  ca?: CertificateInput | readonly CertificateInput[];
}

/**
 * Opens one TLS connection to `url`, sends nothing, and says whether it is secure under the pins. It never throws
 * for a pin mismatch, a bad certificate, a timeout or a network failure: those resolve to `CONNECTION_NOT_SECURE`
 * with the reason and error code. It rejects only for bad arguments (a URL that is not `https:`, an invalid pin).
 *
 * With an array of pins, only the URL's host is pinned, with those pins, and the chain must lead to a system root
 * (or to `options.ca`).
 * With a {@link PinPolicy}, its trust anchors and pin sets apply; in report-only mode a mismatch is still
 * `CONNECTION_NOT_SECURE`.
 *
 * @example
 * ```ts
 * import { checkConnection } from 'certpin';
 *
 * const result = await checkConnection('https://api.example.com', ['sha256/…current…', 'sha256/…backup…'], { timeout: 5000 });
 * if (result.status !== 'CONNECTION_SECURE') console.error(result.reason, result.error?.code);
 * ```
 * @throws {TypeError} for a URL that does not parse or is not https:, an empty pin list or a bad timeout.
 * @throws {InvalidPinError} for a pin that does not parse.
 */
export async function checkConnection(url: string | URL, pinsOrPolicy: PinPolicy | PolicyHolder | readonly string[], options: CheckConnectionOptions = {}): Promise<ConnectionCheck> {
  const target = parseTarget(url);
  const timeout = options.timeout ?? 10_000;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new TypeError(`checkConnection: timeout must be a positive number of milliseconds, not ${String(timeout)}`);
  }
  const policy = policyFor(target.host, pinsOrPolicy, options.ca);
  const probe = await probeServer(policy, { host: target.host, port: target.port }, { timeoutMs: timeout });
  return describe(probe, policy);
}

function parseTarget(input: string | URL): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError(`checkConnection: ${JSON.stringify(String(input))} is not a URL`);
  }
  if (url.protocol !== 'https:') throw new TypeError(`checkConnection: the URL must be https:, not ${url.protocol} (${url.origin})`);
  const host = unbracketHost(url.hostname);
  return { host, port: Number(url.port || 443) };
}

function policyFor(host: string, pinsOrPolicy: PinPolicy | PolicyHolder | readonly string[], ca: CheckConnectionOptions['ca']): PinPolicy {
  if (!Array.isArray(pinsOrPolicy) && typeof (pinsOrPolicy as PolicyHolder).current === 'function') {
    const policy = (pinsOrPolicy as PolicyHolder).current();
    if (!(policy instanceof PinPolicy)) throw new TypeError('checkConnection: expected a PinPolicy, a dynamic policy or an array of pins');
    if (ca !== undefined) throw new TypeError('checkConnection: options.ca is for a list of pins; a PinPolicy brings its own "ca"');
    return policy;
  }
  if (!Array.isArray(pinsOrPolicy)) throw new TypeError('checkConnection: expected a PinPolicy or an array of pins');
  const pins = pinsOrPolicy as readonly unknown[];
  if (pins.length === 0) throw new TypeError('checkConnection: the pin list is empty');
  for (const pin of pins) {
    if (typeof pin !== 'string') throw new TypeError(`checkConnection: pins must be strings, not ${typeof pin}`);
    parsePin(pin);
  }
  // A one-off check, not a long-lived configuration: a single pin is fine here, so no backup-pin warning.
  return new PinPolicy({ hosts: { [host]: pins as string[] }, ca, source: 'checkConnection', onWarning: () => {} });
}

function describe(probe: ServerProbe, policy: PinPolicy): ConnectionCheck {
  const now = new Date(policy.now());
  const chain = probe.served.map((certificate) => describeCertificate(certificate, now));
  const target = formatAuthority(probe.host, probe.port);
  const decision = probe.decision;
  if (probe.error) {
    return { status: 'CONNECTION_NOT_SECURE', reason: `The connection to ${target} was refused: ${firstLine(probe.error.message)}`, chain, error: errorOf(probe.error) };
  }
  if (decision && (decision.outcome === 'mismatch' || decision.outcome === 'chain-unverified')) {
    return {
      status: 'CONNECTION_NOT_SECURE',
      reason: `${target} did not match its pins; the policy is report-only, so a client would have connected anyway.`,
      chain,
      error: errorOf(decision.error),
    };
  }
  if (decision?.outcome === 'matched') {
    return {
      status: 'CONNECTION_SECURE',
      reason: `${target} presented a valid chain containing the pinned key ${decision.matchedPin.canonical}.`,
      chain,
      matchedPin: decision.matchedPin.canonical,
    };
  }
  const why = decision?.outcome === 'pin-set-expired' ? 'its pin set has expired' : 'the policy does not pin it';
  return { status: 'CONNECTION_SECURE', reason: `${target} presented a valid chain; ${why}, so no pin was required.`, chain };
}

function errorOf(error: Error): { code: string; message: string } {
  const code = (error as { code?: unknown }).code;
  return { code: typeof code === 'string' ? code : 'ERR_UNKNOWN', message: error.message };
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]!;
}
