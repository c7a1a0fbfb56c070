/**
 * The certificate extensions path validation reads, decoded the way OpenSSL's `ossl_x509v3_cache_extensions` decodes
 * them. A decoding failure makes the certificate invalid (OpenSSL's EXFLAG_INVALID: it then issues nothing and is
 * issued by nothing), so every failure here is reported, never ignored.
 * @module
 */
import { DerError, decodeOidStrict, readDerChildren, readDerElement } from '../der.js';
import type { DerElement } from '../der.js';
import { parseGeneralName, parseGeneralNames } from './general-name.js';
import type { GeneralName } from './general-name.js';

/** Extension OIDs by name. */
export const EXTENSION = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  authorityKeyIdentifier: '2.5.29.35',
  policyConstraints: '2.5.29.36',
  extKeyUsage: '2.5.29.37',
  inhibitAnyPolicy: '2.5.29.54',
  netscapeCertType: '2.16.840.1.113730.1.1',
  proxyCertInfo: '1.3.6.1.5.5.7.1.14',
  ipAddrBlocks: '1.3.6.1.5.5.7.1.7',
  autonomousSysIds: '1.3.6.1.5.5.7.1.8',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
} as const;

/**
 * Critical extensions OpenSSL handles (X509_supported_extension, the same list in 3.0 and 3.5, measured with
 * handshakes on Node 20, 22 and 24); any other critical extension fails the certificate.
 */
export const SUPPORTED_CRITICAL = new Set<string>([
  EXTENSION.netscapeCertType,
  EXTENSION.keyUsage,
  EXTENSION.subjectAltName,
  EXTENSION.basicConstraints,
  EXTENSION.certificatePolicies,
  EXTENSION.crlDistributionPoints,
  EXTENSION.extKeyUsage,
  EXTENSION.ipAddrBlocks,
  EXTENSION.autonomousSysIds,
  EXTENSION.ocspNoCheck,
  EXTENSION.policyConstraints,
  EXTENSION.proxyCertInfo,
  EXTENSION.nameConstraints,
  EXTENSION.policyMappings,
  EXTENSION.inhibitAnyPolicy,
]);

/** OpenSSL's keyUsage bit values (ex_kusage: first byte, then second byte shifted left by 8). */
export const KEY_USAGE = {
  digitalSignature: 0x0080,
  nonRepudiation: 0x0040,
  keyEncipherment: 0x0020,
  dataEncipherment: 0x0010,
  keyAgreement: 0x0008,
  keyCertSign: 0x0004,
  cRLSign: 0x0002,
  encipherOnly: 0x0001,
  decipherOnly: 0x8000,
} as const;

/** Extended key usage OIDs that matter to a TLS server certificate. */
export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  any: '2.5.29.37.0',
  netscapeSgc: '2.16.840.1.113730.4.1',
  microsoftSgc: '1.3.6.1.4.1.311.10.3.3',
} as const;

/** One extension as the certificate lists it. */
export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  /** The extnValue contents (the DER of the extension's own value). */
  readonly value: Uint8Array;
}

/** basicConstraints. */
export interface BasicConstraints {
  readonly ca: boolean;
  /** `undefined` when absent; `Infinity` when too large for OpenSSL to read (it then treats it as absent). */
  readonly pathLength: number | undefined;
}

/** One GeneralSubtree of nameConstraints. */
export interface GeneralSubtree {
  readonly base: GeneralName;
  /** `minimum` (default 0) and `maximum`, as encoded (two's complement contents); RFC 5280 allows only 0 and none. */
  readonly minimum: Uint8Array | undefined;
  readonly maximum: Uint8Array | undefined;
  /** OpenSSL refuses a subtree with a minimum other than 0 or any maximum, when it is used. */
  readonly minMaxValid: boolean;
}

/** nameConstraints. */
export interface NameConstraints {
  readonly permitted: readonly GeneralSubtree[];
  readonly excluded: readonly GeneralSubtree[];
  /**
   * A permitted or excluded list is present and empty. RFC 5280 requires at least one subtree; OpenSSL reads an empty
   * list as no constraint, "nothing permitted" is another reading, and the path validator refuses such a CA on a path
   * (the reading that never widens what is trusted). On a leaf, whose name constraints nothing applies, it is ignored.
   */
  readonly emptyList: boolean;
}

/** authorityKeyIdentifier. */
export interface AuthorityKeyIdentifier {
  readonly keyIdentifier: Uint8Array | undefined;
  readonly authorityCertIssuer: readonly GeneralName[] | undefined;
  /** The authorityCertSerialNumber's contents (two's complement, as encoded). */
  readonly serial: Uint8Array | undefined;
}

/** Everything decoded from the extensions, plus what makes the certificate invalid or unusable. */
export interface DecodedExtensions {
  readonly basicConstraints: BasicConstraints | undefined;
  /** OpenSSL's keyUsage bits (see KEY_USAGE), `undefined` when absent. */
  readonly keyUsage: number | undefined;
  readonly extKeyUsage: readonly string[] | undefined;
  readonly netscapeCertType: number | undefined;
  readonly subjectKeyId: Uint8Array | undefined;
  readonly authorityKeyId: AuthorityKeyIdentifier | undefined;
  readonly subjectAltNames: readonly GeneralName[] | undefined;
  readonly nameConstraints: NameConstraints | undefined;
  /** A proxy certificate (proxyCertInfo): refused, as OpenSSL does without X509_V_FLAG_ALLOW_PROXY_CERTS. */
  readonly proxy: boolean;
  /** Critical extensions OpenSSL does not handle: the certificate fails on any path. */
  readonly unhandledCritical: readonly string[];
  /** Why the certificate is invalid (OpenSSL's EXFLAG_INVALID and certpin's stricter reasons); empty when valid. */
  readonly invalid: readonly string[];
}

/**
 * The extension's value: its first element. Bytes after it are ignored, as OpenSSL's X509V3_EXT_d2i ignores them
 * (it decodes from the start of the OCTET STRING and never checks that the whole of it was used): refusing them would
 * refuse chains OpenSSL accepts, with no difference in what the extension says.
 */
function single(buf: Uint8Array): DerElement {
  return readDerElement(buf);
}

function bitString(buf: Uint8Array, el: DerElement): Uint8Array {
  if (el.tag !== 0x03 || el.end <= el.start) throw new DerError('expected a BIT STRING');
  const unused = buf[el.start]!;
  if (unused > 7 || (unused > 0 && el.end - el.start === 1)) throw new DerError('bad BIT STRING padding');
  const bytes = Uint8Array.from(buf.subarray(el.start + 1, el.end));
  if (unused && bytes.length) bytes[bytes.length - 1]! &= (0xff << unused) & 0xff;
  return bytes;
}

function integerBytes(buf: Uint8Array, el: DerElement): Uint8Array {
  if (el.end <= el.start) throw new DerError('empty INTEGER');
  if (el.end - el.start > 1 && ((buf[el.start] === 0 && !(buf[el.start + 1]! & 0x80)) || (buf[el.start] === 0xff && buf[el.start + 1]! & 0x80))) {
    throw new DerError('non-minimal INTEGER');
  }
  return buf.subarray(el.start, el.end);
}

function decodeBasicConstraints(value: Uint8Array): BasicConstraints {
  const seq = single(value);
  if (seq.tag !== 0x30) throw new DerError('basicConstraints must be a SEQUENCE');
  let ca = false;
  let pathLength: number | undefined;
  const fields = readDerChildren(value, seq, 3);
  let i = 0;
  if (fields[i]?.tag === 0x01) {
    if (fields[i]!.end - fields[i]!.start !== 1) throw new DerError('bad BOOLEAN');
    ca = value[fields[i]!.start] !== 0;
    i++;
  }
  if (fields[i]?.tag === 0x02) {
    const bytes = integerBytes(value, fields[i]!);
    if (bytes[0]! & 0x80) throw new DerError('negative pathLenConstraint');
    pathLength = 0;
    for (const b of bytes) pathLength = pathLength * 256 + b;
    if (bytes.length > 7) pathLength = Infinity;
    i++;
  }
  if (i !== fields.length) throw new DerError('unexpected field in basicConstraints');
  return { ca, pathLength };
}

function decodeKeyUsage(value: Uint8Array): number {
  const bits = bitString(value, single(value));
  const usage = (bits[0] ?? 0) | ((bits[1] ?? 0) << 8);
  if (usage === 0) throw new DerError('empty keyUsage');
  return usage;
}

function decodeExtKeyUsage(value: Uint8Array): string[] {
  const seq = single(value);
  if (seq.tag !== 0x30) throw new DerError('extKeyUsage must be a SEQUENCE');
  return readDerChildren(value, seq, 256).map((el) => decodeOidStrict(value, el));
}

function decodeAuthorityKeyId(value: Uint8Array): AuthorityKeyIdentifier {
  const seq = single(value);
  if (seq.tag !== 0x30) throw new DerError('authorityKeyIdentifier must be a SEQUENCE');
  let keyIdentifier: Uint8Array | undefined;
  let authorityCertIssuer: GeneralName[] | undefined;
  let serial: Uint8Array | undefined;
  let last = -1;
  for (const field of readDerChildren(value, seq, 3)) {
    // As for GeneralName strings: OpenSSL joins the parts of a constructed keyIdentifier; DER has none.
    if (field.tag === 0xa0) throw new DerError('a keyIdentifier in constructed (BER) form, which DER forbids');
    const order = field.tag === 0x80 ? 0 : field.tag === 0xa1 ? 1 : field.tag === 0x82 ? 2 : -1;
    if (order <= last) throw new DerError('unexpected field in authorityKeyIdentifier');
    last = order;
    if (order === 0) keyIdentifier = value.subarray(field.start, field.end);
    else if (order === 1) authorityCertIssuer = parseGeneralNames(value, { ...field, tag: 0x30 });
    else serial = integerBytes(value, field);
  }
  return { keyIdentifier, authorityCertIssuer, serial };
}

function decodeSubtrees(buf: Uint8Array, el: DerElement): GeneralSubtree[] {
  return readDerChildren(buf, el, 1024).map((subtree) => {
    if (subtree.tag !== 0x30) throw new DerError('a GeneralSubtree must be a SEQUENCE');
    const fields = readDerChildren(buf, subtree, 3);
    if (fields.length === 0) throw new DerError('a GeneralSubtree needs a base');
    const base = parseGeneralName(buf, fields[0]!);
    let minimum: Uint8Array | undefined;
    let maximum: Uint8Array | undefined;
    let last = 0;
    for (const field of fields.slice(1)) {
      const order = field.tag === 0x80 ? 1 : field.tag === 0x81 ? 2 : -1;
      if (order <= last) throw new DerError('unexpected field in a GeneralSubtree');
      last = order;
      if (order === 1) minimum = integerBytes(buf, field);
      else maximum = integerBytes(buf, field);
    }
    const minMaxValid = maximum === undefined && (minimum === undefined || minimum.every((b) => b === 0));
    return { base, minimum, maximum, minMaxValid };
  });
}

function decodeNameConstraints(value: Uint8Array): NameConstraints {
  const seq = single(value);
  if (seq.tag !== 0x30) throw new DerError('nameConstraints must be a SEQUENCE');
  let permitted: GeneralSubtree[] = [];
  let excluded: GeneralSubtree[] = [];
  let emptyList = false;
  let last = -1;
  for (const field of readDerChildren(value, seq, 2)) {
    const order = field.tag === 0xa0 ? 0 : field.tag === 0xa1 ? 1 : -1;
    if (order <= last) throw new DerError('unexpected field in nameConstraints');
    last = order;
    const subtrees = decodeSubtrees(value, field);
    if (subtrees.length === 0) emptyList = true;
    if (order === 0) permitted = subtrees;
    else excluded = subtrees;
  }
  return { permitted, excluded, emptyList };
}

function decodeCrlDistributionPoints(value: Uint8Array): void {
  const seq = single(value);
  if (seq.tag !== 0x30) throw new DerError('cRLDistributionPoints must be a SEQUENCE');
  for (const point of readDerChildren(value, seq, 256)) {
    if (point.tag !== 0x30) throw new DerError('a DistributionPoint must be a SEQUENCE');
    let hasName = false;
    let hasIssuer = false;
    for (const field of readDerChildren(value, point, 3)) {
      if (field.tag === 0xa0) {
        hasName = true;
        const choice = readDerElement(value, field.start, field.end);
        if (choice.tag === 0xa0) parseGeneralNames(value, { ...choice, tag: 0x30 });
        else if (choice.tag !== 0xa1) throw new DerError('bad DistributionPointName');
      } else if (field.tag === 0x81) bitString(value, { ...field, tag: 0x03 });
      else if (field.tag === 0xa2) {
        hasIssuer = true;
        parseGeneralNames(value, { ...field, tag: 0x30 });
      } else throw new DerError('unexpected field in a DistributionPoint');
    }
    if (!hasName && !hasIssuer) throw new DerError('a DistributionPoint with neither name nor issuer');
  }
}

// The extensions OpenSSL decodes when it caches a certificate's extensions: a duplicate or undecodable one of these
// makes the certificate invalid.
const DECODED = new Set<string>([
  EXTENSION.basicConstraints,
  EXTENSION.keyUsage,
  EXTENSION.extKeyUsage,
  EXTENSION.netscapeCertType,
  EXTENSION.subjectKeyIdentifier,
  EXTENSION.authorityKeyIdentifier,
  EXTENSION.subjectAltName,
  EXTENSION.nameConstraints,
  EXTENSION.crlDistributionPoints,
  EXTENSION.proxyCertInfo,
  EXTENSION.ipAddrBlocks,
  EXTENSION.autonomousSysIds,
]);

/** Decodes the extensions path validation needs. Never throws: every problem is listed in `invalid`. */
export function decodeExtensions(extensions: readonly Extension[]): DecodedExtensions {
  const invalid: string[] = [];
  const unhandledCritical: string[] = [];
  const seen = new Set<string>();
  let basicConstraints: BasicConstraints | undefined;
  let keyUsage: number | undefined;
  let extKeyUsage: string[] | undefined;
  let netscapeCertType: number | undefined;
  let subjectKeyId: Uint8Array | undefined;
  let authorityKeyId: AuthorityKeyIdentifier | undefined;
  let subjectAltNames: GeneralName[] | undefined;
  let nameConstraints: NameConstraints | undefined;
  let proxy = false;
  for (const extension of extensions) {
    // Duplicates: OpenSSL reads none of a duplicated extension it decodes (the certificate is then invalid); for
    // others it would take the first. certpin refuses every duplicate, which can only refuse more.
    if (seen.has(extension.oid)) {
      invalid.push(`duplicate extension ${extension.oid}`);
      continue;
    }
    seen.add(extension.oid);
    if (extension.critical && !SUPPORTED_CRITICAL.has(extension.oid)) unhandledCritical.push(extension.oid);
    if (!DECODED.has(extension.oid)) continue;
    try {
      const value = extension.value;
      switch (extension.oid) {
        case EXTENSION.basicConstraints:
          basicConstraints = decodeBasicConstraints(value);
          break;
        case EXTENSION.keyUsage:
          keyUsage = decodeKeyUsage(value);
          break;
        case EXTENSION.extKeyUsage:
          extKeyUsage = decodeExtKeyUsage(value);
          break;
        case EXTENSION.netscapeCertType:
          netscapeCertType = bitString(value, single(value))[0] ?? 0;
          break;
        case EXTENSION.subjectKeyIdentifier: {
          const el = single(value);
          if (el.tag !== 0x04) throw new DerError('subjectKeyIdentifier must be an OCTET STRING');
          subjectKeyId = value.subarray(el.start, el.end);
          break;
        }
        case EXTENSION.authorityKeyIdentifier:
          authorityKeyId = decodeAuthorityKeyId(value);
          break;
        case EXTENSION.subjectAltName:
          subjectAltNames = parseGeneralNames(value, single(value));
          break;
        case EXTENSION.nameConstraints:
          nameConstraints = decodeNameConstraints(value);
          break;
        case EXTENSION.crlDistributionPoints:
          decodeCrlDistributionPoints(value);
          break;
        case EXTENSION.proxyCertInfo:
          proxy = true;
          break;
        default:
          // RFC 3779 resources: OpenSSL validates them along the path; certpin does not, so it refuses such
          // certificates (they belong to RPKI, not to TLS).
          invalid.push(`RFC 3779 extension ${extension.oid} is not supported`);
      }
    } catch (error) {
      invalid.push(`extension ${extension.oid}: ${error instanceof DerError ? error.message : 'malformed'}`);
    }
  }
  return { basicConstraints, keyUsage, extKeyUsage, netscapeCertType, subjectKeyId, authorityKeyId, subjectAltNames, nameConstraints, proxy, unhandledCritical, invalid };
}
