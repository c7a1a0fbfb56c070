/**
 * Turns what a probe saw into certificate views, keeping apart what the server sent and what came from the local
 * trust store. The two are easy to confuse and the difference is a classic outage: a server that does not send its
 * intermediate works in browsers (they fetch it) and on machines whose store happens to hold it, and fails in Node,
 * curl and mobile apps. So each certificate says where it came from, and a path that needed a certificate the
 * server did not send is called out.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { describeCertificate, formatName } from '../tools/index.js';
import type { ServerProbe } from '../tools/index.js';
import { roleOf } from './render.js';
import type { CertificateOrigin, CertificateView } from './render.js';

/** The trust store certificates the user gave (`--ca`, the policy's `ca`), to tell them from the system's. */
export interface LocalAnchors {
  readonly certificates: readonly X509Certificate[];
  /** How the user gave them, for messages: `--ca`, `the policy's "ca"`. */
  readonly label: string;
}

/**
 * The certificates the server sent (in its order), then those of the verified path that it did not send, as views
 * that say which is which.
 */
export function probeChainViews(probe: ServerProbe, local?: LocalAnchors, now = new Date()): CertificateView[] {
  const path = probe.verifiedPath ?? [];
  const onPath = new Set(path.map((c) => c.certificate.fingerprint256));
  const anchor = path[path.length - 1]?.certificate.fingerprint256;
  const served = probe.served;
  const storeCertificates = path.map((c) => c.certificate).filter((c) => !served.some((s) => s.fingerprint256 === c.fingerprint256));
  const all: { certificate: X509Certificate; origin: CertificateOrigin }[] = [
    ...served.map((certificate, i) => ({ certificate, origin: { served: i + 1, of: served.length } as CertificateOrigin })),
    ...storeCertificates.map((certificate) => ({ certificate, origin: { store: storeOf(certificate, local) } as CertificateOrigin })),
  ];
  return all.map(({ certificate, origin }, i) => {
    const details = describeCertificate(certificate, now);
    return {
      details,
      role: roleOf(details, i, all.length),
      onVerifiedPath: onPath.has(certificate.fingerprint256),
      trustAnchor: certificate.fingerprint256 === anchor,
      origin,
    };
  });
}

function storeOf(certificate: X509Certificate, local: LocalAnchors | undefined): string {
  return local?.certificates.some((c) => c.fingerprint256 === certificate.fingerprint256) ? `local trust store (${local.label})` : 'system trust store';
}

/**
 * The certificates a client needs that the server did not send: those of the verified path that were taken from the
 * trust store and are not a root (self-issued: on a verified path, its signature was checked). A root is expected
 * to come from the store; an intermediate is not, even when this machine happens to trust it directly.
 */
export function missingFromServedChain(probe: ServerProbe): X509Certificate[] {
  const served = new Set(probe.served.map((c) => c.fingerprint256));
  return (probe.verifiedPath ?? [])
    .slice(1)
    .map((c) => c.certificate)
    .filter((c) => !served.has(c.fingerprint256) && c.subject !== c.issuer);
}

/** The warning for {@link missingFromServedChain}, in one paragraph; `undefined` when nothing is missing. */
export function missingIntermediateWarning(probe: ServerProbe, local?: LocalAnchors): string | undefined {
  const missing = missingFromServedChain(probe);
  if (missing.length === 0) return undefined;
  const names = missing.map((c) => `"${formatName(c.subject)}"`).join(' and ');
  const stores = [...new Set(missing.map((c) => storeOf(c, local)))].join(' and ');
  const count = probe.served.length;
  return (
    `Incomplete chain: the server sent ${count} certificate${count === 1 ? '' : 's'}, and the verified path also needs ${names}, which it did not send; ` +
    `it verified here only because this machine's ${stores} has ${missing.length === 1 ? 'it' : 'them'}. ` +
    'Browsers often fetch a missing intermediate themselves; Node, curl, Java and mobile apps do not, and fail with "unable to verify the first certificate". ' +
    'Configure the server to send its full chain (leaf, then intermediate; nginx: ssl_certificate points at the chain file).'
  );
}
