/**
 * axios adapter (`certpin/axios`): pins every request of an axios instance inside the TLS handshake.
 *
 * axios itself is never imported at run time (it is an optional peer dependency): you pass your instance.
 * The wiring is axios' Node `http` adapter with certpin's agents: `httpsAgent` checks pins in each handshake,
 * `httpAgent` refuses `http://` to pinned hosts (an https-to-http redirect), and `proxy: false` keeps axios from
 * tunnelling on its own (its CONNECT support, and `HTTPS_PROXY` from the environment, would bypass the agent).
 * A request interceptor checks the final options of each request and refuses what would bypass the agents: the
 * fetch or xhr adapter, HTTP/2 (`httpVersion: 2`), a custom `transport`, a proxy, or another agent.
 *
 * Failures reach you as axios' `AxiosError`, whose `code` is certpin's (`ERR_CERTPIN_PIN_MISMATCH`, …) and whose
 * `cause` is the {@link PinningError}; `classifyError(err)` finds it.
 * @module
 */
import type { AxiosInstance, InternalAxiosRequestConfig } from 'axios';
import { PinPolicy } from '../core/policy.js';
import type { PinPolicyOptions } from '../core/policy.js';
import { InsecureOptionError } from '../errors.js';
import { PinnedAgent, pinnedAgent } from '../node/agent.js';
import type { PinnedAgentOptions } from '../node/agent.js';
import { PinnedHttpAgent, pinnedHttpAgent } from '../node/http-agent.js';
import { pinnedProxyAgent } from '../node/proxy.js';

/** Options of {@link pinAxios} and {@link axiosPinningInterceptor}. */
export interface AxiosPinningOptions {
  /** Send HTTPS requests through this HTTP CONNECT proxy; pins are checked on the origin's chain. */
  proxy?: string | URL;
  /** Options of the HTTPS agent (keep-alive, socket limits, …). Trust settings belong to the policy. */
  agentOptions?: PinnedAgentOptions;
}

/**
 * A request interceptor for `instance.interceptors.request.use(…)`. It carries the agents it installs, so that you
 * can close their keep-alive sockets with `destroy()`.
 */
export interface AxiosPinningInterceptor {
  (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig;
  readonly policy: PinPolicy;
  readonly httpsAgent: PinnedAgent;
  readonly httpAgent: PinnedHttpAgent;
  /** Closes the agents' pooled sockets. */
  destroy(): void;
}

/**
 * Makes the request interceptor that pins an axios instance. It sets `adapter: 'http'`, `proxy: false` and certpin's
 * agents on each request, and throws an {@link InsecureOptionError} (`ERR_CERTPIN_INSECURE_OPTION`, before anything
 * is sent) for a request whose options would bypass them: another `httpsAgent`/`httpAgent` (one of the same policy,
 * such as a {@link pinnedProxyAgent}, is accepted), the fetch/xhr adapter, `httpVersion: 2`, a `transport` or a
 * `proxy`. {@link pinAxios} is the one-line form.
 */
export function axiosPinningInterceptor(policy: PinPolicy, options: AxiosPinningOptions = {}): AxiosPinningInterceptor {
  const httpsAgent = options.proxy !== undefined ? pinnedProxyAgent(policy, options.proxy, options.agentOptions) : pinnedAgent(policy, options.agentOptions);
  const httpAgent = pinnedHttpAgent(policy);
  const intercept = (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig => {
    const c = config as InternalAxiosRequestConfig & Record<string, unknown>;
    if (c.adapter === undefined || choosesHttpAdapter(c.adapter)) c.adapter = 'http';
    else refuse('adapter', `axios' ${describe(c.adapter)} adapter does not use certpin's agents; pinning needs the 'http' adapter (the default in Node).`);
    if (c.httpVersion !== undefined && Number(c.httpVersion) !== 1) refuse('httpVersion', `httpVersion ${String(c.httpVersion)}: axios' HTTP/2 transport opens its own connections, without certpin's agents.`);
    if (c.transport !== undefined && c.transport !== null) refuse('transport', 'a custom transport replaces node:http/https and their agents.');
    if (c.proxy === undefined) c.proxy = false;
    else if (c.proxy !== false) refuse('proxy', `axios' proxy support runs its own TLS over the tunnel, without the pins. Use pinAxios(instance, policy, { proxy: '${proxyText(c.proxy)}' }).`);
    if (c.httpsAgent === undefined || c.httpsAgent === null) c.httpsAgent = httpsAgent;
    else if (!(c.httpsAgent instanceof PinnedAgent && c.httpsAgent.policy === policy)) refuse('httpsAgent', 'another httpsAgent would open unpinned connections; pass agent settings as agentOptions of pinAxios.');
    if (c.httpAgent === undefined || c.httpAgent === null) c.httpAgent = httpAgent;
    else if (!(c.httpAgent instanceof PinnedHttpAgent && c.httpAgent.policy === policy)) refuse('httpAgent', 'another httpAgent would allow plain http:// to pinned hosts (a redirect from https to http).');
    return config;
  };
  return Object.assign(intercept, {
    policy,
    httpsAgent,
    httpAgent,
    destroy() {
      httpsAgent.destroy();
      httpAgent.destroy();
    },
  });
}

/**
 * Pins an existing axios instance, in one line. Returns the same instance.
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
export function pinAxios<T extends AxiosInstance>(instance: T, policy: PinPolicy, options?: AxiosPinningOptions): T {
  const interceptor = axiosPinningInterceptor(policy, options);
  // Defaults too, so that code reading instance.defaults sees the pinned agents; the interceptor enforces them.
  instance.defaults.adapter = 'http';
  instance.defaults.proxy = false;
  instance.defaults.httpsAgent = interceptor.httpsAgent;
  instance.defaults.httpAgent = interceptor.httpAgent;
  instance.interceptors.request.use(interceptor, undefined, { synchronous: true });
  return instance;
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
 * redirects are checked too.
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
  return axiosPinningInterceptor(policy, { proxy, agentOptions });
}

function refuse(option: string, reason: string): never {
  throw new InsecureOptionError(option, `certpin/axios refused the request: ${option}: ${reason}`);
}

/** `'http'`, or a list (such as axios' default `['xhr', 'http', 'fetch']`) that contains it. */
function choosesHttpAdapter(adapter: unknown): boolean {
  const list = Array.isArray(adapter) ? adapter : [adapter];
  return list.some((a) => typeof a === 'string' && a.toLowerCase() === 'http');
}

function describe(adapter: unknown): string {
  return typeof adapter === 'function' ? 'custom' : JSON.stringify(adapter);
}

function proxyText(proxy: unknown): string {
  if (proxy && typeof proxy === 'object') {
    const p = proxy as { protocol?: string; host?: string; port?: number };
    return `${(p.protocol ?? 'http').replace(/:$/, '')}://${p.host ?? 'proxy'}${p.port ? `:${p.port}` : ''}`;
  }
  return 'http://proxy:3128';
}
