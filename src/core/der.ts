/**
 * A minimal DER reader and writer: just enough ASN.1 to read the certificate extensions Node does not expose
 * (basicConstraints' path length, keyUsage) and to write a PKCS#10 request for a backup key.
 * Every read is bounds-checked and throws on malformed input; callers fail closed on a throw.
 * @module
 */

/** One DER element: its tag and where its contents lie in the buffer. */
export interface DerElement {
  readonly tag: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset one past the last content byte. */
  readonly end: number;
  /** Offset one past the whole element (equal to `end`). */
  readonly next: number;
}

/** Reads the element at `offset`, checking that it fits inside `limit`. */
export function readElement(buf: Uint8Array, offset = 0, limit = buf.length): DerElement {
  if (offset + 2 > limit) throw new Error('DER: truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not supported');
  let length = buf[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error('DER: unsupported length form');
    if (start + count > limit) throw new Error('DER: truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[start + i]!;
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new Error('DER: element overruns its container');
  return { tag, start, end, next: end };
}

/** The elements directly inside a constructed element. */
export function readChildren(buf: Uint8Array, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const child = readElement(buf, offset, parent.end);
    children.push(child);
    offset = child.next;
  }
  return children;
}

// ---- writer ----

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one element from a tag and its contents. */
export function encode(tag: number, ...contents: Uint8Array[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

/** Constructors for the DER elements certificates and requests use. */
export const der = {
  sequence: (...items: Uint8Array[]) => encode(0x30, ...items),
  set: (...items: Uint8Array[]) => encode(0x31, ...items),
  integer(value: bigint | number | Uint8Array): Buffer {
    let bytes: Buffer;
    if (value instanceof Uint8Array) bytes = Buffer.from(value);
    else {
      let hex = BigInt(value).toString(16);
      if (hex.length % 2) hex = `0${hex}`;
      bytes = Buffer.from(hex, 'hex');
    }
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0 && !(bytes[i + 1]! & 0x80)) i++;
    bytes = bytes.subarray(i);
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return encode(0x02, bytes);
  },
  boolean: (value: boolean) => encode(0x01, Buffer.from([value ? 0xff : 0])),
  null: () => Buffer.from([0x05, 0x00]),
  oid(dotted: string): Buffer {
    const parts = dotted.split('.').map(Number);
    const bytes: number[] = [40 * parts[0]! + parts[1]!];
    for (const part of parts.slice(2)) {
      const chunk: number[] = [part & 0x7f];
      for (let n = Math.floor(part / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
      bytes.push(...chunk);
    }
    return encode(0x06, Buffer.from(bytes));
  },
  utf8: (text: string) => encode(0x0c, Buffer.from(text, 'utf8')),
  printable: (text: string) => encode(0x13, Buffer.from(text, 'ascii')),
  ia5: (text: string) => encode(0x16, Buffer.from(text, 'ascii')),
  octetString: (...contents: Uint8Array[]) => encode(0x04, ...contents),
  bitString: (contents: Uint8Array, unusedBits = 0) => encode(0x03, Buffer.from([unusedBits]), contents),
  /** UTCTime before 2050, GeneralizedTime after, as RFC 5280 requires. */
  time(date: Date): Buffer {
    const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
    return date.getUTCFullYear() < 2050 && date.getUTCFullYear() >= 1950
      ? encode(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'))
      : encode(0x18, Buffer.from(`${iso}Z`, 'ascii'));
  },
  /** `[n] EXPLICIT` context tag. */
  explicit: (n: number, ...contents: Uint8Array[]) => encode(0xa0 | n, ...contents),
  /** `[n] IMPLICIT` primitive context tag. */
  implicit: (n: number, contents: Uint8Array) => encode(0x80 | n, contents),
};

// ---- strict reader ----

/**
 * A DER decoding failure: truncated, non-canonical (non-minimal length, indefinite length) or malformed input.
 * Thrown by the strict readers below; certificate parsing turns it into a typed "malformed" result.
 */
export class DerError extends Error {
  override readonly name = 'DerError';
  readonly code = 'ERR_DER_MALFORMED';
}

/**
 * Reads the element at `offset` as strict DER: single-byte tag, definite length in its shortest form, contents inside
 * `limit`. Use it where two encodings of one value must not both be accepted (certificate fields compared by bytes).
 * @throws {DerError}
 */
export function readDerElement(buf: Uint8Array, offset = 0, limit = buf.length): DerElement {
  if (offset + 2 > limit) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported');
  let length = buf[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw new DerError('indefinite length');
    if (count > 4) throw new DerError('length too large');
    if (start + count > limit) throw new DerError('truncated length');
    if (buf[start] === 0) throw new DerError('non-minimal length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[start + i]!;
    if (length < 0x80) throw new DerError('non-minimal length');
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new DerError('element overruns its container');
  return { tag, start, end, next: end };
}

/**
 * The elements directly inside `parent`, read strictly; at most `max` of them (a bound on work for hostile input).
 * @throws {DerError}
 */
export function readDerChildren(buf: Uint8Array, parent: DerElement, max = 4096): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    if (children.length >= max) throw new DerError('too many elements');
    const child = readDerElement(buf, offset, parent.end);
    children.push(child);
    offset = child.next;
  }
  return children;
}

/**
 * Decodes an OBJECT IDENTIFIER's contents to dotted form, strictly: no empty or padded sub-identifiers, none larger
 * than 2^53.
 * @throws {DerError}
 */
export function decodeOidStrict(buf: Uint8Array, el: DerElement): string {
  if (el.tag !== 0x06) throw new DerError('expected an OBJECT IDENTIFIER');
  if (el.end <= el.start || el.end - el.start > 64) throw new DerError('bad OBJECT IDENTIFIER length');
  if (buf[el.end - 1]! & 0x80) throw new DerError('truncated OBJECT IDENTIFIER');
  let text = '';
  let value = 0;
  let first = true;
  let fresh = true;
  for (let i = el.start; i < el.end; i++) {
    const byte = buf[i]!;
    if (fresh && byte === 0x80) throw new DerError('padded OBJECT IDENTIFIER arc');
    fresh = false;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OBJECT IDENTIFIER arc too large');
    if (!(byte & 0x80)) {
      if (first) {
        text = value < 80 ? `${Math.floor(value / 40)}.${value % 40}` : `2.${value - 80}`;
        first = false;
      } else text += `.${value}`;
      value = 0;
      fresh = true;
    }
  }
  return text;
}
