/**
 * fetch and undici: a `Dispatcher` whose every connection is opened by {@link pinnedConnect}.
 *
 * undici opens sockets in one place, the `connect` function of its pools; this module gives an undici 7 `Agent` (or
 * `ProxyAgent`) a connector that runs the pinned handshake there. A pooled connection therefore exists only once it
 * passed the policy, and keep-alive, HTTP/2 multiplexing, retries and every hop of a redirect reuse or open only
 * such connections. The dispatcher itself is the last hop of every request, after any interceptor composed on top
 * of it (`dispatcher.compose(interceptors.dns(), interceptors.redirect())`): a plain `http:` request is refused
 * there when any name it is for (the origin, its Host header) is pinned, even once an interceptor has swapped the
 * name for an address. With a dynamic policy, each new policy gets fresh pools; the old ones close once their
 * requests end.
 *
 * An undici interceptor cannot pin by itself: it sees requests, never the socket or its handshake. Pinning happens
 * where sockets are made, which is why this is a dispatcher and not an interceptor.
 *
 * undici 7 is the major used: its dispatchers still accept the legacy handler interface (`onConnect`, `onHeaders`,
 * `onError`, …) that Node 20's and 22's bundled fetch (undici 6) calls, as well as the new one of Node 24's fetch
 * and of undici 7 itself. undici 8 dropped the legacy interface, so its dispatchers fail with Node 20/22's fetch.
 * @module
 */
import { createRequire } from 'node:module';
import type net from 'node:net';
import type tls from 'node:tls';
import type * as Undici from 'undici';
import type { Agent, Dispatcher, Pool, ProxyAgent, buildConnector } from 'undici';
import { formatAuthority, isIpLiteral, unbracketHost } from '../core/hostname.js';
import { hostOfAuthority, isHostHeaderName, plaintextRefusal } from '../core/plaintext.js';
import type { PinPolicy, PolicyHolder } from '../core/policy.js';
import { InsecureOptionError } from '../errors.js';
import { pinnedConnect } from '../node/connect.js';
import { createPinCheck } from '../node/pin-check.js';
import type { PinnedConnectOptions } from '../node/connect.js';

/** Options of {@link pinnedDispatcher}: undici `Agent` options except `connect` and `factory`, which certpin owns. */
export interface PinnedDispatcherOptions extends Omit<Agent.Options, 'connect' | 'factory'> {
  /**
   * An `http://` (or `https://`) proxy that tunnels with `CONNECT`, e.g. `process.env.HTTPS_PROXY`. The pins apply
   * to the origin's chain, checked in a handshake run through the tunnel; the proxy never sees the plaintext.
   * Credentials in the URL become `Proxy-Authorization`.
   */
  proxy?: string | URL;
  /** Extra headers of the `CONNECT` request. */
  proxyHeaders?: Readonly<Record<string, string>>;
  /**
   * TLS options for an `https://` proxy itself, e.g. its CA as `ca`. It is always validated (never
   * `rejectUnauthorized: false`, whatever `NODE_TLS_REJECT_UNAUTHORIZED` says); the pins apply to the origins.
   */
  proxyTls?: ProxyAgent.Options['proxyTls'];
  /** Milliseconds allowed to open a connection (TCP and TLS handshake). Default 10 000. */
  connectTimeout?: number;
}

// undici takes about 100 ms to load: it is loaded on the first pinnedDispatcher() call, not by `import 'certpin'`.
let loadedUndici: typeof Undici | undefined;
function undici(): typeof Undici {
  loadedUndici ??= createRequire(import.meta.url)('undici') as typeof Undici;
  return loadedUndici;
}

interface ConnectSettings {
  readonly allowH2: boolean;
  readonly connectTimeout: number;
}

/**
 * An undici `Dispatcher` that enforces `policy` on every connection it opens: pass it to Node's global `fetch`
 * (Node 20, 22, 24), to undici's `fetch`, `request`, `stream`, or to `setGlobalDispatcher`. One dispatcher holds one
 * policy; its pools never contain a connection checked under another.
 *
 * Requests fail in each client's own idiom: `fetch` rejects with `TypeError('fetch failed')` whose `cause` is the
 * `PinningError` (`err.cause.code === 'ERR_CERTPIN_PIN_MISMATCH'`); undici's `request` rejects with the
 * `PinningError` itself. A plain `http:` request (also a redirect hop) for a host the policy pins, or to any host
 * under `onlyPinnedHosts`, fails with `InsecureRedirectError` before any connection is opened.
 *
 * @example
 * ```ts
 * import { PinPolicy, pinnedDispatcher } from 'certpin';
 * import { request } from 'undici';
 *
 * const policy = new PinPolicy({ hosts: { 'api.example.com': ['sha256/…current…', 'sha256/…backup…'] } });
 * const dispatcher = pinnedDispatcher(policy);          // reuse it: it holds the keep-alive pool
 * const { body } = await request('https://api.example.com/v1/status', { dispatcher });
 *
 * // through a corporate proxy, pins still checked against api.example.com's own chain:
 * const viaProxy = pinnedDispatcher(policy, { proxy: process.env.HTTPS_PROXY });
 * ```
 * @throws {InsecureOptionError} for undici TLS options (`connect`, `requestTls`, an unvalidated `proxyTls`).
 */
export function pinnedDispatcher(policy: PinPolicy | PolicyHolder, options: PinnedDispatcherOptions = {}): Dispatcher {
  const { proxy, proxyHeaders, proxyTls, connectTimeout = 10_000, ...agentOptions } = options;
  refuseForeignTls({ ...agentOptions, proxyTls } as Record<string, unknown>);
  if (!Number.isFinite(connectTimeout) || connectTimeout <= 0) throw new TypeError(`pinnedDispatcher: connectTimeout must be a positive number of milliseconds, not ${String(connectTimeout)}`);
  const settings: ConnectSettings = { allowH2: agentOptions.allowH2 === true, connectTimeout };
  let proxyUrl: URL | undefined;
  if (proxy !== undefined) {
    proxyUrl = new URL(proxy);
    if (proxyUrl.protocol !== 'http:' && proxyUrl.protocol !== 'https:') {
      throw new TypeError(`pinnedDispatcher: the proxy URL must be http: or https:, not ${proxyUrl.protocol}`);
    }
  }
  const makeAgent = (current: PinPolicy): Dispatcher => {
    if (!proxyUrl) return new (undici().Agent)({ ...agentOptions, connect: pinnedConnector(current, settings) });
    const { ProxyAgent, Client, Pool } = undici();
    // A proxy whose host the policy pins gets its pins (on the policy's trust anchors) before the CONNECT is sent.
    const proxyHost = unbracketHost(proxyUrl.hostname);
    const proxyPins = proxyUrl.protocol === 'https:' && current.ruleFor(proxyHost) !== undefined
      ? { checkServerIdentity: createPinCheck(current, { names: [proxyHost], port: Number(proxyUrl.port || 443) }).checkServerIdentity }
      : {};
    return new ProxyAgent({
      ...agentOptions,
      uri: proxyUrl.href,
      headers: { ...proxyHeaders },
      // Explicit: NODE_TLS_REJECT_UNAUTHORIZED=0 would otherwise turn the proxy's validation off.
      proxyTls: { ...proxyTls, rejectUnauthorized: true, ...proxyPins },
      // Always tunnel: without a tunnel, http: requests would be forwarded by the proxy, outside of our connector.
      proxyTunnel: true,
      factory: (origin, poolOptions) => {
        const inherited = poolOptions as Pool.Options & { connect: buildConnector.connector };
        if (typeof inherited.connect !== 'function') throw new TypeError('pinnedDispatcher: this undici version does not hand its tunnel connector to the pool factory');
        const connect = pinnedConnector(current, settings, inherited.connect);
        return inherited.connections === 1 ? new Client(origin, { ...inherited, connect }) : new Pool(origin, { ...inherited, connect });
      },
    });
  };
  return new (pinnedDispatcherClass())(policy, makeAgent);
}

/**
 * Node's global `fetch`, pinned: same signature and types as `fetch`, so TypeScript needs no cast. A `dispatcher`
 * in `init` is refused (it would replace the pinned one).
 *
 * @example
 * ```ts
 * import { PinPolicy, pinnedFetch } from 'certpin';
 *
 * const policy = new PinPolicy({ hosts: { 'api.example.com': ['sha256/…current…', 'sha256/…backup…'] } });
 * const fetchPinned = pinnedFetch(policy);
 * const res = await fetchPinned('https://api.example.com/v1/balance');
 * ```
 */
export function pinnedFetch(policy: PinPolicy | PolicyHolder, options?: PinnedDispatcherOptions): typeof globalThis.fetch & { readonly dispatcher: Dispatcher } {
  const dispatcher = pinnedDispatcher(policy, options);
  const fetchPinned = (input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) => {
    if (init && 'dispatcher' in init && (init as { dispatcher?: unknown }).dispatcher !== undefined) {
      throw new InsecureOptionError('dispatcher', 'pinnedFetch: init.dispatcher would replace the pinned dispatcher; leave it out.');
    }
    return globalThis.fetch(input, { ...init, dispatcher } as unknown as RequestInit);
  };
  return Object.assign(fetchPinned, { dispatcher }) as typeof globalThis.fetch & { readonly dispatcher: Dispatcher };
}

/**
 * Pins Node's global `fetch` (and undici's functions) for the whole process in one line: installs a pinned
 * dispatcher as the global dispatcher and returns it (close it to stop). Every `fetch()` without a dispatcher of its
 * own is then pinned; one that passes its own `dispatcher` is not, so prefer {@link pinnedFetch} in libraries.
 *
 * @example
 * ```ts
 * import { PinPolicy, pinGlobalFetch } from 'certpin';
 *
 * pinGlobalFetch(new PinPolicy({ hosts: { 'api.example.com': ['sha256/…current…', 'sha256/…backup…'] } }));
 * const res = await fetch('https://api.example.com/v1/balance');   // pinned
 * ```
 */
export function pinGlobalFetch(policy: PinPolicy | PolicyHolder, options?: PinnedDispatcherOptions): Dispatcher {
  const dispatcher = pinnedDispatcher(policy, options);
  undici().setGlobalDispatcher(dispatcher);
  return dispatcher;
}

type PinnedDispatcherClass = new (policy: PinPolicy | PolicyHolder, makeAgent: (current: PinPolicy) => Dispatcher) => Dispatcher;
let dispatcherClass: PinnedDispatcherClass | undefined;

/** The dispatcher class, made once undici is loaded (it extends undici's `Dispatcher`). */
function pinnedDispatcherClass(): PinnedDispatcherClass {
  if (dispatcherClass) return dispatcherClass;
  const { Dispatcher: Base } = undici();
  class PinnedDispatcher extends Base {
    readonly #policy: PinPolicy | PolicyHolder;
    readonly #makeAgent: (current: PinPolicy) => Dispatcher;
    #current: { policy: PinPolicy; agent: Dispatcher } | undefined;
    readonly #retired = new Set<Dispatcher>();
    readonly #stopWatching: () => void;

    constructor(policy: PinPolicy | PolicyHolder, makeAgent: (current: PinPolicy) => Dispatcher) {
      super();
      this.#policy = policy;
      this.#makeAgent = makeAgent;
      this.#stopWatching = policy.onChange(() => this.#agent());
    }

    /** The pools of the policy in force; those of an older policy take no new request and close when idle. */
    #agent(): Dispatcher {
      const policy = this.#policy.current();
      if (this.#current?.policy === policy) return this.#current.agent;
      if (this.#current) {
        const old = this.#current.agent;
        this.#retired.add(old);
        void old.close().finally(() => this.#retired.delete(old));
      }
      this.#current = { policy, agent: this.#makeAgent(policy) };
      return this.#current.agent;
    }

    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      const agent = this.#agent();
      // Most requests are https: their origin string says so without parsing a URL per request.
      const raw = options.origin;
      const secure = typeof raw === 'string' && (raw.startsWith('https://') || raw.startsWith('wss://'));
      const origin = secure ? undefined : typeof raw === 'string' ? new URL(raw) : raw;
      const refusal =
        origin && origin.protocol !== 'https:' && origin.protocol !== 'wss:'
          ? plaintextRefusal(this.#current!.policy, [unbracketHost(origin.hostname), hostHeaderOf(options.headers)], origin.port)
          : uncheckableHostRefusal(this.#current!.policy, raw, options.headers);
      if (refusal) {
        failRequest(handler, refusal);
        return false;
      }
      return agent.dispatch(options, handler);
    }

    override close(callback?: () => void): Promise<void> & void {
      this.#stopWatching();
      const all = Promise.all([...this.#retired, ...(this.#current ? [this.#current.agent] : [])].map((d) => d.close())).then(() => undefined);
      if (callback) void all.then(callback);
      return all as Promise<void> & void;
    }

    override destroy(error?: Error | null | (() => void), callback?: () => void): Promise<void> & void {
      this.#stopWatching();
      const reason = typeof error === 'function' ? null : (error ?? null);
      const done = typeof error === 'function' ? error : callback;
      const all = Promise.all([...this.#retired, ...(this.#current ? [this.#current.agent] : [])].map((d) => d.destroy(reason))).then(() => undefined);
      if (done) void all.then(done);
      return all as Promise<void> & void;
    }
  }
  dispatcherClass = PinnedDispatcher as unknown as PinnedDispatcherClass;
  return dispatcherClass;
}

/** Reports an error to either of undici's handler interfaces, before any connection is made. */
function failRequest(handler: Dispatcher.DispatchHandler, error: Error): void {
  const h = handler as { onError?: (error: Error) => void; onResponseError?: (controller: unknown, error: Error) => void };
  if (typeof h.onError === 'function') h.onError(error);
  else h.onResponseError?.({ abort() {}, pause() {}, resume() {}, aborted: true, paused: false, reason: error }, error);
}

/**
 * undici hands a request's Host header to the connection as its server name, which the pin check counts, except an
 * IP literal (no server name may be one): a request to one origin whose Host names a pinned IP address would then
 * share a connection checked for the origin alone. Such a request is refused instead; one whose Host names the
 * origin's own address, or an address the policy leaves unpinned, passes.
 */
function uncheckableHostRefusal(policy: PinPolicy, origin: Dispatcher.DispatchOptions['origin'], headers: Dispatcher.DispatchOptions['headers']): InsecureOptionError | undefined {
  if (!mayPinAddresses(policy)) return undefined;
  const header = hostHeaderOf(headers);
  if (header === undefined) return undefined;
  const host = hostOfAuthority(header);
  if (!isIpLiteral(host) || policy.allowsPlaintext(host)) return undefined;
  const originHost = origin === undefined ? undefined : unbracketHost((typeof origin === 'string' ? new URL(origin) : origin).hostname);
  if (originHost === host) return undefined;
  return new InsecureOptionError(
    'host',
    `The request's Host header names ${host}, which the policy pins, but undici opens the connection for ${originHost ?? 'the origin'} and cannot pass an IP address to the pin check as a server name. Request https://${formatAuthority(host, 443, 443)}/ itself, or use pinnedAgent, which counts the Host header.`,
  );
}

const pinsAddresses = new WeakMap<PinPolicy, boolean>();

/**
 * Whether some IP address needs more than CA validation under `policy`: an address pinned by name, pins for every
 * host, or `onlyPinnedHosts`. Most policies pin names only, and their requests need no look at the Host header.
 */
function mayPinAddresses(policy: PinPolicy): boolean {
  let answer = pinsAddresses.get(policy);
  if (answer === undefined) {
    answer = policy.onlyPinnedHosts || policy.rules.some((rule) => rule.pattern.base === '*' || (rule.pattern.type === 'exact' && isIpLiteral(rule.pattern.base)));
    pinsAddresses.set(policy, answer);
  }
  return answer;
}

/** The Host header of a dispatch, from any of undici's header forms. Every https request asks: names are compared by length first. */
function hostHeaderOf(headers: Dispatcher.DispatchOptions['headers']): string | undefined {
  if (!headers) return undefined;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) if (isHostHeaderName(headers[i])) return String(headers[i + 1]);
    return undefined;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [key, value] of headers as Iterable<[string, string | string[]]>) if (isHostHeaderName(key)) return String(Array.isArray(value) ? value[0] : value);
    return undefined;
  }
  // A plain object (what fetch hands over): its keys, without an array per entry.
  const record = headers as Record<string, string | string[] | undefined>;
  for (const key of Object.keys(record)) {
    if (!isHostHeaderName(key)) continue;
    const value = record[key];
    return String(Array.isArray(value) ? value[0] : value);
  }
  return undefined;
}

/**
 * The connector of a pinned dispatcher: pinned TLS for https:, and `plain` (direct TCP, or the raw tunnel of a
 * proxy) only where the policy allows plaintext. With `tunnel`, the ProxyAgent's own connector, the pinned handshake
 * with the origin runs over the raw `CONNECT` tunnel that connector hands back for a non-https origin: it is never
 * asked for its own TLS.
 */
function pinnedConnector(policy: PinPolicy, settings: ConnectSettings, tunnel?: buildConnector.connector): buildConnector.connector {
  const plain = tunnel ?? undici().buildConnector({ timeout: settings.connectTimeout });
  return (options, callback) => {
    if (options.protocol !== 'https:') {
      const refusal = plaintextRefusal(policy, [unbracketHost(options.hostname), options.servername], options.port);
      if (refusal) callback(refusal, null);
      else plain(options, callback);
      return;
    }
    if (!tunnel) {
      openPinnedTls(policy, settings, options, undefined, callback);
      return;
    }
    const port = options.port || '443';
    const host = options.port ? options.host : `${options.host ?? options.hostname}:443`;
    tunnel({ ...options, protocol: 'http:', host, port }, (...args) => {
      const [error, socket] = args;
      if (error) callback(error, null);
      else openPinnedTls(policy, settings, options, socket as net.Socket, callback);
    });
  };
}

/**
 * undici's own TLS options would never reach a connection (certpin's connector opens them all with the policy's
 * settings), so they are refused rather than silently ignored; `proxyTls`, for an https proxy itself, may not turn
 * validation off.
 */
function refuseForeignTls(options: Record<string, unknown>): void {
  for (const name of ['connect', 'factory', 'requestTls'] as const) {
    if (options[name] !== undefined) {
      throw new InsecureOptionError(name, `pinnedDispatcher options.${name} is set: certpin opens every origin connection itself, with the policy's trust anchors, client certificate and pins. Put TLS settings in the PinPolicy.`);
    }
  }
  const proxyTls = options.proxyTls as { rejectUnauthorized?: unknown } | undefined;
  if (proxyTls?.rejectUnauthorized === false) {
    throw new InsecureOptionError('proxyTls.rejectUnauthorized', 'pinnedDispatcher options.proxyTls.rejectUnauthorized is false: certpin never turns certificate validation off, for the proxy neither. Give the proxy\'s CA as proxyTls.ca.');
  }
}

/** The pinned handshake, reported to undici the way its own connector does (once, on `secureConnect` or error). */
function openPinnedTls(policy: PinPolicy, settings: ConnectSettings, options: buildConnector.Options, tunnel: net.Socket | undefined, callback: buildConnector.Callback): void {
  const host = unbracketHost(options.hostname);
  const port = Number(options.port) || 443;
  let socket: tls.TLSSocket;
  try {
    const connectOptions: PinnedConnectOptions & Pick<net.TcpNetConnectOpts, 'localAddress'> = {
      host,
      port,
      servername: options.servername || undefined,
      socket: tunnel,
      localAddress: options.localAddress ?? undefined,
      ALPNProtocols: settings.allowH2 ? ['h2', 'http/1.1'] : ['http/1.1'],
    };
    socket = pinnedConnect(policy, connectOptions);
  } catch (error) {
    tunnel?.destroy();
    callback(error as Error, null);
    return;
  }
  let pending: buildConnector.Callback | undefined = callback;
  const settle = (...args: [null, tls.TLSSocket] | [Error, null]) => {
    clearTimeout(timer);
    const done = pending;
    pending = undefined;
    done?.(...args);
  };
  const timer = setTimeout(() => {
    socket.destroy(new (undici().errors.ConnectTimeoutError)(`Connect Timeout Error (attempted address: ${host}:${port}, timeout: ${settings.connectTimeout}ms)`));
  }, settings.connectTimeout);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 60_000);
  socket.once('secureConnect', () => settle(null, socket));
  socket.on('error', (error: Error) => settle(error, null));
}
