/**
 * `node:https` adapter: an `https.Agent` whose every socket is opened by {@link pinnedConnect}.
 * Because the check lives in the agent, not in request options, a keep-alive socket in its pool was always checked
 * under its policy, whatever options a request passed.
 * @module
 */
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { PinPolicy } from '../core/policy.js';
import { assertSafeTlsOptions, pinnedConnect } from './connect.js';

/** Options of {@link pinnedAgent}: those of `https.Agent`, except TLS trust settings, which belong to the policy. */
export type PinnedAgentOptions = Omit<https.AgentOptions, 'rejectUnauthorized' | 'ca' | 'cert' | 'key' | 'pfx' | 'secureContext' | 'checkServerIdentity' | 'maxCachedSessions'>;

/** An `https.Agent` that enforces a {@link PinPolicy} in the handshake of every connection it opens. */
export class PinnedAgent extends https.Agent {
  readonly policy: PinPolicy;

  constructor(policy: PinPolicy, options: PinnedAgentOptions = {}) {
    assertSafeTlsOptions(options as Record<string, unknown>, 'pinnedAgent options');
    // Node's own session cache would resume sessions without a pin check; pinnedConnect keeps a checked one instead.
    super({ keepAlive: true, ...options, maxCachedSessions: 0 });
    this.policy = policy;
  }

  override createConnection(options: https.RequestOptions, callback?: (error: Error | null, socket: Duplex) => void): Duplex | undefined {
    try {
      return pinnedConnect(this.policy, options as Record<string, unknown>);
    } catch (error) {
      // Reported to the request as its 'error', like any connection failure.
      callback?.(error as Error, undefined as unknown as Duplex);
      return undefined;
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
export function pinnedAgent(policy: PinPolicy, options?: PinnedAgentOptions): PinnedAgent {
  return new PinnedAgent(policy, options);
}
