/**
 * The keys that may sign pin-set documents: a JWKS (RFC 7517) embedded in the application, so that the signing key
 * can rotate (publish with the new key once the app versions in use know both). Each key has a `kid`, is an Ed25519
 * (`EdDSA`) or P-256 (`ES256`) public key, and is bound to that one algorithm. Read once, when a dynamic policy is
 * constructed, with errors that name the key to fix.
 * @module
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { PolicyError } from '../errors.js';
import type { PinSetAlgorithm } from './pinset-document.js';

/** A JSON Web Key Set: `{ "keys": [ { "kty": "OKP", "crv": "Ed25519", "x": "…", "kid": "…" } ] }`. */
export interface PinSetKeySet {
  readonly keys: readonly JsonWebKey[];
}

/** A verification key and the one algorithm it may be used with. */
export interface PinSetKey {
  readonly kid: string;
  readonly alg: PinSetAlgorithm;
  readonly key: KeyObject;
}

/**
 * Reads a JWKS into verification keys by `kid`.
 * @throws {PolicyError} naming the key (`keys.keys[1]`) when one is not a usable public signing key: no or repeated
 *   `kid`, another key type or curve, an `alg` or `use` that says otherwise, or private key material (a JWKS
 *   embedded in an application must never hold the signing key).
 */
export function readPinSetKeys(jwks: unknown): ReadonlyMap<string, PinSetKey> {
  const list = jwks !== null && typeof jwks === 'object' && !Array.isArray(jwks) ? (jwks as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(list) || list.length === 0) {
    throw new PolicyError('keys', 'expected a JWKS, { "keys": [ … ] }, with at least one public key (certpin signing-key writes one)');
  }
  const keys = new Map<string, PinSetKey>();
  list.forEach((jwk: unknown, index) => {
    const at = `keys.keys[${index}]`;
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw new PolicyError(at, 'expected a JSON Web Key (an object)');
    const k = jwk as Record<string, unknown>;
    if (typeof k.kid !== 'string' || k.kid === '') throw new PolicyError(at, 'has no "kid": every key needs one, documents name their key by it');
    if (keys.has(k.kid)) throw new PolicyError(at, `the kid ${JSON.stringify(k.kid)} is given twice`);
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'priv']) {
      if (Object.hasOwn(k, secret)) throw new PolicyError(at, `holds private key material ("${secret}"): embed the PUBLIC key only, and keep the signing key off the application`);
    }
    const alg: PinSetAlgorithm | undefined =
      k.kty === 'OKP' && k.crv === 'Ed25519' ? 'EdDSA' : k.kty === 'EC' && k.crv === 'P-256' ? 'ES256' : undefined;
    if (!alg) throw new PolicyError(at, `is ${JSON.stringify(k.kty)}/${JSON.stringify(k.crv)}; only Ed25519 (kty OKP) and P-256 (kty EC) keys sign pin-set documents`);
    if (k.alg !== undefined && k.alg !== alg && !(alg === 'EdDSA' && k.alg === 'Ed25519')) {
      throw new PolicyError(at, `says "alg": ${JSON.stringify(k.alg)}, but a ${String(k.crv)} key signs with ${alg}`);
    }
    if (k.use !== undefined && k.use !== 'sig') throw new PolicyError(at, `says "use": ${JSON.stringify(k.use)}; a signing key has "use": "sig" or none`);
    if (k.key_ops !== undefined && !(Array.isArray(k.key_ops) && k.key_ops.includes('verify'))) throw new PolicyError(at, '"key_ops" does not include "verify"');
    let key: KeyObject;
    try {
      key = createPublicKey({ key: publicPart(k), format: 'jwk' });
    } catch (error) {
      throw new PolicyError(at, `is not a valid ${String(k.crv)} public key (${(error as Error).message})`, { cause: error });
    }
    keys.set(k.kid, Object.freeze({ kid: k.kid, alg, key }));
  });
  return keys;
}

/**
 * The RFC 7638 thumbprint of a public key (SHA-256, base64url): the default `kid` of `certpin signing-key` and
 * `certpin sign`, so that the same key gets the same id on both sides without coordination.
 */
export function pinSetKeyThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  // RFC 7638: the required members only, in lexicographic order, no white space.
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function publicPart(k: Record<string, unknown>): JsonWebKey {
  return k.kty === 'EC' ? { kty: 'EC', crv: k.crv as string, x: k.x as string, y: k.y as string } : { kty: 'OKP', crv: k.crv as string, x: k.x as string };
}
