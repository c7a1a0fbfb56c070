/**
 * The pin policy: which hosts are pinned to which keys, until when, in which mode, against which trust anchors.
 * One immutable object, validated when constructed, shared by every adapter. Pure: it holds rules and data; the
 * node layer turns its trust settings into OpenSSL contexts and delivers its reports.
 * @module
 */
import { X509Certificate, createPrivateKey, randomUUID } from 'node:crypto';
import { PolicyError } from '../errors.js';
import { certificateDer, parseCertificates } from './certificate.js';
import type { CertificateInput } from './certificate.js';
import { isIpLiteral, lenientHostName, normalizeHost, parentDomains, parseHostPattern } from './hostname.js';
import type { HostPattern } from './hostname.js';
import { parsePin } from './pin.js';
import type { Pin } from './pin.js';
import { hasPublicSuffixChildren, isPublicSuffix } from './public-suffix.js';
import type { PinReport, ReportDelivery } from './report.js';

/** The pins of one host entry, as written in a policy. */
export interface HostPinsOptions {
  /** Pins in any form `parsePin` reads. Two or more distinct pins: the second is the backup. */
  pins: readonly string[];
  /** Also pin every name below this one (`api.example.com` covers `v2.api.example.com`). Default false. */
  includeSubdomains?: boolean;
  /**
   * After this moment the pin set is no longer enforced and the host falls back to normal CA validation (never to
   * "accept anything"), like Android's network security config. `YYYY-MM-DD` means the end of that day, UTC; or a
   * full ISO 8601 timestamp with a zone; or a `Date`.
   */
  expires?: string | Date;
  /** Report a mismatch but let the connection through. Default: the policy's `reportOnly`. */
  reportOnly?: boolean;
  /** Where this pin set's failure reports go (https URIs), besides the policy's `reportUri`. */
  reportUri?: string | readonly string[];
}

/**
 * Development overrides, with the semantics of Android's `<debug-overrides>`: extra trust anchors only (a local CA,
 * mitmproxy's or Charles' CA), never "accept anything". Refused when `NODE_ENV` is `production`.
 */
export interface DevelopmentOverridesOptions {
  /** The development CAs to trust (PEM, DER or `X509Certificate`; PEM may be a bundle). */
  ca: CertificateInput | readonly CertificateInput[];
  /**
   * When true, a chain that ends at one of these CAs is accepted without matching pins (what a debugging proxy
   * needs); a chain that ends anywhere else still has to match. Default false: the CAs are trusted, pins still apply.
   */
  overridePins?: boolean;
}

/** What decides enforcement: the part of a policy a signed dynamic pin-set document may replace. */
export interface PinSetOptions {
  /**
   * Host patterns to pin sets. Patterns: `api.example.com` (exact), `*.example.com` (exactly one label below),
   * `**.example.com` (the name and any depth below), IP literals. A bare array is shorthand for `{ pins }`.
   */
  hosts: Readonly<Record<string, HostPinsOptions | readonly string[]>>;
  /**
   * A pin set for every host that no entry of `hosts` covers (pattern `*`), as dio's
   * `CertificatePinningInterceptor` pins every request of a client. Default: none.
   */
  defaultPins?: HostPinsOptions | readonly string[];
  /** Refuse connections to hosts the policy does not name. Default false: they get normal CA validation. */
  onlyPinnedHosts?: boolean;
  /** Report mismatches on every host without refusing them (a dry run before enforcing). Default false. */
  reportOnly?: boolean;
  /** Where failure reports go: https URIs that receive RFC 7469-shaped JSON reports. */
  reportUri?: string | readonly string[];
}

/** Everything a {@link PinPolicy} is built from. */
export interface PinPolicyOptions extends PinSetOptions {
  /** Make a pin set without a backup pin an error instead of a warning. Default false. */
  requireBackupPin?: boolean;
  /** Extra trust anchors (PEM, DER or `X509Certificate`; PEM may be a bundle). */
  ca?: CertificateInput | readonly CertificateInput[];
  /**
   * Whether the system roots are trusted besides `ca`. Default true. Set false to trust only your own CA or
   * intermediate (an intermediate as the only anchor needs Node >= 22.9 for OpenSSL's partial-chain support).
   */
  trustSystemRoots?: boolean;
  /** mTLS client certificate (PEM) and its key, for servers that ask for one. */
  clientCertificate?: ClientCertificate;
  /** Lowest TLS version offered. Default and minimum `TLSv1.2`. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Extra trust anchors for development only; refused when `NODE_ENV` is `production`. */
  developmentOverrides?: DevelopmentOverridesOptions;
  /**
   * Called for every pin failure (enforced or report-only) and every development override, with what became of the
   * report (`sent`, `deduplicated`, `skipped`, `dropped`). Never blocks the connection; exceptions are ignored.
   */
  onReport?: (report: PinReport, delivery: ReportDelivery) => void;
  /** Called for each policy warning (no backup pin, SHA-1 pin, expired pin set). Default: `process.emitWarning`. */
  onWarning?: (warning: PolicyWarning) => void;
  /** Names the policy in errors and reports, e.g. the file it came from. Default `inline`. */
  source?: string;
  /** Clock, for tests and for `certpin verify --at`. Default `Date.now`. */
  now?: () => number;
}

/** A client certificate and its key (PEM). */
export interface ClientCertificate {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly passphrase?: string;
}

/** A pin set as the policy holds it after validation. */
export interface HostRule {
  readonly pattern: HostPattern;
  readonly pins: readonly Pin[];
  readonly includeSubdomains: boolean;
  readonly expires: Date | undefined;
  readonly reportOnly: boolean;
  /** Report URIs of this pin set and of the policy, in that order, without repeats. */
  readonly reportUris: readonly string[];
}

/** The signed pin-set document a derived policy's pin sets came from. */
export interface PinSetDocumentInfo {
  readonly sequence: number;
  readonly expires: Date;
}

/** A warning about a policy that works today but may break clients or weaken pinning. */
export interface PolicyWarning {
  readonly code:
    | 'CERTPIN_NO_BACKUP_PIN'
    | 'CERTPIN_LEGACY_SHA1_PIN'
    | 'CERTPIN_PIN_SET_EXPIRED'
    | 'CERTPIN_PARTIAL_CHAIN_UNSUPPORTED'
    | 'CERTPIN_DEVELOPMENT_OVERRIDES'
    | 'CERTPIN_CLIENT_CERTIFICATE_TLS12';
  readonly message: string;
  /** The host pattern concerned, if any. */
  readonly pattern?: string;
}

/**
 * The trust settings of a policy: what the TLS layer turns into one OpenSSL context and one anchor index. Shared,
 * by reference, by every policy derived from the same bootstrap (dynamic pin sets change pins, never trust).
 */
export interface TrustSettings {
  readonly trustSystemRoots: boolean;
  /** DER of the `ca` certificates. */
  readonly extraAnchors: readonly Buffer[];
  /** DER of the development override CAs (empty outside development). */
  readonly developmentAnchors: readonly Buffer[];
  /** Whether a chain ending at a development CA skips the pins. */
  readonly developmentOverridesPins: boolean;
  readonly clientCertificate: ClientCertificate | undefined;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
}

/**
 * Something that says which {@link PinPolicy} is in force now. A `PinPolicy` is its own holder; a dynamic policy
 * (signed pin-set documents) hands out a new `PinPolicy` each time its pin sets change. Every adapter takes a holder,
 * asks it for the policy at each new connection, and retires connections checked under an older one.
 */
export interface PolicyHolder {
  /** The policy in force now. */
  current(): PinPolicy;
  /** Calls `listener` with each new policy; returns a function that stops it. */
  onChange(listener: (next: PinPolicy) => void): () => void;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A validated, immutable pin policy.
 *
 * Pinning is dangerous without a rotation plan: pin at least two keys (the one in use and a backup you hold offline,
 * `certpin backup-key`), give pin sets an `expires` date, and check the policy against your servers in CI
 * (`certpin verify`).
 *
 * @example
 * ```ts
 * const policy = new PinPolicy({
 *   hosts: {
 *     'api.example.com': {
 *       pins: ['sha256/AAAA…=', 'sha256/BBBB…='],   // current key, backup key
 *       expires: '2027-06-30',
 *     },
 *     '**.payments.example.com': ['sha256/CCCC…=', 'sha256/DDDD…='],
 *   },
 * });
 * ```
 * @throws {PolicyError} naming the offending entry when the policy is not valid.
 */
export class PinPolicy implements PolicyHolder {
  /** Unique per policy object: keeps connections and TLS sessions of different policies apart. */
  readonly id: string = randomUUID();
  readonly source: string;
  readonly onlyPinnedHosts: boolean;
  readonly reportOnly: boolean;
  readonly requireBackupPin: boolean;
  /** Every pin set, in the order written (`defaultPins` last, as pattern `*`). */
  readonly rules: readonly HostRule[];
  /** The policy's own report URIs (each pin set may add its own). */
  readonly reportUris: readonly string[];
  /** What the policy found worth a warning when it was built. */
  readonly warnings: readonly PolicyWarning[];
  /** Trust anchors, client certificate and TLS version: what the TLS layer needs. */
  readonly trust: TrustSettings;
  /** Current time in milliseconds, from the policy's clock. */
  readonly now: () => number;
  /** Receives reports with what became of them; `undefined` when no one asked. */
  readonly onReport: PinPolicyOptions['onReport'];
  /** The `seq` of the signed pin-set document these pin sets came from; `undefined` for a policy built in code or from a file. */
  readonly pinSetSequence: number | undefined;
  /** When that document expires (its `exp`): then the built-in policy applies again. */
  readonly pinSetExpires: Date | undefined;

  readonly #exact = new Map<string, HostRule>();
  readonly #oneLabel = new Map<string, HostRule>();
  readonly #anyDepth = new Map<string, HostRule>();
  readonly #defaultRule: HostRule | undefined;
  readonly #options: Readonly<PinPolicyOptions>;

  constructor(options: PinPolicyOptions);
  /** @internal a policy with other pin sets and the same trust (see {@link PinPolicy.withPinSets}). */
  constructor(options: PinPolicyOptions, inherited: { trust: TrustSettings; document?: PinSetDocumentInfo });
  constructor(input: PinPolicyOptions, inherited?: { trust: TrustSettings; document?: PinSetDocumentInfo }) {
    if (input === null || typeof input !== 'object') throw new PolicyError('(root)', 'expected an object with a "hosts" map');
    // Own properties only: a polluted Object.prototype must not turn every policy report-only or expired.
    const options = ownOptions(input);
    this.#options = options;
    this.source = typeof options.source === 'string' && options.source ? options.source : 'inline';
    this.onlyPinnedHosts = booleanOption(options.onlyPinnedHosts, 'onlyPinnedHosts', false);
    this.reportOnly = booleanOption(options.reportOnly, 'reportOnly', false);
    this.requireBackupPin = booleanOption(options.requireBackupPin, 'requireBackupPin', false);
    if (options.now !== undefined && typeof options.now !== 'function') throw new PolicyError('now', 'must be a function returning milliseconds');
    this.now = options.now ?? Date.now;
    if (options.onReport !== undefined && typeof options.onReport !== 'function') throw new PolicyError('onReport', 'must be a function');
    this.onReport = options.onReport;
    if (options.onWarning !== undefined && typeof options.onWarning !== 'function') throw new PolicyError('onWarning', 'must be a function');
    this.reportUris = parseReportUris(options.reportUri, 'reportUri');

    const warnings: PolicyWarning[] = [];
    this.trust = inherited?.trust ?? readTrust(options, warnings);
    this.pinSetSequence = inherited?.document?.sequence;
    this.pinSetExpires = inherited?.document ? new Date(inherited.document.expires.getTime()) : undefined;
    const rules = this.#buildRules(options.hosts, warnings);
    if (options.defaultPins !== undefined) {
      this.#defaultRule = this.#buildRule('defaultPins', { type: 'any-depth', base: '*', text: '*' }, options.defaultPins, warnings);
      rules.push(this.#defaultRule);
    }
    this.rules = Object.freeze(rules);
    this.warnings = Object.freeze(warnings);
    const onWarning = options.onWarning ?? ((w: PolicyWarning) => process.emitWarning(w.message, { code: w.code }));
    for (const warning of warnings) onWarning(warning);
    Object.freeze(this);
  }

  /** A `PinPolicy` is its own holder: always in force, never changes. */
  current(): PinPolicy {
    return this;
  }

  /** A `PinPolicy` never changes: the listener is never called. */
  onChange(_listener: (next: PinPolicy) => void): () => void {
    return () => {};
  }

  /**
   * A policy with these pin sets instead of this one's, and the same trust anchors, client certificate, clock and
   * callbacks. Dynamic pin sets use it: a new document replaces the pin sets, never the trust.
   * @throws {PolicyError} when the pin sets are not valid.
   */
  withPinSets(pinSets: PinSetOptions, source: string, document?: PinSetDocumentInfo): PinPolicy {
    const sets = ownOptions(pinSets as PinPolicyOptions);
    const { hosts, defaultPins, onlyPinnedHosts, reportOnly, reportUri } = sets;
    return new PinPolicy(
      {
        requireBackupPin: this.requireBackupPin,
        onReport: this.onReport,
        onWarning: this.#options.onWarning,
        now: this.#options.now,
        source,
        hosts,
        ...(defaultPins === undefined ? {} : { defaultPins }),
        ...(onlyPinnedHosts === undefined ? {} : { onlyPinnedHosts }),
        ...(reportOnly === undefined ? {} : { reportOnly }),
        ...(reportUri === undefined ? {} : { reportUri }),
      },
      { trust: this.trust, ...(document === undefined ? {} : { document }) },
    );
  }

  #buildRules(hosts: PinPolicyOptions['hosts'], warnings: PolicyWarning[]): HostRule[] {
    if (hosts === null || typeof hosts !== 'object' || Array.isArray(hosts)) {
      throw new PolicyError('hosts', 'expected an object mapping host patterns to pin sets, e.g. { "api.example.com": { pins: [...] } }');
    }
    const rules: HostRule[] = [];
    for (const patternText of Object.keys(hosts)) {
      const at = `hosts[${JSON.stringify(patternText)}]`;
      const pattern = parseHostPattern(patternText);
      if (typeof pattern === 'string') throw new PolicyError(at, pattern);
      const rule = this.#buildRule(at, pattern, hosts[patternText]!, warnings);
      const table = pattern.type === 'exact' ? this.#exact : pattern.type === 'one-label' ? this.#oneLabel : this.#anyDepth;
      if (table.has(pattern.base)) throw new PolicyError(at, `the pattern "${pattern.text}" is given twice (after normalisation)`);
      table.set(pattern.base, rule);
      rules.push(rule);
    }
    return rules;
  }

  #buildRule(at: string, pattern: HostPattern, entry: HostPinsOptions | readonly string[], warnings: PolicyWarning[]): HostRule {
    if (entry === null || typeof entry !== 'object') throw new PolicyError(at, 'expected { pins: [...] } or an array of pins');
    const spec = ownHostOptions(Array.isArray(entry) ? { pins: entry as readonly string[] } : (entry as HostPinsOptions));
    if (!Array.isArray(spec.pins) || spec.pins.length === 0) throw new PolicyError(`${at}.pins`, 'a pin set needs at least one pin (and a backup)');
    const pins = spec.pins.map((text, index) => {
      try {
        return parsePin(text);
      } catch (error) {
        throw new PolicyError(`${at}.pins[${index}]`, (error as Error).message, { cause: error });
      }
    });
    const includeSubdomains = booleanOption(spec.includeSubdomains, `${at}.includeSubdomains`, false);
    if (pattern.text !== '*') {
      if (includeSubdomains && pattern.type !== 'exact') throw new PolicyError(`${at}.includeSubdomains`, 'only applies to an exact host; use "**." for a wildcard of any depth');
      if (includeSubdomains && isIpLiteral(pattern.base)) throw new PolicyError(`${at}.includeSubdomains`, 'does not apply to an IP address');
      if (pattern.type !== 'exact' || includeSubdomains) {
        if (!pattern.base.includes('.') || isPublicSuffix(pattern.base)) {
          throw new PolicyError(at, `"${pattern.base}" is a public suffix; a pattern that covers every domain under it is refused. Pin your own domain.`);
        }
        if (hasPublicSuffixChildren(pattern.base)) {
          throw new PolicyError(at, `every name one label below "${pattern.base}" is a public suffix; a pattern that covers every domain under them is refused. Pin your own domain.`);
        }
      }
    }
    const rule: HostRule = Object.freeze({
      pattern,
      pins: Object.freeze(pins),
      includeSubdomains,
      expires: parseExpiry(spec.expires, `${at}.expires`),
      reportOnly: booleanOption(spec.reportOnly, `${at}.reportOnly`, this.reportOnly),
      reportUris: Object.freeze([...new Set([...parseReportUris(spec.reportUri, `${at}.reportUri`), ...this.reportUris])]),
    });
    checkBackup(rule, at, this.requireBackupPin, warnings);
    if (pins.some((p) => p.legacy)) {
      warnings.push({ code: 'CERTPIN_LEGACY_SHA1_PIN', pattern: pattern.text, message: `${at} uses a SHA-1 pin; SHA-1 is legacy, prefer sha256/ SPKI pins.` });
    }
    if (rule.expires && rule.expires.getTime() <= this.now()) {
      warnings.push({ code: 'CERTPIN_PIN_SET_EXPIRED', pattern: pattern.text, message: `${at} expired on ${rule.expires.toISOString()}; it is not enforced (normal CA validation applies).` });
    }
    return rule;
  }

  /**
   * The pin set that applies to a host, most specific first: the exact name; `**.name`; then for each parent,
   * closest first, `*.parent` (only for the first), `**.parent` and `parent` with `includeSubdomains`; last,
   * `defaultPins`. The cost depends on the number of labels of the host, not on the size of the policy.
   *
   * A name that cannot be normalised (an invalid label, a stray character) could still be dialled by some resolver,
   * so it never counts as unpinned: it gets the pin set its readable labels fall under, else `defaultPins`; with
   * neither, {@link PinPolicy.refusesUnreadable} says whether it is refused.
   */
  ruleFor(host: string): HostRule | undefined {
    const name = normalizeHost(host);
    if (name) return this.#lookup(name);
    const lenient = lenientHostName(host);
    return (lenient ? this.#lookup(lenient) : undefined) ?? this.#defaultRule;
  }

  #lookup(name: string): HostRule | undefined {
    const exact = this.#exact.get(name) ?? this.#anyDepth.get(name);
    if (exact) return exact;
    const parents = parentDomains(name);
    for (let i = 0; i < parents.length; i++) {
      const parent = parents[i]!;
      const rule = (i === 0 ? this.#oneLabel.get(parent) : undefined) ?? this.#anyDepth.get(parent);
      if (rule) return rule;
      const inherited = this.#exact.get(parent);
      if (inherited?.includeSubdomains) return inherited;
    }
    return this.#defaultRule;
  }

  /**
   * Whether a connection for a name that cannot be normalised, and that no pin set covers, is refused: yes when the
   * policy pins anything at all (such a name might be a pinned host written oddly), or allows only pinned hosts.
   */
  refusesUnreadable(host: string): boolean {
    return normalizeHost(host) === undefined && (this.onlyPinnedHosts || this.rules.length > 0);
  }

  /**
   * Whether a plain-HTTP (or any unencrypted) connection to `host` may be made: never to a host with a pin set
   * (a redirect from https to http would strip the pinning), nor to any host under `onlyPinnedHosts`, nor to a name
   * that cannot be normalised while the policy pins anything.
   */
  allowsPlaintext(host: string): boolean {
    return !this.onlyPinnedHosts && this.ruleFor(host) === undefined && !this.refusesUnreadable(host);
  }
}

function booleanOption(value: unknown, at: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new PolicyError(at, `expected true or false, got ${JSON.stringify(value)}`);
  return value;
}

const POLICY_KEYS = [
  'hosts', 'defaultPins', 'onlyPinnedHosts', 'reportOnly', 'reportUri', 'requireBackupPin', 'ca', 'trustSystemRoots',
  'clientCertificate', 'minVersion', 'developmentOverrides', 'onReport', 'onWarning', 'source', 'now',
] as const;
const HOST_KEYS = ['pins', 'includeSubdomains', 'expires', 'reportOnly', 'reportUri'] as const;

/** A copy holding only the options the object itself defines; the copy inherits nothing either. */
function ownOptions(input: PinPolicyOptions): PinPolicyOptions {
  const copy: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of POLICY_KEYS) if (Object.hasOwn(input, key)) copy[key] = (input as unknown as Record<string, unknown>)[key];
  return copy as unknown as PinPolicyOptions;
}

function ownHostOptions(input: HostPinsOptions): HostPinsOptions {
  const copy: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of HOST_KEYS) if (Object.hasOwn(input, key)) copy[key] = (input as unknown as Record<string, unknown>)[key];
  return copy as unknown as HostPinsOptions;
}

/** Parses an expiry: `YYYY-MM-DD` (through the end of that day, UTC), an ISO 8601 timestamp with a zone, or a Date. */
export function parseExpiry(value: unknown, at: string): Date | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new PolicyError(at, 'is an invalid Date');
    return new Date(value.getTime());
  }
  if (typeof value !== 'string') throw new PolicyError(at, 'expected "YYYY-MM-DD", an ISO 8601 timestamp with a zone, or a Date');
  const dateOnly = DATE_ONLY.exec(value);
  const stamp = dateOnly ? undefined : TIMESTAMP.exec(value);
  if (!dateOnly && !stamp) {
    throw new PolicyError(at, `"${value}" is not a date; write "YYYY-MM-DD" (pins enforced through that day, UTC) or "2027-06-30T12:00:00Z"`);
  }
  const [, y, m, d] = (dateOnly ?? stamp)!;
  const day = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(m) - 1 || day.getUTCDate() !== Number(d)) {
    throw new PolicyError(at, `"${value}" is not a calendar date`);
  }
  if (dateOnly) return new Date(day.getTime() + 86_400_000);
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime()) || Number(stamp![4]) > 23 || Number(stamp![5]) > 59 || Number(stamp![6] ?? 0) > 59) {
    throw new PolicyError(at, `"${value}" is not a valid timestamp`);
  }
  return parsed;
}

/** Report URIs must be https: a report names hosts and chains, and goes over the network. */
function parseReportUris(value: unknown, at: string): readonly string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) throw new PolicyError(at, 'expected an https URI or a list of them');
  return Object.freeze(
    list.map((item: unknown, index) => {
      const where = typeof value === 'string' ? at : `${at}[${index}]`;
      if (typeof item !== 'string') throw new PolicyError(where, 'expected an https URI (a string)');
      let url: URL;
      try {
        url = new URL(item);
      } catch {
        throw new PolicyError(where, `"${item}" is not a URL`);
      }
      if (url.protocol !== 'https:') throw new PolicyError(where, `"${item}" is not https: reports carry host names and certificate chains, so they are sent over https only`);
      if (url.username || url.password) throw new PolicyError(where, 'a report URI may not carry credentials; use a token in the path or query');
      return url.href;
    }),
  );
}

function checkBackup(rule: HostRule, at: string, required: boolean, warnings: PolicyWarning[]): void {
  const distinct = new Set(rule.pins.map((p) => p.canonical));
  if (distinct.size >= 2) return;
  const message =
    distinct.size < rule.pins.length
      ? `${at} repeats the same pin; a repeated pin is not a backup. Add the pin of a spare key (certpin backup-key) or of another CA.`
      : `${at} has a single pin and no backup: the day that key is replaced, every client is locked out until it updates. Add the pin of a spare key (certpin backup-key) or of another CA.`;
  if (required) throw new PolicyError(at, message.replace(`${at} `, ''));
  warnings.push({ code: 'CERTPIN_NO_BACKUP_PIN', pattern: rule.pattern.text, message });
}

function readTrust(options: PinPolicyOptions, warnings: PolicyWarning[]): TrustSettings {
  const trustSystemRoots = booleanOption(options.trustSystemRoots, 'trustSystemRoots', true);
  if (options.minVersion !== undefined && options.minVersion !== 'TLSv1.2' && options.minVersion !== 'TLSv1.3') {
    throw new PolicyError('minVersion', `"${String(options.minVersion)}" is not allowed; use "TLSv1.2" (default) or "TLSv1.3"`);
  }
  const extraAnchors = readCertificates(options.ca, 'ca');
  if (!trustSystemRoots && extraAnchors.length === 0) {
    throw new PolicyError('ca', 'trustSystemRoots is false, so "ca" must hold at least one certificate to trust');
  }
  if (!trustSystemRoots && !supportsPartialChains() && extraAnchors.every((der) => { const c = new X509Certificate(der); return c.subject !== c.issuer; })) {
    warnings.push({
      code: 'CERTPIN_PARTIAL_CHAIN_UNSUPPORTED',
      message: `The only trust anchors are intermediates; Node ${process.versions.node} cannot end a chain at an intermediate (Node >= 22.9 can). Add the root to "ca".`,
    });
  }
  const overrides = readOverrides(options.developmentOverrides, warnings);
  const clientCertificate = readClientCertificate(options.clientCertificate);
  const minVersion = options.minVersion ?? 'TLSv1.2';
  if (clientCertificate && minVersion === 'TLSv1.2') {
    // TLS 1.2 asks for the client's certificate in the server's first flight, and OpenSSL answers before the
    // handshake ends, where the chain and pins are checked; TLS 1.3 sends it only in the client's last flight.
    warnings.push({
      code: 'CERTPIN_CLIENT_CERTIFICATE_TLS12',
      message: 'certpin: with TLS 1.2 the client certificate is sent to any server that asks for it, before its chain and pins are checked (a server that fails the pins learns the identity, though it cannot reuse it). Set minVersion: "TLSv1.3" if your servers support it.',
    });
  }
  return Object.freeze({
    trustSystemRoots,
    extraAnchors: Object.freeze(extraAnchors),
    developmentAnchors: Object.freeze(overrides.anchors),
    developmentOverridesPins: overrides.overridePins,
    clientCertificate,
    minVersion,
  });
}

function readOverrides(value: DevelopmentOverridesOptions | undefined, warnings: PolicyWarning[]): { anchors: Buffer[]; overridePins: boolean } {
  if (value === undefined) return { anchors: [], overridePins: false };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PolicyError('developmentOverrides', 'expected { ca: [...], overridePins?: boolean }');
  }
  const own = value as unknown as Record<string, unknown>;
  // Written as .env files and shells write it: any case, surrounding white space.
  if (process.env.NODE_ENV?.trim().toLowerCase() === 'production') {
    throw new PolicyError('developmentOverrides', 'development overrides are refused when NODE_ENV is "production": load a policy without them (keep development and production policies in separate files)');
  }
  const anchors = readCertificates(Object.hasOwn(own, 'ca') ? (own.ca as DevelopmentOverridesOptions['ca']) : undefined, 'developmentOverrides.ca');
  if (anchors.length === 0) throw new PolicyError('developmentOverrides.ca', 'name at least one development CA; overrides never mean "accept anything"');
  const overridePins = booleanOption(Object.hasOwn(own, 'overridePins') ? own.overridePins : undefined, 'developmentOverrides.overridePins', false);
  warnings.push({
    code: 'CERTPIN_DEVELOPMENT_OVERRIDES',
    message: `certpin: this policy trusts ${anchors.length} development CA${anchors.length === 1 ? '' : 's'}${overridePins ? ' and skips the pins for chains that end at them' : ''}. Never ship it to production (it is refused when NODE_ENV=production).`,
  });
  return { anchors, overridePins };
}

function readCertificates(value: CertificateInput | readonly CertificateInput[] | undefined, at: string): Buffer[] {
  if (value === undefined) return [];
  if (value === null) throw new PolicyError(at, 'expected a certificate (PEM, DER or X509Certificate) or a list of them, not null');
  const list = Array.isArray(value) ? (value as readonly CertificateInput[]) : [value as CertificateInput];
  return list.flatMap((item, index) => {
    try {
      return certificateDer(item, `${at}[${index}]`);
    } catch (error) {
      throw new PolicyError(`${at}[${index}]`, (error as Error).message, { cause: error });
    }
  });
}

function readClientCertificate(value: PinPolicyOptions['clientCertificate']): ClientCertificate | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') throw new PolicyError('clientCertificate', 'expected { cert, key } (PEM), and a passphrase if the key is encrypted');
  const own = value as unknown as Record<string, unknown>;
  const cert = Object.hasOwn(own, 'cert') ? own.cert : undefined;
  const key = Object.hasOwn(own, 'key') ? own.key : undefined;
  const passphrase = Object.hasOwn(own, 'passphrase') ? own.passphrase : undefined;
  if ((typeof cert !== 'string' && !Buffer.isBuffer(cert)) || (typeof key !== 'string' && !Buffer.isBuffer(key))) {
    throw new PolicyError('clientCertificate', 'expected { cert, key } (PEM), and a passphrase if the key is encrypted');
  }
  if (passphrase !== undefined && typeof passphrase !== 'string') throw new PolicyError('clientCertificate.passphrase', 'expected a string');
  try {
    const privateKey = createPrivateKey({ key, ...(passphrase === undefined ? {} : { passphrase }) });
    const [certificate] = parseCertificates(cert, 'clientCertificate.cert');
    if (!certificate!.checkPrivateKey(privateKey)) throw new Error('the key does not belong to the certificate');
  } catch (error) {
    throw new PolicyError('clientCertificate', `the certificate and key cannot be used (${(error as Error).message})`, { cause: error });
  }
  return Object.freeze({ cert, key, ...(passphrase === undefined ? {} : { passphrase }) });
}

/** Node >= 22.9 lets OpenSSL end a chain at a trusted intermediate (`allowPartialTrustChain`). */
export function supportsPartialChains(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 9);
}
