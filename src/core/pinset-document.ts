/**
 * The signed pin-set document: a compact JWS (RFC 7515) whose protected header says `typ: certpin-pinset+jws`,
 * `alg: EdDSA` or `ES256` and a `kid`, and whose payload holds the claims `iss`, `aud`, `iat`, `nbf`, `exp`, `seq`
 * and `pinset` (the pin sets, in the policy file's format). Everything that decides enforcement is inside the
 * signature; trust anchors, client certificates and development overrides never are (they stay the application's).
 *
 * This module reads the parts and checks the header and the claims. It does not verify the signature (the node layer
 * does, with jose, before {@link readPinSetClaims} is given the payload) and does no I/O.
 * @module
 */
import { createHash } from 'node:crypto';
import { PinSetDocumentError, PolicyError } from '../errors.js';
import { pinSetsFromDocument } from './policy-document.js';
import type { PinSetOptions } from './policy.js';

/** The `typ` of a pin-set document (RFC 7515 section 4.1.9; `application/` may be prefixed, case does not matter). */
export const PINSET_TYPE = 'certpin-pinset+jws';

/** The only signature algorithms accepted: Ed25519 (`EdDSA`) and ECDSA P-256 with SHA-256 (`ES256`). */
export const PINSET_ALGORITHMS = ['EdDSA', 'ES256'] as const;

/** One of {@link PINSET_ALGORITHMS}. */
export type PinSetAlgorithm = (typeof PINSET_ALGORITHMS)[number];

/** The longest a document may be valid: `exp` at most 30 days after `iat`. */
export const MAX_PINSET_LIFETIME_SECONDS = 30 * 86_400;

/** Default size limit of a document, in bytes (a policy of 10,000 hosts fits). */
export const DEFAULT_MAX_PINSET_BYTES = 4 * 1024 * 1024;

/** The claims a payload may carry; any other is refused, so that no future field can be silently ignored. */
const CLAIMS = ['iss', 'aud', 'iat', 'nbf', 'exp', 'seq', 'pinset'] as const;

/** The pin-set fields a document may carry (those of {@link PinSetOptions}). */
const PIN_SET_FIELDS = ['hosts', 'defaultPins', 'onlyPinnedHosts', 'reportOnly', 'reportUri'] as const;

/** Policy fields that belong to the application and never to a document. */
const APPLICATION_FIELDS = ['ca', 'trustSystemRoots', 'clientCertificate', 'developmentOverrides', 'minVersion', 'requireBackupPin'] as const;

/** Header parameters that would let a document name its own key: refused, the keys are the application's. */
const KEY_HEADERS = ['jwk', 'jku', 'x5c', 'x5u', 'x5t', 'x5t#S256'] as const;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The protected header of a document, once checked. */
export interface PinSetHeader {
  readonly alg: PinSetAlgorithm;
  readonly kid: string;
  readonly typ: string;
}

/** A compact JWS split into its parts, with the header checked and the payload decoded (signature not verified). */
export interface PinSetJws {
  /** The compact serialization, without surrounding white space. */
  readonly compact: string;
  readonly header: PinSetHeader;
  /** The payload bytes (base64url-decoded). */
  readonly payload: Buffer;
}

/**
 * Splits a compact JWS and checks its protected header: `typ`, `alg` in {@link PINSET_ALGORITHMS}, a `kid`, no `crit`,
 * no embedded or remote key. Cheap and done before any signature work, so a refusal names the precise reason.
 * @throws {PinSetDocumentError} `too-large`, `malformed`, `header`, `type` or `algorithm`.
 */
export function splitPinSetJws(input: unknown, maxBytes: number = DEFAULT_MAX_PINSET_BYTES): PinSetJws {
  if (typeof input !== 'string') throw new PinSetDocumentError('malformed', 'expected the compact JWS as text');
  if (input.length > maxBytes) throw new PinSetDocumentError('too-large', `the document is ${input.length} bytes, over the limit of ${maxBytes}`);
  const compact = input.trim();
  const parts = compact.split('.');
  if (parts.length !== 3) {
    throw new PinSetDocumentError('malformed', `a compact JWS has three base64url parts separated by dots; this has ${parts.length}${parts.length === 5 ? ' (an encrypted JWE?)' : ''}`);
  }
  const [encodedHeader, encodedPayload, signature] = parts as [string, string, string];
  // The header first, so that `alg: none` (whose signature part is empty) is refused for what it is.
  const header = checkHeader(jsonObject(decodeBase64url(encodedHeader, 'header'), 'protected header'));
  const payload = decodeBase64url(encodedPayload, 'payload');
  decodeBase64url(signature, 'signature');
  return { compact, header, payload };
}

function checkHeader(header: Record<string, unknown>): PinSetHeader {
  const { alg, kid, typ } = header;
  if (typeof alg !== 'string' || !(PINSET_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new PinSetDocumentError('algorithm', `"alg" is ${JSON.stringify(alg)}; only ${PINSET_ALGORITHMS.join(' and ')} are accepted`);
  }
  if (typeof typ !== 'string' || typ.toLowerCase().replace(/^application\//, '') !== PINSET_TYPE) {
    throw new PinSetDocumentError('type', `"typ" is ${JSON.stringify(typ)}, not "${PINSET_TYPE}": this is not a certpin pin-set document`);
  }
  if (typeof kid !== 'string' || kid === '') throw new PinSetDocumentError('header', '"kid" is missing: it names the key of the application\'s JWKS that signed the document');
  if (Object.hasOwn(header, 'crit')) throw new PinSetDocumentError('header', '"crit" names extensions certpin does not implement');
  if (Object.hasOwn(header, 'b64')) throw new PinSetDocumentError('header', '"b64" is not accepted: the payload is always base64url JSON');
  for (const name of KEY_HEADERS) {
    if (Object.hasOwn(header, name)) throw new PinSetDocumentError('header', `"${name}" is not accepted: the verification keys are the application's, never the document's`);
  }
  return { alg: alg as PinSetAlgorithm, kid, typ };
}

/** What the application expects of a document's claims. */
export interface PinSetExpectations {
  /** The application's audience: `aud` must be it (or a list that holds it). */
  readonly audience: string;
  /** When given, `iss` must be it. */
  readonly issuer?: string | undefined;
  /** Now, in milliseconds since the epoch. */
  readonly now: number;
  /** Seconds a clock may be behind the signer's for `iat` and `nbf` (never for `exp`). Default 60. */
  readonly clockTolerance?: number;
  /** Longest accepted `exp - iat`, in seconds; at most {@link MAX_PINSET_LIFETIME_SECONDS} (the default). */
  readonly maxLifetime?: number;
}

/** A document's claims, checked. Times are in seconds since the epoch (JWT NumericDate). */
export interface PinSetDocument {
  readonly issuer: string | undefined;
  readonly audience: readonly string[];
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expires: number;
  /** `seq`: grows with each document the signer publishes. */
  readonly sequence: number;
  readonly pinSets: PinSetOptions;
  /** SHA-256 of the payload bytes, hex: two documents with the same `seq` must have the same digest. */
  readonly digest: string;
}

/**
 * Reads and checks the claims of a payload whose signature has been verified.
 * @throws {PinSetDocumentError} `malformed`, `claims`, `audience`, `issuer`, `expired`, `not-yet-valid`, `lifetime`
 *   or `pin-sets`.
 */
export function readPinSetClaims(payload: Buffer, expect: PinSetExpectations): PinSetDocument {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    throw new PinSetDocumentError('malformed', 'the payload is not UTF-8');
  }
  const claims = jsonObject(text, 'payload');
  for (const key of Object.keys(claims)) {
    if (!(CLAIMS as readonly string[]).includes(key)) throw new PinSetDocumentError('claims', `unknown claim "${key}" (known: ${CLAIMS.join(', ')})`);
  }
  const issuer = claims.iss;
  if (issuer !== undefined && (typeof issuer !== 'string' || issuer === '')) throw new PinSetDocumentError('claims', '"iss" must be a non-empty string');
  if (expect.issuer !== undefined && issuer !== expect.issuer) {
    throw new PinSetDocumentError('issuer', `"iss" is ${JSON.stringify(issuer)}, the application expects ${JSON.stringify(expect.issuer)}`);
  }
  const audience = readAudience(claims.aud);
  if (!audience.includes(expect.audience)) {
    throw new PinSetDocumentError('audience', `"aud" is ${JSON.stringify(claims.aud)}, not this application's ${JSON.stringify(expect.audience)}`);
  }
  const issuedAt = numericDate(claims.iat, 'iat');
  const notBefore = numericDate(claims.nbf, 'nbf');
  const expires = numericDate(claims.exp, 'exp');
  const sequence = claims.seq;
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 1) {
    throw new PinSetDocumentError('claims', `"seq" must be a positive whole number (at most 2^53 - 1), got ${JSON.stringify(sequence)}`);
  }

  const maxLifetime = Math.min(expect.maxLifetime ?? MAX_PINSET_LIFETIME_SECONDS, MAX_PINSET_LIFETIME_SECONDS);
  if (expires <= issuedAt) throw new PinSetDocumentError('claims', `"exp" (${isoOf(expires)}) is not after "iat" (${isoOf(issuedAt)})`);
  if (expires - issuedAt > maxLifetime) {
    throw new PinSetDocumentError('lifetime', `"exp" is ${days(expires - issuedAt)} after "iat"; a document may be valid ${days(maxLifetime)} at most, so that a leaked old one stops working soon`);
  }
  const now = Math.floor(expect.now / 1000);
  const tolerance = expect.clockTolerance ?? 60;
  if (now >= expires) throw new PinSetDocumentError('expired', `it expired at ${isoOf(expires)}`);
  if (issuedAt > now + tolerance) throw new PinSetDocumentError('not-yet-valid', `"iat" is ${isoOf(issuedAt)}, in the future`);
  if (notBefore > now + tolerance) throw new PinSetDocumentError('not-yet-valid', `it is valid from ${isoOf(notBefore)}`);

  if (!Object.hasOwn(claims, 'pinset')) throw new PinSetDocumentError('claims', 'the "pinset" claim (the pin sets) is missing');
  let pinSets: PinSetOptions;
  try {
    pinSets = readPinSetClaim(claims.pinset);
  } catch (error) {
    throw new PinSetDocumentError('pin-sets', (error as Error).message, { cause: error });
  }
  return {
    issuer: issuer as string | undefined,
    audience,
    issuedAt,
    notBefore,
    expires,
    sequence,
    pinSets,
    digest: createHash('sha256').update(payload).digest('hex'),
  };
}

/**
 * The `pinset` claim (or a policy file about to be signed) as pin sets: the policy file's pin-set fields only.
 * Trust anchors, client certificates, development overrides and TLS settings are refused with a message that says
 * they stay in the application; unknown fields are refused. Values are checked by the policy built from them.
 * @throws {PolicyError} naming the field.
 */
export function readPinSetClaim(value: unknown): PinSetOptions {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PolicyError('pinset', 'expected an object with a "hosts" map');
  for (const key of Object.keys(value)) {
    if ((APPLICATION_FIELDS as readonly string[]).includes(key)) {
      throw new PolicyError(key, 'trust anchors, client certificates, development overrides and TLS settings stay in the application\'s own policy; a signed pin-set document carries pin sets only. Remove the field.');
    }
    if (key === '$schema' || key === '$comment') continue;
    if (!(PIN_SET_FIELDS as readonly string[]).includes(key)) throw new PolicyError(key, `unknown field (known: ${PIN_SET_FIELDS.join(', ')})`);
  }
  return pinSetsFromDocument(value);
}

function readAudience(value: unknown): readonly string[] {
  if (typeof value === 'string' && value !== '') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v !== '')) return Object.freeze([...(value as string[])]);
  throw new PinSetDocumentError('claims', '"aud" must name the application (a non-empty string, or a list of them)');
}

function numericDate(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new PinSetDocumentError('claims', `"${name}" must be a time in whole seconds since 1970 (JWT NumericDate), got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Strict base64url: the alphabet only, no padding, and the one canonical spelling of the bytes (Node's decoder skips
 * stray characters and ignores the unused low bits of the last character, which would let one signature be written
 * several ways).
 */
function decodeBase64url(part: string, name: string): Buffer {
  if (!BASE64URL.test(part)) throw new PinSetDocumentError('malformed', `the ${name} part is ${part === '' ? 'empty' : 'not base64url'}`);
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) throw new PinSetDocumentError('malformed', `the ${name} part is not canonical base64url`);
  return bytes;
}

function jsonObject(input: Buffer | string, name: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(typeof input === 'string' ? input : input.toString('utf8'));
  } catch {
    throw new PinSetDocumentError('malformed', `the ${name} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PinSetDocumentError('malformed', `the ${name} is not a JSON object`);
  return value as Record<string, unknown>;
}

function isoOf(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? `${seconds} s` : date.toISOString();
}

function days(seconds: number): string {
  const d = seconds / 86_400;
  return `${Number.isInteger(d) ? d : d.toFixed(1)} days`;
}
