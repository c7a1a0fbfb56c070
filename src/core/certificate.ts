/**
 * Certificates: reading them from PEM, DER and bundles, computing their pins and fingerprints, and describing them.
 * Pins are computed exactly as openssl, OkHttp, TrustKit and HPKP do: SHA-256 over the DER SubjectPublicKeyInfo.
 * (Node's docs hash `cert.pubkey`, which for EC keys is the raw curve point, not the SPKI: a different, incompatible
 * pin. certpin never does that.)
 * @module
 */
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CertificateParseError } from '../errors.js';
import { readDerChildren, readDerElement } from './der.js';
import { spkiIsDer } from './x509/algorithms.js';

/** Anything that holds one certificate: a PEM string or buffer, a DER buffer, or a parsed `X509Certificate`. */
export type CertificateInput = string | Uint8Array | X509Certificate;

/** Digest algorithms certpin knows for pins and fingerprints. SHA-1 is accepted for legacy input only. */
export type DigestAlgorithm = 'sha256' | 'sha1';

/** How a fingerprint is written: `AA:BB:…` (openssl), `aabb…` (plain hex), or base64. */
export type FingerprintFormat = 'colon' | 'hex' | 'base64';

const CERTIFICATE_LABELS = new Set(['CERTIFICATE', 'TRUSTED CERTIFICATE', 'X509 CERTIFICATE']);
const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';

/** One PEM block: its label and base64 body, as found in the text. */
interface PemBlock {
  readonly label: string;
  readonly body: string;
}

/**
 * The PEM blocks of a text, in one pass: each BEGIN line is paired with the next END line, so the work is linear in
 * the input whatever it holds (a regular expression with a back-reference is quadratic on unterminated blocks).
 * @throws {CertificateParseError} for a block whose END line names another label, or that never ends.
 */
function pemBlocks(text: string, what: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (let at = text.indexOf(BEGIN); at !== -1; at = text.indexOf(BEGIN, at)) {
    const labelStart = at + BEGIN.length;
    const labelEnd = text.indexOf(DASHES, labelStart);
    const endAt = text.indexOf(END, labelStart);
    if (labelEnd === -1 || endAt === -1 || labelEnd > endAt) {
      throw new CertificateParseError(what, `PEM block ${blocks.length + 1} is incomplete (no -----END line)`);
    }
    const label = text.slice(labelStart, labelEnd);
    const endLabelEnd = text.indexOf(DASHES, endAt + END.length);
    if (endLabelEnd === -1 || text.slice(endAt + END.length, endLabelEnd) !== label) {
      throw new CertificateParseError(what, `PEM block ${blocks.length + 1} begins as "${label.slice(0, 40)}" and ends as another label`);
    }
    blocks.push({ label, body: text.slice(labelEnd + DASHES.length, endAt) });
    at = endLabelEnd + DASHES.length;
  }
  return blocks;
}

/**
 * The DER of every certificate block of a PEM text, in order, without parsing it (strict base64), and the labels of
 * the other blocks.
 * @param labels the labels read as certificates (default: `CERTIFICATE`, `TRUSTED CERTIFICATE`, `X509 CERTIFICATE`).
 * @throws {CertificateParseError} for a block that is incomplete or whose base64 is not valid.
 */
export function pemCertificateDer(text: string, what: string, labels: ReadonlySet<string> = CERTIFICATE_LABELS): { ders: Buffer[]; otherLabels: string[] } {
  const ders: Buffer[] = [];
  const otherLabels: string[] = [];
  for (const block of pemBlocks(text, what)) {
    if (!labels.has(block.label)) {
      otherLabels.push(block.label);
      continue;
    }
    const body = block.body.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new CertificateParseError(what, `certificate block ${ders.length + 1} is not valid base64`);
    ders.push(Buffer.from(body, 'base64'));
  }
  return { ders, otherLabels };
}

/**
 * Reads every certificate in a PEM bundle, or the one certificate of a DER buffer. For files and user input; a
 * certificate served in a TLS handshake is DER, and is read with {@link certificateFromDer} (its bytes may contain
 * any text, `-----BEGIN` included).
 * @param what names the input in error messages, e.g. a file path.
 * @throws {CertificateParseError} when the input holds no certificate or a block does not parse.
 */
export function parseCertificates(input: string | Uint8Array, what = 'The input'): X509Certificate[] {
  const buffer = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buffer.length === 0) throw new CertificateParseError(what, 'it is empty');
  // DER starts with a SEQUENCE; PEM with text. Deciding on the first byte keeps a DER certificate whose names
  // contain "-----BEGIN" a DER certificate.
  const text = buffer[0] === 0x30 ? undefined : buffer.toString('latin1');
  if (text === undefined) {
    try {
      return [certificateFromDer(buffer, what, 1)];
    } catch (error) {
      // A text file may start with "0"; anything else that starts like DER and does not parse is bad DER.
      if (!buffer.includes(BEGIN)) throw error;
      return parseCertificates(buffer.toString('latin1').replace(/^0/, ' '), what);
    }
  }
  if (!text.includes(BEGIN)) {
    throw new CertificateParseError(what, 'it is neither PEM (no -----BEGIN CERTIFICATE----- line) nor DER (does not start with an ASN.1 SEQUENCE)');
  }
  const { ders, otherLabels: otherBlocks } = pemCertificateDer(text, what);
  const certificates = ders.map((der, i) => certificateFromDer(der, what, i + 1));
  if (certificates.length === 0) {
    const found = otherBlocks.length ? `it holds ${otherBlocks.map((l) => `a ${printable(l.slice(0, 40))}`).join(', ')} but no CERTIFICATE block` : 'its PEM block is incomplete';
    throw new CertificateParseError(what, `${found}. Give a PEM file with -----BEGIN CERTIFICATE----- blocks, or a DER (.cer/.crt) file.`);
  }
  return certificates;
}

/** A certificate's DER as PEM, whether or not it parses (reports show what was served, as it came). */
export function pemOfDer(der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${base64}${base64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/**
 * Reads one DER certificate.
 * @throws {CertificateParseError}
 */
export function certificateFromDer(der: Uint8Array, what = 'The certificate', index = 1): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (cause) {
    throw new CertificateParseError(what, `certificate ${index} does not parse (${(cause as Error).message})`, { cause });
  }
}

/**
 * The DER of every certificate in an input: a PEM bundle, DER, or an `X509Certificate`.
 * @throws {CertificateParseError} for anything else, `null` and plain objects included.
 */
export function certificateDer(input: CertificateInput, what = 'The certificate'): Buffer[] {
  if (input instanceof X509Certificate) return [input.raw];
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new CertificateParseError(what, `expected a PEM string, a DER Buffer or an X509Certificate, got ${input === null ? 'null' : typeof input}`);
  }
  return parseCertificates(input, what).map((c) => c.raw);
}

/**
 * Reads one certificate. A bundle with more than one certificate is refused, because which one is meant is ambiguous.
 * @throws {CertificateParseError}
 */
export function toCertificate(input: CertificateInput, what = 'The certificate'): X509Certificate {
  if (input instanceof X509Certificate) return input;
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new CertificateParseError(what, `expected a PEM string, a DER Buffer or an X509Certificate, got ${typeof input}`);
  }
  const certificates = parseCertificates(input, what);
  if (certificates.length !== 1) {
    throw new CertificateParseError(what, `it holds ${certificates.length} certificates where one was expected`);
  }
  return certificates[0]!;
}

/**
 * The DER SubjectPublicKeyInfo of a certificate: the bytes an SPKI pin hashes, exactly as the certificate encodes
 * them (read from its DER: re-exporting the key through OpenSSL gives the same bytes, at a hundred times the cost).
 */
export function spkiDer(certificate: CertificateInput): Buffer {
  const raw = toCertificate(certificate).raw;
  let bytes: Buffer | undefined;
  try {
    // TBSCertificate: [0] version (optional), serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo.
    const fields = readDerChildren(raw, readDerElement(raw, readDerElement(raw).start), 16);
    const index = fields[0]?.tag === 0xa0 ? 6 : 5;
    const spki = fields[index];
    if (spki?.tag === 0x30) bytes = Buffer.from(raw.subarray(fields[index - 1]!.next, spki.end));
  } catch {
    // Not DER on the way to the key: refused below like a key that is not DER itself.
  }
  if (!bytes) throw new CertificateParseError('The certificate', 'its subjectPublicKeyInfo could not be read as DER');
  if (!spkiIsDer(bytes)) {
    throw new CertificateParseError('The certificate', 'its public key is not DER-encoded, so tools disagree on its SPKI pin (OpenSSL and OkHttp re-encode it, certpin hashes the bytes sent) and certpin refuses it in the handshake; reissue it from a conforming CA');
  }
  return bytes;
}

/**
 * The SPKI pin of a certificate in the form OkHttp, TrustKit and HPKP use: `sha256/<base64>`.
 *
 * @example
 * ```ts
 * spkiPin(fs.readFileSync('server.pem', 'utf8')); // 'sha256/C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M='
 * ```
 */
export function spkiPin(certificate: CertificateInput, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}/${digestBase64(algorithm, spkiDer(certificate))}`;
}

/**
 * The SPKI pin (`sha256/<base64>`) of a key: the pin every certificate issued for this key will have, so it can be
 * added to a pin set before any certificate exists. Accepts a private or public `KeyObject`.
 * @example
 * ```ts
 * publicKeyPin(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey); // 'sha256/…'
 * ```
 */
export function publicKeyPin(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return `sha256/${digestBase64('sha256', publicKey.export({ type: 'spki', format: 'der' }))}`;
}

/** A digest in base64, the form SPKI pins and certpin's digest caches use. */
export function digestBase64(algorithm: DigestAlgorithm, data: Uint8Array): string {
  return createHash(algorithm).update(data).digest('base64');
}

/**
 * The fingerprint of the whole certificate (its DER), as `openssl x509 -fingerprint -sha256` prints it by default.
 *
 * @example
 * ```ts
 * certificateFingerprint(pem);                   // '9C:FA:…' (colon hex, upper case)
 * certificateFingerprint(pem, 'sha256', 'hex');  // '9cfa…'
 * certificateFingerprint(pem, 'sha1');           // legacy SHA-1, colon hex
 * ```
 */
export function certificateFingerprint(
  certificate: CertificateInput,
  algorithm: DigestAlgorithm = 'sha256',
  format: FingerprintFormat = 'colon',
): string {
  const digest = createHash(algorithm).update(toCertificate(certificate).raw).digest();
  return formatDigest(digest, format);
}

/** Writes a digest in one of the fingerprint formats. */
export function formatDigest(digest: Uint8Array, format: FingerprintFormat): string {
  const buffer = Buffer.from(digest);
  if (format === 'base64') return buffer.toString('base64');
  const hex = buffer.toString('hex');
  return format === 'hex' ? hex : hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

/** A certificate described for people and for JSON output. */
export interface CertificateDetails {
  readonly subject: string;
  readonly issuer: string;
  /** Subject alternative names as Node formats them, e.g. `['DNS:api.example.com', 'IP Address:127.0.0.1']`. */
  readonly subjectAltNames: readonly string[];
  readonly serialNumber: string;
  readonly validFrom: string;
  readonly validTo: string;
  /** Whole days from `now` to the end of validity; negative once expired. */
  readonly daysLeft: number;
  /** `RSA 2048`, `EC P-256`, `Ed25519`, … */
  readonly key: string;
  readonly isCA: boolean;
  readonly selfSigned: boolean;
  readonly spkiPin: string;
  readonly sha256: string;
  readonly sha256Hex: string;
  readonly sha1: string;
}

/** Describes a certificate: names, validity, key, and every pin and fingerprint form. */
export function describeCertificate(certificate: CertificateInput, now: Date = new Date()): CertificateDetails {
  const cert = toCertificate(certificate);
  const validTo = new Date(cert.validTo);
  return {
    subject: formatName(cert.subject),
    issuer: formatName(cert.issuer),
    subjectAltNames: cert.subjectAltName ? cert.subjectAltName.split(', ') : [],
    serialNumber: cert.serialNumber,
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - now.getTime()) / 86_400_000),
    key: describeKey(cert),
    isCA: cert.ca,
    selfSigned: cert.subject === cert.issuer && safeVerify(cert, cert),
    spkiPin: spkiPin(cert),
    sha256: certificateFingerprint(cert, 'sha256', 'colon'),
    sha256Hex: certificateFingerprint(cert, 'sha256', 'hex'),
    sha1: certificateFingerprint(cert, 'sha1', 'colon'),
  };
}

/**
 * Formats a distinguished name as Node gives it (`X509Certificate.subject` / `.issuer`: one RDN per line) the way
 * `openssl x509 -noout -subject` prints it by default (OpenSSL's `oneline` name option): the certificate's own RDN
 * order, `TYPE = value` joined by `, `, the parts of a multi-valued RDN by ` + `, a value in double quotes when it
 * holds `, + < > ;` or starts with `#` or a space or ends with one, `"` and `\` escaped with `\`, control characters
 * and every byte outside ASCII written `\XX` (UTF-8). The one difference left: a value that is not a string type
 * (rare) is shown as its text where openssl dumps its DER as `#…`.
 *
 * @example
 * ```ts
 * formatName('CN=api.example.com\nO=Example\\, Inc.'); // 'CN = api.example.com, O = "Example, Inc."'
 * ```
 */
export function formatName(name: string | undefined): string {
  // Node gives `undefined` for an empty name.
  if (!name) return '';
  let formatted = formattedNames.get(name);
  if (formatted === undefined) {
    formatted = name
      .split('\n')
      .filter(Boolean)
      .map((rdn) => splitNodeRdn(rdn).map(formatAttribute).join(' + '))
      .join(', ');
    // Issuers and roots repeat across chains: a small cache saves re-escaping them for every handshake shown.
    if (formattedNames.size >= 1024) formattedNames.delete(formattedNames.keys().next().value!);
    formattedNames.set(name, formatted);
  }
  return formatted;
}

const formattedNames = new Map<string, string>();

/** The attributes of one line of Node's name: `TYPE=value` parts joined by ` + ` outside escapes. */
function splitNodeRdn(line: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\') i++;
    else if (line.startsWith(' + ', i)) {
      parts.push(line.slice(start, i));
      start = i + 3;
      i += 2;
    }
  }
  parts.push(line.slice(start));
  return parts;
}

/** `TYPE=value` in Node's escaping (RFC 2253 backslashes, `\XX` for control bytes) to openssl's `TYPE = value`. */
function formatAttribute(attribute: string): string {
  const eq = attribute.indexOf('=');
  if (eq === -1) return attribute;
  const text = attribute.slice(eq + 1);
  let raw = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      raw += String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (ch === '\\' && i + 1 < text.length) raw += text[++i]!;
    else raw += ch;
  }
  // Node decoded the value's UTF-8; openssl prints its bytes.
  return `${attribute.slice(0, eq)} = ${opensslValue(Buffer.byteLength(raw, 'utf8') === raw.length ? Array.from(raw, (c) => c.charCodeAt(0)) : [...Buffer.from(raw, 'utf8')])}`;
}

// OpenSSL's character classes for name printing (crypto/asn1/charmap.pl): escaped with a backslash anywhere, only
// first, only last; and "quoting is enough" (RFC 1779 style, which openssl's default output uses).
const ESCAPED = new Set([...',+"\\<>;'].map((c) => c.charCodeAt(0)));
const QUOTABLE = new Set([...' #,+<>;'].map((c) => c.charCodeAt(0)));

/** One value as OpenSSL's `oneline` option prints its UTF-8 bytes (a_strex.c, do_esc_char with ESC_QUOTE). */
function opensslValue(bytes: readonly number[]): string {
  let out = '';
  let quote = false;
  const hex = (b: number) => `\\${b.toString(16).toUpperCase().padStart(2, '0')}`;
  bytes.forEach((b, i) => {
    const last = i === bytes.length - 1;
    // OpenSSL marks the first character, then overwrites the mark when that character is also the last.
    const first = i === 0 && !last;
    const char = String.fromCharCode(b);
    if (b > 0x7e || b < 0x20) out += hex(b);
    else if (ESCAPED.has(b) || (first && (char === ' ' || char === '#')) || (last && char === ' ')) {
      if (QUOTABLE.has(b)) {
        quote = true;
        out += char;
      } else out += `\\${char}`;
    } else out += char;
  });
  return quote ? `"${out}"` : out;
}

const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** `RSA 2048`, `EC P-256`, `Ed25519`, … */
export function describeKey(cert: X509Certificate): string {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return `${key.asymmetricKeyType === 'rsa' ? 'RSA' : 'RSA-PSS'} ${details.modulusLength ?? '?'}`;
    case 'ec':
      return `EC ${CURVE_NAMES[details.namedCurve ?? ''] ?? details.namedCurve ?? '?'}`;
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    default:
      return String(key.asymmetricKeyType ?? 'unknown');
  }
}

function safeVerify(subject: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** A label from a file as text to print: as is when printable ASCII, else quoted (a terminal must not read escapes in it). */
function printable(label: string): string {
  return /^[ -~]*$/.test(label) ? label : JSON.stringify(label);
}
