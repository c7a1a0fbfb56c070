/**
 * got adapter (`certpin/got`): options for `got.extend(…)` that pin every request inside the TLS handshake.
 *
 * got is never imported at run time (it is an optional peer dependency). The options carry certpin's agents
 * (`agent.https` checks pins in each handshake, `agent.http` refuses `http://` to pinned hosts, so an https-to-http
 * redirect fails) and a `beforeRequest` hook that refuses, before anything is sent, per-request options that would
 * bypass them: `http2: true` (got's HTTP/2 client has its own connections), a custom `request` function, another
 * agent, or `https.rejectUnauthorized: false`. got's other `https.*` options reach the agent, which refuses any
 * that would weaken TLS (`certificateAuthority`, `key`, …) and runs a `checkServerIdentity` only in addition to
 * the pin check.
 *
 * Failures reach you as got's `RequestError` with certpin's `code` (`ERR_CERTPIN_PIN_MISMATCH`, …) and the
 * certpin error as `cause`.
 * @module
 */
import type { BeforeRequestHook, ExtendOptions } from 'got';
import type { PinPolicy } from '../core/policy.js';
import { InsecureOptionError } from '../errors.js';
import { PinnedAgent, pinnedAgent } from '../node/agent.js';
import type { PinnedAgentOptions } from '../node/agent.js';
import { PinnedHttpAgent, pinnedHttpAgent } from '../node/http-agent.js';
import { pinnedProxyAgent } from '../node/proxy.js';

/** Options of {@link pinnedGotOptions}. */
export interface GotPinningOptions {
  /** Send HTTPS requests through this HTTP CONNECT proxy; pins are checked on the origin's chain. */
  proxy?: string | URL;
  /** Options of the HTTPS agent (keep-alive, socket limits, …). Trust settings belong to the policy. */
  agentOptions?: PinnedAgentOptions;
}

/** What {@link pinnedGotOptions} returns: options for `got.extend`, plus a way to close the agents' sockets. */
export interface PinnedGotOptions extends ExtendOptions {
  agent: { https: PinnedAgent; http: PinnedHttpAgent };
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
export function pinnedGotOptions(policy: PinPolicy, options: GotPinningOptions = {}): PinnedGotOptions {
  const https = options.proxy !== undefined ? pinnedProxyAgent(policy, options.proxy, options.agentOptions) : pinnedAgent(policy, options.agentOptions);
  const http = pinnedHttpAgent(policy);
  const refuseBypass: BeforeRequestHook = (requestOptions) => {
    if (requestOptions.http2) refuse('http2', "got's HTTP/2 client opens its own connections, without certpin's agents.");
    if (requestOptions.request !== undefined) refuse('request', 'a custom request function replaces node:http/https and their agents.');
    const agent = requestOptions.agent;
    if (!(agent.https instanceof PinnedAgent && agent.https.policy === policy)) refuse('agent.https', 'another HTTPS agent would open unpinned connections; pass agent settings as agentOptions of pinnedGotOptions.');
    if (!(agent.http instanceof PinnedHttpAgent && agent.http.policy === policy)) refuse('agent.http', 'another HTTP agent would allow plain http:// to pinned hosts (a redirect from https to http).');
    if (requestOptions.https.rejectUnauthorized === false) refuse('https.rejectUnauthorized', 'certpin never turns certificate validation off. For a development CA, add it to the policy\'s "ca".');
  };
  const gotOptions = { agent: { https, http }, hooks: { beforeRequest: [refuseBypass] } };
  // Not enumerable: got refuses options it does not know.
  return Object.defineProperty(gotOptions, 'destroy', {
    enumerable: false,
    value: () => {
      https.destroy();
      http.destroy();
    },
  }) as PinnedGotOptions;
}

function refuse(option: string, reason: string): never {
  throw new InsecureOptionError(option, `certpin/got refused the request: ${option}: ${reason}`);
}
