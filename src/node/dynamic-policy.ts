/**
 * Dynamic pins: a {@link PolicyHolder} whose pin sets come from a signed pin-set document that the application
 * fetches and verifies, so that pins rotate without an application release. Only the holder of a signing key can
 * change the pins, and nobody can weaken them below the application's built-in (bootstrap) policy: whoever serves the
 * document can at most serve an old or broken one, which is refused.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { certificateDer } from '../core/certificate.js';
import type { CertificateInput } from '../core/certificate.js';
import { DEFAULT_MAX_PINSET_BYTES } from '../core/pinset-document.js';
import { readPinSetKeys } from '../core/pinset-keys.js';
import type { PinSetKey, PinSetKeySet } from '../core/pinset-keys.js';
import { judgeSequence, raiseFloor } from '../core/pinset-sequence.js';
import type { SequenceFloor } from '../core/pinset-sequence.js';
import { findWeakening } from '../core/pinset-weakening.js';
import { PinPolicy } from '../core/policy.js';
import type { PolicyHolder } from '../core/policy.js';
import { PinSetDocumentError, PolicyError } from '../errors.js';
import { channels, publishPolicyUpdate } from './diagnostics.js';
import type { DecisionMessage, PolicyUpdateMessage } from './diagnostics.js';
import { readPinSetCache, writePinSetCache } from './pinset-cache.js';
import { fetchPinSetDocument } from './pinset-fetch.js';
import { verifyPinSetDocument } from './pinset-verify.js';
import type { VerifiedPinSetDocument } from './pinset-verify.js';

/**
 * Loads the document text your own way (a configuration service, a file, your API): resolves to the compact JWS.
 * `signal` aborts when the fetch timeout passes.
 */
export type PinSetDocumentLoader = (signal: AbortSignal) => Promise<string>;

/** Options of {@link DynamicPinPolicy}. */
export interface DynamicPinPolicyOptions {
  /**
   * The policy built into the application. Its pins apply until a valid document arrives and again after the last
   * one expires; its trust anchors, client certificate and development overrides apply always (a document never
   * carries them); and a document may not weaken its pin sets (see `allowUnpinning`).
   */
  readonly bootstrap: PinPolicy;
  /**
   * The public keys that may sign documents, as a JWKS: `{ keys: [{ kty: 'OKP', crv: 'Ed25519', x: '…', kid: '…' }] }`
   * (`certpin signing-key` writes it). Ed25519 and P-256 keys, each with a `kid`. List the next signing key here
   * before you sign with it.
   */
  readonly keys: PinSetKeySet;
  /** The application the documents are for: the `aud` claim must be (or include) it, e.g. `com.example.app`. */
  readonly audience: string;
  /** When given, the `iss` claim must be it. */
  readonly issuer?: string;
  /** The document's https URL (any static host: a CDN, an object store), or a function that loads its text. */
  readonly document: string | URL | PinSetDocumentLoader;
  /** Extra CAs for the document's https host, besides the system roots (a private CDN). PEM, DER or X509Certificate. */
  readonly documentCa?: CertificateInput | readonly CertificateInput[];
  /**
   * A file where the last good document and the highest `seq` are kept (written atomically, mode 0600), so that a
   * restart keeps the pins and the anti-rollback floor. Without it, both live as long as the process: after a
   * restart, any still-valid document (at most 30 days old) could be replayed once. Strongly recommended.
   */
  readonly cacheFile?: string;
  /**
   * Let a document unpin hosts the bootstrap pins, make them report-only, or turn off `onlyPinnedHosts`. Default
   * false: such a document is refused (`weakening`), so a stolen signing key can redirect pins but not switch
   * pinning off.
   */
  readonly allowUnpinning?: boolean;
  /** Milliseconds between refreshes, each with ±10% jitter; sooner as the document in force nears `exp`. Default 24 h. */
  readonly refreshInterval?: number;
  /** At most one refresh per this many milliseconds is triggered by pin failures. Default 10 minutes. */
  readonly failureRefreshInterval?: number;
  /**
   * Refresh on a schedule and after pin failures. Default true. Set false to refresh only when you call
   * {@link DynamicPinPolicy.refresh} (a job scheduler, a serverless function).
   */
  readonly autoRefresh?: boolean;
  /** Milliseconds allowed to fetch the document. Default 30 000. */
  readonly fetchTimeout?: number;
  /** Largest document accepted, in bytes. Default 4 MiB. */
  readonly maxDocumentBytes?: number;
  /** Seconds this clock may be behind the signer's (for `iat` and `nbf`; never for `exp`). Default 60. */
  readonly clockTolerance?: number;
  /** Called with every event (also published on `certpin:policy-update`). Exceptions are ignored. */
  readonly onEvent?: (event: PolicyUpdateMessage) => void;
}

interface ActiveDocument {
  readonly document: VerifiedPinSetDocument;
  readonly policy: PinPolicy;
  readonly expiresAt: number;
}

type Origin = 'fetched' | 'offered' | 'cached';

const HOUR = 3_600_000;
const DEFAULT_REFRESH_INTERVAL = 24 * HOUR;
const DEFAULT_FAILURE_REFRESH_INTERVAL = 10 * 60_000;
/** First retry after a failed fetch; doubles with each failure up to the refresh interval. */
const RETRY_AFTER_FAILURE = 5 * 60_000;
/** No scheduled refresh comes sooner than this, however near `exp` is. */
const MIN_REFRESH_DELAY = 60_000;
/** setTimeout's limit (2^31 - 1 ms, about 24.8 days); longer waits are re-armed. */
const MAX_TIMER = 2_147_483_647;

/**
 * A pin policy whose pin sets come from signed pin-set documents: use it wherever a {@link PinPolicy} goes (every
 * adapter takes it). Each connection is checked under the policy in force when it is opened; when the pin sets
 * change, pooled connections and TLS sessions of the older policy are no longer used.
 *
 * What it guarantees:
 * - a document applies only if its signature verifies with a key of `keys` (EdDSA or ES256, `kid` required), its
 *   `typ` is `certpin-pinset+jws`, its `aud` is this application, it is within `nbf`..`exp` and `exp` is at most 30
 *   days after `iat`;
 * - its `seq` must exceed the highest accepted (no rollback to an older document), and the same `seq` must come with
 *   the same payload (no equivocation);
 * - it replaces the pin sets (never merges), on the bootstrap's trust anchors, and may not weaken the bootstrap's pin
 *   sets unless `allowUnpinning`;
 * - a refused or unreachable document changes nothing: the last good one stays until its own `exp`, then the
 *   bootstrap applies. Fetching never delays a connection.
 *
 * @example
 * ```ts
 * import { DynamicPinPolicy, PinPolicy, pinnedFetch } from 'certpin';
 * import jwks from './certpin-keys.json' with { type: 'json' };   // from `certpin signing-key`
 *
 * const policy = new DynamicPinPolicy({
 *   bootstrap: new PinPolicy({ hosts: { 'api.example.com': ['sha256/…current…', 'sha256/…backup…'] } }),
 *   keys: jwks,
 *   audience: 'com.example.app',
 *   document: 'https://cdn.example.com/pins/app.jws',     // written by `certpin sign`
 *   cacheFile: '/var/lib/example/certpin-pins.json',
 * });
 * await policy.ready();                                   // optional: wait for the first fetch at start-up
 * const fetchPinned = pinnedFetch(policy);
 * ```
 * @throws {PolicyError} for unusable options (no key, a private key in the JWKS, a non-https URL, …).
 */
export class DynamicPinPolicy implements PolicyHolder {
  /** The application's built-in policy. */
  readonly bootstrap: PinPolicy;
  readonly #keys: ReadonlyMap<string, PinSetKey>;
  readonly #audience: string;
  readonly #issuer: string | undefined;
  readonly #load: (background: boolean) => Promise<string>;
  readonly #name: string;
  readonly #cacheFile: string | undefined;
  readonly #allowUnpinning: boolean;
  readonly #refreshInterval: number;
  readonly #failureRefreshInterval: number;
  readonly #autoRefresh: boolean;
  readonly #maxBytes: number;
  readonly #clockTolerance: number;
  readonly #onEvent: ((event: PolicyUpdateMessage) => void) | undefined;
  readonly #listeners = new Set<(next: PinPolicy) => void>();
  readonly #loaded: Promise<void>;
  readonly #ready: Promise<PinPolicy>;
  #active: ActiveDocument | undefined;
  #floor: SequenceFloor | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #refreshing: Promise<PolicyUpdateMessage> | undefined;
  #queuedRefresh: Promise<PolicyUpdateMessage> | undefined;
  #cacheWrite: Promise<void> = Promise.resolve();
  #refreshTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #lastFailureRefresh = -Infinity;
  #closed = false;
  readonly #onDecision = (message: unknown) => this.#pinFailure(message as DecisionMessage);

  constructor(options: DynamicPinPolicyOptions) {
    if (options === null || typeof options !== 'object') throw new PolicyError('(options)', 'expected { bootstrap, keys, audience, document }');
    if (!(options.bootstrap instanceof PinPolicy)) throw new PolicyError('bootstrap', 'expected the application\'s built-in PinPolicy');
    this.bootstrap = options.bootstrap;
    this.#keys = readPinSetKeys(options.keys);
    if (typeof options.audience !== 'string' || options.audience === '') throw new PolicyError('audience', 'name the application the documents are for (the "aud" claim), e.g. "com.example.app"');
    this.#audience = options.audience;
    if (options.issuer !== undefined && (typeof options.issuer !== 'string' || options.issuer === '')) throw new PolicyError('issuer', 'expected a non-empty string');
    this.#issuer = options.issuer;
    this.#cacheFile = optionalString(options.cacheFile, 'cacheFile');
    this.#allowUnpinning = options.allowUnpinning === true;
    this.#refreshInterval = numberOption(options.refreshInterval, 'refreshInterval', DEFAULT_REFRESH_INTERVAL, MIN_REFRESH_DELAY);
    this.#failureRefreshInterval = numberOption(options.failureRefreshInterval, 'failureRefreshInterval', DEFAULT_FAILURE_REFRESH_INTERVAL, 0);
    this.#autoRefresh = options.autoRefresh !== false;
    this.#maxBytes = numberOption(options.maxDocumentBytes, 'maxDocumentBytes', DEFAULT_MAX_PINSET_BYTES, 1);
    this.#clockTolerance = numberOption(options.clockTolerance, 'clockTolerance', 60, 0);
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw new PolicyError('onEvent', 'must be a function');
    this.#onEvent = options.onEvent;
    const timeout = numberOption(options.fetchTimeout, 'fetchTimeout', 30_000, 1);
    const source = options.document;
    if (typeof source === 'function') {
      this.#name = 'pin-set document';
      this.#load = () => withTimeout(source, timeout);
    } else {
      const url = documentUrl(source);
      const ca = readCa(options.documentCa);
      // Without its query and fragment: a pre-signed URL's token would otherwise go into every error and report.
      this.#name = `${url.origin}${url.pathname}`;
      this.#load = (background) => fetchPinSetDocument(url, { ca, timeout, maxBytes: this.#maxBytes, background });
    }

    this.#loaded = this.#loadCache();
    this.#ready = this.#loaded.then(() => this.refresh()).then(() => this.current());
    if (this.#autoRefresh) diagnostics.subscribe(channels.decision, this.#onDecision);
  }

  /** The policy in force: the last good document's pin sets until its `exp`, otherwise the bootstrap. Never blocks. */
  current(): PinPolicy {
    const active = this.#active;
    if (active === undefined) return this.bootstrap;
    if (this.bootstrap.now() < active.expiresAt) return active.policy;
    this.#active = undefined;
    this.#notify(this.bootstrap);
    this.#emit({
      event: 'fallback',
      policy: this.bootstrap,
      sequence: active.document.sequence,
      reason: `the document in force (seq ${active.document.sequence}) expired at ${new Date(active.expiresAt).toISOString()}; the built-in pins apply until a newer one arrives`,
    });
    return this.bootstrap;
  }

  /** Calls `listener` with each new policy in force (a new document, or the fallback); returns a function that stops it. */
  onChange(listener: (next: PinPolicy) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves once the cache file is read and the first fetch has ended (whatever its outcome), to the policy then in
   * force. Never rejects: an application that must not start on the bootstrap pins alone can check
   * `(await policy.ready()).pinSetSequence`.
   */
  ready(): Promise<PinPolicy> {
    return this.#ready;
  }

  /**
   * Fetches the document now (or right after a fetch already under way) and resolves to what became of it. Never
   * rejects.
   */
  refresh(): Promise<PolicyUpdateMessage> {
    return this.#refresh(false);
  }

  /**
   * Offers a document that arrived another way (pushed, or returned by your own API): it is judged exactly like a
   * fetched one. Resolves to what became of it; never rejects.
   */
  async offer(document: string): Promise<PolicyUpdateMessage> {
    await this.#loaded;
    return this.#consider(document, 'offered');
  }

  /** The `seq` of the document in force, or `undefined` while the bootstrap applies. */
  get sequence(): number | undefined {
    return this.current().pinSetSequence;
  }

  /** When the document in force expires, or `undefined` while the bootstrap applies. */
  get expires(): Date | undefined {
    this.current();
    return this.#active ? new Date(this.#active.expiresAt) : undefined;
  }

  /** Stops refreshing (timers, the pin-failure hook). The policy keeps answering `current()` until its document expires. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#expiryTimer);
    diagnostics.unsubscribe(channels.decision, this.#onDecision);
  }

  /**
   * Every refresh asked for gets a fetch that starts after it was asked for: one asked during a fetch is queued behind
   * it (all such requests share one queued fetch), since the running fetch may predate what prompted the request (a
   * new document published, a server that just moved to new pins).
   */
  #refresh(background: boolean): Promise<PolicyUpdateMessage> {
    if (this.#refreshing) {
      this.#queuedRefresh ??= this.#refreshing.then(() => {
        this.#queuedRefresh = undefined;
        return this.#refresh(background);
      });
      return this.#queuedRefresh;
    }
    this.#refreshing = this.#fetchAndConsider(background).finally(() => {
      this.#refreshing = undefined;
      this.#schedule();
    });
    return this.#refreshing;
  }

  async #fetchAndConsider(background: boolean): Promise<PolicyUpdateMessage> {
    await this.#loaded;
    let text: string;
    try {
      text = await this.#load(background);
    } catch (error) {
      this.#failures++;
      return this.#emit({ event: 'unavailable', policy: this.current(), reason: `${this.#name}: ${(error as Error)?.message ?? String(error)}` });
    }
    this.#failures = 0;
    return this.#consider(text, 'fetched');
  }

  /** Judges documents one at a time, in the order they arrive, so that each sees the floor the previous one left. */
  #consider(text: unknown, origin: Origin): Promise<PolicyUpdateMessage> {
    const judged = this.#queue.then(() => this.#judge(text, origin));
    this.#queue = judged.catch(() => {});
    return judged;
  }

  async #judge(text: unknown, origin: Origin): Promise<PolicyUpdateMessage> {
    let document: VerifiedPinSetDocument | undefined;
    let policy: PinPolicy;
    try {
      document = await verifyPinSetDocument(text, this.#keys, {
        audience: this.#audience,
        issuer: this.#issuer,
        now: this.bootstrap.now(),
        clockTolerance: this.#clockTolerance,
        maxBytes: this.#maxBytes,
      });
      const verdict = judgeSequence(this.#floor, document.sequence, document.digest);
      if (verdict.kind === 'rollback' || verdict.kind === 'equivocation') throw new PinSetDocumentError(verdict.kind, verdict.message);
      this.current();
      if (verdict.kind === 'same' && this.#active?.document.digest === document.digest) {
        return this.#emit({ event: 'unchanged', policy: this.current(), sequence: document.sequence });
      }
      policy = this.#policyOf(document);
    } catch (error) {
      // Whatever failed, nothing changes: an unexpected exception is a refusal too.
      const refusal = error instanceof PinSetDocumentError ? error : new PinSetDocumentError('malformed', `it could not be read (${(error as Error)?.message ?? String(error)})`, { cause: error });
      return this.#emit({
        event: 'refused',
        policy: this.current(),
        code: refusal.reason,
        error: refusal,
        reason: origin === 'cached' ? `the cached document: ${refusal.message}` : refusal.message,
        ...(document ? { sequence: document.sequence } : {}),
      });
    }
    return this.#activate(document, policy, origin);
  }

  #policyOf(document: VerifiedPinSetDocument): PinPolicy {
    let policy: PinPolicy;
    try {
      policy = this.bootstrap.withPinSets(document.pinSets, `${this.#name} (seq ${document.sequence})`, { sequence: document.sequence, expires: new Date(document.expires * 1000) });
    } catch (error) {
      throw new PinSetDocumentError('pin-sets', (error as Error).message, { cause: error });
    }
    if (!this.#allowUnpinning) {
      const weakening = findWeakening(this.bootstrap, policy, document.expires * 1000);
      if (weakening) {
        throw new PinSetDocumentError('weakening', `${weakening}. A document replaces pins; it never removes pinning the application ships with (the application may allow it with allowUnpinning: true).`);
      }
    }
    return policy;
  }

  async #activate(document: VerifiedPinSetDocument, policy: PinPolicy, origin: Origin): Promise<PolicyUpdateMessage> {
    this.#active = { document, policy, expiresAt: document.expires * 1000 };
    this.#floor = raiseFloor(this.#floor, { sequence: document.sequence, digest: document.digest });
    this.#armExpiry();
    this.#notify(policy);
    // A pushed document may expire sooner than the one before: the next refresh comes halfway to its `exp`. (A fetched
    // one is scheduled when its refresh ends.)
    if (origin === 'offered' && !this.#refreshing) this.#schedule();
    if (origin !== 'cached') await this.#persist(document.compact);
    return this.#emit({ event: 'updated', policy, sequence: document.sequence, ...(origin === 'cached' ? { reason: 'read from the cache file' } : {}) });
  }

  async #loadCache(): Promise<void> {
    if (this.#cacheFile === undefined) return;
    const cached = await readPinSetCache(this.#cacheFile, this.#maxBytes);
    if (cached.problem) this.#emit({ event: 'refused', policy: this.current(), code: 'malformed', reason: `cache file ignored: ${cached.problem}` });
    // The cached document is judged like any other; the unsigned floor next to it can only raise the floor after it.
    if (cached.jws !== undefined) await this.#consider(cached.jws, 'cached');
    this.#floor = raiseFloor(this.#floor, cached.floor);
    // Another process of the application accepted a newer document than the one the file holds (they share the file):
    // the older one has been replaced and is not used; the built-in pins apply until the newer one is fetched.
    const active = this.#active;
    if (active && this.#floor && active.document.sequence < this.#floor.sequence) {
      this.#active = undefined;
      clearTimeout(this.#expiryTimer);
      this.#notify(this.bootstrap);
      this.#emit({
        event: 'refused',
        policy: this.bootstrap,
        code: 'rollback',
        sequence: active.document.sequence,
        reason: `the cached document (seq ${active.document.sequence}) is older than seq ${this.#floor.sequence}, recorded beside it as accepted: the built-in pins apply until a document of seq ${this.#floor.sequence} or higher arrives`,
      });
    }
  }

  #persist(jws: string): Promise<void> {
    const file = this.#cacheFile;
    const floor = this.#floor;
    if (file === undefined || floor === undefined) return Promise.resolve();
    this.#cacheWrite = this.#cacheWrite
      .then(() => writePinSetCache(file, { jws, floor }, this.#maxBytes))
      .catch((error: unknown) => {
        process.emitWarning(`certpin: the pin-set cache ${file} could not be written (${(error as Error).message}); after a restart the last good document and the anti-rollback floor are lost.`, { code: 'CERTPIN_PINSET_CACHE_WRITE' });
      });
    return this.#cacheWrite;
  }

  /** The next refresh: the interval, or a backoff after failures, and never later than halfway to the document's `exp`. */
  #schedule(): void {
    if (this.#closed || !this.#autoRefresh) return;
    clearTimeout(this.#refreshTimer);
    let delay = this.#failures > 0 ? Math.min(this.#refreshInterval, RETRY_AFTER_FAILURE * 2 ** Math.min(this.#failures - 1, 16)) : this.#refreshInterval;
    const active = this.#active;
    if (active) delay = Math.min(delay, Math.max(MIN_REFRESH_DELAY, (active.expiresAt - this.bootstrap.now()) / 2));
    // Jitter spreads a fleet that started together over ±10% of the delay.
    delay *= 0.9 + Math.random() * 0.2;
    this.#refreshTimer = setTimeout(() => void this.#refresh(true), Math.min(delay, MAX_TIMER));
    this.#refreshTimer.unref();
  }

  /** A timer at the document's `exp`, so the fallback is published when it happens, not at the next connection. */
  #armExpiry(): void {
    clearTimeout(this.#expiryTimer);
    const active = this.#active;
    if (!active || this.#closed) return;
    this.#expiryTimer = setTimeout(() => {
      if (this.current() !== this.bootstrap) this.#armExpiry();
    }, Math.min(Math.max(active.expiresAt - this.bootstrap.now(), 0), MAX_TIMER));
    this.#expiryTimer.unref();
  }

  /**
   * A pin failure on a host this policy pins (or a host refused under `onlyPinnedHosts`) may mean the server rotated
   * to pins a newer document carries: refresh once, at most every `failureRefreshInterval`, after the handshake.
   */
  #pinFailure(decision: DecisionMessage): void {
    if (this.#closed || (decision.outcome !== 'mismatch' && decision.outcome !== 'refused-not-pinned')) return;
    const policy = this.current();
    if (decision.outcome === 'mismatch' ? policy.ruleFor(decision.host) === undefined : !policy.onlyPinnedHosts) return;
    // The real clock: this limits load on the document's host, whatever clock the policy runs on.
    const now = Date.now();
    if (now - this.#lastFailureRefresh < this.#failureRefreshInterval) return;
    this.#lastFailureRefresh = now;
    setImmediate(() => void this.#refresh(true));
  }

  #notify(policy: PinPolicy): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(policy);
      } catch {
        // A listener's failure must not stop the others from retiring connections of the older policy.
      }
    }
  }

  #emit(message: PolicyUpdateMessage): PolicyUpdateMessage {
    publishPolicyUpdate(message);
    try {
      this.#onEvent?.(message);
    } catch {
      // Events are information; a failing handler changes nothing.
    }
    return message;
  }
}

function documentUrl(source: unknown): URL {
  let url: URL;
  try {
    url = new URL(source as string | URL);
  } catch {
    throw new PolicyError('document', `${JSON.stringify(String(source))} is not a URL; give the document's https URL or a function that loads it`);
  }
  if (url.protocol !== 'https:') throw new PolicyError('document', `${url.href} is not https: the document is fetched over https only`);
  if (url.username || url.password) throw new PolicyError('document', 'the URL may not carry credentials; use a function that loads the document instead');
  return url;
}

function readCa(value: DynamicPinPolicyOptions['documentCa']): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? (value as readonly CertificateInput[]) : [value as CertificateInput];
  try {
    return list.flatMap((item, index) => certificateDer(item, `documentCa[${index}]`).map((der) => new X509Certificate(der).toString()));
  } catch (error) {
    throw new PolicyError('documentCa', (error as Error).message, { cause: error });
  }
}

function optionalString(value: unknown, at: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new PolicyError(at, 'expected a non-empty string');
  return value;
}

function numberOption(value: unknown, at: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new PolicyError(at, `expected a number of at least ${min}, got ${JSON.stringify(value)}`);
  return value;
}

async function withTimeout(load: PinSetDocumentLoader, timeout: number): Promise<string> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`the document loader did not answer within ${timeout} ms`);
      controller.abort(error);
      reject(error);
    }, timeout);
    timer.unref();
  });
  try {
    const text = await Promise.race([load(controller.signal), expired]);
    if (typeof text !== 'string') throw new Error(`the document loader resolved to ${typeof text}, not the document's text`);
    return text;
  } finally {
    clearTimeout(timer);
  }
}
