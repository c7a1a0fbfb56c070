/**
 * What OpenSSL's purpose check "sslserver" demands (v3_purp.c: check_purpose_ssl_server, check_ssl_ca, check_ca),
 * for the leaf and for every certificate above it, trust anchors included: OpenSSL applies the purpose to a trusted
 * certificate too unless the store carries explicit trust settings for it, and Node's stores carry none.
 * @module
 */
import { EKU, KEY_USAGE } from '../x509/index.js';
import type { CertificateFacts } from '../x509/index.js';

// Netscape certificate type bits (ex_nscert is the first byte of the BIT STRING).
const NS_SSL_SERVER = 0x40;
const NS_SSL_CA = 0x04;
const NS_ANY_CA = 0x07;

/**
 * OpenSSL's check_ca: 0 not a CA; 1 a CA by basicConstraints; 3 a v1 self-signed root; 4 keyUsage with keyCertSign
 * but no basicConstraints; 5 a Netscape CA type. Only 1 is accepted for an intermediate; any non-zero value for the
 * top of the path (the trust anchor).
 */
export function caKind(x: CertificateFacts): 0 | 1 | 3 | 4 | 5 {
  if (x.keyUsage !== undefined && (x.keyUsage & KEY_USAGE.keyCertSign) === 0) return 0;
  if (x.basicConstraints) return x.basicConstraints.ca ? 1 : 0;
  if (x.version === 1 && x.selfSigned) return 3;
  if (x.keyUsage !== undefined) return 4;
  if (x.netscapeCertType !== undefined && (x.netscapeCertType & NS_ANY_CA) !== 0) return 5;
  return 0;
}

/**
 * extendedKeyUsage allows a TLS server: absent, or listing serverAuth or one of the two SGC OIDs OpenSSL still
 * accepts. anyExtendedKeyUsage alone does not: OpenSSL's xku_reject only counts serverAuth and SGC.
 */
export function ekuAllowsServer(x: CertificateFacts): boolean {
  const eku = x.extKeyUsage;
  if (!eku) return true;
  return eku.includes(EKU.serverAuth) || eku.includes(EKU.netscapeSgc) || eku.includes(EKU.microsoftSgc);
}

/** The sslserver purpose for a leaf: EKU, Netscape type and keyUsage (digitalSignature, keyEncipherment or keyAgreement). */
export function leafServesTls(x: CertificateFacts): boolean {
  if (!ekuAllowsServer(x)) return false;
  if (x.netscapeCertType !== undefined && (x.netscapeCertType & NS_SSL_SERVER) === 0) return false;
  const tlsUsages = KEY_USAGE.digitalSignature | KEY_USAGE.keyEncipherment | KEY_USAGE.keyAgreement;
  if (x.keyUsage !== undefined && (x.keyUsage & tlsUsages) === 0) return false;
  return true;
}

/** The sslserver purpose for a CA (intermediate or anchor): EKU, and a CA by check_ca (a Netscape CA must be an SSL CA). */
export function caServesTls(x: CertificateFacts): boolean {
  if (!ekuAllowsServer(x)) return false;
  const kind = caKind(x);
  if (kind === 0) return false;
  return kind !== 5 || (x.netscapeCertType! & NS_SSL_CA) !== 0;
}
