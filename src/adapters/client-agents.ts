/**
 * What the client adapters (axios, got, ws) share: the pair of agents that opens every connection of a client, and
 * the refusal they throw for an option that would route around them. A new adapter for a client that takes Node
 * agents starts here: install {@link pinnedAgents}, and check at the client's last hop (where it hands the agent to
 * `http.request`/`https.request`) that the agents are still these.
 * @module
 */
import type { PinPolicy, PolicyHolder } from '../core/policy.js';
import { InsecureOptionError } from '../errors.js';
import { PinnedAgent, PinnedHttpAgent, pinnedAgent, pinnedHttpAgent } from '../node/agents.js';
import type { PinnedAgentOptions } from '../node/agents.js';
import { pinnedProxyAgent } from '../node/proxy.js';

/** Options every client adapter takes. */
export interface ClientPinningOptions {
  /** Send HTTPS requests through this HTTP CONNECT proxy; pins are checked on the origin's chain. */
  proxy?: string | URL;
  /** Options of the HTTPS agent (keep-alive, socket limits, …). Trust settings belong to the policy. */
  agentOptions?: PinnedAgentOptions;
}

/** The agents of one pinned client, and a way to close their sockets. */
export interface PinnedAgents {
  /** Opens every HTTPS connection through the pinned handshake (through the proxy's tunnel, with `proxy`). */
  readonly https: PinnedAgent;
  /** Refuses plain HTTP to every host the policy pins. */
  readonly http: PinnedHttpAgent;
  /** Closes every pooled socket of both agents. */
  destroy(): void;
}

/** The HTTPS and HTTP agents a client adapter installs. */
export function pinnedAgents(policy: PinPolicy | PolicyHolder, options: ClientPinningOptions = {}): PinnedAgents {
  const https = options.proxy !== undefined ? pinnedProxyAgent(policy, options.proxy, options.agentOptions) : pinnedAgent(policy, options.agentOptions);
  const http = pinnedHttpAgent(policy);
  return {
    https,
    http,
    destroy() {
      https.destroy();
      http.destroy();
    },
  };
}

/** Whether `agent` is one of certpin's agents for `policy` (the same policy object or dynamic policy). */
export function isPinnedAgent(agent: unknown, policy: PinPolicy | PolicyHolder, scheme: 'https:' | 'http:'): boolean {
  const Class = scheme === 'https:' ? PinnedAgent : PinnedHttpAgent;
  return agent instanceof Class && agent.policy === policy;
}

/** The refusal a client adapter throws, before anything is sent, for an option that would route around the pins. */
export function refuseOption(client: string, option: string, reason: string): never {
  throw new InsecureOptionError(option, `certpin/${client} refused the request: ${option}: ${reason}`);
}
