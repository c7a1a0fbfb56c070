/**
 * Why a connection failed, in one plain sentence: Node's error codes (`DEPTH_ZERO_SELF_SIGNED_CERT`,
 * `ECONNREFUSED`, …) and certpin's own, turned into what happened and what to do. Uses the library's
 * `classifyError` to know the kind.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { classifyError } from '../index.js';
import type { ErrorKind } from '../index.js';

/** What the CLI says about a failed connection. */
export interface FailureExplanation {
  readonly kind: ErrorKind;
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
  readonly chain?: readonly X509Certificate[];
}

/** Explains a connection failure in one line. */
export function explainFailure(error: unknown, context: FailureContext): FailureExplanation {
  const { kind, code, error: inner } = classifyError(error);
  const message = inner instanceof Error ? inner.message : String(inner);
  const leaf = context.chain?.[0];
  const sentence = ((): string => {
    switch (code) {
      case 'DEPTH_ZERO_SELF_SIGNED_CERT':
        return 'Not trusted: the server\'s certificate is self-signed and is not in the trust store (if it is yours, trust it with --ca FILE).';
      case 'SELF_SIGNED_CERT_IN_CHAIN':
        return 'Not trusted: the chain ends at a self-signed root that is not in the trust store (unknown CA; trust it with --ca ROOT.pem if it is yours).';
      case 'UNABLE_TO_GET_ISSUER_CERT':
      case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
        return 'Not trusted: the chain does not lead to a trusted root (an unknown CA, or the server does not send its intermediate certificate).';
      case 'CERT_HAS_EXPIRED': {
        const expired = context.chain?.find((c) => new Date(c.validTo).getTime() < Date.now());
        return `Not trusted: ${expired ? `the certificate ${subjectCN(expired)} expired on ${new Date(expired.validTo).toISOString().slice(0, 10)}` : 'a certificate of the chain has expired'}.`;
      }
      case 'CERT_NOT_YET_VALID':
        return 'Not trusted: a certificate of the chain is not valid yet (check the clock of this machine and of the server).';
      case 'ERR_TLS_CERT_ALTNAME_INVALID':
      case 'HOSTNAME_MISMATCH':
        return `Not trusted for this name: the certificate is not valid for ${context.servername}${leaf?.subjectAltName ? ` (it names ${leaf.subjectAltName})` : ''}; use --servername NAME if you meant another name.`;
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
        return `Timed out: no TLS handshake with ${context.label} within ${context.timeoutMs} ms (a firewall dropping packets, or a slow server: raise --timeout).`;
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return `${context.label} is unreachable from this machine (no route to it).`;
      case 'ECONNRESET':
        return `${context.label} closed the connection during the handshake (not a TLS server, or it refused this client's TLS version or SNI).`;
      case 'ERR_SSL_WRONG_VERSION_NUMBER':
        return `${context.label} does not speak TLS on that port (plain HTTP?).`;
      default:
        if (/closed during the handshake/.test(message)) {
          return `${context.label} closed the connection during the handshake (not a TLS server, or it refused this client's TLS version or SNI).`;
        }
        return `${kind === 'certificate' ? 'Not trusted' : 'Failed'}: ${firstLine(message)}${code && !message.includes(code) ? ` (${code})` : ''}`;
    }
  })();
  return { kind, code, sentence };
}

function subjectCN(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  return cn ? `"${cn}"` : 'of the chain';
}

function hostOf(label: string): string {
  return label.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
