/**
 * certpin's certificate path validator: OpenSSL's verdict for a TLS client, with bounded work. Pure: no file system,
 * no sockets; `node:crypto` for signatures only.
 * @module
 */
export { validatePath, newSignatureWork, DEFAULT_PATH_BUDGET } from './validate.js';
export { validateServedChain } from './served-chain.js';
export type { CertificatePath, PathBudget, PathFailureCode, PathValidation, PathValidationOptions, PathWork, UnreadableCertificate } from './validate.js';
export { TrustAnchorIndex, IssuerIndex, likelyIssued } from './issuer-index.js';
export { checkNameConstraints } from './name-constraints.js';
export type { NameConstraintFailure } from './name-constraints.js';
export { caKind, caServesTls, ekuAllowsServer, leafServesTls } from './purpose.js';
export { clearSignatureMemo, verificationCost } from './signature.js';
export type { SignatureWork } from './signature.js';
