/**
 * An HTTP/2 origin on 127.0.0.1 for the tests (h2 and, when asked, HTTP/1.1 over TLS), recording what it received
 * and how many TLS connections it accepted.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';

export interface RunningHttp2Server {
  readonly port: number;
  readonly url: string;
  /** Every request: its `:authority`, path and HTTP version. */
  readonly requests: { authority: string; path: string; httpVersion: string }[];
  readonly stats: { connections: number; resumed: number };
  close(): Promise<void>;
}

/** Answers `h2 hello from <name>` to every request. */
export async function startHttp2Server(options: { key: string; cert: string; name?: string; allowHTTP1?: boolean; host?: string }): Promise<RunningHttp2Server> {
  const requests: RunningHttp2Server['requests'] = [];
  const stats = { connections: 0, resumed: 0 };
  const sockets = new Set<tls.TLSSocket>();
  const server = http2.createSecureServer({ key: options.key, cert: options.cert, allowHTTP1: options.allowHTTP1 ?? false }, (req, res) => {
    requests.push({ authority: req.authority ?? req.headers.host ?? '', path: req.url, httpVersion: req.httpVersion });
    res.end(`h2 hello from ${options.name ?? 'origin'}`);
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    stats.connections++;
    if (socket.isSessionReused()) stats.resumed++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  server.on('sessionError', () => {});
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `https://localhost:${port}`,
    requests,
    stats,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
