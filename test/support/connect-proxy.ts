/**
 * An HTTP CONNECT proxy on 127.0.0.1 for the tests, honest or not: it pipes each tunnel to the requested 127.0.0.1
 * port, or (`divertTo`) to another port, as an intercepting corporate proxy in front of a TLS MITM does.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

export interface ConnectProxy {
  url: string;
  /** The authority of every CONNECT request received. */
  connects: string[];
  close(): Promise<void>;
}

/**
 * An HTTP CONNECT proxy. Honest: pipes each tunnel to the requested 127.0.0.1 port. With `divertTo`, it sends every
 * tunnel to that port instead (an intercepting corporate proxy in front of a TLS MITM). `refuse` answers 403. With
 * `tls`, an https proxy (its URL names `localhost`).
 */
export async function startConnectProxy(options: { divertTo?: number; refuse?: boolean; tls?: { key: string; cert: string } } = {}): Promise<ConnectProxy> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const refuseRequest = (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(405).end();
  const server = options.tls ? https.createServer(options.tls, refuseRequest) : http.createServer(refuseRequest);
  server.on('connect', (req: http.IncomingMessage, client: Socket, head: Buffer) => {
    connects.push(req.url ?? '');
    sockets.add(client);
    if (options.refuse) {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const port = options.divertTo ?? Number(new URL(`http://${req.url}`).port);
    const upstream = net.connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', end);
    client.on('error', end);
    client.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: options.tls ? `https://localhost:${(server.address() as AddressInfo).port}` : `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connects,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
