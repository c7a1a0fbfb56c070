/**
 * PKCS#10 certificate signing requests (RFC 2986), written with certpin's DER writer: what `certpin backup-key`
 * hands to a CA for a spare key, so that the key's pin can ship in the app long before the key is deployed.
 * Signed with the key itself: ECDSA P-256/P-384/P-521 (SHA-256/384/512), RSA (SHA-256, PKCS#1 v1.5) or Ed25519.
 * @module
 */
import { createPublicKey, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIP } from '../builtins.js';
import { der } from '../core/der.js';
import { unbracketHost } from '../core/hostname.js';

/** What a CSR is made from. */
export interface CertificateRequestOptions {
  /** The key pair's private key: it signs the request. */
  readonly privateKey: KeyObject;
  /**
   * The subject: `CN=api.example.com, O=Example` (RFC 4514 order, most specific first) or openssl's
   * `/O=Example/CN=api.example.com`. Attributes: CN, O, OU, C, ST, L, emailAddress (or E).
   */
  readonly subject: string;
  /** DNS names and IP addresses for a subjectAltName extension request (CAs take the names from there). */
  readonly subjectAltNames?: readonly string[];
}

/** A signed request, as DER and as PEM (`-----BEGIN CERTIFICATE REQUEST-----`). */
export interface CertificateRequest {
  readonly der: Buffer;
  readonly pem: string;
}

const ATTRIBUTES: Record<string, { oid: string; kind: 'utf8' | 'printable' | 'ia5' }> = {
  CN: { oid: '2.5.4.3', kind: 'utf8' },
  C: { oid: '2.5.4.6', kind: 'printable' },
  L: { oid: '2.5.4.7', kind: 'utf8' },
  ST: { oid: '2.5.4.8', kind: 'utf8' },
  O: { oid: '2.5.4.10', kind: 'utf8' },
  OU: { oid: '2.5.4.11', kind: 'utf8' },
  EMAILADDRESS: { oid: '1.2.840.113549.1.9.1', kind: 'ia5' },
  E: { oid: '1.2.840.113549.1.9.1', kind: 'ia5' },
};

/**
 * Creates and signs a PKCS#10 request for a key pair; `openssl req -verify` accepts it.
 * @throws {TypeError} for an unsupported key type, or a subject or name that cannot be encoded.
 * @example
 * ```ts
 * const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
 * const csr = createCertificateRequest({ privateKey, subject: 'CN=api.example.com', subjectAltNames: ['api.example.com'] });
 * fs.writeFileSync('backup.csr', csr.pem);
 * ```
 */
export function createCertificateRequest(options: CertificateRequestOptions): CertificateRequest {
  const { privateKey } = options;
  if (!privateKey || privateKey.type !== 'private') throw new TypeError('createCertificateRequest needs a private KeyObject');
  const { algorithm, hash } = signatureAlgorithm(privateKey);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const attributes: Buffer[] = [];
  const names = options.subjectAltNames ?? [];
  if (names.length) {
    const san = der.sequence(der.oid('2.5.29.17'), der.octetString(der.sequence(...names.map(generalName))));
    attributes.push(der.sequence(der.oid('1.2.840.113549.1.9.14'), der.set(der.sequence(san))));
  }
  const info = der.sequence(der.integer(0), encodeSubject(options.subject), spki, der.explicit(0, ...attributes));
  const signature = sign(hash, info, privateKey);
  const request = der.sequence(info, algorithm, der.bitString(signature));
  const body = request.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return { der: request, pem: `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n` };
}

function signatureAlgorithm(key: KeyObject): { algorithm: Buffer; hash: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const byCurve: Record<string, [string, string]> = {
        prime256v1: ['1.2.840.10045.4.3.2', 'sha256'],
        secp384r1: ['1.2.840.10045.4.3.3', 'sha384'],
        secp521r1: ['1.2.840.10045.4.3.4', 'sha512'],
      };
      const entry = byCurve[curve ?? ''];
      if (!entry) throw new TypeError(`EC curve ${curve ?? '(unknown)'} is not supported; use P-256, P-384 or P-521`);
      return { algorithm: der.sequence(der.oid(entry[0])), hash: entry[1] };
    }
    case 'rsa':
      return { algorithm: der.sequence(der.oid('1.2.840.113549.1.1.11'), der.null()), hash: 'sha256' };
    case 'ed25519':
      return { algorithm: der.sequence(der.oid('1.3.101.112')), hash: null };
    default:
      throw new TypeError(`key type ${key.asymmetricKeyType ?? '(unknown)'} is not supported; use EC, RSA or Ed25519`);
  }
}

/** Splits `CN=a, O=b` (RFC 4514, reversed into DER order) or `/O=b/CN=a` (openssl, DER order) into attributes. */
function encodeSubject(subject: string): Buffer {
  if (typeof subject !== 'string' || subject.trim() === '') throw new TypeError('the subject is empty; write e.g. "CN=api.example.com"');
  const text = subject.trim();
  const slashForm = text.startsWith('/');
  const parts = slashForm ? splitUnescaped(text.slice(1), '/') : splitUnescaped(text, ',').reverse();
  const rdns = parts.map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new TypeError(`"${part.trim()}" in the subject is not TYPE=value`);
    const type = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim().replace(/\\(.)/g, '$1');
    const attribute = ATTRIBUTES[type.toUpperCase()];
    if (!attribute) throw new TypeError(`the subject attribute "${type}" is not supported (use CN, O, OU, C, ST, L, emailAddress)`);
    if (value === '') throw new TypeError(`the subject attribute ${type} is empty`);
    let encoded: Buffer;
    if (attribute.kind === 'printable') {
      if (!/^[A-Za-z]{2}$/.test(value)) throw new TypeError(`C (country) must be a two-letter code, got "${value}"`);
      encoded = der.printable(value.toUpperCase());
    } else if (attribute.kind === 'ia5') {
      if (!/^[\x20-\x7e]+$/.test(value)) throw new TypeError(`${type} must be ASCII`);
      encoded = der.ia5(value);
    } else encoded = der.utf8(value);
    return der.set(der.sequence(der.oid(attribute.oid), encoded));
  });
  return der.sequence(...rdns);
}

function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + text[i + 1]!;
      i++;
    } else if (ch === separator) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.filter((p) => p.trim() !== '');
}

function generalName(name: string): Buffer {
  const host = unbracketHost(name.trim());
  const family = isIP(host);
  if (family === 4) return der.implicit(7, Buffer.from(host.split('.').map(Number)));
  if (family === 6) return der.implicit(7, ipv6Bytes(host));
  if (!/^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(host)) {
    throw new TypeError(`"${name}" is neither a DNS name (ASCII; punycode for IDN) nor an IP address`);
  }
  return der.implicit(2, Buffer.from(host, 'ascii'));
}

function ipv6Bytes(address: string): Buffer {
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head = '', tail = ''] = canonical.split('::');
  const parse = (s: string) => (s ? s.split(':') : []);
  let groups = [...parse(head)];
  if (canonical.includes('::')) {
    const tailGroups = parse(tail);
    groups = [...groups, ...new Array<string>(8 - groups.length - tailGroups.length).fill('0'), ...tailGroups];
  }
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => {
    if (g.includes('.')) {
      // An embedded IPv4 address (URL canonicalises it to hex, but stay safe).
      Buffer.from(g.split('.').map(Number)).copy(bytes, 12);
    } else bytes.writeUInt16BE(parseInt(g, 16), i * 2);
  });
  return bytes;
}
