/**
 * One parse of a certificate's DER into the facts path validation needs. The parse is strict (DER lengths, times,
 * names, extensions) and bounded (sizes and counts), and it never throws on hostile input: the result says
 * `ok: false` with a reason instead.
 * @module
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { DerError, decodeOidStrict, readDerChildren, readDerElement } from '../der.js';
import { keyInfo, parseAlgorithmIdentifier, signatureScheme, spkiIsDer } from './algorithms.js';
import type { AlgorithmIdentifier, KeyInfo, SignatureScheme } from './algorithms.js';
import { decodeExtensions } from './extensions.js';
import type { DecodedExtensions, Extension } from './extensions.js';
import { parseName } from './name.js';
import type { DistinguishedName } from './name.js';
import { parseTime } from './time.js';

/** Certificates larger than this are refused unread (a TLS certificate message is at most 16 MiB, real ones ~2 KiB). */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;
const MAX_EXTENSIONS = 64;

/** The facts of one certificate, computed once. Immutable. Its extensions' meaning is {@link DecodedExtensions}. */
export interface CertificateFacts extends DecodedExtensions {
  /** The certificate's DER. */
  readonly der: Uint8Array;
  /** SHA-256 of the DER, lower-case hex: the certificate's identity in every cache. */
  readonly sha256: string;
  /** 1, 2 or 3. */
  readonly version: number;
  /** The serial number's contents (two's complement). */
  readonly serial: Uint8Array;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  /** Validity, milliseconds since the epoch (whole seconds, as the certificate encodes them). */
  readonly notBefore: number;
  readonly notAfter: number;
  /** The DER subjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  readonly key: KeyInfo;
  /** The TBSCertificate's DER (what the issuer signed). */
  readonly tbs: Uint8Array;
  /** The signature algorithm inside the TBSCertificate. */
  readonly signatureAlgorithm: AlgorithmIdentifier;
  readonly signatureScheme: SignatureScheme;
  /** Whether the outer signatureAlgorithm equals the TBSCertificate's, byte for byte (OpenSSL refuses otherwise). */
  readonly signatureAlgorithmsMatch: boolean;
  readonly signature: Uint8Array;
  readonly extensions: readonly Extension[];
  /** Subject and issuer are the same name (canonically). */
  readonly selfIssued: boolean;
  /** OpenSSL's "self-signed" (EXFLAG_SS): self-issued, its AKID matches itself, its signature algorithm its key. */
  readonly selfSigned: boolean;
  /**
   * The public key, made on first use (certificates that are never an issuer never pay for it): the key OpenSSL
   * decodes as it reads the certificate (see {@link CertificateFacts.x509}), the one its own `X509_verify` uses.
   */
  publicKey(): KeyObject;
  /** Node's X509Certificate for this DER, made on first use. */
  x509(): X509Certificate;
}

/** Why a certificate could not be read at all. */
export interface CertificateReadFailure {
  readonly ok: false;
  readonly code: 'malformed' | 'too-large';
  readonly reason: string;
}

/** The result of reading a certificate. */
export type CertificateReadResult = { readonly ok: true; readonly facts: CertificateFacts } | CertificateReadFailure;

/**
 * Reads a certificate's facts from its DER. Never throws.
 * @param sha256 the DER's SHA-256 in lower-case hex, when the caller already has it (it is trusted, not checked).
 * @param parsed Node's `X509Certificate` of the same DER, when the caller already has one (a trust store's anchors):
 *   the facts' `x509()` and `publicKey()` then come from it, and the certificate is not read by OpenSSL again. It is
 *   trusted to be of `der`, not checked.
 * @example
 * ```ts
 * const read = readCertificate(der);
 * if (read.ok) console.log(read.facts.subject.attributes);
 * ```
 */
export function readCertificate(der: Uint8Array, sha256?: string, parsed?: X509Certificate): CertificateReadResult {
  if (!(der instanceof Uint8Array)) return { ok: false, code: 'malformed', reason: 'not bytes' };
  if (der.length > MAX_CERTIFICATE_BYTES) return { ok: false, code: 'too-large', reason: `larger than ${MAX_CERTIFICATE_BYTES} bytes` };
  try {
    return { ok: true, facts: parse(der, sha256, parsed) };
  } catch (error) {
    if (error instanceof DerError) return { ok: false, code: 'malformed', reason: error.message };
    return { ok: false, code: 'malformed', reason: error instanceof Error ? error.message : 'unreadable' };
  }
}

/**
 * The subject Name of a certificate's DER (tag and length included), found without reading the rest; undefined when
 * the bytes do not lead to one. Only a hint for indexing: the certificate is read in full before it is used.
 */
export function subjectNameDer(der: Uint8Array): Uint8Array | undefined {
  try {
    const outer = readDerElement(der);
    const tbs = readDerElement(der, outer.start, outer.end);
    let offset = tbs.start;
    let field = readDerElement(der, offset, tbs.end);
    // version (optional), serialNumber, signature, issuer, validity, then subject.
    for (let skip = field.tag === 0xa0 ? 5 : 4; skip > 0; skip--) {
      offset = field.next;
      field = readDerElement(der, offset, tbs.end);
    }
    return der.subarray(offset, field.end);
  } catch {
    return undefined;
  }
}

function parse(input: Uint8Array, sha256: string | undefined, parsed: X509Certificate | undefined): CertificateFacts {
  // A copy, so that the caller reusing its buffer cannot change facts already read (a plain copy, not from()'s iteration).
  const der = new Uint8Array(input);
  const outer = readDerElement(der);
  if (outer.tag !== 0x30 || outer.next !== der.length) throw new DerError('not a single DER SEQUENCE');
  const parts = readDerChildren(der, outer, 4);
  if (parts.length !== 3) throw new DerError('a certificate has three parts');
  const [tbsEl, outerAlgEl, signatureEl] = parts as [typeof outer, typeof outer, typeof outer];
  if (tbsEl.tag !== 0x30) throw new DerError('TBSCertificate must be a SEQUENCE');
  const outerAlgorithm = parseAlgorithmIdentifier(der, outerAlgEl, tbsEl.next);
  if (signatureEl.tag !== 0x03 || signatureEl.end <= signatureEl.start || der[signatureEl.start] !== 0) {
    throw new DerError('the signature must be a BIT STRING without unused bits');
  }
  const fields = readDerChildren(der, tbsEl, 12);
  let i = 0;
  let version = 1;
  if (fields[0]?.tag === 0xa0) {
    const v = readDerElement(der, fields[0].start, fields[0].end);
    if (v.tag !== 0x02 || v.end - v.start !== 1 || v.next !== fields[0].end) throw new DerError('bad version');
    version = der[v.start]! + 1;
    if (version > 3) throw new DerError('unsupported version');
    i = 1;
  }
  const headerOf = (index: number): number => (index === 0 ? tbsEl.start : fields[index - 1]!.next);
  const field = (index: number) => {
    const f = fields[index];
    if (!f) throw new DerError('TBSCertificate is truncated');
    return f;
  };
  const serialEl = field(i);
  if (serialEl.tag !== 0x02 || serialEl.end <= serialEl.start) throw new DerError('bad serial number');
  const serial = der.subarray(serialEl.start, serialEl.end);
  // OpenSSL treats a negative serial number as an invalid certificate.
  if (serial[0]! & 0x80) throw new DerError('negative serial number');
  const signatureAlgorithm = parseAlgorithmIdentifier(der, field(i + 1), headerOf(i + 1));
  const issuer = parseName(der, field(i + 2), headerOf(i + 2));
  const validity = field(i + 3);
  if (validity.tag !== 0x30) throw new DerError('Validity must be a SEQUENCE');
  const times = readDerChildren(der, validity, 3);
  if (times.length !== 2) throw new DerError('Validity has two times');
  const notBefore = parseTime(der, times[0]!) * 1000;
  const notAfter = parseTime(der, times[1]!) * 1000;
  const subject = parseName(der, field(i + 4), headerOf(i + 4));
  const spkiEl = field(i + 5);
  if (spkiEl.tag !== 0x30) throw new DerError('subjectPublicKeyInfo must be a SEQUENCE');
  const spki = der.subarray(headerOf(i + 5), spkiEl.end);
  let extensions: Extension[] = [];
  let lastTag = 0;
  for (const optional of fields.slice(i + 6)) {
    const order = optional.tag === 0x81 ? 1 : optional.tag === 0xa2 || optional.tag === 0x82 ? 2 : optional.tag === 0xa3 ? 3 : -1;
    if (order <= lastTag) throw new DerError('unexpected field in TBSCertificate');
    lastTag = order;
    if (order < 3 && version < 2) throw new DerError('unique identifiers in a v1 certificate');
    if (order === 3) {
      if (version !== 3) throw new DerError('extensions in a certificate that is not v3');
      extensions = readExtensions(der, optional);
    }
  }
  const decoded = decodeExtensions(extensions);
  const scheme = signatureScheme(signatureAlgorithm);
  const key = keyInfo(spki);
  const selfIssued = subject.key === issuer.key;
  const invalid = [...decoded.invalid];
  if (!spkiIsDer(spki)) invalid.push('its subjectPublicKeyInfo is not DER, so its SPKI pin is ambiguous');
  const x509 = parsed ? () => parsed : lazy(() => new X509Certificate(der));
  const facts = {
    der,
    sha256: sha256 ?? createHash('sha256').update(der).digest('hex'),
    version,
    serial,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki,
    key,
    tbs: der.subarray(outer.start, tbsEl.end),
    signatureAlgorithm,
    signatureScheme: scheme,
    signatureAlgorithmsMatch: bytesEqual(signatureAlgorithm.der, outerAlgorithm.der),
    signature: der.subarray(signatureEl.start + 1, signatureEl.end),
    extensions,
    ...decoded,
    invalid,
    selfIssued,
    selfSigned: false,
    // The key from Node's reading of the whole certificate rather than `createPublicKey` on the SPKI: inside a
    // handshake that is 0.09 against 0.21 ms on Node 24, the same on 20, 0.11 against 0.10 ms on 22.
    publicKey: lazy(() => x509().publicKey),
    x509,
  };
  facts.selfSigned = selfIssued && invalid.length === 0 && authorityKeyIdMatches(facts, facts) && signatureAlgorithmFits(facts, facts);
  return Object.freeze(facts);
}

function readExtensions(der: Uint8Array, wrapper: { start: number; end: number; tag: number; next: number }): Extension[] {
  const list = readDerElement(der, wrapper.start, wrapper.end);
  if (list.tag !== 0x30 || list.next !== wrapper.end) throw new DerError('Extensions must be a SEQUENCE');
  return readDerChildren(der, list, MAX_EXTENSIONS).map((ext) => {
    if (ext.tag !== 0x30) throw new DerError('an Extension must be a SEQUENCE');
    const parts = readDerChildren(der, ext, 4);
    if (parts.length < 2 || parts.length > 3) throw new DerError('malformed Extension');
    const oid = decodeOidStrict(der, parts[0]!);
    let critical = false;
    if (parts.length === 3) {
      const flag = parts[1]!;
      if (flag.tag !== 0x01 || flag.end - flag.start !== 1) throw new DerError('bad critical flag');
      critical = der[flag.start] !== 0;
    }
    const value = parts[parts.length - 1]!;
    if (value.tag !== 0x04) throw new DerError('extnValue must be an OCTET STRING');
    return { oid, critical, value: der.subarray(value.start, value.end) };
  });
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/** Whether two byte arrays are equal. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * OpenSSL's X509_check_akid: the subject's authorityKeyIdentifier, where present, agrees with the issuer (key id with
 * the issuer's subjectKeyIdentifier when both exist, serial with the issuer's serial, first directoryName with the
 * issuer's issuer name).
 */
export function authorityKeyIdMatches(issuer: CertificateFacts, subject: CertificateFacts): boolean {
  const akid = subject.authorityKeyId;
  if (!akid) return true;
  if (!keyIdentifiersAgree(akid.keyIdentifier, issuer.subjectKeyId)) return false;
  if (akid.serial && !bytesEqual(akid.serial, issuer.serial)) return false;
  const directory = akid.authorityCertIssuer?.find((n) => n.type === 'directoryName');
  if (directory && directory.type === 'directoryName' && directory.name.key !== issuer.issuer.key) return false;
  return true;
}

/**
 * Whether an authority key identifier and an issuer's subject key identifier agree (X509_check_akid): only two
 * that are both present and differ rule the issuer out.
 */
export function keyIdentifiersAgree(authorityKeyId: Uint8Array | undefined, subjectKeyId: Uint8Array | undefined): boolean {
  return !authorityKeyId || !subjectKeyId || bytesEqual(authorityKeyId, subjectKeyId);
}

/** OpenSSL's check_sig_alg_match: the subject's signature algorithm is one the issuer's key makes. */
export function signatureAlgorithmFits(issuer: CertificateFacts, subject: CertificateFacts): boolean {
  const needed = subject.signatureScheme.keyFamily;
  const family = issuer.key.family;
  if (needed === 'unknown' || family === 'unknown') return false;
  return needed === family || (needed === 'rsa-pss' && family === 'rsa');
}
