/**
 * The certificates a server actually sent, in its order. Node's `getPeerCertificate(true)` links certificates by
 * name and key identifier, drops those it cannot link, and appends a root from the store: with a stale intermediate
 * listed before the valid one of the same name (Let's Encrypt's 2021 cross-sign), the valid one is lost.
 * `getPeerX509Certificate()` walks every served certificate through `issuerCertificate`, in order; Node 20 to 24
 * empty the socket's peer chain while building that walk, so after reading it the socket's two accessors are pinned
 * to what was read, and code that asks the socket later gets the same answers it would have had.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';

/** Reads the served certificates (DER, leaf first, served order), once per socket. */
export function readServedChain(socket: tls.TLSSocket): Buffer[] {
  const cached = served.get(socket);
  if (cached) return cached;
  const detailed = socket.getPeerCertificate(true);
  const leaf = socket.getPeerX509Certificate();
  const chain: Buffer[] = [];
  const seen = new Set<X509Certificate>();
  for (let current: X509Certificate | undefined = leaf; current && !seen.has(current) && chain.length < 256; current = current.issuerCertificate) {
    seen.add(current);
    chain.push(current.raw);
  }
  const summary = { ...detailed } as Partial<tls.DetailedPeerCertificate>;
  delete summary.issuerCertificate;
  Object.defineProperties(socket, {
    getPeerCertificate: { configurable: true, writable: true, value: (full?: boolean) => (full ? detailed : summary) },
    getPeerX509Certificate: { configurable: true, writable: true, value: () => leaf },
  });
  served.set(socket, chain);
  return chain;
}

const served = new WeakMap<tls.TLSSocket, Buffer[]>();
