/**
 * Turns what a probe saw into certificate views: each served certificate described, marked when it is on the path
 * certpin verified, with the trust anchor appended when the server did not send it.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { describeCertificate } from '../tools/index.js';
import type { ServerProbe } from '../tools/index.js';
import { roleOf } from './render.js';
import type { CertificateView } from './render.js';

/** The served chain of a probe, plus the verified path's anchor if missing, as views. */
export function probeChainViews(probe: ServerProbe, now = new Date()): CertificateView[] {
  const onPath = new Set((probe.verifiedPath ?? []).map((c) => c.certificate.fingerprint256));
  const anchor = probe.verifiedPath?.[probe.verifiedPath.length - 1]?.certificate.fingerprint256;
  const certificates: X509Certificate[] = [...probe.served];
  for (const c of probe.verifiedPath ?? []) {
    if (!certificates.some((s) => s.fingerprint256 === c.certificate.fingerprint256)) certificates.push(c.certificate);
  }
  return certificates.map((certificate, i) => {
    const details = describeCertificate(certificate, now);
    return {
      details,
      role: roleOf(details, i, certificates.length),
      onVerifiedPath: onPath.has(certificate.fingerprint256),
      trustAnchor: certificate.fingerprint256 === anchor,
    };
  });
}
