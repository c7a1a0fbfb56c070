/**
 * A certificate builder for path validation tests: every field and extension the validator reads can be set,
 * including the wrong ones (unknown critical extensions, EKU, name constraints, v1 certificates, AKID/SKID variants,
 * validity windows, weak digests), and every key type certpin meets (RSA 2048/4096, P-256, P-384, Ed25519).
 * Certificates are real: signed with node:crypto, accepted or refused by OpenSSL on their merits.
 */
import { X509Certificate, createHash, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import { der, readChildren, readElement } from '../../src/core/der.js';
import { generateKey, ipBytes } from './pki.js';
import type { KeyPair, KeyType } from './pki.js';

export type { KeyPair, KeyType };
export { ipBytes };

const DAY = 86_400_000;
const keyPool = new Map<KeyType, KeyPair[]>();

/** A key of `type`, taken from a small per-type pool (RSA-4096 generation takes seconds): index `n` is stable. */
export function pooledKey(type: KeyType, n = 0): KeyPair {
  const pool = keyPool.get(type) ?? [];
  keyPool.set(type, pool);
  while (pool.length <= n) pool.push(generateKey(type));
  return pool[n]!;
}

/** Well-known OIDs, by name. */
export const OID = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  anyExtendedKeyUsage: '2.5.29.37.0',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  country: '2.5.4.6',
} as const;

/**
 * A name given as attributes in order (most significant first), each `[oid, value]`, or just a common name, or as
 * its DER (any string types and RDN shapes).
 */
export type NameSpec = string | readonly (readonly [string, string])[] | Buffer;

/** Encodes a Name: every attribute a UTF8String in its own RDN (a DER name is returned as it is). */
export function encodeName(spec: NameSpec): Buffer {
  if (Buffer.isBuffer(spec)) return spec;
  const attributes = typeof spec === 'string' ? [[OID.commonName, spec] as const] : spec;
  return der.sequence(...attributes.map(([oid, value]) => der.set(der.sequence(der.oid(oid), der.utf8(value)))));
}

/** One name-constraint subtree. */
export type Subtree = { dns: string } | { ip: string } | { dn: NameSpec } | { email: string } | { uri: string };

/** An extension given raw. */
export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
  /** Write `critical FALSE` out (DER leaves the DEFAULT out; a test of readers that accept it or not). */
  readonly writeFalse?: boolean;
}

/** What a certificate should be. Everything has a default: a P-256 leaf, valid from yesterday for 90 days. */
export interface CertSpec {
  subject: NameSpec;
  key?: KeyPair;
  /** The issuing certificate; omitted for a self-signed one. */
  issuer?: Built;
  /** Sign with this key instead of the issuer's (a forgery). */
  signWith?: KeyPair;
  serial?: bigint;
  version?: 1 | 3;
  notBefore?: Date;
  notAfter?: Date;
  /** basicConstraints: `true` a CA, `false` not a CA (present, cA false), `'omit'` no extension. Default: false. */
  ca?: boolean | 'omit';
  pathLength?: number;
  basicConstraintsCritical?: boolean;
  /** keyUsage bit names; `'omit'` for none. Default: keyCertSign+cRLSign for a CA, digitalSignature for a leaf. */
  keyUsage?: readonly ('digitalSignature' | 'keyEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign')[] | 'omit';
  /** extendedKeyUsage OIDs; `'omit'` for none. Default: serverAuth for a leaf, none for a CA. */
  eku?: readonly string[] | 'omit';
  ekuCritical?: boolean;
  /** DNS names and IP literals. Default: the common name, for a leaf; none for a CA. */
  sans?: readonly string[];
  nameConstraints?: { permitted?: readonly Subtree[]; excluded?: readonly Subtree[] };
  /** subjectKeyIdentifier: default the SHA-1 of the key; `'omit'` for none; or given bytes. */
  skid?: Buffer | 'omit';
  /** authorityKeyIdentifier: default the issuer's SKID; `'omit'` for none; or its fields. */
  akid?: 'omit' | { keyId?: Buffer; issuer?: NameSpec; serial?: bigint };
  /** Extra extensions, appended as given. */
  extensions?: readonly RawExtension[];
  /** The digest of the signature (RSA and ECDSA). Default: SHA-256 (SHA-384 for P-384). */
  hash?: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  /** The signature AlgorithmIdentifier as written, inside the TBSCertificate and outside (the signature is made as usual). */
  signatureAlgorithmDer?: Buffer;
  /** The outer signature AlgorithmIdentifier only, when it should differ from the inner one. */
  outerSignatureAlgorithmDer?: Buffer;
  /** The subjectPublicKeyInfo as written (another encoding of the same key). */
  spkiDer?: Buffer;
}

/** A built certificate. */
export interface Built {
  readonly der: Buffer;
  readonly pem: string;
  readonly cert: X509Certificate;
  readonly key: KeyPair;
  readonly nameDer: Buffer;
  readonly skid: Buffer | undefined;
  readonly serial: bigint;
  readonly spec: CertSpec;
}

const SIG_OIDS: Record<string, Record<string, string>> = {
  rsa: { sha1: '1.2.840.113549.1.1.5', sha256: '1.2.840.113549.1.1.11', sha384: '1.2.840.113549.1.1.12', sha512: '1.2.840.113549.1.1.13' },
  ec: { sha1: '1.2.840.10045.4.1', sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4' },
};

function signatureAlgorithm(key: KeyPair, hash: string | undefined): { algId: Buffer; hash: string | null } {
  if (key.type === 'ed25519') return { algId: der.sequence(der.oid('1.3.101.112')), hash: null };
  if (key.type.startsWith('rsa')) {
    const h = hash ?? 'sha256';
    return { algId: der.sequence(der.oid(SIG_OIDS.rsa![h]!), der.null()), hash: h };
  }
  const h = hash ?? (key.type === 'ec-p384' ? 'sha384' : 'sha256');
  return { algId: der.sequence(der.oid(SIG_OIDS.ec![h]!)), hash: h };
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdOf(key: KeyPair): Buffer {
  const spki = key.publicKey.export({ type: 'spki', format: 'der' });
  const bits = readChildren(spki, readElement(spki))[1]!;
  return createHash('sha1').update(spki.subarray(bits.start + 1, bits.end)).digest();
}


function subtree(s: Subtree): Buffer {
  if ('dns' in s) return der.sequence(der.implicit(2, Buffer.from(s.dns, 'ascii')));
  if ('email' in s) return der.sequence(der.implicit(1, Buffer.from(s.email, 'ascii')));
  if ('uri' in s) return der.sequence(der.implicit(6, Buffer.from(s.uri, 'ascii')));
  if ('dn' in s) return der.sequence(der.explicit(4, encodeName(s.dn)));
  const [address, prefix] = s.ip.split('/') as [string, string];
  const bytes = ipBytes(address);
  const bits = Number(prefix);
  const mask = Buffer.alloc(bytes.length);
  for (let i = 0; i < bits; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
  return der.sequence(der.implicit(7, Buffer.concat([bytes, mask])));
}

function extension(oid: string, critical: boolean, value: Buffer, writeFalse = false): Buffer {
  return der.sequence(der.oid(oid), ...(critical ? [der.boolean(true)] : writeFalse ? [der.boolean(false)] : []), der.octetString(value));
}

const KU_BITS = { digitalSignature: 0, keyEncipherment: 2, keyAgreement: 4, keyCertSign: 5, cRLSign: 6 } as const;

function keyUsageValue(names: readonly (keyof typeof KU_BITS)[]): Buffer {
  let bits = 0;
  for (const n of names) bits |= 0x80 >> KU_BITS[n];
  let unused = 0;
  while (unused < 7 && !(bits & (1 << unused))) unused++;
  return der.bitString(Buffer.from([bits]), unused);
}

/** Builds and signs a certificate. */
export function buildCertificate(spec: CertSpec): Built {
  const key = spec.key ?? pooledKey('ec-p256');
  const issuerKey = spec.issuer?.key ?? key;
  const signer = spec.signWith ?? issuerKey;
  const usual = signatureAlgorithm(signer, spec.hash);
  const algId = spec.signatureAlgorithmDer ?? usual.algId;
  const hash = usual.hash;
  const nameDer = encodeName(spec.subject);
  const issuerName = spec.issuer?.nameDer ?? nameDer;
  const serial = spec.serial ?? BigInt(`0x${randomBytes(12).toString('hex')}`) | 1n;
  const notBefore = spec.notBefore ?? new Date(Date.now() - DAY);
  const notAfter = spec.notAfter ?? new Date(Date.now() + 90 * DAY);
  const version = spec.version ?? 3;
  const isCa = spec.ca === true;
  const skid = spec.skid === 'omit' ? undefined : (spec.skid ?? keyIdOf(key));
  const extensions: Buffer[] = [];
  if (version === 3) {
    if (spec.ca !== 'omit') {
      const fields = [...(isCa ? [der.boolean(true)] : []), ...(spec.pathLength !== undefined ? [der.integer(spec.pathLength)] : [])];
      extensions.push(extension('2.5.29.19', spec.basicConstraintsCritical ?? true, der.sequence(...fields)));
    }
    const ku = spec.keyUsage ?? (isCa ? (['keyCertSign', 'cRLSign'] as const) : (['digitalSignature'] as const));
    if (ku !== 'omit') extensions.push(extension('2.5.29.15', true, keyUsageValue(ku)));
    const eku = spec.eku ?? (isCa ? 'omit' : [OID.serverAuth]);
    if (eku !== 'omit') extensions.push(extension('2.5.29.37', spec.ekuCritical ?? false, der.sequence(...eku.map((o) => der.oid(o)))));
    const sans = spec.sans ?? (isCa || typeof spec.subject !== 'string' ? [] : [spec.subject]);
    if (sans.length > 0) {
      extensions.push(extension('2.5.29.17', false, der.sequence(...sans.map((s) => (isIP(s) ? der.implicit(7, ipBytes(s)) : der.implicit(2, Buffer.from(s, 'ascii')))))));
    }
    if (spec.nameConstraints) {
      const { permitted, excluded } = spec.nameConstraints;
      extensions.push(
        extension(
          '2.5.29.30',
          true,
          der.sequence(
            ...(permitted ? [der.explicit(0, ...permitted.map(subtree))] : []),
            ...(excluded ? [der.explicit(1, ...excluded.map(subtree))] : []),
          ),
        ),
      );
    }
    if (skid) extensions.push(extension('2.5.29.14', false, der.octetString(skid)));
    if (spec.akid !== 'omit') {
      const akid = spec.akid ?? { keyId: spec.issuer ? spec.issuer.skid : skid };
      const parts: Buffer[] = [];
      if (akid.keyId) parts.push(der.implicit(0, akid.keyId));
      if (akid.issuer !== undefined) parts.push(der.explicit(1, der.explicit(4, encodeName(akid.issuer))));
      if (akid.serial !== undefined) parts.push(der.implicit(2, der.integer(akid.serial).subarray(2)));
      if (parts.length) extensions.push(extension('2.5.29.35', false, der.sequence(...parts)));
    }
    for (const raw of spec.extensions ?? []) extensions.push(extension(raw.oid, raw.critical, raw.value, raw.writeFalse));
  }
  const tbs = der.sequence(
    ...(version === 3 ? [der.explicit(0, der.integer(2))] : []),
    der.integer(serial),
    algId,
    issuerName,
    der.sequence(der.time(notBefore), der.time(notAfter)),
    nameDer,
    spec.spkiDer ?? key.publicKey.export({ type: 'spki', format: 'der' }),
    ...(version === 3 && extensions.length ? [der.explicit(3, der.sequence(...extensions))] : []),
  );
  const signature = sign(hash, tbs, signer.privateKey);
  const certDer = der.sequence(tbs, spec.outerSignatureAlgorithmDer ?? algId, der.bitString(signature));
  const pem = `-----BEGIN CERTIFICATE-----\n${certDer.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  let cert: X509Certificate | undefined;
  // Made on first use: a certificate Node cannot parse (a test of what OpenSSL refuses) is still built.
  return {
    der: certDer,
    pem,
    get cert() {
      cert ??= new X509Certificate(certDer);
      return cert;
    },
    key,
    nameDer,
    skid,
    serial,
    spec,
  };
}

/** A self-signed root CA. */
export function root(subject: NameSpec, overrides: Partial<CertSpec> = {}): Built {
  return buildCertificate({ subject, ca: true, notAfter: new Date(Date.now() + 3650 * DAY), ...overrides });
}

/** An intermediate CA issued by `issuer`. */
export function intermediate(subject: NameSpec, issuer: Built, overrides: Partial<CertSpec> = {}): Built {
  return buildCertificate({ subject, ca: true, issuer, notAfter: new Date(Date.now() + 1825 * DAY), ...overrides });
}

/** A TLS server leaf for `host` issued by `issuer`. */
export function leaf(host: string, issuer: Built, overrides: Partial<CertSpec> = {}): Built {
  return buildCertificate({ subject: host, issuer, ...overrides });
}

/** The same subject and key as `certificate`, issued again by another issuer (a cross-sign). */
export function crossSign(certificate: Built, issuer: Built, overrides: Partial<CertSpec> = {}): Built {
  return buildCertificate({ ...certificate.spec, issuer, key: certificate.key, serial: undefined, akid: undefined, ...overrides });
}

/** A v1 self-signed root (no extensions at all), as old roots are. */
export function v1Root(subject: NameSpec, key?: KeyPair): Built {
  return buildCertificate({ subject, key, version: 1, notAfter: new Date(Date.now() + 3650 * DAY) });
}

/** An extension OID no one handles, for "unknown critical extension" cases. */
export const UNKNOWN_EXTENSION = '1.3.6.1.4.1.55738.666.1';

/** An unknown extension with an empty value. */
export function unknownExtension(critical: boolean): RawExtension {
  return { oid: UNKNOWN_EXTENSION, critical, value: der.null() };
}
