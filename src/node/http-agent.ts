/**
 * The plain-HTTP side of pinning: an `http.Agent` that refuses to open a connection to a host whose traffic must be
 * pinned. A redirect from `https://api.example.com` to `http://api.example.com` would otherwise strip the pinning
 * (and TLS) silently; clients that follow redirects (follow-redirects in axios, got, ws, `node:http` users) open
 * that second connection through the agent they were given for `http:`, and this one refuses it.
 * @module
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { formatAuthority, unbracketHost } from '../core/hostname.js';
import type { PinPolicy } from '../core/policy.js';
import { InsecureRedirectError } from '../errors.js';

/** Options of {@link pinnedHttpAgent}: those of `http.Agent`. */
export type PinnedHttpAgentOptions = http.AgentOptions;

/**
 * An `http.Agent` that opens plain connections only to hosts for which `policy.allowsPlaintext(host)` holds: never
 * to a pinned host, never to any host under `onlyPinnedHosts`. The refusal is an {@link InsecureRedirectError}
 * (`ERR_CERTPIN_INSECURE_REDIRECT`) emitted as the request's `'error'` before any byte is sent.
 */
export class PinnedHttpAgent extends http.Agent {
  readonly policy: PinPolicy;

  constructor(policy: PinPolicy, options: PinnedHttpAgentOptions = {}) {
    super({ keepAlive: true, ...options });
    this.policy = policy;
  }

  override createConnection(options: http.ClientRequestArgs, callback?: (error: Error | null, socket: Duplex) => void): Duplex | undefined {
    const refusal = plaintextRefusal(this.policy, options.host ?? options.hostname ?? 'localhost', options.port);
    if (refusal) {
      callback?.(refusal, undefined as unknown as Duplex);
      return undefined;
    }
    // Node's own connector; the agent reports the socket (a connect callback here would be a 'connect' listener).
    return super.createConnection(options) as Duplex;
  }
}

/**
 * The refusal of a plain-HTTP connection to `host`, or `undefined` when the policy lets that host go unencrypted.
 * Every client's plain-HTTP path asks this one function. Only the origin goes into the message: a path or query
 * may carry secrets, and errors end up in logs.
 */
export function plaintextRefusal(policy: PinPolicy, host: string, port: number | string | null | undefined): InsecureRedirectError | undefined {
  const name = unbracketHost(host);
  if (policy.allowsPlaintext(name)) return undefined;
  return new InsecureRedirectError(`http://${formatAuthority(name, port === undefined || port === null || port === '' ? 80 : port, 80)}/`);
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
export function pinnedHttpAgent(policy: PinPolicy, options?: PinnedHttpAgentOptions): PinnedHttpAgent {
  return new PinnedHttpAgent(policy, options);
}
