/**
 * GeneralName (RFC 5280 4.2.1.6), as used by subjectAltName, nameConstraints and authorityKeyIdentifier.
 * @module
 */
import { DerError, decodeOidStrict, readDerChildren, readDerElement } from '../der.js';
import type { DerElement } from '../der.js';
import { parseName } from './name.js';
import type { DistinguishedName } from './name.js';

/** One GeneralName. IA5 forms keep their raw bytes (OpenSSL does not check their character set). */
export type GeneralName =
  | { readonly type: 'otherName'; readonly typeId: string }
  | { readonly type: 'rfc822Name'; readonly value: Uint8Array }
  | { readonly type: 'dNSName'; readonly value: Uint8Array }
  | { readonly type: 'x400Address' }
  | { readonly type: 'directoryName'; readonly name: DistinguishedName }
  | { readonly type: 'ediPartyName' }
  | { readonly type: 'uniformResourceIdentifier'; readonly value: Uint8Array }
  | { readonly type: 'iPAddress'; readonly value: Uint8Array }
  | { readonly type: 'registeredID'; readonly oid: string };

/** The GeneralName types, by context tag number. */
export type GeneralNameType = GeneralName['type'];

const MAX_NAMES = 1024;

/** Parses one GeneralName element. @throws {DerError} */
export function parseGeneralName(buf: Uint8Array, el: DerElement): GeneralName {
  switch (el.tag) {
    case 0xa0: {
      const fields = readDerChildren(buf, el, 3);
      if (fields.length !== 2 || fields[1]!.tag !== 0xa0) throw new DerError('malformed otherName');
      readDerElement(buf, fields[1]!.start, fields[1]!.end);
      return { type: 'otherName', typeId: decodeOidStrict(buf, fields[0]!) };
    }
    case 0x81:
      return { type: 'rfc822Name', value: buf.subarray(el.start, el.end) };
    case 0x82:
      return { type: 'dNSName', value: buf.subarray(el.start, el.end) };
    case 0xa3:
      return { type: 'x400Address' };
    case 0xa4: {
      const inner = readDerElement(buf, el.start, el.end);
      if (inner.next !== el.end) throw new DerError('trailing data in directoryName');
      return { type: 'directoryName', name: parseName(buf, inner, el.start) };
    }
    case 0xa5:
      return { type: 'ediPartyName' };
    case 0x86:
      return { type: 'uniformResourceIdentifier', value: buf.subarray(el.start, el.end) };
    case 0x87:
      return { type: 'iPAddress', value: buf.subarray(el.start, el.end) };
    case 0x88:
      return { type: 'registeredID', oid: decodeOidStrict(buf, { ...el, tag: 0x06 }) };
    case 0xa1:
    case 0xa2:
    case 0xa6:
    case 0xa7:
      // OpenSSL's decoder takes BER's constructed form of these strings and joins the parts, whatever their tags.
      // certpin reads DER only: a second reading of what a name says is where parser-differential bypasses start.
      throw new DerError(`a GeneralName string in constructed (BER) form, which DER forbids (tag 0x${el.tag.toString(16)})`);
    default:
      throw new DerError(`unknown GeneralName tag 0x${el.tag.toString(16)}`);
  }
}

/** Parses GeneralNames (a SEQUENCE OF GeneralName) at `el`. @throws {DerError} */
export function parseGeneralNames(buf: Uint8Array, el: DerElement): GeneralName[] {
  if (el.tag !== 0x30) throw new DerError('GeneralNames must be a SEQUENCE');
  return readDerChildren(buf, el, MAX_NAMES).map((child) => parseGeneralName(buf, child));
}
