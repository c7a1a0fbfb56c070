/**
 * Why a connection failed, in one plain sentence: Node's error codes (`DEPTH_ZERO_SELF_SIGNED_CERT`,
 * `ECONNREFUSED`, …) and certpin's own, turned into what happened and what to do. The library's `classifyError`
 * gives the kind; `protocol` failures (no common ALPN protocol or TLS version, an mTLS server that wants a client
 * certificate, a port that does not speak TLS) are never called "not trusted": that sends people looking at the
 * wrong certificate.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { classifyError } from '../index.js';
import type { ErrorKind } from '../index.js';
import { formatName } from '../tools/index.js';

/** What kind of failure the CLI reports: the library's kinds. */
export type FailureKind = ErrorKind;

/** What the CLI says about a failed connection. */
export interface FailureExplanation {
  readonly kind: FailureKind;
  readonly code: string | undefined;
  /** One line: what happened and, where it helps, what to do. */
  readonly sentence: string;
}

/** Context for the sentence: who was connected to, and what the handshake showed. */
export interface FailureContext {
  /** `host:port`. */
  readonly label: string;
  readonly servername: string;
  readonly timeoutMs: number;
  /** The certificates the server sent, leaf first. */
  readonly chain?: readonly X509Certificate[];
  /** The ALPN protocols offered. */
  readonly alpn?: readonly string[];
  /**
   * What to suggest when the certificate does not name `servername`; the commands differ (`fetch` and `check` take
   * `--servername`, `verify` checks the name the policy gives). Default: the `--servername` hint.
   */
  readonly nameHint?: string;
  /** What to suggest when the server accepts none of the ALPN protocols offered (a command's `--alpn`), if anything. */
  readonly alpnHint?: string;
}

const ALPN_CODES = new Set(['ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'ERR_SSL_NO_APPLICATION_PROTOCOL']);
const VERSION_CODES = new Set(['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'ERR_SSL_UNSUPPORTED_PROTOCOL', 'ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'ERR_SSL_NO_SHARED_CIPHER']);
const CLIENT_CERTIFICATE_CODES = new Set(['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN']);

/** Explains a connection failure in one line. */
export function explainFailure(error: unknown, context: FailureContext): FailureExplanation {
  const { kind, code, error: inner } = classifyError(error);
  // OpenSSL 3.2 renamed the SSLv3 alerts (Node 22 and 24): ERR_SSL_SSL/TLS_ALERT_… for ERR_SSL_SSLV3_ALERT_….
  const known = code?.replace('ERR_SSL_SSL/TLS_ALERT_', 'ERR_SSL_SSLV3_ALERT_');
  const message = inner instanceof Error ? inner.message : String(inner);
  const leaf = context.chain?.[0];
  const nameHint = context.nameHint ?? 'use --servername NAME if you meant another name';
  const sentence = ((): string => {
    if (known && ALPN_CODES.has(known)) {
      const offered = context.alpn?.length ? context.alpn.join(', ') : 'h2, http/1.1';
      return `No common application protocol (ALPN): ${context.label} accepts none of ${offered}, so it serves another protocol on that port; the handshake stopped before any certificate was checked.${context.alpnHint ? ` ${context.alpnHint}` : ''}`;
    }
    if (known === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE') {
      // The one alert TLS 1.2 servers send for both: no common parameters, or no client certificate where one is required.
      return `${context.label} ended the handshake (handshake_failure): either it shares no TLS version or cipher with certpin (TLS 1.2 and 1.3, modern ciphers), or it requires a client certificate (mutual TLS) and the policy gives none ("clientCertificate").`;
    }
    if (known && VERSION_CODES.has(known)) {
      return `No common TLS version or cipher with ${context.label} (certpin offers TLS 1.2 and 1.3 with modern ciphers); the handshake stopped before any certificate was checked.`;
    }
    if (known && CLIENT_CERTIFICATE_CODES.has(known)) {
      return `${context.label} wants a client certificate it accepts (mutual TLS): set "clientCertificate" in the policy. Its own certificate was not the problem.`;
    }
    switch (code) {
      case 'DEPTH_ZERO_SELF_SIGNED_CERT':
        return 'Not trusted: the server\'s certificate is self-signed and is not in the trust store (if it is yours, trust it with --ca FILE).';
      case 'SELF_SIGNED_CERT_IN_CHAIN':
        return 'Not trusted: the chain ends at a self-signed root that is not in the trust store (unknown CA; trust it with --ca ROOT.pem if it is yours).';
      case 'UNABLE_TO_GET_ISSUER_CERT':
      case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
        if (context.chain?.length === 1 && leaf && leaf.subject !== leaf.issuer) {
          return `Not trusted: the server sent only its own certificate, without the CA certificate that issued it (${formatName(leaf.issuer)}). Browsers often fetch a missing intermediate themselves; Node, curl, Java and mobile apps do not. Configure the server to send its full chain (leaf, then intermediate).`;
        }
        return 'Not trusted: the chain does not lead to a trusted root (an unknown CA, or the server does not send its intermediate certificate).';
      case 'CERT_HAS_EXPIRED': {
        const expired = context.chain?.find((c) => new Date(c.validTo).getTime() < Date.now());
        return `Not trusted: ${expired ? `the certificate ${subjectCN(expired)} expired on ${new Date(expired.validTo).toISOString().slice(0, 10)}` : 'a certificate of the chain has expired'}.`;
      }
      case 'CERT_NOT_YET_VALID':
        return 'Not trusted: a certificate of the chain is not valid yet (check the clock of this machine and of the server).';
      case 'ERR_TLS_CERT_ALTNAME_INVALID':
      case 'HOSTNAME_MISMATCH':
        return `Not trusted for this name: the certificate is not valid for ${context.servername}${leaf?.subjectAltName ? ` (it names ${leaf.subjectAltName})` : ''}; ${nameHint}.`;
      case 'CERT_SIGNATURE_FAILURE':
        return 'Not trusted: a signature in the chain does not verify (a forged or corrupted certificate).';
      case 'ERR_CERTPIN_PIN_MISMATCH':
        return `Refused by pinning: the verified chain of ${context.label} contains none of the pinned keys.`;
      case 'ERR_CERTPIN_HOST_NOT_PINNED':
        return `Refused by pinning: the policy allows only pinned hosts and has no pin set for ${context.servername}.`;
      case 'ERR_CERTPIN_CHAIN_UNVERIFIED':
        return `Refused: ${message.replace(/^Connection to \S+ refused: /, '')}`;
      case 'ECONNREFUSED':
        return `Connection refused by ${context.label}: nothing listens on that port (or a firewall refuses). Check the host and port.`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `${hostOf(context.label)} does not resolve (DNS): check the spelling, or your network.`;
      case 'ETIMEDOUT':
      case 'ERR_SOCKET_CONNECTION_TIMEOUT':
        return `Timed out: no TLS handshake with ${context.label} within ${context.timeoutMs} ms (a firewall dropping packets, a server that accepts connections but does not answer, or a slow one: raise --timeout).`;
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return `${context.label} is unreachable from this machine (no route to it).`;
      case 'ECONNRESET':
        return `${context.label} closed the connection during the handshake (not a TLS server, or it refused this client's TLS version or SNI).`;
      case 'ERR_SSL_WRONG_VERSION_NUMBER':
      case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
        return `${context.label} does not speak TLS on that port (plain HTTP?).`;
      default:
        if (/closed during the handshake/.test(message)) {
          return `${context.label} closed the connection during the handshake (not a TLS server, or it refused this client's TLS version or SNI).`;
        }
        if (kind === 'protocol') {
          const reason = (inner as { reason?: unknown }).reason;
          return `The TLS handshake with ${context.label} failed before any certificate was checked: ${typeof reason === 'string' ? reason : firstLine(message)}${code ? ` (${code})` : ''}.`;
        }
        return `${kind === 'certificate' ? 'Not trusted' : 'Failed'}: ${firstLine(message)}${code && !message.includes(code) ? ` (${code})` : ''}`;
    }
  })();
  return { kind, code, sentence };
}

function subjectCN(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject ?? '')?.[1];
  return cn ? `"${cn}"` : 'of the chain';
}

function hostOf(label: string): string {
  return label.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
