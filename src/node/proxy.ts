/**
 * HTTPS through an HTTP CONNECT proxy with the pins checked on the origin server's chain, not the proxy's.
 *
 * `https-proxy-agent` and axios' built-in proxy support open the tunnel and then run their own `tls.connect` over it,
 * so an agent given for pinning is bypassed. {@link PinnedProxyAgent} opens the tunnel itself (a `CONNECT` request
 * with `node:http`) and hands the tunnel's socket to {@link pinnedConnect}: the handshake with the origin is the
 * pinned one, and a proxy that terminates TLS (an intercepting proxy) fails it.
 * @module
 */
import type http from 'node:http';
import type https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { nodeHttp, nodeHttps } from '../builtins.js';
import { formatAuthority, unbracketHost } from '../core/hostname.js';
import type { PinPolicy, PolicyHolder } from '../core/policy.js';
import { ProxyConnectError } from '../errors.js';
import { PinnedAgent } from './agents.js';
import { pinnedConnect } from './connect.js';
import type { PinnedAgentOptions } from './agents.js';

/** Options of {@link pinnedProxyAgent}. */
export interface PinnedProxyAgentOptions extends PinnedAgentOptions {
  /** Extra headers of the `CONNECT` request (e.g. a proxy token). `Proxy-Authorization` is made from the URL's credentials. */
  proxyHeaders?: Readonly<Record<string, string>>;
}

/**
 * An `https.Agent` (a {@link PinnedAgent}) that reaches every origin through an HTTP or HTTPS CONNECT proxy and runs
 * the pinned handshake with the origin inside the tunnel. Its keep-alive pool holds only sockets made that way, so
 * reuse never hands out an unchecked connection. The proxy's own TLS (for an `https:` proxy URL) is validated
 * against Node's default store, whatever `NODE_TLS_REJECT_UNAUTHORIZED` says, and when the policy pins the proxy's
 * host, by the policy (its trust anchors and that host's pins), as any connection to a pinned host is; the policy's
 * pins apply to the origins.
 */
export class PinnedProxyAgent extends PinnedAgent {
  readonly proxy: URL;
  readonly #proxyHeaders: Readonly<Record<string, string>>;

  constructor(policy: PinPolicy | PolicyHolder, proxy: string | URL, options: PinnedProxyAgentOptions = {}) {
    const { proxyHeaders = {}, ...agentOptions } = options;
    super(policy, agentOptions);
    this.proxy = new URL(proxy);
    if (this.proxy.protocol !== 'http:' && this.proxy.protocol !== 'https:') {
      throw new TypeError(`pinnedProxyAgent: the proxy URL must be http: or https:, not ${this.proxy.protocol}`);
    }
    this.#proxyHeaders = proxyHeaders;
  }

  override createConnection(options: https.RequestOptions, callback?: (error: Error | null, socket: Duplex) => void): Duplex | undefined {
    const done = callback ?? (() => {});
    const host = options.host ?? options.hostname ?? 'localhost';
    const port = Number(options.port ?? 443);
    const authority = formatAuthority(host, port);
    const headers: Record<string, string> = { ...this.#proxyHeaders, host: authority };
    if (this.proxy.username || this.proxy.password) {
      const credentials = `${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(this.proxy.password)}`;
      headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    const proxyHost = unbracketHost(this.proxy.hostname);
    const proxyPort = Number(this.proxy.port || (this.proxy.protocol === 'https:' ? 443 : 80));
    // A proxy whose host the policy pins gets its pins, checked before the CONNECT (and its credentials) is sent.
    const pinnedProxy = this.proxy.protocol === 'https:' && this.policy.current().ruleFor(proxyHost) !== undefined;
    const request = (this.proxy.protocol === 'https:' ? nodeHttps() : nodeHttp()).request({
      host: proxyHost,
      port: proxyPort,
      method: 'CONNECT',
      path: authority,
      headers,
      // Explicit: NODE_TLS_REJECT_UNAUTHORIZED=0 would otherwise send the proxy's credentials to anyone.
      rejectUnauthorized: true,
      timeout: options.timeout,
      // No agent: a connection of its own, made by `createConnection` when one is given (an agent would ignore it).
      ...(pinnedProxy ? { createConnection: () => pinnedConnect(this.policy, { host: proxyHost, port: proxyPort }) } : { agent: false }),
    });
    let settled = false;
    const fail = (error: Error, socket?: Socket) => {
      socket?.destroy();
      if (settled) return;
      settled = true;
      done(error, undefined as unknown as Duplex);
    };
    request.once('connect', (response: http.IncomingMessage, socket: Socket, head: Buffer) => {
      if (response.statusCode !== 200) {
        fail(new ProxyConnectError(`Proxy ${this.proxy.host} refused CONNECT ${authority}: HTTP ${response.statusCode ?? '?'}`, response.statusCode), socket);
        return;
      }
      // A TLS server speaks only after the ClientHello: bytes here did not come from the origin.
      if (head.length > 0) {
        fail(new ProxyConnectError(`Proxy ${this.proxy.host} sent data before the TLS handshake through CONNECT ${authority}`), socket);
        return;
      }
      try {
        const { socketPath: _socketPath, ...throughTunnel } = options;
        const tlsSocket = this.connect({ ...throughTunnel, host, port }, socket);
        if (settled) {
          tlsSocket.destroy();
          return;
        }
        settled = true;
        done(null, tlsSocket);
      } catch (error) {
        fail(error as Error, socket);
      }
    });
    request.once('timeout', () => request.destroy(new ProxyConnectError(`Proxy ${this.proxy.host} did not answer CONNECT ${authority} in time`)));
    request.once('error', (error: Error) => fail(error));
    request.end();
    return undefined;
  }
}

/**
 * An `https.Agent` that tunnels through an HTTP CONNECT proxy and checks the policy's pins on the origin's chain.
 * Use it where you would use `https-proxy-agent`: `node:https`, axios (`pinAxios(instance, policy, { proxy })`),
 * got (`pinnedGotOptions(policy, { proxy })`), ws.
 *
 * @example
 * ```ts
 * import https from 'node:https';
 * import { PinPolicy, pinnedProxyAgent } from 'certpin';
 *
 * const policy = new PinPolicy({ hosts: { 'api.example.com': ['sha256/…', 'sha256/…'] } });
 * const agent = pinnedProxyAgent(policy, process.env.HTTPS_PROXY ?? 'http://proxy.internal:3128');
 * https.get('https://api.example.com/v1/status', { agent }, (res) => res.pipe(process.stdout));
 * ```
 */
export function pinnedProxyAgent(policy: PinPolicy | PolicyHolder, proxy: string | URL, options?: PinnedProxyAgentOptions): PinnedProxyAgent {
  return new PinnedProxyAgent(policy, proxy, options);
}
