/**
 * A bare TLS connection as the benchmark makes it: the handshake, then close, waiting for the session ticket the
 * server sends after the handshake (so that a client that resumes has a session for the next connection).
 */
import type tls from 'node:tls';

export function tlsOnce(open: () => tls.TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = open();
    socket.once('secureConnect', () => socket.end());
    socket.once('error', reject);
    socket.once('close', () => resolve());
    socket.resume();
  });
}
