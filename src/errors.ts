/**
 * Error classes of certpin. Each has a stable `code` that callers can switch on; messages may change, codes do not.
 *
 * Three families stay distinct, because they call for different responses:
 * - pinning: the chain was valid but carried none of the pinned keys ({@link PinningError}, {@link UnpinnedHostError});
 * - certificate validation: Node's own errors (`CERT_HAS_EXPIRED`, `ERR_TLS_CERT_ALTNAME_INVALID`, …) and
 *   {@link ChainVerificationError} when certpin cannot verify the chain itself;
 * - network: Node's `ECONNREFUSED`, `ETIMEDOUT`, `ENOTFOUND`, … pass through untouched.
 *
 * {@link classifyError} tells them apart, also when a client wrapped them (fetch's `cause`, axios, got).
 * @module
 */

/** The stable codes of certpin's own errors. */
export const ErrorCodes = {
  PIN_MISMATCH: 'ERR_CERTPIN_PIN_MISMATCH',
  HOST_NOT_PINNED: 'ERR_CERTPIN_HOST_NOT_PINNED',
  CHAIN_UNVERIFIED: 'ERR_CERTPIN_CHAIN_UNVERIFIED',
  CHECK_FAILED: 'ERR_CERTPIN_CHECK_FAILED',
  INVALID_PIN: 'ERR_CERTPIN_INVALID_PIN',
  INVALID_POLICY: 'ERR_CERTPIN_INVALID_POLICY',
  INVALID_CERTIFICATE: 'ERR_CERTPIN_INVALID_CERTIFICATE',
  INSECURE_OPTION: 'ERR_CERTPIN_INSECURE_OPTION',
  INSECURE_REDIRECT: 'ERR_CERTPIN_INSECURE_REDIRECT',
  PROXY_CONNECT: 'ERR_CERTPIN_PROXY_CONNECT',
  PINSET_INVALID: 'ERR_CERTPIN_PINSET_INVALID',
} as const;

/** One of {@link ErrorCodes}' values. */
export type CertpinErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class of every error certpin throws or hands to a client. */
export class CertpinError extends Error {
  /** Stable machine-readable code, e.g. `ERR_CERTPIN_PIN_MISMATCH`. */
  readonly code: CertpinErrorCode;

  constructor(code: CertpinErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A certificate of a served chain, as error messages and reports show it. */
export interface ChainEntry {
  /** SPKI pin, `sha256/<base64>`. */
  readonly spkiPin: string;
  /** Certificate SHA-256 fingerprint, colon hex upper case (openssl's form). */
  readonly sha256: string;
  /** Subject as a one-line distinguished name as openssl prints it, e.g. `CN = api.example.com, O = Example`. */
  readonly subject: string;
  /** Issuer, in the same form. */
  readonly issuer: string;
  /** End of validity, ISO 8601. */
  readonly validTo: string;
}

/** What a {@link PinningError} knows about the refused connection. */
export interface PinningErrorDetails {
  readonly host: string;
  readonly port: number | undefined;
  /** The verified chain, leaf first: the certificates the pins were matched against. */
  readonly chain: readonly ChainEntry[];
  /** The pins of the pin set that applied, in canonical form. */
  readonly expectedPins: readonly string[];
  /** The host pattern of the pin set that applied, e.g. `*.example.com`. */
  readonly pattern: string;
  /** Where the policy came from (a file path, `inline`, …). */
  readonly policySource: string;
  /** When the pin set stops being enforced, if it has an expiry. */
  readonly expires: Date | undefined;
}

/**
 * The server's verified chain contains none of the pins configured for the host: a MITM, a rogue CA, or a rotation
 * that the pin set did not plan for. The message is made to be read and pasted: the served chain as
 * `sha256/…: CN=…` lines, then the expected pins.
 */
export class PinningError extends CertpinError implements PinningErrorDetails {
  readonly host: string;
  readonly port: number | undefined;
  readonly chain: readonly ChainEntry[];
  readonly expectedPins: readonly string[];
  readonly pattern: string;
  readonly policySource: string;
  readonly expires: Date | undefined;

  constructor(details: PinningErrorDetails) {
    super(ErrorCodes.PIN_MISMATCH, formatPinningMessage(details));
    this.host = details.host;
    this.port = details.port;
    this.chain = details.chain;
    this.expectedPins = details.expectedPins;
    this.pattern = details.pattern;
    this.policySource = details.policySource;
    this.expires = details.expires;
  }
}

function formatPinningMessage(d: PinningErrorDetails): string {
  const target = d.port === undefined ? d.host : `${d.host}:${d.port}`;
  const lines = [
    `Certificate pinning failure for ${target}: the verified chain contains none of the pinned keys.`,
    '  Verified chain (leaf first):',
    ...d.chain.map((c) => `    ${c.spkiPin}: ${c.subject} (expires ${c.validTo.slice(0, 10)})`),
    `  Pinned for ${d.pattern} (policy: ${d.policySource}${d.expires ? `, pin set expires ${d.expires.toISOString().slice(0, 10)}` : ''}):`,
    ...d.expectedPins.map((p) => `    ${p}`),
    '  If this is your server after a planned rotation, add the new key\'s pin (above) to the pin set and ship it;',
    '  if not, someone is intercepting this connection: do not disable pinning.',
  ];
  return lines.join('\n');
}

/** The policy allows only pinned hosts (`onlyPinnedHosts`), and this host has no pin set. */
export class UnpinnedHostError extends CertpinError {
  readonly host: string;
  /**
   * @param unreadable the name cannot be normalised as a host name: it is refused because the policy pins hosts, and
   *   a name it cannot read might be one of them written oddly.
   */
  constructor(host: string, policySource: string, unreadable = false) {
    super(
      ErrorCodes.HOST_NOT_PINNED,
      unreadable
        ? `Connection to ${JSON.stringify(host)} refused: it is not a valid host name, and the pin policy (${policySource}) pins hosts, so a name it cannot read is never treated as unpinned. Use the host's real name.`
        : `Connection to ${host} refused: the pin policy (${policySource}) allows only pinned hosts and has no pin set for it. ` +
          'Add the host to the policy, or turn off onlyPinnedHosts.',
    );
    this.host = host;
  }
}

/**
 * certpin could not build a verified path from the served leaf to a trust anchor of the policy, although TLS
 * validation passed. Pins are never matched against an unverified chain, so the connection is refused.
 */
export class ChainVerificationError extends CertpinError {
  readonly host: string;
  /**
   * What failed, as the path validator names it: `no-path`, `expired`, `purpose`, `name-constraints`,
   * `critical-extension`, `work-limit` (the chain needs more work than certpin spends on one decision), …
   */
  readonly reason: string | undefined;
  constructor(host: string, message: string, reason?: string) {
    super(ErrorCodes.CHAIN_UNVERIFIED, `Connection to ${host} refused: certpin could not verify the served chain (${message}).`);
    this.host = host;
    this.reason = reason;
  }
}

/** The pin check itself failed (an exception, an unparseable certificate). The connection is refused. */
export class PinCheckFailedError extends CertpinError {
  constructor(host: string, cause: unknown) {
    super(
      ErrorCodes.CHECK_FAILED,
      `Connection to ${host} refused: the pin check failed (${cause instanceof Error ? cause.message : String(cause)}). certpin fails closed.`,
      { cause },
    );
  }
}

/** A pin string that is not in any recognised format. */
export class InvalidPinError extends CertpinError {
  readonly input: string;
  constructor(input: string, reason: string) {
    super(
      ErrorCodes.INVALID_PIN,
      `Invalid pin ${JSON.stringify(truncate(input))}: ${reason}. Expected an SPKI pin "sha256/<base64 of 32 bytes>", ` +
        'a certificate fingerprint "SHA256 Fingerprint=AA:BB:…" (openssl), 64 hex digits with or without colons, ' +
        'or the legacy "sha1/<base64>" and 40-hex-digit SHA-1 forms.',
    );
    this.input = input;
  }
}

/** A policy that cannot be enforced safely: bad host pattern, missing pins, bad expiry date, … */
export class PolicyError extends CertpinError {
  /** Where in the policy, e.g. `hosts["api.example.com"].expires`. */
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.INVALID_POLICY, `Invalid pin policy at ${path}: ${message}`, options);
    this.path = path;
  }
}

/** Input that should hold a certificate (PEM, DER, bundle) but does not. */
export class CertificateParseError extends CertpinError {
  constructor(what: string, reason: string, options?: { cause?: unknown }) {
    super(ErrorCodes.INVALID_CERTIFICATE, `${what} is not a readable X.509 certificate: ${reason}`, options);
  }
}

/** An option that would weaken TLS (`rejectUnauthorized: false`, TLS < 1.2, a foreign trust store, …). */
export class InsecureOptionError extends CertpinError {
  readonly option: string;
  constructor(option: string, message: string) {
    super(ErrorCodes.INSECURE_OPTION, message);
    this.option = option;
  }
}

/**
 * A plain-HTTP request to a host the policy pins (or to any host under `onlyPinnedHosts`), typically a redirect from
 * https to http that would strip the pinning.
 */
export class InsecureRedirectError extends CertpinError {
  readonly url: string;
  constructor(url: string, from?: string) {
    super(
      ErrorCodes.INSECURE_REDIRECT,
      `${from ? `Redirect from ${from} to ${url}` : `Request to ${url}`} refused: the host is pinned (or the policy allows only pinned hosts), so it is reached over HTTPS only.`,
    );
    this.url = url;
  }
}

/** An HTTP CONNECT proxy refused the tunnel (`statusCode`), or broke its framing. A network error. */
export class ProxyConnectError extends CertpinError {
  /** The proxy's status code, when it answered. */
  readonly statusCode: number | undefined;
  constructor(message: string, statusCode?: number) {
    super(ErrorCodes.PROXY_CONNECT, message);
    this.statusCode = statusCode;
  }
}

/**
 * Why a signed pin-set document was refused: a stable word to switch on, next to the `ERR_CERTPIN_PINSET_INVALID`
 * code. Every refusal leaves the pin sets in force unchanged.
 * - `malformed`: not a compact JWS, not base64url, not UTF-8 JSON; `too-large`: over the size limit;
 * - `header`: a protected header certpin does not accept (no `kid`, `crit`, an embedded key); `type`: `typ` is not
 *   `certpin-pinset+jws`; `algorithm`: `alg` is not EdDSA or ES256, or not the algorithm of the key named by `kid`;
 * - `unknown-key`: no key of the application's JWKS has that `kid`; `signature`: the signature does not verify;
 * - `claims`: a claim is missing, of the wrong type, or unknown; `audience`, `issuer`: not the application's;
 * - `expired`, `not-yet-valid`: outside `nbf`..`exp`; `lifetime`: `exp` more than 30 days after `iat`;
 * - `pin-sets`: the pin sets are not a valid policy, or carry settings that stay in the application (trust anchors);
 * - `rollback`: `seq` lower than the highest seen; `equivocation`: the highest `seq` seen, with another payload;
 * - `weakening`: it would unpin, or make report-only, a host the built-in policy enforces.
 */
export type PinSetRefusal =
  | 'malformed'
  | 'too-large'
  | 'header'
  | 'type'
  | 'algorithm'
  | 'unknown-key'
  | 'signature'
  | 'claims'
  | 'audience'
  | 'issuer'
  | 'expired'
  | 'not-yet-valid'
  | 'lifetime'
  | 'pin-sets'
  | 'rollback'
  | 'equivocation'
  | 'weakening';

/**
 * A signed pin-set document (dynamic pins) that certpin refuses to apply. The policy in force does not change: the
 * last good document stays until its own `exp`, then the built-in (bootstrap) policy applies.
 */
export class PinSetDocumentError extends CertpinError {
  /** Why, as a stable word: see {@link PinSetRefusal}. */
  readonly reason: PinSetRefusal;
  constructor(reason: PinSetRefusal, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.PINSET_INVALID, `Pin-set document refused (${reason}): ${message}`, options);
    this.reason = reason;
  }
}

/**
 * What kind of failure an error is, once the wrapping of a client is peeled off: `pinning` (certpin refused the
 * chain), `certificate` (the chain or the name is not valid), `protocol` (the TLS negotiation failed before any
 * certificate was judged: no common ALPN protocol, version or cipher, a server wanting a client certificate, a port
 * that does not speak TLS), `network`, `usage` (a bad argument or option), or `other`.
 */
export type ErrorKind = 'pinning' | 'certificate' | 'protocol' | 'network' | 'usage' | 'other';

const CERTIFICATE_CODES = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE', 'CERT_REVOKED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH', 'CERT_CHAIN_TOO_LONG',
  'ERR_CERTPIN_CHAIN_UNVERIFIED', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'ECONNABORTED',
  'ERR_CERTPIN_PROXY_CONNECT',
]);

/**
 * Finds the most specific cause in a chain of wrapped errors (fetch's `TypeError`, axios' `AxiosError`, got's
 * `RequestError` keep the original as `cause`) and returns it with its kind.
 *
 * @example
 * ```ts
 * try { await fetch(url, { dispatcher }); }
 * catch (err) { if (classifyError(err).kind === 'pinning') alertSecurityTeam(err); }
 * ```
 */
export function classifyError(error: unknown): { kind: ErrorKind; code: string | undefined; error: unknown } {
  const seen = new Set<unknown>();
  let current: unknown = error;
  let fallback: { kind: ErrorKind; code: string | undefined; error: unknown } | undefined;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      const kind = kindOfCode(code);
      if (kind !== 'other') return { kind, code, error: current };
      fallback ??= { kind, code, error: current };
    }
    current = (current as { cause?: unknown }).cause;
  }
  return fallback ?? { kind: 'other', code: undefined, error };
}

function kindOfCode(code: string): ErrorKind {
  if (code === ErrorCodes.PIN_MISMATCH || code === ErrorCodes.HOST_NOT_PINNED || code === ErrorCodes.CHECK_FAILED || code === ErrorCodes.INSECURE_REDIRECT) return 'pinning';
  if (CERTIFICATE_CODES.has(code) || code.startsWith('ERR_TLS_')) return 'certificate';
  // Node reports the server's certificate with X.509 codes and ERR_TLS_*; ERR_SSL_* is the negotiation itself.
  if (code.startsWith('ERR_SSL_')) return 'protocol';
  if (NETWORK_CODES.has(code)) return 'network';
  if (code === ErrorCodes.INVALID_PIN || code === ErrorCodes.INVALID_POLICY || code === ErrorCodes.INVALID_CERTIFICATE || code === ErrorCodes.INSECURE_OPTION) return 'usage';
  return 'other';
}

function truncate(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
