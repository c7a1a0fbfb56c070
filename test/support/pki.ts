/**
 * Test PKI: real X.509 certificates made at test time (roots, intermediates, leaves, forgeries), signed with
 * node:crypto. Nothing is mocked: OpenSSL validates these chains in real handshakes.
 */
import { X509Certificate, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { der, readChildren, readElement } from '../../src/core/der.js';

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa2048' | 'rsa4096' | 'ed25519';

export interface KeyPair {
  readonly type: KeyType;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** PKCS#8 PEM of the private key. */
  readonly keyPem: string;
}

export function generateKey(type: KeyType = 'ec-p256'): KeyPair {
  const pair =
    type === 'ec-p256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : type === 'ec-p384' ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
    : type === 'ed25519' ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('rsa', { modulusLength: type === 'rsa4096' ? 4096 : 2048 });
  return { type, ...pair, keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

export interface Issued {
  readonly cert: X509Certificate;
  readonly pem: string;
  readonly der: Buffer;
  readonly key: KeyPair;
  /** The DER Name, so that children can name their issuer byte for byte. */
  readonly nameDer: Buffer;
  readonly skid: Buffer;
}

export interface CertificateSpec {
  commonName: string;
  organization?: string;
  issuer?: Issued;
  key?: KeyPair;
  ca?: boolean;
  pathLength?: number;
  /** Leave out keyUsage entirely (for a CA: any use allowed). */
  noKeyUsage?: boolean;
  /** For a CA: keyUsage without keyCertSign. */
  caWithoutCertSign?: boolean;
  /** DNS names and IP literals. Defaults to the common name for leaves. */
  sans?: readonly string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Sign with this key instead of the issuer's (a forgery: the signature will not verify). */
  signWith?: KeyPair;
  clientAuth?: boolean;
}

const DAY = 86_400_000;

function algorithmFor(key: KeyPair): { algId: Buffer; hash: string | null } {
  switch (key.type) {
    case 'ec-p256':
      return { algId: der.sequence(der.oid('1.2.840.10045.4.3.2')), hash: 'sha256' };
    case 'ec-p384':
      return { algId: der.sequence(der.oid('1.2.840.10045.4.3.3')), hash: 'sha384' };
    case 'ed25519':
      return { algId: der.sequence(der.oid('1.3.101.112')), hash: null };
    default:
      return { algId: der.sequence(der.oid('1.2.840.113549.1.1.11'), der.null()), hash: 'sha256' };
  }
}

function name(commonName: string, organization?: string): Buffer {
  const rdn = (oid: string, value: string) => der.set(der.sequence(der.oid(oid), der.utf8(value)));
  return der.sequence(...(organization ? [rdn('2.5.4.10', organization)] : []), rdn('2.5.4.3', commonName));
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(oid), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** RFC 5280 4.2.1.2 method 1 (what OpenSSL and other CAs, mockttp's among them, compute): SHA-1 of the subjectPublicKey bits. */
function subjectKeyId(key: KeyPair): Buffer {
  const spki = key.publicKey.export({ type: 'spki', format: 'der' });
  const bits = readChildren(spki, readElement(spki))[1]!;
  return createHash('sha1').update(spki.subarray(bits.start + 1, bits.end)).digest();
}

/** The bytes of an IPv4 or IPv6 literal (IPv6 in any notation, an embedded IPv4 address included). */
export function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const url = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const [head = '', tail = ''] = url.split('::');
  const parse = (s: string) => (s ? s.split(':').map((h) => parseInt(h, 16)) : []);
  const headParts = parse(head);
  const tailParts = url.includes('::') ? parse(tail) : [];
  const groups = [...headParts, ...new Array(8 - headParts.length - tailParts.length).fill(0), ...tailParts];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Makes a certificate. Without an issuer it is self-signed. */
export function createCertificate(spec: CertificateSpec): Issued {
  const key = spec.key ?? generateKey('ec-p256');
  const issuerKey = spec.issuer?.key ?? key;
  const signer = spec.signWith ?? issuerKey;
  const { algId, hash } = algorithmFor(signer);
  const subjectName = name(spec.commonName, spec.organization);
  const issuerName = spec.issuer?.nameDer ?? subjectName;
  const notBefore = spec.notBefore ?? new Date(Date.now() - DAY);
  const notAfter = spec.notAfter ?? new Date(Date.now() + 90 * DAY);
  const skid = subjectKeyId(key);
  const akid = spec.issuer?.skid ?? skid;
  const extensions: Buffer[] = [];
  if (spec.ca) {
    extensions.push(extension('2.5.29.19', true, der.sequence(der.boolean(true), ...(spec.pathLength !== undefined ? [der.integer(spec.pathLength)] : []))));
    if (!spec.noKeyUsage) extensions.push(extension('2.5.29.15', true, spec.caWithoutCertSign ? der.bitString(Buffer.from([0x80]), 7) : der.bitString(Buffer.from([0x06]), 1)));
  } else {
    extensions.push(extension('2.5.29.19', true, der.sequence()));
    if (!spec.noKeyUsage) extensions.push(extension('2.5.29.15', true, key.type.startsWith('rsa') ? der.bitString(Buffer.from([0xa0]), 5) : der.bitString(Buffer.from([0x80]), 7)));
    extensions.push(extension('2.5.29.37', false, der.sequence(der.oid('1.3.6.1.5.5.7.3.1'), ...(spec.clientAuth ? [der.oid('1.3.6.1.5.5.7.3.2')] : []))));
    const sans = spec.sans ?? [spec.commonName];
    if (sans.length) {
      extensions.push(extension('2.5.29.17', false, der.sequence(...sans.map((s) => (isIP(s) ? der.implicit(7, ipBytes(s)) : der.implicit(2, Buffer.from(s, 'ascii')))))));
    }
  }
  extensions.push(extension('2.5.29.14', false, der.octetString(skid)));
  extensions.push(extension('2.5.29.35', false, der.sequence(der.implicit(0, akid))));

  const tbs = der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(BigInt(`0x${randomBytes(12).toString('hex')}`) | 1n),
    algId,
    issuerName,
    der.sequence(der.time(notBefore), der.time(notAfter)),
    subjectName,
    key.publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, der.sequence(...extensions)),
  );
  const signature = sign(hash, tbs, signer.privateKey);
  const certDer = der.sequence(tbs, algId, der.bitString(signature));
  const cert = new X509Certificate(certDer);
  return { cert, pem: cert.toString(), der: certDer, key, nameDer: subjectName, skid };
}

/** A CA hierarchy and a leaf: the "real" bank PKI of the tests. */
export interface TestPki {
  readonly root: Issued;
  readonly intermediate: Issued;
  readonly leaf: Issued;
  /** Leaf PEM followed by the intermediate: what a server sends. */
  readonly chainPem: string;
}

export function createPki(options: { hosts?: readonly string[]; name?: string; keyType?: KeyType; leafNotAfter?: Date; leafNotBefore?: Date } = {}): TestPki {
  const label = options.name ?? 'Bank';
  const root = createCertificate({ commonName: `${label} Root CA`, organization: label, ca: true, key: generateKey(options.keyType), notAfter: new Date(Date.now() + 3650 * DAY) });
  const intermediate = createCertificate({ commonName: `${label} Issuing CA`, organization: label, ca: true, pathLength: 0, issuer: root, key: generateKey(options.keyType), notAfter: new Date(Date.now() + 1825 * DAY) });
  const hosts = options.hosts ?? ['localhost', '127.0.0.1', '::1'];
  const leaf = createCertificate({
    commonName: hosts[0]!,
    organization: label,
    sans: hosts,
    issuer: intermediate,
    key: generateKey(options.keyType),
    notAfter: options.leafNotAfter,
    notBefore: options.leafNotBefore,
  });
  return { root, intermediate, leaf, chainPem: leaf.pem + intermediate.pem };
}

/** Issues another leaf from an existing intermediate (a rotation, a second host). */
export function issueLeaf(intermediate: Issued, hosts: readonly string[], options: Partial<CertificateSpec> = {}): Issued {
  return createCertificate({ commonName: hosts[0]!, sans: hosts, issuer: intermediate, ...options });
}

/** `sha256/…` of a certificate's key, computed independently of the library (SPKI DER → SHA-256 → base64). */
export function pinOf(issued: Issued): string {
  return `sha256/${createHash('sha256').update(issued.key.publicKey.export({ type: 'spki', format: 'der' })).digest('base64')}`;
}

/** The pin of a spare key that is on no certificate. */
export function backupPin(): string {
  const key = generateKey('ec-p256');
  return `sha256/${createHash('sha256').update(key.publicKey.export({ type: 'spki', format: 'der' })).digest('base64')}`;
}
