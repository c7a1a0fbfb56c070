/**
 * `node:http2` sessions whose connection is opened by {@link pinnedConnect}.
 *
 * An HTTP/2 session is one TLS connection carrying many requests, so it is checked once, in its handshake, and is
 * then bound to the origin it was opened for: a request on it for another `:authority` is refused. Browsers
 * "coalesce" connections (reuse one for another host the certificate also names); here that would carry a request
 * for host B over a connection whose chain was only ever held against host A's pins, so certpin does not allow it.
 * Open one session per origin.
 * @module
 */
import type http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { nodeHttp2 } from '../builtins.js';
import { formatAuthority, normalizeHost, unbracketHost } from '../core/hostname.js';
import type { PinPolicy, PolicyHolder } from '../core/policy.js';
import { InsecureOptionError } from '../errors.js';
import { pinnedConnect } from '../node/connect.js';
import { assertSafeTlsOptions } from '../node/tls-options.js';

/** Options of {@link pinnedHttp2Connect}: those of `http2.connect`, without the ones certpin owns. */
export interface PinnedHttp2Options extends Omit<http2.SecureClientSessionOptions, 'createConnection' | 'ca' | 'cert' | 'key' | 'pfx' | 'secureContext' | 'rejectUnauthorized' | 'ALPNProtocols'> {
  /**
   * An already open stream to run the TLS handshake over, e.g. a `CONNECT` tunnel through a proxy. The pins apply
   * to the chain the origin presents through it.
   */
  socket?: Duplex;
}

/**
 * `http2.connect(authority)` with `policy` enforced in the session's TLS handshake (ALPN `h2`). Errors (a
 * {@link PinningError} with `code === 'ERR_CERTPIN_PIN_MISMATCH'`, certificate and network errors) are emitted as
 * the session's `'error'` event, before any frame is sent.
 *
 * The session serves its own origin only: `session.request()` throws an {@link InsecureOptionError} for a
 * `:authority` (or `host`, in any case) naming another host or port. Do not share a session between origins; open
 * one per origin. A `checkServerIdentity` of yours runs in addition to the pin check. With a dynamic policy, a
 * session is closed (gracefully: open streams finish) when the pin sets change; open a new one.
 *
 * @example
 * ```ts
 * import { PinPolicy, pinnedHttp2Connect } from 'certpin';
 *
 * const policy = new PinPolicy({ hosts: { 'api.example.com': ['sha256/…current…', 'sha256/…backup…'] } });
 * const session = pinnedHttp2Connect(policy, 'https://api.example.com');
 * session.on('error', (err) => console.error(err.code));      // ERR_CERTPIN_PIN_MISMATCH on a MITM
 * const req = session.request({ ':path': '/v1/status' });
 * req.setEncoding('utf8');
 * req.on('data', (chunk) => process.stdout.write(chunk));
 * req.on('end', () => session.close());
 * ```
 * @throws {InsecureOptionError} for options that would weaken TLS; `TypeError` for an authority that is not https.
 */
export function pinnedHttp2Connect(
  policy: PinPolicy | PolicyHolder,
  authority: string | URL,
  options: PinnedHttp2Options = {},
  listener?: (session: http2.ClientHttp2Session, socket: Duplex) => void,
): http2.ClientHttp2Session {
  const origin = new URL(authority);
  if (origin.protocol !== 'https:') throw new TypeError(`pinnedHttp2Connect: the authority must be an https: URL, not ${origin.protocol}`);
  const current = policy.current();
  const { socket: tunnel, servername, checkServerIdentity, ...sessionOptions } = options;
  assertSafeTlsOptions(sessionOptions as Record<string, unknown>, 'pinnedHttp2Connect options', current.trust.minVersion);
  const host = unbracketHost(origin.hostname);
  const port = Number(origin.port || 443);
  const session = nodeHttp2().connect(origin, {
    ...sessionOptions,
    createConnection: () => pinnedConnect(policy, { host, port, servername, socket: tunnel, checkServerIdentity, ALPNProtocols: ['h2'] }),
  }, listener);
  bindToOrigin(session, host, port);
  const stopWatching = policy.onChange(() => session.close());
  session.once('close', stopWatching);
  return session;
}

/** Makes `session.request` refuse headers that address another origin than the one the session was checked for. */
function bindToOrigin(session: http2.ClientHttp2Session, host: string, port: number): void {
  const request = session.request.bind(session);
  session.request = (given?: http2.OutgoingHttpHeaders, requestOptions?: http2.ClientSessionRequestOptions) => {
    // One read of each header: what is checked is what Node sends (a getter could answer differently each time).
    const headers = given && !Array.isArray(given) ? { ...given } : given;
    for (const field of Object.keys(headers ?? {})) {
      const name = field.toLowerCase();
      if (name !== ':authority' && name !== 'host') continue;
      const value = headers![field];
      if (value === undefined) continue;
      if (!sameOrigin(String(value), host, port)) {
        throw new InsecureOptionError(
          name,
          `pinnedHttp2Connect: this session was checked for ${formatAuthority(host, port)} and cannot carry a request for ${JSON.stringify(String(value))}; open a session for that origin.`,
        );
      }
    }
    return request(headers, requestOptions);
  };
}

function sameOrigin(authority: string, host: string, port: number): boolean {
  let url: URL;
  try {
    url = new URL(`https://${authority}`);
  } catch {
    return false;
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return false;
  return normalizeHost(unbracketHost(url.hostname)) === normalizeHost(host) && Number(url.port || 443) === port;
}

