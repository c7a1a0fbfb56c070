/**
 * The one mechanism every adapter shares: open a TLS connection whose handshake enforces a pin policy.
 *
 * - Trust anchors, client certificate and minimum version come from the policy's single secure context.
 * - Options that would weaken TLS or skip the certificate check are refused, not ignored.
 * - Every name the connection is for counts: the name the certificate is checked for, the host dialled, and the
 *   request's Host when the caller names it.
 * - A handshake that completes without the pin check having passed (a resumed session certpin did not offer, a
 *   certificate-less handshake) is destroyed before `secureConnect` reaches anyone else.
 * - TLS sessions are resumed only from a cache of sessions whose full handshake passed this policy's check.
 * @module
 */
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { nodeTls } from '../builtins.js';
import { isIpLiteral, unbracketHost } from '../core/hostname.js';
import type { PinPolicy, PolicyHolder } from '../core/policy.js';
import { PinCheckFailedError } from '../errors.js';
import { createPinCheck } from './pin-check.js';
import type { CheckServerIdentity, DecisionObserver } from './pin-check.js';
import { readServedChain } from './served-chain.js';
import { callerCheckId, sessionSlot } from './session-cache.js';
import { assertSafeTlsOptions } from './tls-options.js';
import { tlsTrustFor } from './trust-store.js';
import type { TlsTrust } from './trust-store.js';

/** Extra options of {@link pinnedConnect}. */
export interface PinnedConnectOptions extends tls.ConnectionOptions {
  /** Sees the pin decision of this connection (for diagnostics; cannot change it). */
  onPinDecision?: DecisionObserver;
  /**
   * Offer a TLS session this policy checked before (default `true`). `false` forces a full handshake, so that the
   * pin check runs and `onPinDecision` sees its decision (Node skips the check on a resumed session).
   */
  resume?: boolean;
  /**
   * The Host (or `:authority`) of the requests this connection will carry, when it names another host than
   * `servername`/`host`: its pin set must be satisfied too.
   */
  requestHost?: string;
}

/**
 * `tls.connect` with the policy enforced in the handshake. Every adapter (agent, dispatcher, http2, …) opens its
 * sockets here. Unlike `tls.connect`, it sends `host` as the server name (SNI) when no `servername` is given and
 * `host` is a name, not an IP literal.
 *
 * @param policy a {@link PinPolicy}, or a dynamic policy: the policy in force when the connection opens applies.
 * @example
 * ```ts
 * const socket = pinnedConnect(policy, { host: 'api.example.com', port: 443, ALPNProtocols: ['http/1.1'] });
 * ```
 * @throws {InsecureOptionError} for options that would weaken TLS, skip the certificate check or override the
 *   policy's trust configuration.
 */
export function pinnedConnect(policy: PinPolicy | PolicyHolder, options: PinnedConnectOptions, onSecureConnect?: () => void): tls.TLSSocket {
  const socket = openPinnedSocket(policy, options, undefined);
  if (onSecureConnect) socket.once('secureConnect', onSecureConnect);
  return socket;
}

/**
 * Where an agent's socket goes besides what the request's options say. The agent passes it beside the options
 * instead of copying them into a new object: the options are copied once, here, per connection.
 */
export interface SocketRoute {
  /** The IPC path to dial: an agent's `socketPath`. It replaces the request's `path`, which is a URL path. */
  readonly path: string | undefined;
  /** An established tunnel (a proxy's CONNECT) to run TLS over. */
  readonly socket: Duplex | undefined;
  /** The request's Host header. */
  readonly requestHost: string | undefined;
}

/** {@link pinnedConnect}, with the route an agent adds to a request's options. */
export function openPinnedSocket(policy: PinPolicy | PolicyHolder, options: PinnedConnectOptions, route: SocketRoute | undefined): tls.TLSSocket {
  const current = policy.current();
  assertSafeTlsOptions(options as Record<string, unknown>, 'options', current.trust.minVersion);
  const { onPinDecision, checkServerIdentity, resume = true } = options;
  if (checkServerIdentity !== undefined && typeof checkServerIdentity !== 'function') {
    throw new TypeError('pinnedConnect: options.checkServerIdentity must be a function');
  }
  const requestHost = route ? route.requestHost : options.requestHost;
  const servername = serverNameFor(options.servername, options.host);
  const host = options.host ?? 'localhost';
  const port = options.port === undefined ? undefined : Number(options.port) || undefined;
  // Node's own host-name check runs anyway: got passes it as "the caller's".
  const callerCheck = checkServerIdentity === nodeTls().checkServerIdentity ? undefined : (checkServerIdentity as CheckServerIdentity | undefined);
  // The check may ask the socket for every served certificate; the socket exists by the time the check runs.
  const handle: { socket?: tls.TLSSocket } = {};
  const check = createPinCheck(policy, {
    names: [host, requestHost],
    port,
    callerCheck,
    observe: onPinDecision,
    readServed: () => (handle.socket ? readServedChain(handle.socket) : []),
  });
  const slot = sessionSlot(
    current,
    `${servername ?? ''}|${host}|${port ?? ''}|${requestHost ?? ''}|${callerCheckId(callerCheck)}`,
    resume,
  );
  // One copy of the caller's options (certpin's own, onPinDecision, resume and requestHost, mean nothing to Node).
  // The literal makes certpin's options, and the transport an agent routes to, the copy's own properties before
  // anything is copied, so that the writes below replace the caller's values without ever reaching a setter an
  // Object.prototype may hold; then neither the caller nor anything inherited can supply a session, a PSK, another
  // identity check or another transport. Object.assign costs a third of a spread followed by properties on Node 20
  // (an own "__proto__" becomes the copy's prototype, which Node never reads: it copies own properties only).
  const connectOptions: tls.ConnectionOptions = Object.assign(
    { servername: undefined, secureContext: undefined, rejectUnauthorized: true, checkServerIdentity: undefined, session: undefined, pskCallback: undefined, socket: undefined, path: undefined },
    options,
  );
  if (route) {
    connectOptions.path = route.path;
    if (route.socket) connectOptions.socket = route.socket;
  }
  connectOptions.servername = servername;
  const trust = tlsTrustFor(current);
  connectOptions.secureContext = trust.secureContext;
  connectOptions.rejectUnauthorized = true;
  connectOptions.checkServerIdentity = check.checkServerIdentity;
  connectOptions.session = slot.offer;
  connectOptions.pskCallback = undefined;
  const opened = nodeTls().connect(connectOptions);
  handle.socket = opened;
  // A resumed session runs no check: it stands only while the policy it was checked under is in force.
  refuseUncheckedHandshake(opened, check.passed, slot.offer !== undefined && (() => policy.current() === current), servername ?? host);
  slot.watch(opened, check.checkedUntil);
  if (!trust.anchorsReady) prepareAnchorsDuringHandshake(opened, trust);
  return opened;
}

/**
 * A process's first connections build the policy's anchor index (the system store read, every anchor filed) once
 * their ClientHello is out, while the server works on its reply, instead of in the first decision. The work is the
 * same; the round trip hides it. Errors are left to the decision, which meets them again and refuses the chain.
 */
function prepareAnchorsDuringHandshake(socket: tls.TLSSocket, trust: TlsTrust): void {
  const prepare = (): void => {
    setImmediate(() => {
      try {
        trust.prepareAnchors();
      } catch {
        // The decision builds the index again and fails closed with the error.
      }
    });
  };
  // Node sends the ClientHello from its own `connect` listener, the first one; a socket given to wrap is connected.
  if (socket.connecting) socket.once('connect', prepare);
  else prepare();
}

/**
 * Destroys `socket` if its handshake completes without the pin check having passed, unless it resumed the session
 * certpin offered (whose full handshake passed) and `offeredOwnSession()` still holds (the policy that checked it is
 * in force); then no listener ever sees its `secureConnect`. Nothing reaches
 * this today (every certificate-less way to connect is refused on entry); it is the last line should a future Node,
 * or a bug, let a handshake skip `checkServerIdentity`.
 */
export function refuseUncheckedHandshake(socket: tls.TLSSocket, passed: () => boolean, offeredOwnSession: false | (() => boolean), name: string): void {
  const emit = socket.emit;
  socket.emit = function guardedEmit(this: tls.TLSSocket, event: string | symbol): boolean {
    if (event === 'secureConnect') {
      // Once: the event is emitted once per handshake, and the socket goes back to Node's own emit.
      socket.emit = emit;
      if (!passed() && !(offeredOwnSession && socket.isSessionReused() && offeredOwnSession())) {
        socket.destroy(new PinCheckFailedError(name, new Error('the handshake completed without a certificate check')));
        return false;
      }
    }
    // `arguments` as is: every event before the handshake's end passes here, and a copy per event adds up.
    // eslint-disable-next-line prefer-rest-params
    return Reflect.apply(emit, this, arguments) as boolean;
  } as typeof socket.emit;
}

/**
 * The SNI to send: the caller's server name, else the host when it is a name. `tls.connect` sends none unless told,
 * and an IP literal may not be one (RFC 6066): then the certificate is checked against the host dialled.
 */
function serverNameFor(servername: string | undefined, host: string | undefined): string | undefined {
  if (servername && !isIpLiteral(unbracketHost(servername))) return servername;
  if (host && !isIpLiteral(unbracketHost(host))) return host;
  return undefined;
}

/**
 * The options to spread into `tls.connect` (or any API that takes TLS options) to enforce `policy`. Spread them
 * LAST, so that nothing written before them can override them: they also clear `session` and `pskCallback`, which
 * would let a handshake skip the certificate check.
 *
 * The `sessionIdContext` entry keeps an `https.Agent`'s pooled sockets for these options apart from those of
 * unpinned requests (it is part of the agent's pool key). It names the policy in force when the object is spread, so
 * with a dynamic policy spread the object into each request (`{ agent, ...options }`): a request then never gets a
 * kept-alive socket checked under an earlier policy. Prefer {@link pinnedConnect} or `pinnedAgent`: they also
 * refuse weakening options instead of overriding them, resume checked sessions, count the Host header, and retire
 * the sockets of an earlier policy however the options were copied.
 *
 * @example
 * ```ts
 * const socket = tls.connect({ host: 'api.example.com', port: 443, ...pinnedTlsOptions(policy) });
 * socket.on('secureConnect', () => socket.write('...'));   // only reached when the pins matched
 * ```
 */
export function pinnedTlsOptions(policy: PinPolicy | PolicyHolder): tls.ConnectionOptions & { sessionIdContext: string } {
  const bootstrap = policy.current();
  return {
    secureContext: tlsTrustFor(bootstrap).secureContext,
    minVersion: bootstrap.trust.minVersion,
    rejectUnauthorized: true,
    // Node calls it as a method of the connection's options, which carry the host dialled and the port.
    checkServerIdentity(this: { host?: unknown; port?: unknown } | undefined, hostname: string, certificate: tls.PeerCertificate) {
      const host = typeof this?.host === 'string' ? this.host : undefined;
      const port = typeof this?.port === 'number' ? this.port : Number(this?.port) || undefined;
      return createPinCheck(policy, { names: [host], port }).checkServerIdentity(hostname, certificate);
    },
    session: undefined,
    pskCallback: undefined,
    // Read when the object is spread: the policy in force then, so that an agent's pools follow a dynamic policy.
    get sessionIdContext() {
      return `certpin-${policy.current().id}`;
    },
  };
}
