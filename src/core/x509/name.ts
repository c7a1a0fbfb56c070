/**
 * Distinguished names as OpenSSL compares them. `X509_NAME_cmp` compares a canonical encoding, not the DER: every
 * string attribute is converted to UTF-8, leading and trailing white space removed, inner runs of white space
 * collapsed to one space and ASCII letters lower-cased; each RDN is re-encoded as a DER SET (members sorted) and the
 * RDNs are concatenated without the outer SEQUENCE. Two names are equal for path building exactly when these bytes
 * are equal, and a directoryName constraint matches when its canonical bytes are a prefix of the subject's.
 * @module
 */
import { DerError, decodeOidStrict, readDerChildren } from '../der.js';

/** One attribute of a name, with its value converted to a string where it is a string type. */
export interface NameAttribute {
  readonly oid: string;
  /** The ASN.1 tag of the value (0x0c UTF8String, 0x13 PrintableString, …). */
  readonly tag: number;
  /** The value as Unicode text, for string types; `undefined` for other types. */
  readonly text: string | undefined;
}

/** A parsed distinguished name. */
export interface DistinguishedName {
  /** The name's DER (the whole SEQUENCE), as the certificate encodes it. */
  readonly der: Uint8Array;
  /** OpenSSL's canonical encoding (empty for an empty name). */
  readonly canonical: Uint8Array;
  /**
   * The canonical encoding as a string (one character per byte), usable as a `Map` key: two names have the same key
   * exactly when OpenSSL's `X509_NAME_cmp` says they are equal.
   */
  readonly key: string;
  /** Attributes in order, RDN by RDN. */
  readonly attributes: readonly NameAttribute[];
}

const MAX_ATTRIBUTES = 64;

// Tags whose values OpenSSL canonicalises (ASN1_MASK_CANON, less VisibleString, which a name cannot hold): UTF8,
// BMP, Universal, Printable, T61, IA5.
const CANON_TAGS = new Set([0x0c, 0x1e, 0x1c, 0x13, 0x14, 0x16]);
// Other string types whose text is still useful to read (NumericString).
const OTHER_STRING_TAGS = new Set([0x12]);
// The value types OpenSSL reads in a name (ASN1_PRINTABLE, as ASN1_tag2bit maps tags): BIT STRING, UTF8String,
// NumericString, PrintableString, TeletexString, IA5String, UniversalString, BMPString, SEQUENCE, or a universal tag
// it has no type for (7 to 11, 13 to 15, 29). OpenSSL cannot parse a certificate with any other value (INTEGER,
// OCTET STRING, VisibleString, a time, a context tag, …), so certpin refuses it too.
const NAME_VALUE_TAGS = new Set([0x03, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x12, 0x13, 0x14, 0x16, 0x1c, 0x1d, 0x1e, 0x30]);

/**
 * Parses the Name at `element` of `buf`.
 * @throws {DerError} when the name is malformed, including a string that does not decode (OpenSSL refuses such a
 *   certificate outright).
 */
export function parseName(buf: Uint8Array, element: { start: number; end: number; tag: number; next: number }, wholeStart: number): DistinguishedName {
  if (element.tag !== 0x30) throw new DerError('a Name must be a SEQUENCE');
  const attributes: NameAttribute[] = [];
  // The canonical encoding is built in plain arrays and copied once: names are read for every new certificate of
  // every handshake, and a typed array per attribute and per header costs more than the bytes themselves.
  const canonical: number[] = [];
  for (const rdn of readDerChildren(buf, element, MAX_ATTRIBUTES)) {
    if (rdn.tag !== 0x31) throw new DerError('an RDN must be a SET');
    const members = readDerChildren(buf, rdn, MAX_ATTRIBUTES);
    if (members.length === 0) throw new DerError('an empty RDN');
    const encoded: number[][] = [];
    for (const atv of members) {
      if (atv.tag !== 0x30) throw new DerError('an attribute must be a SEQUENCE');
      const fields = readDerChildren(buf, atv, 3);
      if (fields.length !== 2) throw new DerError('an attribute must have a type and a value');
      const oid = decodeOidStrict(buf, fields[0]!);
      const value = fields[1]!;
      if (!NAME_VALUE_TAGS.has(value.tag)) throw new DerError(`a name attribute value of a type OpenSSL does not read (tag 0x${value.tag.toString(16)})`);
      if (attributes.length >= MAX_ATTRIBUTES) throw new DerError('too many name attributes');
      const raw = buf.subarray(value.start, value.end);
      let text: string | undefined;
      const contents: number[] = [];
      pushBytes(contents, buf, atv.start, fields[0]!.next);
      if (CANON_TAGS.has(value.tag)) {
        text = decodeString(value.tag, raw);
        const canonicalValue = canonicalText(utf8Of(value.tag, raw, text));
        pushHeader(contents, 0x0c, canonicalValue.length);
        pushAll(contents, canonicalValue);
      } else {
        if (OTHER_STRING_TAGS.has(value.tag)) text = decodeString(0x13, raw);
        // Other types are compared as they are encoded.
        pushBytes(contents, buf, fields[0]!.next, value.end);
      }
      attributes.push({ oid, tag: value.tag, text });
      const member: number[] = [];
      pushHeader(member, 0x30, contents.length);
      pushAll(member, contents);
      encoded.push(member);
    }
    if (encoded.length > 1) encoded.sort(compareBytes);
    let length = 0;
    for (const member of encoded) length += member.length;
    pushHeader(canonical, 0x31, length);
    for (const member of encoded) pushAll(canonical, member);
  }
  return {
    der: buf.subarray(wholeStart, element.end),
    canonical: Uint8Array.from(canonical),
    key: latin1(canonical),
    attributes,
  };
}

function pushAll(out: number[], bytes: readonly number[]): void {
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
}

/** Bytes as a string of one character per byte, without a Buffer (names are short; this runs for every new certificate). */
function latin1(bytes: ArrayLike<number>): string {
  if (bytes.length <= 4096) return String.fromCharCode.apply(null, bytes as number[]);
  let text = '';
  for (let i = 0; i < bytes.length; i += 4096) text += String.fromCharCode.apply(null, Array.prototype.slice.call(bytes, i, i + 4096) as number[]);
  return text;
}

/** The UTF-8 of a string value whose text is `text`: its own bytes when they are UTF-8 already (UTF8String, ASCII). */
function utf8Of(tag: number, raw: Uint8Array, text: string): Uint8Array {
  if (tag === 0x0c) return raw;
  if ((tag === 0x13 || tag === 0x14 || tag === 0x16) && isAscii(raw)) return raw;
  return Buffer.from(text, 'utf8');
}

function isAscii(raw: Uint8Array): boolean {
  for (let i = 0; i < raw.length; i++) if (raw[i]! & 0x80) return false;
  return true;
}

function pushBytes(out: number[], buf: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) out.push(buf[i]!);
}

/** A DER header: the tag and the minimal length. */
function pushHeader(out: number[], tag: number, length: number): void {
  out.push(tag);
  if (length < 0x80) {
    out.push(length);
    return;
  }
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  out.push(0x80 | bytes.length, ...bytes);
}

/**
 * A number that names OpenSSL holds equal always share: the attribute types, and for each value that OpenSSL
 * canonicalises only its ASCII letters and digits, lower-cased (what trimming, collapsing white space, lower-casing and
 * re-encoding as UTF-8 all keep); other values whole. Members of one RDN are summed, since OpenSSL sorts them. Names
 * with different numbers are never equal; names with the same number may differ, and are told apart by their
 * canonical key. It reads the bytes once without allocating, so that a trust store can be indexed without reading
 * each certificate: a process's first pinned connection would otherwise read every root of the system store.
 * @param der a Name, tag and length included.
 * @returns undefined when the bytes are not a well-formed Name (the caller then reads the certificate instead).
 */
export function nameBucket(der: Uint8Array): number | undefined {
  let at = 0;
  const end = der.length;
  // Each element: tag at `at`, then its length; `tlv` leaves the contents' start in `from` and their end in `to`.
  let from = 0;
  let to = 0;
  const tlv = (offset: number, limit: number): boolean => {
    if (offset + 2 > limit) return false;
    let length = der[offset + 1]!;
    let start = offset + 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 3 || start + count > limit) return false;
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
      start += count;
    }
    if (start + length > limit) return false;
    from = start;
    to = start + length;
    return true;
  };
  if (der[at] !== 0x30 || !tlv(at, end) || to !== end) return undefined;
  let hash = 0x811c9dc5;
  for (at = from; at < end; ) {
    if (der[at] !== 0x31 || !tlv(at, end)) return undefined;
    const rdnEnd = to;
    let sum = 0;
    for (let member = from; member < rdnEnd; ) {
      if (der[member] !== 0x30 || !tlv(member, rdnEnd)) return undefined;
      const memberEnd = to;
      if (der[from] !== 0x06 || !tlv(from, memberEnd)) return undefined;
      let h = 0x811c9dc5;
      for (let i = from; i < to; i++) h = Math.imul(h ^ der[i]!, 0x01000193);
      const valueAt = to;
      const tag = der[valueAt];
      if (tag === undefined || !tlv(valueAt, memberEnd) || to !== memberEnd) return undefined;
      if (CANON_TAGS.has(tag)) {
        const width = tag === 0x1e ? 2 : tag === 0x1c ? 4 : 1;
        for (let i = from + width - 1; i < to; i += width) {
          // The last byte of a BMP or Universal code unit is an ASCII character only when the others are zero.
          let c = der[i]!;
          for (let k = 1; k < width; k++) if (der[i - k] !== 0) c = 0x80;
          if (c >= 0x41 && c <= 0x5a) c += 0x20;
          if ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a)) h = Math.imul(h ^ c, 0x01000193);
        }
      } else {
        h = Math.imul(h ^ 0x100, 0x01000193);
        for (let i = valueAt; i < to; i++) h = Math.imul(h ^ der[i]!, 0x01000193);
      }
      sum = (sum + Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)) | 0;
      member = memberEnd;
    }
    hash = Math.imul((hash ^ sum) + 0x9e3779b9, 0x01000193) | 0;
    at = rdnEnd;
  }
  return hash >>> 0;
}

/** The attributes of a name with one OID (commonName 2.5.4.3, emailAddress 1.2.840.113549.1.9.1, …). */
export function attributesOf(name: DistinguishedName, oid: string): readonly NameAttribute[] {
  return name.attributes.filter((a) => a.oid === oid);
}

/**
 * Converts a string value to Unicode the way ASN1_STRING_to_UTF8 does: one-byte types are Latin-1, BMPString is
 * UCS-2, UniversalString UCS-4, UTF8String must be valid UTF-8 (no overlong forms, no surrogates).
 * @throws {DerError}
 */
export function decodeString(tag: number, raw: Uint8Array): string {
  switch (tag) {
    case 0x0c:
      return isAscii(raw) ? latin1(raw) : utf8Decoder.decode(raw);
    case 0x1e: {
      if (raw.length % 2) throw new DerError('odd BMPString length');
      let out = '';
      for (let i = 0; i < raw.length; i += 2) {
        const unit = (raw[i]! << 8) | raw[i + 1]!;
        if (unit >= 0xd800 && unit <= 0xdfff) throw new DerError('surrogate in BMPString');
        out += String.fromCharCode(unit);
      }
      return out;
    }
    case 0x1c: {
      if (raw.length % 4) throw new DerError('bad UniversalString length');
      let out = '';
      for (let i = 0; i < raw.length; i += 4) {
        const point = ((raw[i]! << 24) | (raw[i + 1]! << 16) | (raw[i + 2]! << 8) | raw[i + 3]!) >>> 0;
        if (point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) throw new DerError('invalid code point in UniversalString');
        out += String.fromCodePoint(point);
      }
      return out;
    }
    default:
      return latin1(raw);
  }
}

// Fatal: OpenSSL refuses a certificate whose UTF8String does not decode. Stateless between calls (no streaming).
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/** asn1_string_canon: trim, collapse white space, lower-case ASCII; bytes with the high bit set are kept. */
function canonicalText(utf8: Uint8Array): number[] {
  let from = 0;
  let to = utf8.length;
  while (from < to && isSpace(utf8[from]!)) from++;
  while (to > from && isSpace(utf8[to - 1]!)) to--;
  const out: number[] = [];
  for (let i = from; i < to; ) {
    const b = utf8[i]!;
    if (b & 0x80) {
      out.push(b);
      i++;
    } else if (isSpace(b)) {
      out.push(0x20);
      while (i < to && isSpace(utf8[i]!)) i++;
    } else {
      out.push(b >= 0x41 && b <= 0x5a ? b + 0x20 : b);
      i++;
    }
  }
  return out;
}

/** DER SET OF order: bytewise, a prefix first. */
function compareBytes(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Whether `prefix`'s canonical bytes start `name`'s (OpenSSL's directoryName constraint match, nc_dn). */
export function canonicalPrefix(prefix: DistinguishedName, name: DistinguishedName): boolean {
  const p = prefix.canonical;
  const n = name.canonical;
  if (p.length > n.length) return false;
  for (let i = 0; i < p.length; i++) if (p[i] !== n[i]) return false;
  return true;
}
