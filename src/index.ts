/**
 * certpin: certificate and public-key pinning for Node.js, enforced inside the TLS handshake.
 *
 * What applications call: a policy, the pinned transport of each client, a start-up check, reports and errors.
 * Certificate and pin tools (parsing files, computing pins, probing a server) are on `certpin/tools`; the client
 * adapters on `certpin/axios`, `certpin/got` and `certpin/ws`.
 *
 * ```ts
 * import { PinPolicy, pinnedAgent } from 'certpin';
 * const policy = new PinPolicy({ hosts: { 'api.example.com': ['sha256/…current…', 'sha256/…backup…'] } });
 * https.get('https://api.example.com/', { agent: pinnedAgent(policy) });
 * ```
 * @module
 */
export { PinPolicy } from './core/policy.js';
export type {
  ClientCertificate,
  DevelopmentOverridesOptions,
  HostPinsOptions,
  HostRule,
  PinPolicyOptions,
  PinSetOptions,
  PolicyHolder,
  PolicyWarning,
} from './core/policy.js';
export { DynamicPinPolicy } from './node/dynamic-policy.js';
export type { DynamicPinPolicyOptions, PinSetDocumentLoader } from './node/dynamic-policy.js';
export type { PinSetKeySet } from './core/pinset-keys.js';
export { loadPolicy, loadPolicyFromEnv, policyFromJson } from './node/policy-file.js';
export type { LoadPolicyOptions, PolicyFromJsonOptions } from './node/policy-file.js';

export { pinnedAgent, pinnedHttpAgent } from './node/agents.js';
export type { PinnedAgent, PinnedAgentOptions, PinnedHttpAgent, PinnedHttpAgentOptions } from './node/agents.js';
export { pinnedProxyAgent } from './node/proxy.js';
export type { PinnedProxyAgent, PinnedProxyAgentOptions } from './node/proxy.js';
export { pinnedConnect, pinnedTlsOptions } from './node/connect.js';
export type { PinnedConnectOptions } from './node/connect.js';
export { pinGlobalFetch, pinnedDispatcher, pinnedFetch } from './adapters/fetch.js';
export type { PinnedDispatcherOptions } from './adapters/fetch.js';
export { pinnedHttp2Connect } from './adapters/http2.js';
export type { PinnedHttp2Options } from './adapters/http2.js';
export { checkConnection } from './node/check-connection.js';
export type { CheckConnectionOptions, ConnectionCheck } from './node/check-connection.js';

export { channels } from './node/diagnostics.js';
export type { DecisionMessage, PolicyUpdateMessage, ReportMessage } from './node/diagnostics.js';
export { flushReports, reportStatistics } from './node/reporter.js';
export type { ReportStatistics } from './node/reporter.js';
export type { PinReport, PinReportReason, ReportDelivery } from './core/report.js';
export type { PinDecision } from './core/decision.js';
export type { DecisionObserver } from './node/pin-check.js';

export * as errors from './errors.js';
export { classifyError } from './errors.js';
export type { CertpinErrorCode, ChainEntry, ErrorKind, PinningErrorDetails, PinSetRefusal } from './errors.js';
