/**
 * The benchmark's servers, in a child process of their own (so that server work does not share the client's event
 * loop or its CPU clock). Everything listens on 127.0.0.1.
 *
 * - `https.<kind>.<side>`: HTTPS (HTTP/1.1) with WebSocket upgrade (echo); `GET /close` answers with
 *   `Connection: close`, any other path keeps the connection.
 * - `h2.<kind>.<side>`: HTTP/2 (ALPN h2 only).
 * - kind `full`: session tickets off and no session store: the server never resumes a session (it still issues
 *   stateful session ids, which a client may offer and the server then declines). kind `resume`: Node's defaults
 *   (tickets), so a client can resume.
 * - side `a` (certpin's client) and `b` (the plain client): two identical listeners, so that what the server saw
 *   (full and resumed handshakes, and ClientHellos that offered a session) is counted per side.
 * - `cold.leaf` and `cold.chain`: TLS only, a certificate chosen by SNI (a new leaf per name under one intermediate,
 *   or a wholly new chain per name), for the cold pin-decision rows.
 * - `collector`: accepts TCP connections and never answers: a dead report collector.
 *
 * Protocol (IPC): `{ type: 'start', … }` → `{ type: 'ports', ports }`; `{ type: 'counts' }` → `{ type: 'counts', counts }`.
 */
import { constants } from 'node:crypto';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { readTlsClientHello } from 'read-tls-client-hello';
import { WebSocketServer } from 'ws';

export interface KeyAndChain {
  readonly key: string;
  readonly cert: string;
}

export interface StartMessage {
  readonly type: 'start';
  readonly main: KeyAndChain;
  /** Certificates by SNI name for the cold servers; the first of each is also the default. */
  readonly coldLeaf: readonly (KeyAndChain & { name: string })[];
  readonly coldChain: readonly (KeyAndChain & { name: string })[];
}

export interface HandshakeCounts {
  full: number;
  resumed: number;
  /** ClientHellos that offered a session to resume (the TLS 1.3 pre_shared_key extension; every handshake here is TLS 1.3). */
  offered: number;
}

export type Ports = Record<string, number>;
export type Counts = Record<string, HandshakeCounts>;

const PRE_SHARED_KEY = 41;
const counts: Counts = {};
let collectorAccepted = 0;

/** Counts handshakes and session offers, reading each ClientHello before TLS starts (as read-tls-client-hello does). */
function track<T extends tls.Server>(name: string, server: T): T {
  const tally: HandshakeCounts = (counts[name] = { full: 0, resumed: 0, offered: 0 });
  const tlsListener = server.listeners('connection')[0] as (socket: net.Socket) => void;
  server.removeListener('connection', tlsListener);
  server.on('connection', (socket: net.Socket) => {
    socket.on('error', () => {});
    readTlsClientHello(socket).then(
      (hello) => {
        if (hello.extensions.some((e) => e.id === PRE_SHARED_KEY)) tally.offered++;
        tlsListener.call(server, socket);
      },
      () => socket.destroy(),
    );
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    if (socket.isSessionReused()) tally.resumed++;
    else tally.full++;
  });
  server.on('tlsClientError', () => {});
  return server;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

const body = Buffer.from('{"ok":true}');

function httpsServer(name: string, options: https.ServerOptions): https.Server {
  const server = https.createServer(options, (req, res) => {
    req.resume();
    const close = req.url === '/close';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...(close ? { connection: 'close' } : {}) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (request, socket, head) => {
    socket.on('error', () => {});
    sockets.handleUpgrade(request, socket, head, (ws) => {
      ws.on('message', (data, binary) => ws.send(data, { binary }));
      ws.on('error', () => {});
    });
  });
  return track(name, server);
}

function h2Server(name: string, options: http2.SecureServerOptions): http2.Http2SecureServer {
  const server = http2.createSecureServer(options);
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': body.length });
    stream.end(body);
  });
  server.on('sessionError', () => {});
  return track(name, server);
}

function sniServer(name: string, entries: readonly (KeyAndChain & { name: string })[]): tls.Server {
  const contexts = new Map(entries.map((e) => [e.name, tls.createSecureContext({ key: e.key, cert: e.cert })]));
  const first = entries[0]!;
  const server = tls.createServer({ key: first.key, cert: first.cert, SNICallback: (servername, callback) => callback(null, contexts.get(servername) ?? contexts.get(first.name)) }, (socket) => {
    socket.on('error', () => {});
    socket.resume();
  });
  return track(name, server);
}

async function start(message: StartMessage): Promise<Ports> {
  const ports: Ports = {};
  const base = { key: message.main.key, cert: message.main.cert };
  for (const kind of ['full', 'resume'] as const) {
    const secureOptions = kind === 'full' ? constants.SSL_OP_NO_TICKET : undefined;
    for (const side of ['a', 'b'] as const) {
      ports[`https.${kind}.${side}`] = await listen(httpsServer(`https.${kind}.${side}`, { ...base, secureOptions }));
      ports[`h2.${kind}.${side}`] = await listen(h2Server(`h2.${kind}.${side}`, { ...base, secureOptions }));
    }
  }
  if (message.coldLeaf.length) ports['cold.leaf'] = await listen(sniServer('cold.leaf', message.coldLeaf));
  if (message.coldChain.length) ports['cold.chain'] = await listen(sniServer('cold.chain', message.coldChain));
  const collector = net.createServer((socket) => {
    collectorAccepted++;
    socket.on('error', () => {});
    // Reads nothing back and never answers: the client's TLS handshake waits until its own timeout.
  });
  ports.collector = await listen(collector);
  return ports;
}

process.on('message', (message: StartMessage | { type: 'counts' }) => {
  if (message.type === 'start') {
    void start(message).then((ports) => process.send!({ type: 'ports', ports }));
  } else if (message.type === 'counts') {
    process.send!({ type: 'counts', counts: JSON.parse(JSON.stringify(counts)) as Counts, collectorAccepted });
  }
});
process.on('disconnect', () => process.exit(0));
