/**
 * The one mechanism every adapter shares: open a TLS connection whose handshake enforces a pin policy.
 *
 * - Trust anchors, client certificate and minimum version come from the policy's single secure context.
 * - Options that would weaken TLS are refused, not ignored.
 * - TLS sessions are resumed only from a cache of sessions whose full handshake passed this policy's check: Node
 *   skips `checkServerIdentity` on a resumed session, so a session from anywhere else would skip the pins.
 * @module
 */
import tls from 'node:tls';
import { InsecureOptionError } from '../errors.js';
import { isIpLiteral, unbracketHost } from '../core/hostname.js';
import type { PinPolicy } from '../core/policy.js';
import { createPinCheck } from './pin-check.js';
import type { CheckServerIdentity, DecisionObserver } from './pin-check.js';

/** Options certpin sets itself; a caller who passes one of these gets an error rather than a silent override. */
const POLICY_OWNED_OPTIONS = ['ca', 'secureContext', 'cert', 'key', 'pfx', 'passphrase', 'secureProtocol', 'crl'] as const;
const WEAK_VERSIONS = new Set(['SSLv3', 'TLSv1', 'TLSv1.1']);

/** Throws when `options` asks for anything that would weaken TLS or bypass the policy's trust configuration. */
export function assertSafeTlsOptions(options: Readonly<Record<string, unknown>>, where = 'options'): void {
  if (options.rejectUnauthorized === false) {
    throw new InsecureOptionError('rejectUnauthorized', `${where}.rejectUnauthorized is false: certpin never turns certificate validation off. For a development CA, add it to the policy's "ca".`);
  }
  for (const name of ['minVersion', 'maxVersion'] as const) {
    if (typeof options[name] === 'string' && WEAK_VERSIONS.has(options[name] as string)) {
      throw new InsecureOptionError(name, `${where}.${name} is ${String(options[name])}: certpin requires TLS 1.2 or later.`);
    }
  }
  for (const name of POLICY_OWNED_OPTIONS) {
    if (options[name] !== undefined) {
      throw new InsecureOptionError(name, `${where}.${name} is set: trust anchors, client certificates and protocol settings belong to the PinPolicy (ca, trustSystemRoots, clientCertificate, minVersion), so that pins are verified against the same store.`);
    }
  }
}

/**
 * The options to spread into `tls.connect` (or any API that takes TLS options) to enforce `policy`.
 *
 * Do not add a `session` of your own: Node does not check pins on a resumed session. {@link pinnedConnect} handles
 * resumption safely. The `sessionIdContext` entry keeps an `https.Agent`'s pooled sockets and cached sessions for
 * these options apart from those of unpinned requests (it is part of the agent's pool key).
 *
 * @example
 * ```ts
 * const socket = tls.connect({ host: 'api.example.com', port: 443, ...pinnedTlsOptions(policy) });
 * socket.on('secureConnect', () => socket.write('...'));   // only reached when the pins matched
 * ```
 */
export function pinnedTlsOptions(policy: PinPolicy): tls.ConnectionOptions & { sessionIdContext: string } {
  return {
    secureContext: policy.secureContext,
    minVersion: policy.minVersion,
    rejectUnauthorized: true,
    checkServerIdentity: createPinCheck(policy),
    sessionIdContext: `certpin-${policy.id}`,
  };
}

/** Extra options of {@link pinnedConnect}. */
export interface PinnedConnectOptions extends tls.ConnectionOptions {
  /** Sees the pin decision of this connection (for diagnostics; cannot change it). */
  onPinDecision?: DecisionObserver;
  /**
   * Offer a TLS session this policy checked before (default `true`). `false` forces a full handshake, so that the
   * pin check runs and `onPinDecision` sees its decision (Node skips the check on a resumed session).
   */
  resume?: boolean;
}

/**
 * A checked session to offer, or (`session` undefined) a note that the server keeps declining the sessions it
 * issues: such a server would otherwise be offered one, and the client pay for a PSK it ignores, on every handshake.
 * One decline is forgiven (a restarted server has new ticket keys); {@link DECLINES_BEFORE_PAUSE} in a row are not.
 */
interface CachedSession {
  readonly session: Buffer | undefined;
  readonly until: number;
  readonly declines: number;
}

const DECLINES_BEFORE_PAUSE = 2;
const SESSION_LIFETIME_MS = 5 * 60_000;
const SESSION_CACHE_LIMIT = 256;
const sessionCaches = new WeakMap<PinPolicy, Map<string, CachedSession>>();

/**
 * `tls.connect` with the policy enforced in the handshake. Every adapter (agent, dispatcher, http2, …) opens its
 * sockets here. Unlike `tls.connect`, it sends `host` as the server name (SNI) when no `servername` is
 * given and `host` is a name, not an IP literal.
 *
 * @example
 * ```ts
 * const socket = pinnedConnect(policy, { host: 'api.example.com', port: 443, ALPNProtocols: ['http/1.1'] });
 * ```
 * @throws {InsecureOptionError} for options that would weaken TLS or override the policy's trust configuration.
 */
export function pinnedConnect(policy: PinPolicy, options: PinnedConnectOptions, onSecureConnect?: () => void): tls.TLSSocket {
  const { onPinDecision, checkServerIdentity, resume = true, session: _ignoredSession, ...rest } = options;
  assertSafeTlsOptions(rest as Record<string, unknown>);
  const connectOptions: tls.ConnectionOptions = {
    ...rest,
    secureContext: policy.secureContext,
    minVersion: options.minVersion ?? policy.minVersion,
    rejectUnauthorized: true,
    checkServerIdentity: createPinCheck(policy, checkServerIdentity as CheckServerIdentity | undefined, onPinDecision),
  };
  connectOptions.servername = serverNameFor(rest.servername, rest.host);
  const cacheKey = `${connectOptions.servername ?? ''}|${rest.host ?? 'localhost'}|${rest.port ?? ''}`;
  let cache = sessionCaches.get(policy);
  if (!cache) sessionCaches.set(policy, (cache = new Map()));
  const cached = cache.get(cacheKey);
  if (cached && cached.until <= Date.now()) cache.delete(cacheKey);
  else if (resume && cached?.session) connectOptions.session = cached.session;

  const socket = tls.connect(connectOptions, onSecureConnect);
  rememberVerifiedSessions(socket, cache, cacheKey, connectOptions.session !== undefined);
  return socket;
}

/**
 * The SNI to send: the caller's server name, else the host when it is a name. `tls.connect` sends none unless told,
 * and an IP literal may not be one (RFC 6066): then the certificate is checked against the host dialled.
 */
function serverNameFor(servername: string | undefined, host: string | undefined): string | undefined {
  for (const name of [servername, host]) {
    if (name && !isIpLiteral(unbracketHost(name))) return name;
  }
  return undefined;
}

/**
 * Caches the socket's TLS session only once the handshake has passed the pin check: `secureConnect` is emitted only
 * then, since validation errors destroy the socket first. (Node 20 to 24 emit `session` after `secureConnect` and
 * never for a refused handshake; the guard keeps that true whatever a future version does.)
 *
 * A session stays cached when its connection later ends in an error (undici destroys idle sockets with one): it was
 * checked, and nothing that happens after the handshake changes that. Lifetimes follow the wall clock, not the
 * policy's clock (which decides pin-set expiry, and may throw).
 */
function rememberVerifiedSessions(socket: tls.TLSSocket, cache: Map<string, CachedSession>, key: string, offered: boolean): void {
  let verified = false;
  socket.once('secureConnect', () => {
    verified = true;
    const current = cache.get(key);
    if (!offered || !current?.session) return;
    const declines = socket.isSessionReused() ? 0 : current.declines + 1;
    cache.set(key, declines >= DECLINES_BEFORE_PAUSE ? { session: undefined, until: Date.now() + SESSION_LIFETIME_MS, declines } : { ...current, declines });
  });
  socket.on('session', (session: Buffer) => {
    if (!verified) return;
    const current = cache.get(key);
    if (current && current.session === undefined && current.until > Date.now()) return;
    if (cache.size >= SESSION_CACHE_LIMIT && !cache.has(key)) cache.delete(cache.keys().next().value!);
    cache.set(key, { session, until: Date.now() + SESSION_LIFETIME_MS, declines: current?.declines ?? 0 });
  });
}
