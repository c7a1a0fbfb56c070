/**
 * Making signed pin-set documents: what `certpin sign` and `certpin signing-key` are built from, for release
 * pipelines that publish pins themselves. The document is a compact JWS (`typ: certpin-pinset+jws`, EdDSA or ES256)
 * that `DynamicPinPolicy` verifies with the public key embedded in the application.
 * @module
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { MAX_PINSET_LIFETIME_SECONDS, PINSET_TYPE, readPinSetClaim, readPinSetClaims } from '../core/pinset-document.js';
import type { PinSetAlgorithm } from '../core/pinset-document.js';
import { pinSetKeyThumbprint } from '../core/pinset-keys.js';
import { PinPolicy } from '../core/policy.js';
import type { PinSetOptions, PolicyWarning } from '../core/policy.js';
import { PolicyError } from '../errors.js';

/** A key as the signing functions take it: a `KeyObject`, or PEM (PKCS#8 for a private key, SPKI for a public one). */
export type PinSetKeyInput = KeyObject | string | Buffer;

/** Options of {@link signPinSetDocument}. */
export interface SignPinSetOptions {
  /** The signing key: Ed25519 (signs with EdDSA) or P-256 (ES256). */
  readonly privateKey: PinSetKeyInput;
  /** The passphrase of an encrypted PEM key. */
  readonly passphrase?: string;
  /** The `kid` the application's JWKS lists this key under. Default: the key's RFC 7638 thumbprint (what `certpin signing-key` uses). */
  readonly keyId?: string;
  /** The application(s) the document is for (`aud`), e.g. `com.example.app`. */
  readonly audience: string | readonly string[];
  /** The signer's name (`iss`), if the application checks one. */
  readonly issuer?: string;
  /** `seq`: must be higher than that of every document published before. Default: `issuedAt` in seconds. */
  readonly sequence?: number;
  /** `iat`. Default: now. */
  readonly issuedAt?: Date;
  /** `nbf`. Default: `issuedAt`. */
  readonly notBefore?: Date;
  /** `exp`. Default: 7 days after `issuedAt`; at most 30 days after it. */
  readonly expires?: Date;
}

/** A signed document and what went into it. */
export interface SignedPinSet {
  /** The compact JWS: serve it as a static file. */
  readonly jws: string;
  readonly keyId: string;
  readonly algorithm: PinSetAlgorithm;
  readonly sequence: number;
  readonly issuedAt: Date;
  readonly expires: Date;
  /** What the pin sets would warn about in the application (no backup pin, SHA-1 pins, …). */
  readonly warnings: readonly PolicyWarning[];
}

const DAY_SECONDS = 86_400;

/**
 * Signs pin sets (the pin-set fields of a policy file: `hosts`, `defaultPins`, `onlyPinnedHosts`, `reportOnly`,
 * `reportUri`) into a pin-set document. The pin sets are validated as the application will (a document it would
 * refuse is not signed); trust anchors, client certificates and development overrides are refused, they stay in the
 * application.
 *
 * @example
 * ```ts
 * import { readFileSync, writeFileSync } from 'node:fs';
 * import { signPinSetDocument } from 'certpin/tools';
 *
 * const { jws } = await signPinSetDocument(JSON.parse(readFileSync('pins.json', 'utf8')), {
 *   privateKey: readFileSync('pinset-signing.key'),
 *   audience: 'com.example.app',
 * });
 * writeFileSync('app.jws', jws);
 * ```
 * @throws {PolicyError} naming what to fix (a pin, a field, the key, the dates).
 */
export async function signPinSetDocument(pinSets: unknown, options: SignPinSetOptions): Promise<SignedPinSet> {
  const clean: PinSetOptions = readPinSetClaim(pinSets);
  const warnings: PolicyWarning[] = [];
  new PinPolicy({ ...clean, source: 'pin-set document', onWarning: (warning) => warnings.push(warning) });

  const privateKey = readPrivateKey(options.privateKey, options.passphrase);
  const algorithm = algorithmOf(privateKey, 'privateKey');
  const keyId = options.keyId ?? pinSetKeyThumbprint(createPublicKey(privateKey));
  if (typeof keyId !== 'string' || keyId === '') throw new PolicyError('keyId', 'expected a non-empty string');
  const audience = typeof options.audience === 'string' ? options.audience : [...(options.audience ?? [])];
  if (audience === '' || (Array.isArray(audience) && (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '')))) {
    throw new PolicyError('audience', 'name the application the document is for (the "aud" the application expects), e.g. "com.example.app"');
  }
  const issuedAt = seconds(options.issuedAt ?? new Date(), 'issuedAt');
  const notBefore = options.notBefore === undefined ? issuedAt : seconds(options.notBefore, 'notBefore');
  const expires = options.expires === undefined ? issuedAt + 7 * DAY_SECONDS : seconds(options.expires, 'expires');
  if (expires <= issuedAt) throw new PolicyError('expires', 'must be after the issue time');
  if (expires - issuedAt > MAX_PINSET_LIFETIME_SECONDS) throw new PolicyError('expires', `is ${((expires - issuedAt) / DAY_SECONDS).toFixed(1)} days after the issue time; a document is valid 30 days at most (applications refuse longer ones)`);
  const sequence = options.sequence ?? issuedAt;
  if (!Number.isSafeInteger(sequence) || sequence < 1) throw new PolicyError('sequence', `must be a positive whole number, got ${String(sequence)}`);

  const claims = {
    ...(options.issuer === undefined ? {} : { iss: options.issuer }),
    aud: audience,
    iat: issuedAt,
    nbf: notBefore,
    exp: expires,
    seq: sequence,
    pinset: clean,
  };
  const payload = Buffer.from(JSON.stringify(claims), 'utf8');
  // What the application will check, checked here first (the dates, the claim shapes).
  readPinSetClaims(payload, { audience: Array.isArray(audience) ? audience[0]! : (audience as string), now: Math.max(issuedAt, notBefore) * 1000 });
  const { CompactSign } = await import('jose');
  const jws = await new CompactSign(payload).setProtectedHeader({ alg: algorithm, typ: PINSET_TYPE, kid: keyId }).sign(privateKey);
  return Object.freeze({ jws, keyId, algorithm, sequence, issuedAt: new Date(issuedAt * 1000), expires: new Date(expires * 1000), warnings: Object.freeze(warnings) });
}

/**
 * The public JWK of a signing key, ready for the application's JWKS: `kty`, `crv`, `x` (`y`), `kid`, `alg`, `use`.
 * Accepts the private key (its public half is taken) or the public key.
 * @example
 * ```ts
 * const jwks = { keys: [pinSetPublicJwk(readFileSync('pinset-signing.key'))] };
 * ```
 * @throws {PolicyError} for a key that is not Ed25519 or P-256.
 */
export function pinSetPublicJwk(key: PinSetKeyInput, keyId?: string, passphrase?: string): JsonWebKey & { kid: string; alg: PinSetAlgorithm; use: 'sig' } {
  const publicKey = toPublicKey(key, passphrase);
  const alg = algorithmOf(publicKey, 'key');
  const jwk = publicKey.export({ format: 'jwk' });
  return { ...jwk, kid: keyId ?? pinSetKeyThumbprint(publicKey), alg, use: 'sig' };
}

function readPrivateKey(key: PinSetKeyInput, passphrase: string | undefined): KeyObject {
  if (typeof key === 'object' && !Buffer.isBuffer(key)) {
    if (key.type !== 'private') throw new PolicyError('privateKey', 'expected the PRIVATE signing key');
    return key;
  }
  try {
    return createPrivateKey({ key, format: 'pem', ...(passphrase === undefined ? {} : { passphrase }) });
  } catch (error) {
    throw new PolicyError('privateKey', `cannot read the private key (${(error as Error).message})${passphrase === undefined ? '; if it is encrypted, give its passphrase' : ''}`, { cause: error });
  }
}

function toPublicKey(key: PinSetKeyInput, passphrase: string | undefined): KeyObject {
  if (typeof key === 'object' && !Buffer.isBuffer(key)) return key.type === 'private' ? createPublicKey(key) : key;
  const text = key.toString();
  if (text.includes('PRIVATE KEY')) return createPublicKey(readPrivateKey(key, passphrase));
  try {
    return createPublicKey(key);
  } catch (error) {
    throw new PolicyError('key', `cannot read the key (${(error as Error).message})`, { cause: error });
  }
}

function algorithmOf(key: KeyObject, at: string): PinSetAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new PolicyError(at, `is a ${key.asymmetricKeyType ?? key.type} key${key.asymmetricKeyDetails?.namedCurve ? ` on ${key.asymmetricKeyDetails.namedCurve}` : ''}; pin-set documents are signed with Ed25519 (EdDSA) or P-256 (ES256) keys (certpin signing-key makes one)`);
}

function seconds(date: Date, at: string): number {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new PolicyError(at, 'expected a valid Date');
  return Math.floor(date.getTime() / 1000);
}
