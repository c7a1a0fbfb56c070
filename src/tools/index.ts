/**
 * `certpin/tools`: what the `certpin` command is built from, for scripts and build steps that work with
 * certificates and pins: read PEM/DER files and bundles, compute pins and fingerprints in every format, describe a
 * certificate, parse and compare pins, normalise host names, and probe a live server (one handshake, nothing sent).
 * Applications that only pin connections need the main entry, `certpin`.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parseCertificates, spkiPin } from 'certpin/tools';
 *
 * for (const certificate of parseCertificates(readFileSync('chain.pem'), 'chain.pem')) console.log(spkiPin(certificate));
 * ```
 * @module
 */
export {
  certificateFingerprint,
  describeCertificate,
  formatName,
  parseCertificates,
  publicKeyPin,
  spkiPin,
  toCertificate,
} from '../core/certificate.js';
export type { CertificateDetails, CertificateInput, DigestAlgorithm, FingerprintFormat } from '../core/certificate.js';
export { parsePin, pinMatches, certificateDigests } from '../core/pin.js';
export type { CertificateDigests, Pin, PinKind } from '../core/pin.js';
export { normalizeHost } from '../core/hostname.js';
export { pinsOfFile } from './pin-files.js';
export type { CertificatePins } from './pin-files.js';
export { probeServer } from '../node/probe.js';
export type { ProbeTarget, ServerProbe } from '../node/probe.js';
export { createCertificateRequest } from './csr.js';
export type { CertificateRequest, CertificateRequestOptions } from './csr.js';
export { pinSetPublicJwk, signPinSetDocument } from './pinset-signing.js';
export type { PinSetKeyInput, SignPinSetOptions, SignedPinSet } from './pinset-signing.js';
