/**
 * The pin policy: which hosts are pinned to which keys, until when, in which mode, against which trust anchors.
 * One immutable object, validated when constructed, shared by every adapter.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import tls from 'node:tls';
import { PolicyError } from '../errors.js';
import { parseCertificates } from './certificate.js';
import type { CertificateInput } from './certificate.js';
import { isIpLiteral, normalizeHost, parentDomains, parseHostPattern } from './hostname.js';
import type { HostPattern } from './hostname.js';
import { parsePin } from './pin.js';
import type { Pin } from './pin.js';
import type { PinReport } from './report.js';
import { TrustAnchors, systemTrustAnchors } from './trust.js';

/** The pins of one host entry, as written in a policy. */
export interface HostPinsOptions {
  /** Pins in any form {@link parsePin} reads. Two or more distinct pins: the second is the backup. */
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
}

/** Everything a {@link PinPolicy} is built from. */
export interface PinPolicyOptions {
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
  clientCertificate?: { cert: string | Buffer; key: string | Buffer; passphrase?: string };
  /** Lowest TLS version offered. Default and minimum `TLSv1.2`. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Called for every pin failure, enforced or report-only. Never blocks the connection; exceptions are ignored. */
  onReport?: (report: PinReport) => void;
  /** Called for each policy warning (no backup pin, SHA-1 pin, expired pin set). Default: `process.emitWarning`. */
  onWarning?: (warning: PolicyWarning) => void;
  /** Names the policy in errors and reports, e.g. the file it came from. Default `inline`. */
  source?: string;
  /** Clock, for tests and for `certpin verify --at`. Default `Date.now`. */
  now?: () => number;
}

/** A pin set as the policy holds it after validation. */
export interface HostRule {
  readonly pattern: HostPattern;
  readonly pins: readonly Pin[];
  readonly includeSubdomains: boolean;
  readonly expires: Date | undefined;
  readonly reportOnly: boolean;
}

/** A warning about a policy that works today but may break clients or weaken pinning. */
export interface PolicyWarning {
  readonly code: 'CERTPIN_NO_BACKUP_PIN' | 'CERTPIN_LEGACY_SHA1_PIN' | 'CERTPIN_PIN_SET_EXPIRED' | 'CERTPIN_PARTIAL_CHAIN_UNSUPPORTED';
  readonly message: string;
  /** The host pattern concerned, if any. */
  readonly pattern?: string;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A validated, immutable pin policy.
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
 *   onlyPinnedHosts: false,
 * });
 * ```
 * @throws {PolicyError} naming the offending entry when the policy is not valid.
 */
export class PinPolicy {
  /** Unique per policy object: keeps connections and TLS sessions of different policies apart. */
  readonly id: string = randomUUID();
  readonly source: string;
  readonly onlyPinnedHosts: boolean;
  readonly reportOnly: boolean;
  readonly requireBackupPin: boolean;
  readonly trustSystemRoots: boolean;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** Every pin set, in the order written. */
  readonly rules: readonly HostRule[];
  /** What the policy found worth a warning when it was built. */
  readonly warnings: readonly PolicyWarning[];
  /** Current time in milliseconds, from the policy's clock. */
  readonly now: () => number;

  readonly #exact = new Map<string, HostRule>();
  readonly #oneLabel = new Map<string, HostRule>();
  readonly #anyDepth = new Map<string, HostRule>();
  readonly #defaultRule: HostRule | undefined;
  readonly #extraAnchors: readonly X509Certificate[];
  readonly #clientCertificate: PinPolicyOptions['clientCertificate'];
  readonly #onReport: PinPolicyOptions['onReport'];
  #anchors: TrustAnchors | undefined;
  #secureContext: tls.SecureContext | undefined;

  constructor(options: PinPolicyOptions) {
    if (options === null || typeof options !== 'object') throw new PolicyError('(root)', 'expected an object with a "hosts" map');
    this.source = typeof options.source === 'string' && options.source ? options.source : 'inline';
    this.onlyPinnedHosts = booleanOption(options.onlyPinnedHosts, 'onlyPinnedHosts', false);
    this.reportOnly = booleanOption(options.reportOnly, 'reportOnly', false);
    this.requireBackupPin = booleanOption(options.requireBackupPin, 'requireBackupPin', false);
    this.trustSystemRoots = booleanOption(options.trustSystemRoots, 'trustSystemRoots', true);
    if (options.minVersion !== undefined && options.minVersion !== 'TLSv1.2' && options.minVersion !== 'TLSv1.3') {
      throw new PolicyError('minVersion', `"${String(options.minVersion)}" is not allowed; use "TLSv1.2" (default) or "TLSv1.3"`);
    }
    this.minVersion = options.minVersion ?? 'TLSv1.2';
    if (options.now !== undefined && typeof options.now !== 'function') throw new PolicyError('now', 'must be a function returning milliseconds');
    this.now = options.now ?? Date.now;
    if (options.onReport !== undefined && typeof options.onReport !== 'function') throw new PolicyError('onReport', 'must be a function');
    this.#onReport = options.onReport;

    const warnings: PolicyWarning[] = [];
    const rules = this.#buildRules(options.hosts, warnings);
    if (options.defaultPins !== undefined) {
      this.#defaultRule = this.#buildRule('defaultPins', { type: 'any-depth', base: '*', text: '*' }, options.defaultPins, warnings);
      rules.push(this.#defaultRule);
    }
    this.rules = Object.freeze(rules);
    this.#extraAnchors = readAnchors(options.ca);
    if (!this.trustSystemRoots && this.#extraAnchors.length === 0) {
      throw new PolicyError('ca', 'trustSystemRoots is false, so "ca" must hold at least one certificate to trust');
    }
    if (!this.trustSystemRoots && !supportsPartialChains() && this.#extraAnchors.every((c) => c.subject !== c.issuer)) {
      warnings.push({
        code: 'CERTPIN_PARTIAL_CHAIN_UNSUPPORTED',
        message: `The only trust anchors are intermediates; Node ${process.versions.node} cannot end a chain at an intermediate (Node >= 22.9 can). Add the root to "ca".`,
      });
    }
    this.#clientCertificate = validateClientCertificate(options.clientCertificate);
    this.warnings = Object.freeze(warnings);
    const onWarning = options.onWarning ?? ((w: PolicyWarning) => process.emitWarning(w.message, { code: w.code }));
    for (const warning of warnings) onWarning(warning);
    Object.freeze(this);
  }

  #buildRules(hosts: PinPolicyOptions['hosts'], warnings: PolicyWarning[]): HostRule[] {
    if (hosts === null || typeof hosts !== 'object' || Array.isArray(hosts)) {
      throw new PolicyError('hosts', 'expected an object mapping host patterns to pin sets, e.g. { "api.example.com": { pins: [...] } }');
    }
    const rules: HostRule[] = [];
    for (const [patternText, entry] of Object.entries(hosts)) {
      const at = `hosts[${JSON.stringify(patternText)}]`;
      const pattern = parseHostPattern(patternText);
      if (typeof pattern === 'string') throw new PolicyError(at, pattern);
      const rule = this.#buildRule(at, pattern, entry, warnings);
      const table = pattern.type === 'exact' ? this.#exact : pattern.type === 'one-label' ? this.#oneLabel : this.#anyDepth;
      if (table.has(pattern.base)) throw new PolicyError(at, `the pattern "${pattern.text}" is given twice (after normalisation)`);
      table.set(pattern.base, rule);
      rules.push(rule);
    }
    return rules;
  }

  #buildRule(at: string, pattern: HostPattern, entry: HostPinsOptions | readonly string[], warnings: PolicyWarning[]): HostRule {
    const spec: HostPinsOptions = Array.isArray(entry) ? { pins: entry } : (entry as HostPinsOptions);
    if (spec === null || typeof spec !== 'object') throw new PolicyError(at, 'expected { pins: [...] } or an array of pins');
    if (!Array.isArray(spec.pins) || spec.pins.length === 0) throw new PolicyError(`${at}.pins`, 'a pin set needs at least one pin (and a backup)');
    const pins = spec.pins.map((text, index) => {
      try {
        return parsePin(text);
      } catch (error) {
        throw new PolicyError(`${at}.pins[${index}]`, (error as Error).message, { cause: error });
      }
    });
    const includeSubdomains = booleanOption(spec.includeSubdomains, `${at}.includeSubdomains`, false);
    const isDefault = pattern.text === '*';
    if (!isDefault) {
      if (includeSubdomains && pattern.type !== 'exact') throw new PolicyError(`${at}.includeSubdomains`, 'only applies to an exact host; use "**." for a wildcard of any depth');
      if (includeSubdomains && isIpLiteral(pattern.base)) throw new PolicyError(`${at}.includeSubdomains`, 'does not apply to an IP address');
      if (pattern.type !== 'exact' || includeSubdomains) refusePublicSuffix(pattern, at);
    }
    const rule: HostRule = Object.freeze({
      pattern,
      pins: Object.freeze(pins),
      includeSubdomains,
      expires: parseExpiry(spec.expires, `${at}.expires`),
      reportOnly: booleanOption(spec.reportOnly, `${at}.reportOnly`, this.reportOnly),
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
   * `defaultPins`.
   * The cost depends on the number of labels of the host, not on the size of the policy.
   */
  ruleFor(host: string): HostRule | undefined {
    const name = normalizeHost(host);
    if (!name) return undefined;
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
   * Whether a plain-HTTP (or any unencrypted) connection to `host` may be made: never to a host with a pin set
   * (a redirect from https to http would strip the pinning), nor to any host under `onlyPinnedHosts`.
   */
  allowsPlaintext(host: string): boolean {
    return !this.onlyPinnedHosts && this.ruleFor(host) === undefined;
  }

  /** The trust anchors pins are verified against: system roots (unless turned off) plus `ca`. */
  get trustAnchors(): TrustAnchors {
    this.#anchors ??= new TrustAnchors(this.trustSystemRoots ? [...systemTrustAnchors(), ...this.#extraAnchors] : this.#extraAnchors);
    return this.#anchors;
  }

  /**
   * The one TLS secure context of this policy (trust anchors, client certificate, minimum version), made once and
   * shared by every connection so that the CA store is not parsed per handshake.
   */
  get secureContext(): tls.SecureContext {
    if (!this.#secureContext) {
      const options: tls.SecureContextOptions & { allowPartialTrustChain?: boolean } = { minVersion: this.minVersion };
      if (this.#extraAnchors.length > 0) {
        options.ca = this.trustAnchors.certificates.map((c) => c.toString());
        if (!this.trustSystemRoots && supportsPartialChains()) options.allowPartialTrustChain = true;
      }
      if (this.#clientCertificate) Object.assign(options, this.#clientCertificate);
      this.#secureContext = tls.createSecureContext(options);
    }
    return this.#secureContext;
  }

  /** Hands a report to `onReport` without letting it delay or break the connection. */
  report(report: PinReport): void {
    const onReport = this.#onReport;
    if (!onReport) return;
    queueMicrotask(() => {
      try {
        onReport(report);
      } catch {
        // A reporter's failure must not affect connections.
      }
    });
  }

  /**
   * Builds a policy from parsed JSON (the format `certpin init` writes). Certificate paths in `ca` are read
   * relative to `baseDir`.
   */
  static fromJSON(json: unknown, options: { source?: string; baseDir?: string } & Pick<PinPolicyOptions, 'onReport' | 'onWarning' | 'now'> = {}): PinPolicy {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new PolicyError('(root)', 'a policy file holds a JSON object with a "hosts" map');
    const { $schema: _schema, $comment: _comment, ca, clientCertificate, ...rest } = json as Record<string, unknown>;
    const baseDir = options.baseDir ?? process.cwd();
    const readPath = (file: unknown, at: string): Buffer => {
      if (typeof file !== 'string') throw new PolicyError(at, 'expected a file path (string)');
      try {
        return readFileSync(path.resolve(baseDir, file));
      } catch (error) {
        throw new PolicyError(at, `cannot read ${file}: ${(error as Error).message}`, { cause: error });
      }
    };
    const caList = ca === undefined ? undefined : (Array.isArray(ca) ? ca : [ca]).map((file, i) => readPath(file, `ca[${i}]`));
    let client: PinPolicyOptions['clientCertificate'];
    if (clientCertificate !== undefined) {
      const cc = clientCertificate as Record<string, unknown>;
      client = { cert: readPath(cc.cert, 'clientCertificate.cert'), key: readPath(cc.key, 'clientCertificate.key') };
      if (typeof cc.passphrase === 'string') client.passphrase = cc.passphrase;
    }
    const hosts = (rest as { hosts?: unknown }).hosts;
    if (hosts && typeof hosts === 'object' && !Array.isArray(hosts)) {
      for (const [pattern, entry] of Object.entries(hosts)) {
        if (entry && typeof entry === 'object' && !Array.isArray(entry)) {
          const { $comment: _c, ...known } = entry as Record<string, unknown>;
          const unknownKeys = Object.keys(known).filter((k) => !['pins', 'includeSubdomains', 'expires', 'reportOnly'].includes(k));
          if (unknownKeys.length) throw new PolicyError(`hosts[${JSON.stringify(pattern)}]`, `unknown field "${unknownKeys[0]}" (known: pins, includeSubdomains, expires, reportOnly)`);
        }
      }
    }
    const unknownTop = Object.keys(rest).filter((k) => !['hosts', 'defaultPins', 'onlyPinnedHosts', 'reportOnly', 'requireBackupPin', 'trustSystemRoots', 'minVersion'].includes(k));
    if (unknownTop.length) throw new PolicyError(unknownTop[0]!, 'unknown field (known: hosts, defaultPins, onlyPinnedHosts, reportOnly, requireBackupPin, trustSystemRoots, minVersion, ca, clientCertificate)');
    return new PinPolicy({
      ...(rest as unknown as PinPolicyOptions),
      ...(caList ? { ca: caList } : {}),
      ...(client ? { clientCertificate: client } : {}),
      source: options.source ?? 'json',
      onReport: options.onReport,
      onWarning: options.onWarning,
      now: options.now,
    });
  }

  /**
   * Reads a policy file (JSON). Errors name the file and what to fix.
   * @example
   * ```ts
   * const policy = PinPolicy.fromFile('certpin.json');
   * ```
   */
  static fromFile(file: string, options: Pick<PinPolicyOptions, 'onReport' | 'onWarning' | 'now'> = {}): PinPolicy {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new PolicyError(file, `cannot read the policy file: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message}`, { cause: error });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new PolicyError(file, `not valid JSON (${(error as Error).message})`, { cause: error });
    }
    try {
      return PinPolicy.fromJSON(json, { ...options, source: file, baseDir: path.dirname(path.resolve(file)) });
    } catch (error) {
      if (error instanceof PolicyError && !error.message.includes(file)) {
        throw new PolicyError(`${file}: ${error.path}`, error.message.replace(/^Invalid pin policy at [^:]*: /, ''), { cause: error });
      }
      throw error;
    }
  }

  /**
   * Reads a policy from an environment variable holding JSON or a path to a JSON file, so that development and
   * production pins never mix in code. Returns `undefined` when the variable is not set.
   */
  static fromEnv(variable = 'CERTPIN_POLICY', options: Pick<PinPolicyOptions, 'onReport' | 'onWarning' | 'now'> = {}): PinPolicy | undefined {
    const value = process.env[variable];
    if (value === undefined || value.trim() === '') return undefined;
    if (value.trim().startsWith('{')) {
      let json: unknown;
      try {
        json = JSON.parse(value);
      } catch (error) {
        throw new PolicyError(`$${variable}`, `not valid JSON (${(error as Error).message})`, { cause: error });
      }
      return PinPolicy.fromJSON(json, { ...options, source: `$${variable}` });
    }
    return PinPolicy.fromFile(value.trim(), options);
  }
}

function booleanOption(value: unknown, at: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new PolicyError(at, `expected true or false, got ${JSON.stringify(value)}`);
  return value;
}

function parseExpiry(value: unknown, at: string): Date | undefined {
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

let publicSuffixOf: ((host: string) => string | null) | undefined;

function refusePublicSuffix(pattern: HostPattern, at: string): void {
  if (!publicSuffixOf) {
    // Loaded only when a policy has a wildcard: the suffix list is large and most policies never need it.
    const tldts = createRequire(import.meta.url)('tldts') as { getPublicSuffix(h: string, o: object): string | null };
    publicSuffixOf = (host) => tldts.getPublicSuffix(host, { allowPrivateDomains: false });
  }
  if (!pattern.base.includes('.') || publicSuffixOf(pattern.base) === pattern.base) {
    throw new PolicyError(at, `"${pattern.base}" is a public suffix; a pattern that covers every domain under it is refused. Pin your own domain.`);
  }
}

function readAnchors(ca: PinPolicyOptions['ca']): X509Certificate[] {
  if (ca === undefined) return [];
  const list = Array.isArray(ca) ? ca : [ca as CertificateInput];
  return list.flatMap((item, index) => {
    try {
      return typeof item === 'object' && !(item instanceof Uint8Array) ? [item as X509Certificate] : parseCertificates(item as string | Uint8Array, `ca[${index}]`);
    } catch (error) {
      throw new PolicyError(`ca[${index}]`, (error as Error).message, { cause: error });
    }
  });
}

function validateClientCertificate(value: PinPolicyOptions['clientCertificate']): PinPolicyOptions['clientCertificate'] {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || !value.cert || !value.key) {
    throw new PolicyError('clientCertificate', 'expected { cert, key } (PEM), and a passphrase if the key is encrypted');
  }
  try {
    tls.createSecureContext({ cert: value.cert, key: value.key, passphrase: value.passphrase });
  } catch (error) {
    throw new PolicyError('clientCertificate', `the certificate and key cannot be used (${(error as Error).message})`, { cause: error });
  }
  return Object.freeze({ ...value });
}

function supportsPartialChains(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 9);
}

