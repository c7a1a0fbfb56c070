/**
 * Probing a server: one pinned handshake that sends no application data and reports everything it saw, also when
 * the connection is refused. This is the basis of `checkConnection` and of the CLI's `fetch`, `check` and `verify`.
 *
 * Validation is never turned off to see an untrusted chain: the served certificates are read at the end of the
 * handshake, just before Node judges them, and the connection is then refused as usual.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { certificateFromDer } from '../core/certificate.js';
import type { PinDecision } from '../core/decision.js';
import { validateServedChain } from '../core/path/index.js';
import { verifiedPath as viewOf } from '../core/path-certificate.js';
import type { VerifiedPath } from '../core/path-certificate.js';
import type { PinPolicy, PolicyHolder } from '../core/policy.js';
import { pinnedConnect } from './connect.js';
import { readServedChain } from './served-chain.js';
import { tlsTrustFor } from './trust-store.js';

/** Where to connect. */
export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  /** SNI and the name the certificate is checked for; defaults to `host` (not sent for IP literals). */
  readonly servername?: string;
}

/** Everything one probe learned. */
export interface ServerProbe {
  readonly host: string;
  readonly port: number;
  readonly servername: string;
  /** True when the connection would be accepted under the policy. */
  readonly accepted: boolean;
  /** The certificates the server sent, in its order, leaf first (empty if the handshake never got that far). */
  readonly served: readonly X509Certificate[];
  /** A path certpin verified from the leaf to the policy's trust anchors, if there is one (it may end at a certificate of the trust store that the server did not send). */
  readonly verifiedPath: VerifiedPath | undefined;
  /** The pin decision, when the handshake got as far as the pin check. */
  readonly decision: PinDecision | undefined;
  /** Why the connection was refused: a `PinningError`, Node's certificate error, or a network error. */
  readonly error: Error | undefined;
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
  /** The protocol ALPN agreed on (`h2`, `http/1.1`), if any. */
  readonly alpnProtocol: string | undefined;
}

/**
 * Connects once with a full handshake (never a resumed session, which would skip the pin check and leave nothing
 * to report), sends nothing, and reports the outcome. Rejects only when the arguments cannot make a connection.
 * The timeout holds whatever the server sends: certpin's own path verification is bounded in work.
 * @example
 * ```ts
 * const probe = await probeServer(policy, { host: 'api.example.com', port: 443 }, { timeoutMs: 5000 });
 * if (!probe.accepted) console.error(probe.error?.message);
 * ```
 */
export function probeServer(policy: PinPolicy | PolicyHolder, target: ProbeTarget, options: { timeoutMs?: number; alpn?: readonly string[] } = {}): Promise<ServerProbe> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const servername = target.servername ?? target.host;
  const current = policy.current();
  return new Promise((resolve, reject) => {
    let servedDer: Buffer[] = [];
    let decision: PinDecision | undefined;
    let protocol: string | undefined;
    let cipher: string | undefined;
    let alpnProtocol: string | undefined;
    let settled = false;
    let socket: tls.TLSSocket;
    let grace: NodeJS.Timeout | undefined;
    const finish = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      socket.destroy();
      const served = servedDer.flatMap((der, index) => {
        try {
          return [certificateFromDer(der, 'A served certificate', index + 1)];
        } catch {
          return [];
        }
      });
      let verifiedPath: VerifiedPath | undefined;
      if (decision && 'path' in decision && decision.path) verifiedPath = decision.path;
      else if (servedDer.length > 0) {
        // Shown by the CLI (a refused name may still have a valid chain): verified here, bounded like every verification.
        const { index, partialChain } = tlsTrustFor(current).anchors;
        const validation = validateServedChain(servedDer, index, { now: current.now(), partialChain });
        if (validation.verified) verifiedPath = viewOf(validation.paths[0]!);
      }
      resolve({ host: target.host, port: target.port, servername, accepted: !error, served, verifiedPath, decision, error, protocol, cipher, alpnProtocol });
    };
    try {
      socket = pinnedConnect(current, {
        host: target.host,
        port: target.port,
        servername: target.servername,
        ALPNProtocols: [...(options.alpn ?? ['h2', 'http/1.1'])],
        onPinDecision: (d) => (decision = d),
        resume: false,
      });
    } catch (error) {
      reject(error);
      return;
    }
    // 'secure' is emitted when the handshake completes and before Node validates the chain (which may destroy the
    // socket): the one moment to read an untrusted chain without turning validation off.
    socket.prependListener('secure', () => {
      try {
        servedDer = readServedChain(socket);
        protocol = socket.getProtocol() ?? undefined;
        cipher = socket.getCipher()?.name;
        alpnProtocol = socket.alpnProtocol || undefined;
      } catch {
        servedDer = [];
      }
    });
    const started = performance.now();
    let handshakeDone = false;
    socket.once('secureConnect', () => {
      handshakeDone = true;
      if (socket.getProtocol() !== 'TLSv1.3') return finish(undefined);
      // Under TLS 1.3 a server that requires a client certificate refuses one round trip after the client's side of
      // the handshake is done: its alert (certificate_required) arrives where an accepting server's session ticket
      // does. The probe waits for whichever comes first (or for as long again as the handshake took, for servers
      // that send no ticket), so that a server real clients cannot use is not reported as reachable.
      const settle = () => finish(undefined);
      socket.once('session', settle);
      socket.once('data', settle);
      socket.resume();
      grace = setTimeout(settle, Math.max(50, Math.min(performance.now() - started, 1000)));
    });
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(handshakeDone ? undefined : new Error(`the connection to ${target.host}:${target.port} closed during the handshake`)));
    const timer = setTimeout(() => {
      finish(Object.assign(new Error(`no TLS handshake with ${target.host}:${target.port} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
  });
}
