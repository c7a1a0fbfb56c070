/**
 * Pins from certificate files: every certificate of a PEM bundle or a DER file, with the pin forms people paste.
 * @module
 */
import { readBoundedSync } from '../node/bounded-read.js';
import { certificateFingerprint, formatName, parseCertificates, spkiPin } from '../core/certificate.js';

/** The pins of one certificate of a file. */
export interface CertificatePins {
  /** Subject, most specific part first. */
  readonly subject: string;
  /** `sha256/<base64>` of the public key: survives renewals that keep the key. */
  readonly spkiPin: string;
  /** SHA-256 fingerprint of the certificate, colon hex (openssl's form): changes at every renewal. */
  readonly sha256: string;
}

/**
 * The pins of every certificate in a file (PEM, a bundle, DER, `.cer`, `.crt`).
 * @example
 * ```ts
 * import { pinsOfFile } from 'certpin/tools';
 * const pins = pinsOfFile('issuing-ca.pem').map((c) => c.spkiPin);
 * ```
 * @throws {CertificateParseError} naming the file when it holds no readable certificate.
 */
export function pinsOfFile(file: string): CertificatePins[] {
  return parseCertificates(readBoundedSync(file), file).map((certificate) => ({
    subject: formatName(certificate.subject),
    spkiPin: spkiPin(certificate),
    sha256: certificateFingerprint(certificate),
  }));
}
