/**
 * got adapter (`certpin/got`): options for `got.extend(…)` that pin every request inside the TLS handshake.
 *
 * got is never imported at run time (it is an optional peer dependency). Enforcement sits at got's last hop: its
 * `request` option, the function got calls to open each request after every hook has run. certpin's function opens
 * the request only through certpin's agents (`agent.https` checks pins in each handshake, `agent.http` refuses
 * `http://` to pinned hosts, so an https-to-http redirect fails) and refuses anything else, so a hook that swaps the
 * agent, in any order, from any `extend`, is refused before a byte is sent. A `beforeRequest` hook keeps `request`
 * itself from being replaced and refuses `http2: true` (got's HTTP/2 client opens its own connections). got's
 * `https.*` options reach the agent, which refuses any that would weaken TLS (`certificateAuthority`,
 * `rejectUnauthorized: false`, …) and runs a `checkServerIdentity` only in addition to the pin check.
 *
 * Failures reach you as got's `RequestError` with certpin's `code` (`ERR_CERTPIN_PIN_MISMATCH`, …) and the
 * certpin error as `cause`.
 * @module
 */
import type { BeforeRequestHook, ExtendOptions, RequestFunction } from 'got';
import { nodeHttp, nodeHttps } from '../builtins.js';
import type { PinPolicy, PolicyHolder } from '../core/policy.js';
import type { PinnedAgent, PinnedHttpAgent } from '../node/agents.js';
import { isPinnedAgent, pinnedAgents, refuseOption } from './client-agents.js';
import type { ClientPinningOptions } from './client-agents.js';


/** Options of {@link pinnedGotOptions}. */
export type GotPinningOptions = ClientPinningOptions;

/** What {@link pinnedGotOptions} returns: options for `got.extend`, plus a way to close the agents' sockets. */
export interface PinnedGotOptions extends ExtendOptions {
  agent: { https: PinnedAgent; http: PinnedHttpAgent };
  request: RequestFunction;
  hooks: { beforeRequest: BeforeRequestHook[] };
  /** Closes the keep-alive sockets of the agents (not part of got's options; got ignores it). */
  readonly destroy: () => void;
}

/**
 * Options that pin a got instance: `const api = got.extend(pinnedGotOptions(policy))`.
 *
 * @example
 * ```ts
 * import got from 'got';
 * import { PinPolicy } from 'certpin';
 * import { pinnedGotOptions } from 'certpin/got';
 *
 * const policy = new PinPolicy({ hosts: { 'api.example.com': ['sha256/…current…', 'sha256/…backup…'] } });
 * const api = got.extend({ prefixUrl: 'https://api.example.com' }, pinnedGotOptions(policy));
 * const balance = await api.get('v1/balance').json();
 * ```
 */
export function pinnedGotOptions(policy: PinPolicy | PolicyHolder, options: GotPinningOptions = {}): PinnedGotOptions {
  const agents = pinnedAgents(policy, options);
  const request: RequestFunction = (url, nativeOptions, callback) => {
    const scheme = url.protocol === 'https:' ? 'https:' : 'http:';
    if (!isPinnedAgent(nativeOptions.agent, policy, scheme)) {
      refuseOption('got', scheme === 'https:' ? 'agent.https' : 'agent.http', scheme === 'https:'
        ? 'another HTTPS agent (or got\'s HTTP/2 client) would open unpinned connections; pass agent settings as agentOptions of pinnedGotOptions.'
        : 'another HTTP agent would allow plain http:// to pinned hosts (a redirect from https to http).');
    }
    return (scheme === 'https:' ? nodeHttps() : nodeHttp()).request(url, nativeOptions, callback);
  };
  const keepTransport: BeforeRequestHook = (requestOptions) => {
    if (requestOptions.http2) refuseOption('got', 'http2', "got's HTTP/2 client opens its own connections, without certpin's agents.");
    // Both agents, whatever this request's scheme: a redirect may switch it.
    if (!isPinnedAgent(requestOptions.agent.https, policy, 'https:')) refuseOption('got', 'agent.https', 'another HTTPS agent would open unpinned connections; pass agent settings as agentOptions of pinnedGotOptions.');
    if (!isPinnedAgent(requestOptions.agent.http, policy, 'http:')) refuseOption('got', 'agent.http', 'another HTTP agent would allow plain http:// to pinned hosts (a redirect from https to http).');
    if (requestOptions.request !== request) refuseOption('got', 'request', 'a custom request function replaces certpin\'s, which opens requests through the pinned agents.');
    // A hook that runs after this one may not swap the request function either.
    Object.defineProperty(requestOptions, 'request', {
      configurable: true,
      get: () => request,
      set: (value: unknown) => {
        if (value !== request) refuseOption('got', 'request', 'a hook replaced the request function that opens requests through the pinned agents.');
      },
    });
  };
  const gotOptions = { agent: { https: agents.https, http: agents.http }, request, hooks: { beforeRequest: [keepTransport] } };
  // Not enumerable: got refuses options it does not know.
  return Object.defineProperty(gotOptions, 'destroy', { enumerable: false, value: () => agents.destroy() }) as PinnedGotOptions;
}
