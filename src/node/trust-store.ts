/**
 * A policy's trust settings made real: one OpenSSL secure context (Node's default store plus the policy's anchors)
 * and the anchor index certpin's own path verification uses (certpin's list of the same certificates), so that
 * OpenSSL and certpin judge a chain against one store. Built once per trust settings (shared by every policy derived
 * from the same bootstrap).
 * @module
 */
import { readFileSync } from 'node:fs';
import type { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { nodeTls } from '../builtins.js';
import { certificateFromDer, pemCertificateDer, pemOfDer } from '../core/certificate.js';
import type { DecisionAnchors } from '../core/decision.js';
import { TrustAnchorIndex } from '../core/path/index.js';
import { supportsPartialChains } from '../core/policy.js';
import type { PinPolicy, TrustSettings } from '../core/policy.js';

/** What the TLS layer holds for one policy's trust settings. */
export interface TlsTrust {
  /** The anchors certpin verifies paths against (the same certificates OpenSSL trusts), and OpenSSL's chain mode. */
  readonly anchors: DecisionAnchors;
  /** The anchors handed to OpenSSL as `ca`, when the context's store is not Node's default store plus `addCACert`. */
  readonly caPems: readonly string[] | undefined;
  /** The one secure context every connection of the policy shares (CA store parsed once, not per handshake). */
  readonly secureContext: tls.SecureContext;
  /** Whether the anchor index is built and filed: only a process's first connections find it not. */
  readonly anchorsReady: boolean;
  /**
   * Builds and files the anchor index (reading the system store) if not yet done. Connections call it while they
   * wait for the server's first reply; a failure is left for the decision, which meets it again and refuses.
   */
  prepareAnchors(): void;
}

const built = new WeakMap<TrustSettings, TlsTrust>();

/** The anchors and secure context of a policy, built on first use and shared. */
export function tlsTrustFor(policy: PinPolicy): TlsTrust {
  const settings = policy.trust;
  let trust = built.get(settings);
  if (!trust) {
    trust = buildTrust(settings);
    built.set(settings, trust);
  }
  return trust;
}

/** The policy's own trust anchors: its `ca` and its development overrides' anchors. */
export function ownAnchors(settings: TrustSettings): X509Certificate[] {
  return [...settings.extraAnchors, ...settings.developmentAnchors].map((der) => certificateFromDer(der, 'A trust anchor of the policy'));
}

function buildTrust(settings: TrustSettings): TlsTrust {
  const own = ownAnchors(settings);
  const options: tls.SecureContextOptions = { minVersion: settings.minVersion };
  if (settings.clientCertificate) Object.assign(options, settings.clientCertificate);
  const { secureContext, caPems, partialChain } = anchoredContext(options, own, settings.trustSystemRoots);
  // The system store is read when the index is first needed, not here: a connection prepares it once its ClientHello
  // is out, during the round trip, where building the store (3 to 6 ms, more on Node 20 with NODE_EXTRA_CA_CERTS)
  // before tls.connect delayed the first handshake by as much.
  let index: TrustAnchorIndex | undefined;
  const anchorIndex = (): TrustAnchorIndex => (index ??= new TrustAnchorIndex([...(settings.trustSystemRoots ? systemTrustStore().ders : []), ...own]));
  return {
    // The index reads an anchor only when a chain names it as an issuer: a process never reads 150 roots to pin one host.
    anchors: {
      get index() {
        return anchorIndex();
      },
      partialChain,
    },
    caPems,
    secureContext,
    get anchorsReady() {
      return index?.prepared === true;
    },
    prepareAnchors() {
      anchorIndex().prepare();
    },
  };
}

/** The native side of a secure context, where Node adds a CA to a context's store. */
interface NativeContext {
  addCACert?: (pem: string) => void;
}

/**
 * A secure context whose store is the one the policy's connections trust: Node's default store as OpenSSL holds it,
 * plus the policy's own anchors; or only those with `trustSystemRoots: false`.
 *
 * The own anchors are added to a context made without `ca`, as Node adds `ca` itself (`addCACert`, which first gives
 * the context its own copy of the default store). So OpenSSL keeps its store as it is when the context is made,
 * including what certpin's list of it may lack or hold in excess, such as OpenSSL's on-demand look-up in
 * `SSL_CERT_DIR`. Handing OpenSSL certpin's list as `ca` instead made it trust certificates its own store did not
 * hold (a file of `SSL_CERT_DIR` without its hash link; Node's bundled roots where Node cannot list OpenSSL's store).
 * Where the native method is missing, certpin's list is the `ca`.
 */
export function anchoredContext(
  options: tls.SecureContextOptions,
  own: readonly X509Certificate[],
  trustSystemRoots: boolean,
): { secureContext: tls.SecureContext; caPems: readonly string[] | undefined; partialChain: boolean } {
  const ownPems = own.map((c) => c.toString());
  if (own.length === 0) return { secureContext: nodeTls().createSecureContext(options), caPems: undefined, partialChain: false };
  if (trustSystemRoots) {
    const secureContext = nodeTls().createSecureContext(options);
    const native = (secureContext as { context?: NativeContext }).context;
    if (typeof native?.addCACert === 'function') {
      // Node before getCACertificates copies the default store without NODE_EXTRA_CA_CERTS, which it keeps apart.
      const extra = nodeCaLists() ? [] : nodeExtraCertificates().map((c) => c.toString());
      for (const pem of [...extra, ...ownPems]) native.addCACert(pem);
      return { secureContext, caPems: undefined, partialChain: false };
    }
  }
  // Only its own anchors: one of them may be an intermediate, which OpenSSL then trusts as it does (partial chains).
  const partialChain = !trustSystemRoots && supportsPartialChains();
  const caPems = [...(trustSystemRoots ? systemTrustStore().pems() : []), ...ownPems];
  const secureContext = nodeTls().createSecureContext({ ...options, ca: caPems, ...(partialChain ? { allowPartialTrustChain: true } : {}) } as tls.SecureContextOptions);
  return { secureContext, caPems, partialChain };
}

/** The certificates of Node's default store, as DER (what certpin reads). */
export interface SystemTrustStore {
  readonly ders: readonly Uint8Array[];
  /** The same certificates as PEM, for a secure context of the policy's own (made from the DER on first use). */
  pems(): readonly string[];
}

let systemStore: SystemTrustStore | undefined;

/**
 * The certificates OpenSSL verifies against when a secure context names none (Node's default store), read once:
 *
 * - Node's bundled roots, plus the system's with `--use-system-ca`, plus `NODE_EXTRA_CA_CERTS`, or what
 *   `tls.setDefaultCACertificates` set before: Node's "default" list;
 * - under OpenSSL's own store (`--use-openssl-ca`, or a build whose default it is), the certificates in OpenSSL's
 *   locations as Node lists them (`tls.getCACertificates('system')`, which reads `SSL_CERT_FILE` and `SSL_CERT_DIR`
 *   on Linux and other Unix systems), plus `NODE_EXTRA_CA_CERTS`. Node's "default" list then holds only the latter.
 *
 * Which store is in force is read from Node's own lists where it has them ({@link defaultStoreSource}), so that every
 * way of setting it counts (spellings, a configuration file, a worker's options). Where Node cannot list OpenSSL's
 * store (versions without `tls.getCACertificates`, a "system" list that is empty, macOS and Windows, where "system" is
 * the OS's store, not OpenSSL's), certpin keeps Node's bundled roots and warns once (`CERTPIN_OPENSSL_CA_STORE`): a
 * chain to a root only OpenSSL's store holds is then refused, never accepted.
 *
 * Decoded once, on first use, and not parsed: the anchor index reads a root only when a chain needs it (parsing every
 * root as an `X509Certificate` took 11 to 31 ms of the first pinned connection). Node gives each certificate of its
 * stores as one PEM, which it made itself: decoded directly. The `NODE_EXTRA_CA_CERTS` file of Node versions without
 * `getCACertificates` is a user's file: parsed by OpenSSL (`X509Certificate`), which refuses what it cannot read, and
 * certpin then refuses to build its store rather than trust other certificates than OpenSSL does.
 * @throws {CertificateParseError} for a store entry that is not valid PEM, or an extra file OpenSSL cannot read.
 */
export function systemTrustStore(): SystemTrustStore {
  if (!systemStore) {
    const ders: Uint8Array[] = [];
    for (const pem of defaultStorePems()) ders.push(...pemCertificateDer(pem, 'A certificate of the system trust store').ders);
    if (!nodeCaLists()) for (const extra of nodeExtraCertificates()) ders.push(extra.raw);
    let pems: string[] | undefined;
    systemStore = { ders, pems: () => (pems ??= ders.map(pemOfDer)) };
  }
  return systemStore;
}

type CaList = 'default' | 'system' | 'bundled' | 'extra';
type CaLists = (list: CaList) => readonly string[];

function nodeCaLists(): CaLists | undefined {
  return (nodeTls() as { getCACertificates?: CaLists }).getCACertificates;
}

/** Where Node's default store comes from: its "default" list as it is, or OpenSSL's own locations. */
export type DefaultStoreSource = 'node' | 'openssl';

/**
 * Which store OpenSSL verifies against when a context names none, from Node's lists. With the bundled roots in the
 * "default" list, Node's store, except on a build whose default is OpenSSL's (Node's list follows the flag, not the
 * build) unless `--use-bundled-ca` was given. Without them: a list holding a certificate the "extra" list lacks was
 * set by `tls.setDefaultCACertificates`, and is what OpenSSL uses; any other (exactly "extra" under
 * `--use-openssl-ca`, or a part of it when `NODE_EXTRA_CA_CERTS` left `process.env` after start) is OpenSSL's store.
 * Where the lists cannot tell the two apart (`setDefaultCACertificates` given "extra" or nothing), OpenSSL's store it
 * is, and certpin's anchors a superset of what OpenSSL holds: OpenSSL's own verification still gates every
 * handshake, and a refusal of what OpenSSL accepts would be an outage. Without Node's lists, the flags.
 */
export function defaultStoreSource(lists: CaLists | undefined, flags: OpenSslStoreFlags = currentFlags()): DefaultStoreSource {
  if (lists) {
    const bundled = lists('bundled');
    const listed = lists('default');
    if (bundled.length > 0 && listed.includes(bundled[0]!)) return flags.buildDefault && flags.given !== 'bundled' ? 'openssl' : 'node';
    if (bundled.length > 0) {
      const extra = new Set(lists('extra'));
      return listed.every((pem) => extra.has(pem)) ? 'openssl' : 'node';
    }
  }
  return usesOpenSslStore(flags) ? 'openssl' : 'node';
}

/** What decides Node's default store besides its lists: the flag given, and the build's default. */
export interface OpenSslStoreFlags {
  /** `--use-openssl-ca` or `--use-bundled-ca`, from the command line or `NODE_OPTIONS`, if either was given. */
  readonly given: 'openssl' | 'bundled' | undefined;
  /** Whether this Node was built to use OpenSSL's store by default (`NODE_OPENSSL_CERT_STORE`). */
  readonly buildDefault: boolean;
}

/**
 * Whether Node verifies against OpenSSL's own locations, by its flags alone: for Node versions that do not list their
 * stores. Node refuses to start with both flags.
 */
export function usesOpenSslStore(flags: OpenSslStoreFlags): boolean {
  return flags.given === 'openssl' || (flags.given === undefined && flags.buildDefault);
}

/**
 * The store flags of this process, as Node reads them: `-` or `_` in the name, `=true`/`=false` values; `NODE_OPTIONS`
 * as it was when the process started, which a build without it ignores.
 */
export function storeFlags(execArgv: readonly string[], nodeOptions: string, defines: readonly unknown[] | undefined, nodeOptionsAllowed = true): OpenSslStoreFlags {
  let given: OpenSslStoreFlags['given'];
  for (const token of [...(nodeOptionsAllowed ? nodeOptionsTokens(nodeOptions) : []), ...execArgv]) {
    const match = /^--(no-)?use[-_](openssl|bundled)[-_]ca(?:=(true|false|1|0))?$/.exec(token);
    if (!match) continue;
    const on = !match[1] && match[3] !== 'false' && match[3] !== '0';
    if (on) given = match[2] as 'openssl' | 'bundled';
  }
  return { given, buildDefault: defines?.includes('NODE_OPENSSL_CERT_STORE') ?? false };
}

/** `NODE_OPTIONS` split as Node splits it: at white space outside double quotes, a backslash escaping in them. */
function nodeOptionsTokens(text: string): string[] {
  const tokens: string[] = [];
  let token = '';
  let quoted = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted && c === '\\' && i + 1 < text.length) token += text[++i];
    else if (c === '"') {
      quoted = !quoted;
      started = true;
    } else if (!quoted && /\s/.test(c)) {
      if (started) tokens.push(token);
      token = '';
      started = false;
    } else {
      token += c;
      started = true;
    }
  }
  if (started) tokens.push(token);
  return tokens;
}

// Read when certpin loads, as near the process's start as certpin can: a later change is for the process's children.
const startupNodeOptions = process.env.NODE_OPTIONS ?? '';

function currentFlags(): OpenSslStoreFlags {
  const config = process.config as { target_defaults?: { defines?: unknown[] }; variables?: { node_without_node_options?: unknown } };
  return storeFlags(process.execArgv, startupNodeOptions, config.target_defaults?.defines, config.variables?.node_without_node_options !== true);
}

/** Node's PEMs of the default store (without `NODE_EXTRA_CA_CERTS` where Node cannot list it). */
function defaultStorePems(): readonly string[] {
  const lists = nodeCaLists();
  // Each certificate once: a certificate directory holds a root under its name and under its hash link.
  // "extra" too: Node builds "default" from process.env as it is called, and drops NODE_EXTRA_CA_CERTS, which OpenSSL
  // still trusts, when the variable left process.env after start (a Worker's own env).
  if (defaultStoreSource(lists) === 'node') return lists ? [...new Set([...lists('default'), ...lists('extra')])] : nodeTls().rootCertificates;
  // On macOS and Windows "system" is the OS's store, which OpenSSL does not read; a Node that lists no system
  // certificate elsewhere does not read OpenSSL's locations.
  if (lists && process.platform !== 'darwin' && process.platform !== 'win32') {
    const system = lists('system');
    if (process.env.SSL_CERT_DIR?.includes(':')) {
      process.emitWarning(
        `certpin: SSL_CERT_DIR lists several directories (${process.env.SSL_CERT_DIR}), which Node does not read: certpin refuses chains to the roots OpenSSL finds there. Give one directory, or add those roots to NODE_EXTRA_CA_CERTS.`,
        { code: 'CERTPIN_OPENSSL_CA_STORE' },
      );
    }
    if (system.length > 0) return [...new Set([...system, ...lists('extra'), ...lists('default')])];
  }
  process.emitWarning(
    'certpin: Node verifies TLS against OpenSSL\'s certificate store (--use-openssl-ca, or this Node build\'s default), which this Node cannot list. certpin checks paths against Node\'s bundled roots and NODE_EXTRA_CA_CERTS instead, and refuses a chain to a root only OpenSSL\'s store holds: add such a root to NODE_EXTRA_CA_CERTS, or run with --use-bundled-ca.',
    { code: 'CERTPIN_OPENSSL_CA_STORE' },
  );
  return lists ? [...lists('bundled'), ...lists('extra')] : nodeTls().rootCertificates;
}

// Node reads NODE_EXTRA_CA_CERTS once, as it starts; so does certpin, as near the start as it loads.
const startupExtraCaFile = process.env.NODE_EXTRA_CA_CERTS;
const NODE_EXTRA_LABELS: ReadonlySet<string> = new Set(['CERTIFICATE', 'X509 CERTIFICATE']);
let extraCertificates: X509Certificate[] | undefined;

/**
 * The certificates of the `NODE_EXTRA_CA_CERTS` file, for Node versions that do not list them: its `CERTIFICATE`
 * blocks, as Node's loader reads them (a `TRUSTED CERTIFICATE` block is not one of them). Parsed by OpenSSL, strictly:
 * a block it cannot read makes certpin refuse to build its store rather than trust other certificates than OpenSSL.
 * @throws {CertificateParseError}
 */
function nodeExtraCertificates(): X509Certificate[] {
  if (extraCertificates) return extraCertificates;
  let text = '';
  try {
    if (startupExtraCaFile) text = readFileSync(startupExtraCaFile, 'utf8');
  } catch {
    // Node itself only warns when the file is missing; its store then lacks those certificates, and so does ours.
  }
  extraCertificates = pemCertificateDer(text, 'NODE_EXTRA_CA_CERTS', NODE_EXTRA_LABELS).ders.map((der, i) => certificateFromDer(der, 'NODE_EXTRA_CA_CERTS', i + 1));
  return extraCertificates;
}
