/**
 * Signed pin-set documents for the tests, made with jose directly (not with certpin's signer), so that documents
 * certpin's signer would refuse to make (too long-lived, odd claims, foreign headers) can be made too.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';

export interface TestSigningKey {
  readonly kid: string;
  readonly alg: 'EdDSA' | 'ES256';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK with its kid, as an application embeds it. */
  readonly jwk: Record<string, unknown>;
}

export function signingKey(kid: string, alg: 'EdDSA' | 'ES256' = 'EdDSA'): TestSigningKey {
  const { privateKey, publicKey } = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg, privateKey, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid } };
}

export function jwksOf(...keys: TestSigningKey[]): { keys: Record<string, unknown>[] } {
  return { keys: keys.map((k) => k.jwk) };
}

export const AUDIENCE = 'com.example.bank';
const DAY = 86_400;

export interface DocumentSpec {
  readonly seq: number;
  readonly pinset: unknown;
  /** Seconds since the epoch. Default: now. */
  readonly iat?: number;
  readonly nbf?: number;
  readonly exp?: number;
  readonly aud?: unknown;
  readonly iss?: string;
  /** Extra or replaced claims, set after the others (`undefined` removes one). */
  readonly claims?: Record<string, unknown>;
  /** Extra or replaced protected header parameters. */
  readonly header?: Record<string, unknown>;
}

/** The claims a spec describes (7 days of validity by default). */
export function claimsOf(spec: DocumentSpec): Record<string, unknown> {
  const iat = spec.iat ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    ...(spec.iss === undefined ? {} : { iss: spec.iss }),
    aud: spec.aud ?? AUDIENCE,
    iat,
    nbf: spec.nbf ?? iat,
    exp: spec.exp ?? iat + 7 * DAY,
    seq: spec.seq,
    pinset: spec.pinset,
    ...spec.claims,
  };
  for (const key of Object.keys(claims)) if (claims[key] === undefined) delete claims[key];
  return claims;
}

/** A compact JWS signed by `key`. */
export async function signDocument(key: TestSigningKey, spec: DocumentSpec): Promise<string> {
  return new CompactSign(Buffer.from(JSON.stringify(claimsOf(spec))))
    .setProtectedHeader({ alg: key.alg, typ: 'certpin-pinset+jws', kid: key.kid, ...spec.header } as { alg: string })
    .sign(key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** An unsigned `alg: none` document (RFC 7515 appendix A.5 shape: empty signature). */
export function unsecuredDocument(kid: string, spec: DocumentSpec): string {
  return `${b64({ alg: 'none', typ: 'certpin-pinset+jws', kid })}.${b64(claimsOf(spec))}.`;
}

/**
 * The classic algorithm confusion: `alg: HS256`, MACed with the verifier's PUBLIC key as the HMAC secret (here its
 * PEM text and, separately, its raw JWK bytes, the two forms vulnerable verifiers used).
 */
export function hmacWithPublicKey(key: TestSigningKey, spec: DocumentSpec, form: 'pem' | 'raw' = 'pem'): string {
  const input = `${b64({ alg: 'HS256', typ: 'certpin-pinset+jws', kid: key.kid })}.${b64(claimsOf(spec))}`;
  const secret = form === 'pem' ? (key.publicKey.export({ type: 'spki', format: 'pem' }) as string) : Buffer.from(String(key.jwk.x), 'base64url');
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** The same document with its payload replaced (the signature left as it was). */
export function withPayload(jws: string, payload: Record<string, unknown>): string {
  const [header, , signature] = jws.split('.');
  return `${header}.${b64(payload)}.${signature}`;
}

/** Decodes a JWS's payload without verifying it. */
export function payloadOf(jws: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
