/**
 * Real servers on 127.0.0.1 for the tests: an HTTPS origin that records what it received, and a transparent
 * TLS-intercepting MITM (like a corporate proxy or Burp in transparent mode) that presents a forged certificate from
 * a CA the client trusts and relays to the real origin.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { createCertificate } from './pki.js';
import type { Issued } from './pki.js';

export interface RunningServer {
  readonly port: number;
  readonly url: string;
  /** Every request seen: method, url, headers, body. */
  readonly requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  /** Number of TLS handshakes (new connections) and of resumed ones. */
  readonly stats: { connections: number; resumed: number; bytesReceived: number };
  close(): Promise<void>;
}

/** An HTTPS server answering `hello from <name>` (or what `handler` answers). */
export async function startHttpsServer(options: {
  key: string;
  cert: string;
  name?: string;
  host?: string;
  handler?: http.RequestListener;
  requestCert?: boolean;
  ca?: string;
  maxVersion?: tls.SecureVersion;
}): Promise<RunningServer> {
  const requests: RunningServer['requests'] = [];
  const stats = { connections: 0, resumed: 0, bytesReceived: 0 };
  const server = https.createServer(
    { key: options.key, cert: options.cert, requestCert: options.requestCert, rejectUnauthorized: options.requestCert ?? false, ca: options.ca, maxVersion: options.maxVersion },
    (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        if (options.handler) options.handler(req, res);
        else res.end(`hello from ${options.name ?? 'origin'}`);
      });
    },
  );
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    stats.connections++;
    if (socket.isSessionReused()) stats.resumed++;
    socket.on('data', (d: Buffer) => (stats.bytesReceived += d.length));
  });
  server.on('tlsClientError', () => {});
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `https://localhost:${port}`,
    requests,
    stats,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export interface RunningMitm {
  readonly port: number;
  /** Plaintext the MITM read from clients: proof of interception when non-empty. */
  readonly intercepted: string[];
  close(): Promise<void>;
}

/**
 * A transparent intercepting proxy: terminates TLS with a certificate for `hosts` issued by `attackerCa` (a CA the
 * victim trusts), reads the plaintext, and relays it to the real origin.
 */
export async function startMitm(options: { attackerCa: Issued; hosts: readonly string[]; upstreamPort: number; upstreamCa: string; forgedChain?: (forged: Issued) => string }): Promise<RunningMitm> {
  const forged = createCertificate({ commonName: options.hosts[0]!, sans: options.hosts, issuer: options.attackerCa });
  const intercepted: string[] = [];
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ key: forged.key.keyPem, cert: options.forgedChain ? options.forgedChain(forged) : forged.pem + options.attackerCa.pem }, (client) => {
    sockets.add(client);
    const upstream = tls.connect({ host: '127.0.0.1', port: options.upstreamPort, servername: 'localhost', ca: options.upstreamCa });
    client.on('data', (d: Buffer) => {
      intercepted.push(d.toString('latin1'));
      upstream.write(d);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    intercepted,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** GET over node:https, resolving to status and body, rejecting with the request's error. */
export function httpsGet(url: string, options: https.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'GET', ...options }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A plain-HTTP server on 127.0.0.1 (also a refusing proxy: a CONNECT is recorded and answered 403). */
export interface RunningHttpServer {
  readonly url: string;
  readonly port: number;
  /** `METHOD url` of every request, `CONNECT host:port` of every tunnel asked for. */
  readonly requests: string[];
  connections(): number;
  close(): Promise<void>;
}

export async function startHttpServer(): Promise<RunningHttpServer> {
  const requests: string[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.end('plain');
  });
  server.on('connection', () => connections++);
  server.on('connect', (req: http.IncomingMessage, socket: Socket) => {
    requests.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
