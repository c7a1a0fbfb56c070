/**
 * The demo's "bank API": an HTTPS server on 127.0.0.1 that answers `GET /v1/balance` for a bearer token, counts
 * the requests it served and can restart on the same port with another key and certificate (a rotation).
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';

export interface BankTls {
  /** PEM private key. */
  readonly key: string;
  /** PEM leaf followed by the intermediate. */
  readonly cert: string;
}

export interface BankApi {
  readonly port: number;
  /** `https://localhost:PORT` */
  readonly url: string;
  /** The requests the bank answered (method, path, authorization header). */
  readonly requests: { method: string; path: string; authorization: string | undefined }[];
  /** Full handshakes and resumed sessions since the last (re)start. */
  readonly handshakes: { full: number; resumed: number };
  /** Stops and starts again on the same port with another key and certificate. */
  restart(tlsFiles: BankTls): Promise<void>;
  close(): Promise<void>;
}

/** Starts the bank API on 127.0.0.1 (a free port). `token` is the only bearer token it accepts. */
export async function startBankApi(tlsFiles: BankTls, token: string): Promise<BankApi> {
  const requests: BankApi['requests'] = [];
  const handshakes = { full: 0, resumed: 0 };
  let server = await listen(tlsFiles, 0);
  const port = (server.address() as AddressInfo).port;

  function listen(files: BankTls, onPort: number): Promise<https.Server> {
    const created = https.createServer({ key: files.key, cert: files.cert }, (req, res) => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      if (req.headers.authorization !== `Bearer ${token}`) {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: 'unauthorized' }));
        return;
      }
      res.end(JSON.stringify({ account: 'DE89 3704 0044 0532 0130 00', balance: '12,480.17 EUR' }));
    });
    created.on('secureConnection', (socket: tls.TLSSocket) => {
      if (socket.isSessionReused()) handshakes.resumed++;
      else handshakes.full++;
    });
    created.on('tlsClientError', () => {}); // a refused handshake is expected in the demo
    return new Promise((resolve, reject) => {
      created.once('error', reject);
      created.listen(onPort, '127.0.0.1', () => resolve(created));
    });
  }

  function stop(current: https.Server): Promise<void> {
    return new Promise((resolve) => {
      current.closeAllConnections();
      current.close(() => resolve());
    });
  }

  return {
    port,
    url: `https://localhost:${port}`,
    requests,
    handshakes,
    async restart(files) {
      await stop(server);
      handshakes.full = 0;
      handshakes.resumed = 0;
      server = await listen(files, port);
    },
    close: () => stop(server),
  };
}
