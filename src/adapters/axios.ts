/**
 * axios adapter (`certpin/axios`): pins every request of an axios instance inside the TLS handshake.
 *
 * axios is an optional peer dependency, loaded only when the first pinned request is sent. Enforcement sits at
 * axios' last hop: the adapter. certpin installs its own adapter, which checks each request's final configuration
 * (after every interceptor, `transformRequest` and per-request option) and then hands it to axios' Node `http`
 * adapter with certpin's agents: `httpsAgent` checks pins in each handshake, `httpAgent` refuses `http://` to pinned
 * hosts (an https-to-http redirect), and every redirect hop is re-pinned to them. A request whose final
 * configuration names another agent, a proxy (axios' proxy support runs its own TLS over the tunnel), a custom
 * `transport` or HTTP/2 is refused before anything is sent. A request that names another adapter never reaches
 * certpin's: a `transformRequest` step that certpin appends, which runs after every interceptor, refuses it.
 *
 * Failures reach you as axios' `AxiosError`, whose `code` is certpin's (`ERR_CERTPIN_PIN_MISMATCH`, …) and whose
 * `cause` is the `PinningError`; `classifyError(err)` finds it.
 * @module
 */
import type { AxiosAdapter, AxiosInstance, AxiosRequestTransformer, InternalAxiosRequestConfig } from 'axios';
import { PinPolicy } from '../core/policy.js';
import type { PinPolicyOptions, PolicyHolder } from '../core/policy.js';
import { isPinnedAgent, pinnedAgents, refuseOption } from './client-agents.js';
import type { ClientPinningOptions, PinnedAgents } from './client-agents.js';

/** Options of {@link pinAxios}. */
export type AxiosPinningOptions = ClientPinningOptions;

/** The pieces certpin installs on an axios instance (or, for the dio-style interceptor, on each request). */
interface AxiosPinning {
  readonly agents: PinnedAgents;
  readonly adapter: AxiosAdapter;
  readonly guard: AxiosRequestTransformer;
}

type Config = InternalAxiosRequestConfig & Record<string, unknown>;

let httpAdapter: Promise<AxiosAdapter> | undefined;

/** axios' own Node adapter, from the axios package next to certpin (the peer dependency). */
function loadHttpAdapter(): Promise<AxiosAdapter> {
  httpAdapter ??= import('axios').then((module) => module.default.getAdapter('http'));
  return httpAdapter;
}

function axiosPinning(policy: PinPolicy | PolicyHolder, options: AxiosPinningOptions): AxiosPinning {
  const agents = pinnedAgents(policy, options);
  const assertPinned = (config: Config): void => {
    if (config.httpVersion !== undefined && Number(config.httpVersion) !== 1) refuseOption('axios', 'httpVersion', `httpVersion ${String(config.httpVersion)}: axios' HTTP/2 transport opens its own connections, without certpin's agents.`);
    if (config.transport !== undefined && config.transport !== null) refuseOption('axios', 'transport', 'a custom transport replaces node:http/https and their agents.');
    if (config.proxy !== false) refuseOption('axios', 'proxy', 'axios\' proxy support (and HTTPS_PROXY from the environment) runs its own TLS over the tunnel, without the pins. Use pinAxios(instance, policy, { proxy: URL }).');
    if (!isPinnedAgent(config.httpsAgent, policy, 'https:')) refuseOption('axios', 'httpsAgent', 'another httpsAgent would open unpinned connections; pass agent settings as agentOptions of pinAxios.');
    if (!isPinnedAgent(config.httpAgent, policy, 'http:')) refuseOption('axios', 'httpAgent', 'another httpAgent would allow plain http:// to pinned hosts (a redirect from https to http).');
  };
  const adapter: AxiosAdapter = async (config) => {
    const c = config as Config;
    assertPinned(c);
    // follow-redirects takes the agent of each hop from `agents`: whatever a beforeRedirect hook of the caller did,
    // every hop goes through certpin's again.
    const callerHook = c.beforeRedirect as ((options: Record<string, unknown>, ...rest: unknown[]) => void) | undefined;
    c.beforeRedirect = (redirectOptions: Record<string, unknown>, ...rest: unknown[]) => {
      callerHook?.(redirectOptions, ...rest);
      redirectOptions.agents = { http: agents.http, https: agents.https };
    };
    return (await loadHttpAdapter())(config);
  };
  // Runs inside axios' dispatch, after every interceptor, with the final configuration as `this`.
  const guard: AxiosRequestTransformer = function certpinGuard(this: InternalAxiosRequestConfig, data) {
    if (this && (this as Config).adapter !== adapter) {
      refuseOption('axios', 'adapter', `axios' ${describe((this as Config).adapter)} adapter does not use certpin's agents; requests of a pinned instance go through certpin's adapter.`);
    }
    return data;
  };
  return { agents, adapter, guard };
}

/**
 * Pins an existing axios instance, in one line. Returns the same instance. Its defaults get certpin's adapter and
 * agents, `proxy: false`, and a last `transformRequest` step; a child made with `instance.create()` inherits them.
 *
 * @example
 * ```ts
 * import axios from 'axios';
 * import { PinPolicy } from 'certpin';
 * import { pinAxios } from 'certpin/axios';
 *
 * const policy = new PinPolicy({ hosts: { 'api.example.com': ['sha256/…current…', 'sha256/…backup…'] } });
 * const api = pinAxios(axios.create({ baseURL: 'https://api.example.com' }), policy);
 * const { data } = await api.get('/v1/balance');
 * ```
 */
export function pinAxios<T extends AxiosInstance>(instance: T, policy: PinPolicy | PolicyHolder, options: AxiosPinningOptions = {}): T {
  pinConfig(instance.defaults as unknown as Config, axiosPinning(policy, options));
  return instance;
}

/** A request interceptor that pins each request it sees; it carries its agents, so that you can close them. */
export interface AxiosPinningInterceptor {
  (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig;
  readonly policy: PinPolicy | PolicyHolder;
  /** Closes the agents' pooled sockets. */
  destroy(): void;
}

/** Options of {@link certificatePinningInterceptor}: dio's, plus any {@link PinPolicy} option except the host map. */
export interface CertificatePinningInterceptorOptions extends Omit<PinPolicyOptions, 'hosts' | 'defaultPins'>, AxiosPinningOptions {
  /**
   * Pins for every host this instance talks to, as dio's `allowedSHAFingerprints` (`AA:BB:…` certificate SHA-256
   * fingerprints) or in any other form `parsePin` reads (`sha256/…` SPKI pins, openssl output, hex). Give two or
   * more: the current certificate or key and a backup.
   */
  allowedSHAFingerprints: readonly string[];
}

/**
 * The shape of dio's `CertificatePinningInterceptor(allowedSHAFingerprints: […])`, for axios: every request of the
 * instance must present one of the fingerprints. Unlike dio's, the check runs inside the TLS handshake of the
 * request's own connection, before anything is sent: no second connection, no gap between check and use, and
 * redirects are checked too. The interceptor gives each request certpin's adapter, agents and guard; `pinAxios`
 * is stronger (it pins the instance's defaults, which no interceptor order can skip).
 *
 * @example
 * ```ts
 * import axios from 'axios';
 * import { certificatePinningInterceptor } from 'certpin/axios';
 *
 * const client = axios.create({ baseURL: 'https://api.example.com' });
 * client.interceptors.request.use(certificatePinningInterceptor({ allowedSHAFingerprints: ['AA:BB:…:FF', '11:22:…:99'] }));
 * ```
 */
export function certificatePinningInterceptor(options: CertificatePinningInterceptorOptions): AxiosPinningInterceptor {
  const { allowedSHAFingerprints, proxy, agentOptions, ...policyOptions } = options;
  if (!Array.isArray(allowedSHAFingerprints)) throw new TypeError('certificatePinningInterceptor: allowedSHAFingerprints must be an array of fingerprints or pins');
  const policy = new PinPolicy({ ...policyOptions, hosts: {}, defaultPins: { pins: allowedSHAFingerprints } });
  const pinning = axiosPinning(policy, { ...(proxy === undefined ? {} : { proxy }), ...(agentOptions ? { agentOptions } : {}) });
  const intercept = (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig => {
    pinConfig(config as Config, pinning);
    return config;
  };
  return Object.assign(intercept, { policy, destroy: () => pinning.agents.destroy() });
}

/** Points a configuration (an instance's defaults, or one request's) at certpin's adapter and agents, the guard last. */
function pinConfig(config: Config, { agents, adapter, guard }: AxiosPinning): void {
  config.adapter = adapter;
  config.proxy = false;
  config.httpsAgent = agents.https;
  config.httpAgent = agents.http;
  config.transformRequest = [...asList(config.transformRequest), guard];
}

function asList<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...(value as readonly T[])] : [value as T];
}

function describe(adapter: unknown): string {
  return typeof adapter === 'function' ? 'custom' : JSON.stringify(adapter);
}
