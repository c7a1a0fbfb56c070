/**
 * The agents every Node HTTP client can be given: an `https.Agent` whose every socket is opened by
 * {@link pinnedConnect}, and an `http.Agent` that refuses plain HTTP to hosts whose traffic must be pinned. Because
 * the check lives where sockets are made, not in request options, a keep-alive socket in the pool was always checked
 * under the policy in force, whatever options a request passed. The axios, got and ws adapters use these two agents
 * through {@link pinnedAgents}; nothing else opens their connections.
 * @module
 */
import type http from 'node:http';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { lazySuperclass, nodeHttp, nodeHttps } from '../builtins.js';
import { hostOfAuthority, isHostHeaderName, plaintextRefusal } from '../core/plaintext.js';
import type { PinPolicy, PolicyHolder } from '../core/policy.js';
import { InsecureOptionError } from '../errors.js';
import { openPinnedSocket } from './connect.js';
import type { PinnedConnectOptions } from './connect.js';
import { callerCheckId } from './session-cache.js';
import { assertSafeTlsOptions } from './tls-options.js';

/** Options of {@link pinnedAgent}: those of `https.Agent`, except TLS trust settings, which belong to the policy. */
export type PinnedAgentOptions = Omit<https.AgentOptions, 'rejectUnauthorized' | 'ca' | 'cert' | 'key' | 'pfx' | 'secureContext' | 'checkServerIdentity' | 'maxCachedSessions'>;

/** The policy each pinned socket was checked under: a socket of an older policy is never handed out again. */
const socketPolicies = new WeakMap<object, PinPolicy>();

/** An `https.Agent` that enforces a policy in the handshake of every connection it opens. */
export class PinnedAgent extends lazySuperclass(() => nodeHttps().Agent) {
  /** The policy (or dynamic policy) this agent enforces. */
  readonly policy: PinPolicy | PolicyHolder;
  readonly #stopWatching: () => void;

  constructor(policy: PinPolicy | PolicyHolder, options: PinnedAgentOptions = {}) {
    assertSafeTlsOptions(options as Record<string, unknown>, 'pinnedAgent options', policy.current().trust.minVersion);
    // Node's own session cache would resume sessions without a pin check; pinnedConnect keeps a checked one instead.
    super({ keepAlive: true, ...options, maxCachedSessions: 0 });
    this.policy = policy;
    this.#stopWatching = policy.onChange(() => this.#retireIdleSockets());
    // Node hands a freed socket straight to a request queued under its pool name, without asking keepSocketAlive;
    // after a policy change that name is the new policy's, so a socket of the old one would serve a request queued
    // under the new one. It goes first; Node then opens a new socket for the queued request.
    this.prependListener('free', (socket: tls.TLSSocket) => {
      if (this.#checkedUnderOlderPolicy(socket)) socket.destroy();
    });
  }

  /**
   * The pool key: Node's (host, port, servername, TLS options) plus the policy in force, the request's Host and the
   * caller's `checkServerIdentity`, so that a socket is only ever reused for what it was checked for.
   */
  override getName(options?: http.ClientRequestArgs): string {
    const extra = options as (http.ClientRequestArgs & { checkServerIdentity?: unknown }) | undefined;
    const policy = this.policy.current();
    // Node asks for the name several times per request; the policy's part changes only with the policy.
    if (policy !== this.#namedPolicy) {
      this.#namedPolicy = policy;
      this.#policyTag = `:certpin:${policy.id}:`;
      this.#names = new WeakMap();
    }
    // A socket's options object comes back each time the socket is freed: its name is made once per policy.
    const known = options ? this.#names.get(options) : undefined;
    if (known !== undefined) return known;
    const name = `${super.getName(options)}${this.#policyTag}${requestHostOf(options) ?? ''}:${callerCheckId(extra?.checkServerIdentity)}`;
    if (options) this.#names.set(options, name);
    return name;
  }

  #namedPolicy: PinPolicy | undefined;
  #policyTag = '';
  #names = new WeakMap<object, string>();

  override createConnection(options: https.RequestOptions, callback?: (error: Error | null, socket: Duplex) => void): Duplex | undefined {
    try {
      return this.connect(options);
    } catch (error) {
      // Reported to the request as its 'error', like any connection failure.
      callback?.(error as Error, undefined as unknown as Duplex);
      return undefined;
    }
  }

  /** Opens one pinned socket for `options` (what a subclass changes to reach the server another way). */
  protected connect(options: https.RequestOptions, viaTunnel?: Duplex): tls.TLSSocket {
    // `path` is the request's path here (or the socket path Node copied into it); a TLS socket must not read it as an IPC path.
    const socket = openPinnedSocket(this.policy, options as PinnedConnectOptions, { path: options.socketPath, socket: viaTunnel, requestHost: requestHostOf(options) });
    socketPolicies.set(socket, this.policy.current());
    return socket;
  }

  addRequest(request: http.ClientRequest, options: http.ClientRequestArgs): void {
    const refusal = conflictingHostRefusal(options);
    if (refusal) {
      refuseRequest(request, refusal);
      return;
    }
    bindRequestHost(request);
    (nodeHttps().Agent.prototype as unknown as { addRequest(r: http.ClientRequest, o: http.ClientRequestArgs): void }).addRequest.call(this, request, options);
  }

  /** A socket checked under a policy no longer in force goes, instead of back to the pool. */
  override keepSocketAlive(socket: Parameters<https.Agent['keepSocketAlive']>[0]): void {
    // Node's Agent reads the return value (false: close the socket); the declared type says void.
    if (this.#checkedUnderOlderPolicy(socket)) return false as unknown as void;
    return super.keepSocketAlive(socket);
  }

  #checkedUnderOlderPolicy(socket: object): boolean {
    const checkedUnder = socketPolicies.get(socket);
    return checkedUnder !== undefined && checkedUnder !== this.policy.current();
  }

  override destroy(): void {
    this.#stopWatching();
    super.destroy();
  }

  #retireIdleSockets(): void {
    const current = this.policy.current();
    for (const sockets of Object.values(this.freeSockets)) {
      for (const socket of sockets ?? []) if (socketPolicies.get(socket) !== current) socket.destroy();
    }
  }
}

/**
 * An `https.Agent` that checks pins on every connection, before the request is written. Use it wherever Node takes
 * an agent: `https.request`, axios' `httpsAgent`, got's `agent.https`, ws' `agent`.
 *
 * @example
 * ```ts
 * import https from 'node:https';
 * import { PinPolicy, pinnedAgent } from 'certpin';
 *
 * const agent = pinnedAgent(new PinPolicy({ hosts: { 'api.example.com': ['sha256/…', 'sha256/…'] } }));
 * https.get('https://api.example.com/v1/balance', { agent }, (res) => res.pipe(process.stdout));
 * ```
 */
export function pinnedAgent(policy: PinPolicy | PolicyHolder, options?: PinnedAgentOptions): PinnedAgent {
  return new PinnedAgent(policy, options);
}

/** Options of {@link pinnedHttpAgent}: those of `http.Agent`. */
export type PinnedHttpAgentOptions = http.AgentOptions;

/**
 * An `http.Agent` that sends a plain-HTTP request only when the policy lets every name it is for go unencrypted:
 * never to a pinned host (a redirect from https to http would strip the pinning), never under `onlyPinnedHosts`.
 * The refusal is an `InsecureRedirectError` (`ERR_CERTPIN_INSECURE_REDIRECT`) emitted as the request's `'error'`
 * before any byte is sent.
 */
export class PinnedHttpAgent extends lazySuperclass(() => nodeHttp().Agent) {
  readonly policy: PinPolicy | PolicyHolder;

  constructor(policy: PinPolicy | PolicyHolder, options: PinnedHttpAgentOptions = {}) {
    super({ keepAlive: true, ...options });
    this.policy = policy;
  }

  /** Every request is judged, on a new socket or a kept-alive one, with the policy in force. */
  addRequest(request: http.ClientRequest, options: http.ClientRequestArgs): void {
    const refusal = conflictingHostRefusal(options) ?? plaintextRefusal(this.policy.current(), [options.host ?? options.hostname, requestHostOf(options)], options.port);
    if (refusal) {
      refuseRequest(request, refusal);
      return;
    }
    bindRequestHost(request);
    (nodeHttp().Agent.prototype as unknown as { addRequest(r: http.ClientRequest, o: http.ClientRequestArgs): void }).addRequest.call(this, request, options);
  }
}

/**
 * An `http.Agent` for the plain-HTTP requests of a client that also uses {@link pinnedAgent} for HTTPS: it refuses
 * `http://` to every host the policy pins (a downgrade redirect), and passes other hosts through unchanged.
 *
 * @example
 * ```ts
 * import { PinPolicy, pinnedAgent, pinnedHttpAgent } from 'certpin';
 *
 * const policy = new PinPolicy({ hosts: { 'api.example.com': ['sha256/…', 'sha256/…'] } });
 * // follow-redirects style clients take one agent per protocol:
 * const agents = { https: pinnedAgent(policy), http: pinnedHttpAgent(policy) };
 * ```
 */
export function pinnedHttpAgent(policy: PinPolicy | PolicyHolder, options?: PinnedHttpAgentOptions): PinnedHttpAgent {
  return new PinnedHttpAgent(policy, options);
}

/** The request's Host header (any case, object or raw-array headers), as a host name without port. */
export function requestHostOf(options: http.ClientRequestArgs | undefined): string | undefined {
  const value = hostHeaderValues(options)[0];
  return value !== undefined && value !== '' ? hostOfAuthority(value) : undefined;
}

/**
 * Every Host header the request would send, in order: Node writes each entry of a raw header array, each key that
 * differs only in case, and each element of an array value as a line of its own.
 */
function hostHeaderValues(options: http.ClientRequestArgs | undefined): string[] {
  const headers = options?.headers as http.OutgoingHttpHeaders | readonly string[] | undefined;
  const values: string[] = [];
  if (!headers) return values;
  const add = (value: unknown) => {
    if (Array.isArray(value)) for (const item of value) values.push(String(item));
    else if (value !== undefined) values.push(String(value));
  };
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) if (isHostHeaderName(String(headers[i]))) add(headers[i + 1]);
  } else {
    for (const key of Object.keys(headers)) if (isHostHeaderName(key)) add((headers as http.OutgoingHttpHeaders)[key]);
  }
  return values;
}

/**
 * A request with two different Host headers is refused: the connection is checked for one, and a server may read
 * the other (Node's reads the first; HTTP says to refuse such a request, as undici does before sending it).
 */
function conflictingHostRefusal(options: http.ClientRequestArgs): InsecureOptionError | undefined {
  const values = hostHeaderValues(options);
  if (values.length < 2 || values.every((value) => value === values[0])) return undefined;
  return new InsecureOptionError('host', `The request has several Host headers (${values.map((value) => JSON.stringify(value)).join(', ')}): a pinned connection is checked for one name, and the server may read another. Send one Host header.`);
}

/** What Node's own Agent does when a connection cannot be made: the request emits the error, nothing is sent. */
function refuseRequest(request: http.ClientRequest, error: Error): void {
  (request as unknown as { onSocket(socket: null, error: Error): void }).onSocket(null, error);
}

/**
 * The Host header a request was bound to a connection with may not change afterwards: the connection was checked
 * (or judged plain-HTTP safe) for that name. Node's client calls the agent's `addRequest` from the request's
 * constructor, so from here on every public way to change a header goes through the request's `setHeader`,
 * `appendHeader` or `removeHeader` (`setHeaders` calls `setHeader`): those of this request refuse a change of its
 * Host, whenever it comes (before the socket is assigned, or in a `'socket'` listener before the request is written).
 * Shared functions and one slot on the request: this runs for every request, kept-alive ones included.
 */
function bindRequestHost(request: http.ClientRequest): void {
  const bound: BoundHost = { host: request.getHeader('host'), setHeader: request.setHeader, appendHeader: request.appendHeader, removeHeader: request.removeHeader };
  (request as BoundRequest)[boundHost] = bound;
  request.setHeader = setHostChecked;
  request.appendHeader = appendHostChecked;
  request.removeHeader = removeHostChecked;
}

const boundHost = Symbol('certpin.boundHost');

interface BoundHost {
  readonly host: number | string | string[] | undefined;
  readonly setHeader: http.ClientRequest['setHeader'];
  readonly appendHeader: http.ClientRequest['appendHeader'];
  readonly removeHeader: http.ClientRequest['removeHeader'];
}

type BoundRequest = http.ClientRequest & { [boundHost]: BoundHost };

function refuseHostChange(request: http.ClientRequest, now: unknown): void {
  const bound = (request as BoundRequest)[boundHost].host;
  request.destroy(new InsecureOptionError('host', `The request's Host header changed from ${JSON.stringify(String(bound))} to ${JSON.stringify(String(now))} after it was bound to a connection checked for the first; set the Host header in the request options.`));
}

function setHostChecked(this: http.ClientRequest, name: string, value: number | string | readonly string[]): http.ClientRequest {
  const bound = (this as BoundRequest)[boundHost];
  if (isHostHeaderName(name) && String(value) !== String(bound.host)) {
    refuseHostChange(this, value);
    return this;
  }
  return bound.setHeader.call(this, name, value);
}

function appendHostChecked(this: http.ClientRequest, name: string, value: string | readonly string[]): http.ClientRequest {
  const bound = (this as BoundRequest)[boundHost];
  if (isHostHeaderName(name)) {
    refuseHostChange(this, value);
    return this;
  }
  return bound.appendHeader.call(this, name, value);
}

function removeHostChecked(this: http.ClientRequest, name: string): void {
  const bound = (this as BoundRequest)[boundHost];
  if (isHostHeaderName(name) && bound.host !== undefined) {
    refuseHostChange(this, undefined);
    return;
  }
  bound.removeHeader.call(this, name);
}

