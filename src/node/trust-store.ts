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
 * The certificates of Node's default store: its bundled roots (or, on Node versions that have
 * `tls.getCACertificates`, whatever the default store holds) plus `NODE_EXTRA_CA_CERTS`. Decoded once, on first use,
 * and not parsed: the anchor index reads a root only when a chain needs it (parsing every root as an
 * `X509Certificate` took 11 to 31 ms of the first pinned connection).
 *
 * Node gives each certificate of its stores as one PEM, which it made itself: decoded directly. The
 * `NODE_EXTRA_CA_CERTS` file of Node versions without `getCACertificates` is a user's file: parsed by OpenSSL
 * (`X509Certificate`), which refuses what it cannot read, and certpin then refuses to build its store rather than
 * trust other certificates than OpenSSL does.
 * @throws {CertificateParseError} for a store entry that is not valid PEM, or an extra file OpenSSL cannot read.
 */
export function systemTrustStore(): SystemTrustStore {
  if (!systemStore) {
    const tls = nodeTls();
    const getCACertificates = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
    const ders: Uint8Array[] = [];
    for (const pem of getCACertificates ? getCACertificates('default') : tls.rootCertificates) ders.push(...pemCertificateDer(pem, 'A certificate of the system trust store').ders);
    if (!getCACertificates) for (const extra of extraCaCertificates()) ders.push(...parseCertificates(extra, 'NODE_EXTRA_CA_CERTS').map((c) => c.raw));
    let pems: string[] | undefined;
    systemStore = { ders, pems: () => (pems ??= ders.map(pemOfDer)) };
  }
  return systemStore;
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
