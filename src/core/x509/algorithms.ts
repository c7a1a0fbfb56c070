/**
 * Signature algorithms and public keys: what a signature needs to be checked, and how strong OpenSSL rates it (its
 * security bits, which the TLS client's security level compares against).
 * @module
 */
import { DerError, decodeOidStrict, readDerChildren, readDerElement } from '../der.js';
import type { DerElement } from '../der.js';

/** Hash functions a certificate signature may use. */
export type HashName = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** The key families certpin can verify signatures with. */
export type KeyFamily = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448' | 'dsa' | 'unknown';

/** A signature algorithm resolved from its AlgorithmIdentifier. */
export interface SignatureScheme {
  /** The issuer key family this algorithm needs (OpenSSL's check_sig_alg_match). RSA-PSS also accepts an RSA key. */
  readonly keyFamily: KeyFamily;
  /** `null` for EdDSA; `undefined` when the algorithm is not supported. */
  readonly hash: HashName | null | undefined;
  /** RSA-PSS salt length; MGF1 uses `hash`. */
  readonly pssSaltLength?: number;
  /** What OpenSSL's X509_get_signature_info reports: 39 for MD5, 63 for SHA-1, half the digest size otherwise. */
  readonly securityBits: number;
  /** Whether certpin can verify it. */
  readonly supported: boolean;
}

/** What certpin knows of a subjectPublicKeyInfo. */
export interface KeyInfo {
  readonly family: KeyFamily;
  /** RSA/DSA modulus bits, EC field bits, 255/448 for EdDSA. */
  readonly bits: number;
  /** Named curve OID for EC keys. */
  readonly curve?: string;
  /** An EC key with explicit (or implicit) curve parameters, which OpenSSL refuses in a chain. */
  readonly explicitCurve: boolean;
  /** OpenSSL's security bits for the key (EVP_PKEY_get_security_bits), conservatively rounded down. */
  readonly securityBits: number;
  /** The bit length of an RSA key's public exponent (what a verification's cost grows with, beside the modulus). */
  readonly exponentBits?: number;
}

const HASH_BITS: Record<HashName, number> = { md5: 39, sha1: 63, sha224: 112, sha256: 128, sha384: 192, sha512: 256 };
const HASH_OIDS: Record<string, HashName> = {
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const SCHEMES: Record<string, { keyFamily: KeyFamily; hash: HashName | null }> = {
  '1.2.840.113549.1.1.4': { keyFamily: 'rsa', hash: 'md5' },
  '1.2.840.113549.1.1.5': { keyFamily: 'rsa', hash: 'sha1' },
  '1.2.840.113549.1.1.14': { keyFamily: 'rsa', hash: 'sha224' },
  '1.2.840.113549.1.1.11': { keyFamily: 'rsa', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { keyFamily: 'rsa', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { keyFamily: 'rsa', hash: 'sha512' },
  '1.2.840.10045.4.1': { keyFamily: 'ec', hash: 'sha1' },
  '1.2.840.10045.4.3.1': { keyFamily: 'ec', hash: 'sha224' },
  '1.2.840.10045.4.3.2': { keyFamily: 'ec', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { keyFamily: 'ec', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { keyFamily: 'ec', hash: 'sha512' },
  '1.3.101.112': { keyFamily: 'ed25519', hash: null },
  '1.3.101.113': { keyFamily: 'ed448', hash: null },
};
const RSA_PSS = '1.2.840.113549.1.1.10';
const MGF1 = '1.2.840.113549.1.1.8';

/** Named curves certpin accepts, with OpenSSL's security bits (half the order size). */
export const CURVES: Record<string, { name: string; bits: number; securityBits: number }> = {
  '1.3.132.0.33': { name: 'P-224', bits: 224, securityBits: 112 },
  '1.2.840.10045.3.1.7': { name: 'P-256', bits: 256, securityBits: 128 },
  '1.3.132.0.34': { name: 'P-384', bits: 384, securityBits: 192 },
  '1.3.132.0.35': { name: 'P-521', bits: 521, securityBits: 256 },
};
const WEAK_CURVES: Record<string, { bits: number; securityBits: number }> = {
  '1.2.840.10045.3.1.1': { bits: 192, securityBits: 96 },
};

/** An AlgorithmIdentifier: its OID, its parameters' DER (if any) and the whole element's bytes. */
export interface AlgorithmIdentifier {
  readonly oid: string;
  readonly parameters: Uint8Array | undefined;
  readonly der: Uint8Array;
}

/** Parses an AlgorithmIdentifier at `el` (whose header starts at `headerStart`). @throws {DerError} */
export function parseAlgorithmIdentifier(buf: Uint8Array, el: DerElement, headerStart: number): AlgorithmIdentifier {
  if (el.tag !== 0x30) throw new DerError('AlgorithmIdentifier must be a SEQUENCE');
  const fields = readDerChildren(buf, el, 3);
  if (fields.length < 1 || fields.length > 2) throw new DerError('malformed AlgorithmIdentifier');
  const oid = decodeOidStrict(buf, fields[0]!);
  return { oid, parameters: fields[1] ? buf.subarray(fields[0]!.next, fields[1].end) : undefined, der: buf.subarray(headerStart, el.end) };
}

/** Resolves a signature AlgorithmIdentifier. Never throws: an unknown or malformed one is `supported: false`. */
export function signatureScheme(algorithm: AlgorithmIdentifier): SignatureScheme {
  const known = SCHEMES[algorithm.oid];
  if (known) {
    // The parameters are not read: OpenSSL verifies PKCS#1 v1.5, ECDSA and EdDSA signatures whatever they hold (NULL,
    // absent or anything else; measured on OpenSSL 3.0 and 3.5), the OID alone naming the digest.
    const securityBits = known.hash === null ? (known.keyFamily === 'ed25519' ? 128 : 224) : HASH_BITS[known.hash];
    return { keyFamily: known.keyFamily, hash: known.hash, securityBits, supported: known.hash !== 'md5' };
  }
  if (algorithm.oid === RSA_PSS) return pssScheme(algorithm.parameters);
  return { keyFamily: 'unknown', hash: undefined, securityBits: 0, supported: false };
}

function pssScheme(parameters: Uint8Array | undefined): SignatureScheme {
  const unsupported: SignatureScheme = { keyFamily: 'rsa-pss', hash: undefined, securityBits: 0, supported: false };
  // Absent parameters mean SHA-1 everywhere: OpenSSL rates that 63 bits, below every security level.
  if (!parameters) return { keyFamily: 'rsa-pss', hash: 'sha1', securityBits: 63, supported: false };
  try {
    const seq = readDerElement(parameters);
    if (seq.tag !== 0x30 || seq.next !== parameters.length) return unsupported;
    let hash: HashName = 'sha1';
    let mgfHash: HashName = 'sha1';
    let salt = 20;
    for (const field of readDerChildren(parameters, seq, 4)) {
      const inner = readDerElement(parameters, field.start, field.end);
      if (field.tag === 0xa0) {
        const h = HASH_OIDS[decodeOidStrict(parameters, readDerChildren(parameters, inner, 2)[0]!)];
        if (!h) return unsupported;
        hash = h;
      } else if (field.tag === 0xa1) {
        const [oid, params] = readDerChildren(parameters, inner, 2);
        if (!oid || !params || decodeOidStrict(parameters, oid) !== MGF1) return unsupported;
        const h = HASH_OIDS[decodeOidStrict(parameters, readDerChildren(parameters, params, 2)[0]!)];
        if (!h) return unsupported;
        mgfHash = h;
      } else if (field.tag === 0xa2) {
        if (inner.tag !== 0x02 || inner.end - inner.start > 2 || parameters[inner.start]! & 0x80) return unsupported;
        salt = 0;
        for (let i = inner.start; i < inner.end; i++) salt = salt * 256 + parameters[i]!;
      } else if (field.tag === 0xa3) {
        if (inner.tag !== 0x02 || inner.end - inner.start !== 1 || parameters[inner.start] !== 1) return unsupported;
      } else return unsupported;
    }
    // Node cannot set a separate MGF1 hash: such signatures are refused rather than checked differently.
    const supported = hash === mgfHash && hash !== 'md5';
    return { keyFamily: 'rsa-pss', hash, pssSaltLength: salt, securityBits: HASH_BITS[hash], supported };
  } catch {
    return unsupported;
  }
}

/** Reads the key facts of a subjectPublicKeyInfo. Never throws: an unreadable key is family `unknown`. */
export function keyInfo(spki: Uint8Array): KeyInfo {
  const unknown: KeyInfo = { family: 'unknown', bits: 0, explicitCurve: false, securityBits: 0 };
  try {
    const outer = readDerElement(spki);
    const [algorithmEl, keyBits] = readDerChildren(spki, outer, 3);
    if (!algorithmEl || !keyBits || keyBits.tag !== 0x03) return unknown;
    const algorithm = parseAlgorithmIdentifier(spki, algorithmEl, outer.start);
    switch (algorithm.oid) {
      case '1.2.840.113549.1.1.1':
      case RSA_PSS: {
        if (spki[keyBits.start] !== 0) return unknown;
        const rsaKey = readDerElement(spki, keyBits.start + 1, keyBits.end);
        const [modulus, exponent] = readDerChildren(spki, rsaKey, 3);
        if (!modulus || modulus.tag !== 0x02 || !exponent || exponent.tag !== 0x02) return unknown;
        const bits = integerBits(spki, modulus.start, modulus.end);
        const exponentBits = integerBits(spki, exponent.start, exponent.end);
        return { family: algorithm.oid === RSA_PSS ? 'rsa-pss' : 'rsa', bits, explicitCurve: false, securityBits: rsaSecurityBits(bits), exponentBits };
      }
      case '1.2.840.10045.2.1': {
        const params = algorithm.parameters;
        if (!params || params[0] !== 0x06) return { family: 'ec', bits: 0, explicitCurve: true, securityBits: 0 };
        const curve = decodeOidStrict(params, readDerElement(params));
        const known = CURVES[curve] ?? WEAK_CURVES[curve];
        return { family: 'ec', bits: known?.bits ?? 0, curve, explicitCurve: false, securityBits: known?.securityBits ?? 0 };
      }
      case '1.3.101.112':
        return { family: 'ed25519', bits: 255, explicitCurve: false, securityBits: 128 };
      case '1.3.101.113':
        return { family: 'ed448', bits: 448, explicitCurve: false, securityBits: 224 };
      case '1.2.840.10040.4.1':
        return { family: 'dsa', bits: 0, explicitCurve: false, securityBits: 0 };
      default:
        return unknown;
    }
  } catch {
    return unknown;
  }
}

/**
 * Whether a subjectPublicKeyInfo is DER down to its key: every length in its shortest form, nothing after its
 * elements, and an RSA key's INTEGERs minimal. OpenSSL reads BER leniently and re-encodes the key when it prints it,
 * so for any other encoding `openssl pkey -pubout | openssl dgst` (and OkHttp's `publicKey.encoded`) would hash
 * different bytes than the certificate carries: the same key would have two SPKI pins.
 */
export function spkiIsDer(spki: Uint8Array): boolean {
  try {
    const outer = readDerElement(spki);
    if (outer.tag !== 0x30 || outer.next !== spki.length) return false;
    const [algorithmEl, keyBits, extra] = readDerChildren(spki, outer, 3);
    if (!algorithmEl || algorithmEl.tag !== 0x30 || !keyBits || keyBits.tag !== 0x03 || extra) return false;
    // RSA-PSS parameters nest five deep (AlgorithmIdentifier, params, [1] mask generation, MGF1, its hash); the
    // bound is on hostile nesting, the 64 children per level and the key's size bound the rest.
    if (!constructedIsDer(spki, algorithmEl, 16)) return false;
    const [oidEl] = readDerChildren(spki, algorithmEl, 3);
    if (!oidEl || oidEl.tag !== 0x06) return false;
    const oid = decodeOidStrict(spki, oidEl);
    if (oid !== '1.2.840.113549.1.1.1' && oid !== RSA_PSS) return true;
    if (keyBits.end - keyBits.start < 2 || spki[keyBits.start] !== 0) return false;
    const rsaKey = readDerElement(spki, keyBits.start + 1, keyBits.end);
    if (rsaKey.tag !== 0x30 || rsaKey.next !== keyBits.end) return false;
    const integers = readDerChildren(spki, rsaKey, 3);
    return integers.length === 2 && integers.every((el) => el.tag === 0x02 && integerIsMinimal(spki, el));
  } catch {
    return false;
  }
}

function constructedIsDer(der: Uint8Array, element: DerElement, depth: number): boolean {
  if (depth === 0) return false;
  return readDerChildren(der, element, 64).every((child) => (child.tag & 0x20) === 0 || constructedIsDer(der, child, depth - 1));
}

function integerIsMinimal(der: Uint8Array, el: DerElement): boolean {
  if (el.end === el.start) return false;
  if (el.end - el.start === 1) return true;
  const [first, second] = [der[el.start]!, der[el.start + 1]!];
  return !((first === 0x00 && second < 0x80) || (first === 0xff && second >= 0x80));
}

/** The bit length of the non-negative DER INTEGER whose content is `der[start, end)`. */
function integerBits(der: Uint8Array, start: number, end: number): number {
  while (start < end && der[start] === 0) start++;
  return start < end ? (end - start - 1) * 8 + (32 - Math.clz32(der[start]!)) : 0;
}

/** OpenSSL's RSA security bits at the sizes that decide a security level, rounded down in between. */
function rsaSecurityBits(bits: number): number {
  if (bits >= 15360) return 256;
  if (bits >= 7680) return 192;
  if (bits >= 3072) return 128;
  if (bits >= 2048) return 112;
  if (bits >= 1024) return 80;
  return 0;
}
