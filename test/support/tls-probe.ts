/**
 * A real Node TLS handshake on 127.0.0.1: one server whose certificate chain is swapped per case, and a client that
 * trusts exactly the given anchors. Its verdict is what OpenSSL inside Node decides for that chain.
 */
import { once } from 'node:events';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';

export interface HandshakeCase {
  readonly keyPem: string;
  /** Leaf first, then what the server sends, in order. */
  readonly chainPem: string;
  readonly anchorsPem: readonly string[];
  /** Host name or IP literal the client expects. */
  readonly host: string;
  readonly partialChain?: boolean;
  /** Check the certificate for `host` as Node does (default); `false` judges the path alone. */
  readonly checkHost?: boolean;
}

export interface HandshakeVerdict {
  readonly ok: boolean;
  readonly detail: string;
}

/** Whether this Node has `allowPartialTrustChain` (22.9+). */
export const nodeSupportsPartialChain = ((): boolean => {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 9);
})();

/** A TLS server whose chain is replaced before each handshake (cases run one at a time). */
export class HandshakeProbe {
  readonly #server: tls.Server;
  #port = 0;

  constructor() {
    this.#server = tls.createServer({}, (socket) => socket.end());
    this.#server.on('tlsClientError', () => {});
  }

  async start(): Promise<void> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.#server.close();
    await once(this.#server, 'close');
  }

  async handshake(c: HandshakeCase): Promise<HandshakeVerdict> {
    // The server accepts any chain (security level 0); only the client's verdict is measured.
    this.#server.setSecureContext({ key: c.keyPem, cert: c.chainPem, ciphers: 'DEFAULT:@SECLEVEL=0' });
    const options: tls.ConnectionOptions & { allowPartialTrustChain?: boolean } = {
      host: '127.0.0.1',
      port: this.#port,
      ca: [...c.anchorsPem],
      servername: isIP(c.host) ? undefined : c.host,
      checkServerIdentity: (_name, cert) => (c.checkHost === false ? undefined : tls.checkServerIdentity(c.host, cert)),
    };
    if (c.partialChain) options.allowPartialTrustChain = true;
    return new Promise<HandshakeVerdict>((resolve) => {
      const socket = tls.connect(options);
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ ok: false, detail: 'timeout' });
      }, 10_000);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ ok: true, detail: 'OK' });
      });
      socket.once('error', (error: Error & { code?: string }) => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ ok: false, detail: error.code ?? error.message });
      });
    });
  }
}
