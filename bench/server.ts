/**
 * The benchmark's HTTPS origin, run in its own process (its own core) so that server work does not share the
 * client's event loop. Two listeners on 127.0.0.1 with the same certificate chain:
 * - `resume`: TLS session tickets on (Node's default), so clients can resume;
 * - `full`: session tickets off and no server session cache, so every handshake is a full one.
 * `GET /close` answers with `Connection: close` (a new connection per request); any other path keeps the connection.
 * It receives `{ key, cert }` over IPC, answers `{ resume, full }` (the ports) and counts handshakes on request.
 */
import { constants } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';

interface Counts {
  full: number;
  resumed: number;
}

function listen(options: https.ServerOptions, counts: Counts): Promise<https.Server> {
  const body = Buffer.from('{"ok":true}');
  const server = https.createServer(options, (req, res) => {
    req.resume();
    const close = req.url === '/close';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...(close ? { connection: 'close' } : {}) });
    res.end(body);
  });
  server.keepAliveTimeout = 30_000;
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    if (socket.isSessionReused()) counts.resumed++;
    else counts.full++;
  });
  server.on('tlsClientError', () => {});
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

process.once('message', async (message: { key: string; cert: string }) => {
  const counts = { resume: { full: 0, resumed: 0 }, full: { full: 0, resumed: 0 } };
  const resume = await listen({ key: message.key, cert: message.cert }, counts.resume);
  const full = await listen({ key: message.key, cert: message.cert, secureOptions: constants.SSL_OP_NO_TICKET }, counts.full);
  process.on('message', (request: string) => {
    if (request === 'counts') process.send!({ counts });
  });
  process.send!({ resume: (resume.address() as AddressInfo).port, full: (full.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
