/**
 * Pins: parsing every form people paste, and matching a pin against a certificate.
 *
 * Two kinds of pin exist and are never confused:
 * - a **public-key (SPKI) pin**, `sha256/<base64>` (OkHttp, TrustKit, HPKP's `pin-sha256="…"`): it survives a
 *   certificate renewal that keeps the key;
 * - a **certificate pin**, a fingerprint of the whole certificate in hex (`openssl x509 -fingerprint -sha256`,
 *   dio's `allowedSHAFingerprints`): it breaks at every renewal.
 * @module
 */
import { InvalidPinError } from '../errors.js';
import type { DigestAlgorithm } from './certificate.js';
import { digestBase64, formatDigest } from './certificate.js';

/** What a pin is a hash of. */
export type PinKind = 'spki' | 'certificate';

/** A parsed, normalised pin. Immutable. */
export interface Pin {
  readonly kind: PinKind;
  readonly algorithm: DigestAlgorithm;
  /** The digest bytes, as base64 (compared as strings: digests are public, no timing concern). */
  readonly digest: string;
  /** True for SHA-1 pins: accepted, but a warning is due. */
  readonly legacy: boolean;
  /** Canonical text: `sha256/<base64>` for SPKI pins, `SHA256:AA:BB:…` for certificate fingerprints. */
  readonly canonical: string;
  /** The text the pin was parsed from. */
  readonly input: string;
}

const DIGEST_LENGTH: Record<DigestAlgorithm, number> = { sha256: 32, sha1: 20 };
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses a pin in any supported form:
 * - `sha256/<base64>` and `sha1/<base64>`: SPKI pins (OkHttp, TrustKit);
 * - `pin-sha256="<base64>"`: the HPKP header form, an SPKI pin;
 * - `SHA256 Fingerprint=AA:BB:…` / `sha1 Fingerprint=…`: openssl's output, a certificate pin;
 * - `SHA256:AA:BB:…`: certpin's canonical certificate pin;
 * - 64 (SHA-256) or 40 (SHA-1) hex digits, with or without colons or spaces, any case: a certificate pin.
 *
 * @throws {InvalidPinError} naming the input and the accepted forms.
 * @example
 * ```ts
 * parsePin('sha256/C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=').kind;  // 'spki'
 * parsePin('SHA256 Fingerprint=96:BC:…').kind;                             // 'certificate'
 * ```
 */
export function parsePin(input: string): Pin {
  if (typeof input !== 'string') throw new InvalidPinError(String(input), `expected a string, got ${typeof input}`);
  const text = input.trim();
  if (text === '') throw new InvalidPinError(input, 'it is empty');

  const spki = /^(sha256|sha1)\/([\s\S]*)$/i.exec(text) ?? /^pin-(sha256)\s*=\s*"?([^"]*)"?$/i.exec(text);
  if (spki) {
    const algorithm = spki[1]!.toLowerCase() as DigestAlgorithm;
    return makePin(input, 'spki', algorithm, decodeBase64(input, spki[2]!, algorithm));
  }

  const openssl = /^(sha256|sha-256|sha1|sha-1)\s*(?:fingerprint\s*=|:)\s*(.*)$/i.exec(text);
  if (openssl) {
    const algorithm = openssl[1]!.toLowerCase().replace('-', '') as DigestAlgorithm;
    return makePin(input, 'certificate', algorithm, decodeHex(input, openssl[2]!, algorithm));
  }

  const hex = text.replace(/[:\s]/g, '');
  if (/^[0-9a-f]+$/i.test(hex)) {
    const algorithm: DigestAlgorithm | undefined = hex.length === 64 ? 'sha256' : hex.length === 40 ? 'sha1' : undefined;
    if (hex.length % 2) throw new InvalidPinError(input, 'it has an odd number of hex digits');
    if (!algorithm) throw new InvalidPinError(input, `it has ${hex.length / 2} bytes of hex; a SHA-256 fingerprint has 32, a SHA-1 fingerprint 20`);
    return makePin(input, 'certificate', algorithm, decodeHex(input, text, algorithm));
  }
  if (BASE64.test(text) && Buffer.from(text, 'base64').length === 32) {
    throw new InvalidPinError(input, 'it looks like a bare base64 SPKI hash; write it as "sha256/' + text + '"');
  }
  throw new InvalidPinError(input, 'it matches none of the accepted forms');
}

function decodeBase64(input: string, body: string, algorithm: DigestAlgorithm): Buffer {
  const value = body.trim();
  if (!BASE64.test(value) || value.length % 4 !== 0) throw new InvalidPinError(input, 'the part after the slash is not valid base64');
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== DIGEST_LENGTH[algorithm]) {
    throw new InvalidPinError(input, `a ${algorithm} digest has ${DIGEST_LENGTH[algorithm]} bytes, this one decodes to ${bytes.length}`);
  }
  // The last character of a 32- or 20-byte digest carries bits beyond the digest; a decoder ignores them, so two
  // texts would name one pin. Only the text a digest encodes to is a pin (a copying error shows here, not later).
  const canonical = bytes.toString('base64');
  if (canonical !== value) throw new InvalidPinError(input, `its last base64 character sets bits no ${algorithm} digest has; the digest it decodes to is written "${algorithm}/${canonical}"`);
  return bytes;
}

function decodeHex(input: string, body: string, algorithm: DigestAlgorithm): Buffer {
  const value = body.trim();
  const colonOrPlain = /^([0-9a-f]{2})([:\s]?[0-9a-f]{2})*$/i.test(value);
  const hex = value.replace(/[:\s]/g, '');
  if (!colonOrPlain || !/^[0-9a-f]*$/i.test(hex)) throw new InvalidPinError(input, 'the fingerprint is not hex digits in pairs');
  if (hex.length !== DIGEST_LENGTH[algorithm] * 2) {
    throw new InvalidPinError(input, `a ${algorithm} fingerprint has ${DIGEST_LENGTH[algorithm]} bytes, this one has ${hex.length / 2}`);
  }
  return Buffer.from(hex, 'hex');
}

function makePin(input: string, kind: PinKind, algorithm: DigestAlgorithm, digest: Buffer): Pin {
  const canonical = kind === 'spki' ? `${algorithm}/${digest.toString('base64')}` : `${algorithm.toUpperCase()}:${formatDigest(digest, 'colon')}`;
  return Object.freeze({ kind, algorithm, digest: digest.toString('base64'), legacy: algorithm === 'sha1', canonical, input });
}

/** The digests of one certificate that pins are compared with. Computed once per certificate and cached. */
export interface CertificateDigests {
  readonly spkiSha256: string;
  readonly spkiSha1: string;
  readonly certSha256: string;
  readonly certSha1: string;
}

/** Computes the four digests of a certificate (base64), from its DER and its SPKI DER. */
export function certificateDigests(certificateDer: Uint8Array, spki: Uint8Array): CertificateDigests {
  return {
    spkiSha256: digestBase64('sha256', spki),
    spkiSha1: digestBase64('sha1', spki),
    certSha256: digestBase64('sha256', certificateDer),
    certSha1: digestBase64('sha1', certificateDer),
  };
}

/** Whether a pin matches a certificate with these digests. */
export function pinMatches(pin: Pin, digests: CertificateDigests): boolean {
  if (pin.kind === 'spki') return pin.digest === (pin.algorithm === 'sha256' ? digests.spkiSha256 : digests.spkiSha1);
  return pin.digest === (pin.algorithm === 'sha256' ? digests.certSha256 : digests.certSha1);
}
