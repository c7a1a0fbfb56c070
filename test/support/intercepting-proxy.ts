/**
 * A real interception proxy for the tests, built on mockttp (the engine of HTTP Toolkit): an HTTP proxy that answers
 * `CONNECT`, terminates the tunnelled TLS with a certificate it issues on the fly from `caCert`/`caKey` (a CA the
 * client trusts, like a Charles/Burp/corporate root), reads the plaintext request and passes it through to the real
 * upstream, which it validates against `upstreamCa`.
 *
 * Without pinning a client that trusts `caCert` connects through it and the proxy reads everything; `intercepted()`
 * counts the requests it decrypted, so a test can prove both the attack and the defence.
 */
import net from 'node:net';
import { getLocal } from 'mockttp';
import type { CompletedRequest } from 'mockttp';

export interface InterceptingProxy {
  /** `http://127.0.0.1:PORT`: the proxy URL to give a client (it speaks CONNECT). */
  readonly url: string;
  readonly port: number;
  /** Number of requests the proxy decrypted and saw. */
  intercepted(): number;
  /** The requests it saw in plaintext. */
  readonly seen: { method: string; url: string; headers: Record<string, string | string[] | undefined> }[];
  close(): Promise<void>;
}

export interface InterceptingProxyOptions {
  /** PEM of the CA that signs the forged certificates (the client trusts it). */
  caCert: string;
  /** PEM private key of that CA. */
  caKey: string;
  /** PEM of the CA the real upstream's chain leads to. */
  upstreamCa: string;
  /** HTTP/2 towards clients: `true` (h2 when offered), `'fallback'` (default: h2 only for h2-only clients), false. */
  http2?: boolean | 'fallback';
  /** Hosts whose TLS it tunnels untouched (an honest CONNECT proxy for them): the client talks to the real origin. */
  passthroughHosts?: readonly string[];
}

/** Starts the proxy on 127.0.0.1 (random port). */
export async function startInterceptingProxy(options: InterceptingProxyOptions): Promise<InterceptingProxy> {
  const server = getLocal({
    https: {
      cert: options.caCert,
      key: options.caKey,
      ...(options.passthroughHosts?.length ? { tlsPassthrough: options.passthroughHosts.map((hostname) => ({ hostname })) } : {}),
    },
    http2: options.http2 ?? 'fallback',
    recordTraffic: false,
  });
  await listenOnLoopback(() => server.start({ startPort: 20000, endPort: 60000 }));
  const seen: InterceptingProxy['seen'] = [];
  await server.on('request', (req: CompletedRequest) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
  });
  await server.forAnyRequest().thenPassThrough({ additionalTrustedCAs: [{ cert: options.upstreamCa }] });
  const port = server.port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    intercepted: () => seen.length,
    seen,
    close: () => server.stop(),
  };
}

/**
 * mockttp calls `server.listen(port)`, which binds every interface; the tests stay on loopback, so while it starts
 * a bare `listen(port)` is given the host 127.0.0.1.
 */
async function listenOnLoopback(start: () => Promise<void>): Promise<void> {
  const original = net.Server.prototype.listen;
  const listen = original as (this: net.Server, ...args: unknown[]) => net.Server;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    return args.length === 1 && typeof args[0] === 'number' ? listen.call(this, args[0], '127.0.0.1') : listen.apply(this, args);
  } as typeof original;
  try {
    await start();
  } finally {
    net.Server.prototype.listen = original;
  }
}
