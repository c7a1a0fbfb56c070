/**
 * A policy's trust settings made real: the system store, one OpenSSL secure context, and the anchor index certpin's
 * own path verification uses. Both are built from the same certificates, so OpenSSL and certpin judge a chain
 * against one store. Built once per trust settings (shared by every policy derived from the same bootstrap).
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import { nodeTls } from '../builtins.js';
import { certificateFromDer, parseCertificates } from '../core/certificate.js';
import type { DecisionAnchors } from '../core/decision.js';
import { TrustAnchorIndex } from '../core/path/index.js';
import { supportsPartialChains } from '../core/policy.js';
import type { PinPolicy, TrustSettings } from '../core/policy.js';

/** What the TLS layer holds for one policy's trust settings. */
export interface TlsTrust {
  /** The anchors certpin verifies paths against (the same certificates OpenSSL trusts), and OpenSSL's chain mode. */
  readonly anchors: DecisionAnchors;
  /** The anchor certificates themselves. */
  readonly certificates: readonly X509Certificate[];
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
  const certificates = settings.trustSystemRoots ? [...systemTrustAnchors(), ...own] : own;
  const options: tls.SecureContextOptions & { allowPartialTrustChain?: boolean } = { minVersion: settings.minVersion };
  const partialChain = own.length > 0 && !settings.trustSystemRoots && supportsPartialChains();
  // Without extra anchors, Node's default store is exactly the system anchors: no need to hand it over again.
  if (own.length > 0) {
    options.ca = certificates.map((c) => c.toString());
    if (partialChain) options.allowPartialTrustChain = true;
  }
  if (settings.clientCertificate) Object.assign(options, settings.clientCertificate);
  return {
    // The index parses the anchors on first use: a process that pins nothing never reads 150 roots.
    anchors: { index: new TrustAnchorIndex(certificates), partialChain },
    certificates,
    secureContext: nodeTls().createSecureContext(options),
  };
}

let systemAnchors: X509Certificate[] | undefined;

/**
 * The certificates of Node's default store: its bundled roots (or, on Node versions that have
 * `tls.getCACertificates`, whatever the default store holds) plus `NODE_EXTRA_CA_CERTS`. Parsed once, on first use.
 */
export function systemTrustAnchors(): readonly X509Certificate[] {
  if (!systemAnchors) {
    const tls = nodeTls();
    const getCACertificates = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
    const pems = getCACertificates ? getCACertificates('default') : [...tls.rootCertificates, ...extraCaCertificates()];
    systemAnchors = pems.flatMap((pem) => parseCertificates(pem, 'A certificate of the system trust store'));
  }
  return systemAnchors;
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
