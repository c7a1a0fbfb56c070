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
import { verifyChain } from '../core/chain.js';
import type { VerifiedPath } from '../core/chain.js';
import type { PinDecision } from '../core/decision.js';
import { parseCertificates } from '../core/certificate.js';
import type { PinPolicy } from '../core/policy.js';
import { pinnedConnect } from './connect.js';
import { peerChainDer } from './pin-check.js';

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
  /** The certificates the handshake produced, leaf first, as Node links them (empty if the handshake never finished). */
  readonly chain: readonly X509Certificate[];
  /** A path certpin verified from the leaf to the policy's trust anchors, if there is one. */
  readonly verifiedPath: VerifiedPath | undefined;
  /** The pin decision, when the handshake got as far as the pin check. */
  readonly decision: PinDecision | undefined;
  /** Why the connection was refused: a `PinningError`, Node's certificate error, or a network error. */
  readonly error: Error | undefined;
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
}

/**
 * Connects once with a full handshake (never a resumed session, which would skip the pin check and leave nothing
 * to report), sends nothing, and reports the outcome. Rejects only when the arguments cannot make a connection.
 * @example
 * ```ts
 * const probe = await probeServer(policy, { host: 'api.example.com', port: 443 }, { timeoutMs: 5000 });
 * if (!probe.accepted) console.error(probe.error?.message);
 * ```
 */
export function probeServer(policy: PinPolicy, target: ProbeTarget, options: { timeoutMs?: number } = {}): Promise<ServerProbe> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const servername = target.servername ?? target.host;
  return new Promise((resolve, reject) => {
    let chainDer: Buffer[] = [];
    let decision: PinDecision | undefined;
    let protocol: string | undefined;
    let cipher: string | undefined;
    let settled = false;
    let socket: tls.TLSSocket;
    const finish = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const chain = chainDer.flatMap((der) => parseCertificates(der, 'A served certificate'));
      let verifiedPath: VerifiedPath | undefined;
      if (decision && 'path' in decision && decision.path) verifiedPath = decision.path;
      else if (chainDer.length > 0) {
        try {
          const verification = verifyChain(chainDer[0]!, chainDer.slice(1), policy.trustAnchors, policy.now());
          if (verification.verified) verifiedPath = verification.paths[0];
        } catch {
          verifiedPath = undefined;
        }
      }
      resolve({ host: target.host, port: target.port, servername, accepted: !error, chain, verifiedPath, decision, error, protocol, cipher });
    };
    try {
      socket = pinnedConnect(policy, {
        host: target.host,
        port: target.port,
        servername: target.servername,
        ALPNProtocols: ['h2', 'http/1.1'],
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
        chainDer = peerChainDer(socket.getPeerCertificate(true));
        protocol = socket.getProtocol() ?? undefined;
        cipher = socket.getCipher()?.name;
      } catch {
        chainDer = [];
      }
    });
    socket.once('secureConnect', () => finish(undefined));
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new Error(`the connection to ${target.host}:${target.port} closed during the handshake`)));
    const timer = setTimeout(() => {
      finish(Object.assign(new Error(`no TLS handshake with ${target.host}:${target.port} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
  });
}
