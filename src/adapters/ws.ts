/**
 * ws adapter (`certpin/ws`): options for `new WebSocket(url, options)` that pin the connection inside the TLS
 * handshake, before the upgrade request is sent.
 *
 * ws is never imported at run time (it is an optional peer dependency). The options carry one `agent`, which ws
 * hands to `https.request` for `wss:` and to `http.request` for `ws:` (also after a redirect, with
 * `followRedirects`). When an agent is given, Node ignores ws' own `createConnection`, so every socket comes from
 * certpin: `wss:` through {@link pinnedConnect} (ws' `rejectUnauthorized: false`, `ca`, … are refused there, and a
 * `checkServerIdentity` of yours runs only in addition to the pin check), `ws:` through {@link PinnedHttpAgent},
 * which refuses plain connections to pinned hosts.
 *
 * A refusal reaches you as the socket's `'error'` event, with the certpin error itself (`err.code` is
 * `ERR_CERTPIN_PIN_MISMATCH`, `ERR_CERTPIN_INSECURE_REDIRECT`, …).
 * @module
 */
import type http from 'node:http';
import type { ClientOptions } from 'ws';
import { lazySuperclass, nodeHttp } from '../builtins.js';
import type { PinPolicy, PolicyHolder } from '../core/policy.js';
import type { PinnedAgent, PinnedHttpAgent } from '../node/agents.js';
import { pinnedAgents } from './client-agents.js';
import type { ClientPinningOptions, PinnedAgents } from './client-agents.js';


/** Options of {@link pinnedWebSocketOptions}. */
export type WebSocketPinningOptions = ClientPinningOptions;

/**
 * One agent for both schemes of ws: each request goes to the pinned HTTPS agent or to the plain-HTTP agent that
 * refuses pinned hosts, by the request's own protocol. Its `protocol` is empty so that Node accepts it for both
 * `http.request` and `https.request`.
 */
export class PinnedWebSocketAgent extends lazySuperclass(() => nodeHttp().Agent) {
  readonly policy: PinPolicy | PolicyHolder;
  readonly https: PinnedAgent;
  readonly http: PinnedHttpAgent;
  readonly #agents: PinnedAgents;

  constructor(policy: PinPolicy | PolicyHolder, options: WebSocketPinningOptions = {}) {
    super();
    this.policy = policy;
    this.#agents = pinnedAgents(policy, options);
    this.https = this.#agents.https;
    this.http = this.#agents.http;
    // Node compares a request's protocol with its agent's, unless the agent names none.
    (this as unknown as { protocol: string }).protocol = '';
  }

  /** Called by Node's `ClientRequest` (public since Node 14: `request.protocol` tells the scheme). */
  addRequest(request: http.ClientRequest, options: http.RequestOptions): void {
    const target = request.protocol === 'https:' ? this.https : this.http;
    (target as unknown as { addRequest(r: http.ClientRequest, o: http.RequestOptions): void }).addRequest(request, options);
  }

  override destroy(): void {
    this.#agents.destroy();
    super.destroy();
  }
}

/**
 * Options that pin a ws client: `new WebSocket('wss://api.example.com/stream', pinnedWebSocketOptions(policy))`.
 * Spread them last when you add your own options, so that no `agent` of yours replaces the pinned one.
 *
 * @example
 * ```ts
 * import WebSocket from 'ws';
 * import { PinPolicy } from 'certpin';
 * import { pinnedWebSocketOptions } from 'certpin/ws';
 *
 * const policy = new PinPolicy({ hosts: { 'stream.example.com': ['sha256/…current…', 'sha256/…backup…'] } });
 * const pinned = pinnedWebSocketOptions(policy);   // reuse it for every socket
 * const ws = new WebSocket('wss://stream.example.com/v1', { handshakeTimeout: 10_000, ...pinned });
 * ws.on('error', (err) => console.error((err as NodeJS.ErrnoException).code));   // ERR_CERTPIN_PIN_MISMATCH
 * ```
 */
export function pinnedWebSocketOptions(policy: PinPolicy | PolicyHolder, options?: WebSocketPinningOptions): ClientOptions & { agent: PinnedWebSocketAgent } {
  return { agent: new PinnedWebSocketAgent(policy, options) };
}
