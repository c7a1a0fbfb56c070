/**
 * certpin's certificate reader: one strict, bounded parse per certificate into the facts that path validation
 * needs, cached by SHA-256. Pure: no file system, no sockets.
 * @module
 */
export { readCertificate, subjectNameDer, authorityKeyIdMatches, keyIdentifiersAgree, signatureAlgorithmFits, bytesEqual, MAX_CERTIFICATE_BYTES } from './certificate.js';
export type { CertificateFacts, CertificateReadFailure, CertificateReadResult } from './certificate.js';
export { certificateFacts, clearCertificateFactsCache, normaliseDigest } from './facts-cache.js';
export { EKU, EXTENSION, KEY_USAGE, SUPPORTED_CRITICAL } from './extensions.js';
export type { AuthorityKeyIdentifier, BasicConstraints, Extension, GeneralSubtree, NameConstraints } from './extensions.js';
export type { GeneralName, GeneralNameType } from './general-name.js';
export { canonicalPrefix, nameBucket } from './name.js';
export type { DistinguishedName, NameAttribute } from './name.js';
export type { AlgorithmIdentifier, HashName, KeyFamily, KeyInfo, SignatureScheme } from './algorithms.js';
