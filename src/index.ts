/**
 * certpin: certificate and public-key pinning for Node.js, enforced inside the TLS handshake.
 *
 * ```ts
 * import { PinPolicy, pinnedAgent } from 'certpin';
 * const policy = new PinPolicy({ hosts: { 'api.example.com': ['sha256/…current…', 'sha256/…backup…'] } });
 * https.get('https://api.example.com/', { agent: pinnedAgent(policy) });
 * ```
 * @module
 */
export { PinPolicy } from './core/policy.js';
export type { PinPolicyOptions, HostPinsOptions, HostRule, PolicyWarning } from './core/policy.js';
export { parsePin, pinMatches } from './core/pin.js';
export type { Pin, PinKind } from './core/pin.js';
export {
  spkiPin,
  publicKeyPin,
  spkiDer,
  certificateFingerprint,
  describeCertificate,
  parseCertificates,
  toCertificate,
} from './core/certificate.js';
export type { CertificateInput, CertificateDetails, DigestAlgorithm, FingerprintFormat } from './core/certificate.js';
export { normalizeHost } from './core/hostname.js';
export { TrustAnchors, systemTrustAnchors } from './core/trust.js';
export { verifyChain } from './core/chain.js';
export type { ChainVerification, ChainCertificate, VerifiedPath } from './core/chain.js';
export { decide, chainEntries } from './core/decision.js';
export type { PinDecision, HandshakeCertificates } from './core/decision.js';
export type { PinReport, PinReportOutcome } from './core/report.js';
export { pinnedAgent, PinnedAgent } from './node/agent.js';
export type { PinnedAgentOptions } from './node/agent.js';
export { pinnedTlsOptions, pinnedConnect, assertSafeTlsOptions } from './node/connect.js';
export type { PinnedConnectOptions } from './node/connect.js';
export { createPinCheck } from './node/pin-check.js';
export { probeServer } from './node/probe.js';
export type { ProbeTarget, ServerProbe } from './node/probe.js';
// -- fetch/undici, http2 and checkConnection (issue 3) --
export { pinnedDispatcher } from './adapters/fetch.js';
export type { PinnedDispatcherOptions } from './adapters/fetch.js';
export { pinnedHttp2Connect } from './adapters/http2.js';
export type { PinnedHttp2Options } from './adapters/http2.js';
export { checkConnection } from './check.js';
export type { ConnectionCheck, CheckConnectionOptions } from './check.js';
// -- end fetch/undici --
// -- plaintext agent for redirects (issue 3, axios/got/ws helper) --
export { pinnedHttpAgent, PinnedHttpAgent } from './node/http-agent.js';
export type { PinnedHttpAgentOptions } from './node/http-agent.js';
export { pinnedProxyAgent, PinnedProxyAgent } from './node/proxy.js';
export type { PinnedProxyAgentOptions } from './node/proxy.js';
// -- end plaintext agent --
// -- CLI support exported for library users (issue 4) --
export { createCertificateRequest } from './core/csr.js';
export type { CertificateRequest, CertificateRequestOptions } from './core/csr.js';
// -- end CLI support --
export type { CheckServerIdentity, DecisionObserver } from './node/pin-check.js';
export {
  CertpinError,
  PinningError,
  UnpinnedHostError,
  ChainVerificationError,
  PinCheckFailedError,
  InvalidPinError,
  PolicyError,
  CertificateParseError,
  InsecureOptionError,
  InsecureRedirectError,
  ProxyConnectError,
  ErrorCodes,
  classifyError,
} from './errors.js';
export type { CertpinErrorCode, ChainEntry, ErrorKind, PinningErrorDetails } from './errors.js';
