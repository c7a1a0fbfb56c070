/**
 * A policy's trust settings made real: the system store, one OpenSSL secure context, and the anchor index certpin's
 * own path verification uses. Both are built from the same certificates, so OpenSSL and certpin judge a chain
 * against one store. Built once per trust settings (shared by every policy derived from the same bootstrap).
 * @module
 */
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import { nodeTls } from '../builtins.js';
import { certificateFromDer, parseCertificates, pemCertificateDer, pemOfDer } from '../core/certificate.js';
import type { DecisionAnchors } from '../core/decision.js';
import { TrustAnchorIndex } from '../core/path/index.js';
import { supportsPartialChains } from '../core/policy.js';
import type { PinPolicy, TrustSettings } from '../core/policy.js';

/** What the TLS layer holds for one policy's trust settings. */
export interface TlsTrust {
  /** The anchors certpin verifies paths against (the same certificates OpenSSL trusts), and OpenSSL's chain mode. */
  readonly anchors: DecisionAnchors;
  /**
   * The anchors as PEM for a secure context of their own (the reporter's), when the policy adds anchors to the system
   * store or replaces it; undefined when the store is Node's default.
   */
  readonly caPems: readonly string[] | undefined;
  /** The one secure context every connection of the policy shares (CA store parsed once, not per handshake). */
  readonly secureContext: tls.SecureContext;
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

function buildTrust(settings: TrustSettings): TlsTrust {
  const own = [...settings.extraAnchors, ...settings.developmentAnchors].map((der) => certificateFromDer(der, 'A trust anchor of the policy'));
  const system = settings.trustSystemRoots ? systemTrustStore() : undefined;
  const options: tls.SecureContextOptions & { allowPartialTrustChain?: boolean } = { minVersion: settings.minVersion };
  const partialChain = own.length > 0 && !settings.trustSystemRoots && supportsPartialChains();
  // Without extra anchors, Node's default store is exactly the system anchors: no need to hand it over again.
  const caPems = own.length > 0 ? [...(system?.pems() ?? []), ...own.map((c) => c.toString())] : undefined;
  if (caPems) {
    options.ca = caPems;
    if (partialChain) options.allowPartialTrustChain = true;
  }
  if (settings.clientCertificate) Object.assign(options, settings.clientCertificate);
  return {
    // The index reads an anchor only when a chain names it as an issuer: a process never reads 150 roots to pin one host.
    anchors: { index: new TrustAnchorIndex([...(system?.ders ?? []), ...own]), partialChain },
    caPems,
    secureContext: nodeTls().createSecureContext(options),
  };
}

/** The certificates of Node's default store, as DER (what certpin reads). */
export interface SystemTrustStore {
  readonly ders: readonly Uint8Array[];
  /** The same certificates as PEM, for a secure context of the policy's own (made from the DER on first use). */
  pems(): readonly string[];
}

let systemStore: SystemTrustStore | undefined;

/**
 * The certificates OpenSSL verifies against when a secure context names none (Node's default store): Node's bundled
 * roots, plus the system's with `--use-system-ca`, plus `NODE_EXTRA_CA_CERTS`. Under OpenSSL's own store
 * ({@link usesOpenSslStore}) Node's bundled roots are not used: the store is then the certificates in OpenSSL's
 * default locations, as Node lists them (`tls.getCACertificates('system')` reads `SSL_CERT_FILE` and `SSL_CERT_DIR`
 * on Linux and other Unix systems), plus `NODE_EXTRA_CA_CERTS`.
 *
 * Where Node cannot list OpenSSL's store (versions without `tls.getCACertificates`, or whose "system" list is empty;
 * macOS and Windows, where "system" is the OS's store, not OpenSSL's), certpin keeps Node's bundled roots and warns once
 * (`CERTPIN_OPENSSL_CA_STORE`): a chain to a root that only OpenSSL's store holds is then refused, never accepted.
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
    if (!nodeCaLists()) for (const extra of extraCaCertificates()) ders.push(...parseCertificates(extra, 'NODE_EXTRA_CA_CERTS').map((c) => c.raw));
    let pems: string[] | undefined;
    systemStore = { ders, pems: () => (pems ??= ders.map(pemOfDer)) };
  }
  return systemStore;
}

type CaList = 'default' | 'system' | 'bundled' | 'extra';

function nodeCaLists(): ((list: CaList) => readonly string[]) | undefined {
  return (nodeTls() as { getCACertificates?: (list: CaList) => readonly string[] }).getCACertificates;
}

/** Node's PEMs of the default store (without `NODE_EXTRA_CA_CERTS` where Node cannot list it). */
function defaultStorePems(): readonly string[] {
  const lists = nodeCaLists();
  const openssl = usesOpenSslStore();
  if (lists && !openssl) return lists('default');
  // On macOS and Windows "system" is the OS's store, which OpenSSL does not read; a Node that lists no system
  // certificate elsewhere does not read OpenSSL's locations.
  if (lists && process.platform !== 'darwin' && process.platform !== 'win32') {
    const system = lists('system');
    // A certificate directory holds each root under its name and under its hash link: one anchor each.
    if (system.length > 0) return [...new Set([...system, ...lists('extra')])];
  }
  if (openssl) {
    process.emitWarning(
      'certpin: Node verifies TLS against OpenSSL\'s certificate store (--use-openssl-ca, or this Node build\'s default), which this Node cannot list. certpin checks paths against Node\'s bundled roots and NODE_EXTRA_CA_CERTS instead, and refuses a chain to a root only OpenSSL\'s store holds: add such a root to NODE_EXTRA_CA_CERTS or to the policy\'s `ca`, or run with --use-bundled-ca.',
      { code: 'CERTPIN_OPENSSL_CA_STORE' },
    );
  }
  return lists ? [...lists('bundled'), ...lists('extra')] : nodeTls().rootCertificates;
}

function extraCaCertificates(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [readFileSync(file, 'utf8')];
  } catch {
    // Node itself only warns when the file is missing; its store then lacks those certificates, and so does ours.
    return [];
  }
}

/**
 * Whether Node verifies against OpenSSL's own default locations (`SSL_CERT_FILE`, `SSL_CERT_DIR`, else OpenSSL's
 * directory) instead of its bundled roots: `--use-openssl-ca` on the command line or in `NODE_OPTIONS`, or a Node
 * build whose default it is (Linux distributions build theirs so), unless `--use-bundled-ca` says otherwise. Node
 * refuses to start with both flags.
 */
export function usesOpenSslStore(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
  buildDefines: readonly unknown[] | undefined = (process.config as { target_defaults?: { defines?: unknown[] } }).target_defaults?.defines,
): boolean {
  const flags = [...execArgv, ...nodeOptions.split(/\s+/)];
  if (flags.includes('--use-openssl-ca')) return true;
  if (flags.includes('--use-bundled-ca')) return false;
  return buildDefines?.includes('NODE_OPENSSL_CERT_STORE') ?? false;
}
