/**
 * Hostile certificate sets for the work-budget tests and the benchmark: what a server (or an attacker holding a
 * trusted CA) can send to make path validation expensive.
 */
import { der } from '../../src/core/der.js';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { buildCertificate, pooledKey } from './x509-builder.js';
import type { KeyPair } from './x509-builder.js';
import type { Built, KeyType } from './x509-builder.js';

const DAY = 86_400_000;

export interface AdversarialInput {
  readonly anchors: readonly Built[];
  readonly leaf: Built;
  readonly served: readonly Built[];
}

/**
 * A lattice: `depth` layers of `width` CA certificates, every certificate of a layer with the same name and the same
 * key as its siblings, every one signed by that key of the layer above, the top layer by a trusted root. All
 * width^depth chains are valid, and every signature check is a fresh (certificate, key) pair the first time.
 */
export function lattice(keyType: KeyType, width: number, depth: number): AdversarialInput {
  const key = pooledKey(keyType, 11);
  const rootCert = buildCertificate({ subject: `Lattice Root ${keyType}`, key, ca: true, notAfter: new Date(Date.now() + 3650 * DAY), skid: 'omit', akid: 'omit' });
  let above: Built = rootCert;
  const served: Built[] = [];
  for (let layer = depth - 1; layer >= 0; layer--) {
    let first: Built | undefined;
    for (let i = 0; i < width; i++) {
      const c = buildCertificate({ subject: `Lattice ${keyType} ${layer}`, key, ca: true, issuer: above, skid: 'omit', akid: 'omit' });
      served.push(c);
      first ??= c;
    }
    above = first!;
  }
  const leafCert = buildCertificate({ subject: 'lattice.test', key, issuer: above, skid: 'omit', akid: 'omit' });
  return { anchors: [rootCert], leaf: leafCert, served };
}

/**
 * `count` certificates over `keys` keys and as many names, each issued by the next name round the ring (so they form
 * cycles), none reaching a trust anchor: the shape that froze the old search.
 */
export function ring(keyType: KeyType, count: number, keys: number): AdversarialInput {
  const keyOf = (i: number) => pooledKey(keyType, 20 + (i % keys));
  const name = (i: number) => `Ring ${keyType} ${i % keys}`;
  const placeholders = Array.from({ length: keys }, (_, i) => buildCertificate({ subject: name(i), key: keyOf(i), ca: true, skid: 'omit', akid: 'omit' }));
  const served: Built[] = [];
  for (let i = 0; i < count; i++) {
    served.push(buildCertificate({ subject: name(i), key: keyOf(i), ca: true, issuer: placeholders[(i + 1) % keys]!, skid: 'omit', akid: 'omit' }));
  }
  const leafCert = buildCertificate({ subject: 'ring.test', key: keyOf(0), issuer: placeholders[0]!, skid: 'omit', akid: 'omit' });
  const unrelated = buildCertificate({ subject: 'Unrelated Root', ca: true });
  return { anchors: [unrelated], leaf: leafCert, served };
}

/** A straight chain of `length` distinct CAs under a trusted root (every certificate needed, none repeated). */
export function deepChain(keyType: KeyType, length: number): AdversarialInput {
  const key = pooledKey(keyType, 12);
  const rootCert = buildCertificate({ subject: `Deep Root ${keyType}`, key, ca: true, notAfter: new Date(Date.now() + 3650 * DAY) });
  let above = rootCert;
  const served: Built[] = [];
  for (let i = 0; i < length; i++) {
    above = buildCertificate({ subject: `Deep ${keyType} ${i}`, key, ca: true, issuer: above });
    served.push(above);
  }
  const leafCert = buildCertificate({ subject: 'deep.test', key, issuer: above });
  return { anchors: [rootCert], leaf: leafCert, served: served.reverse() };
}

/** A leaf with `names` DNS SANs under a CA whose name constraints list `subtrees` permitted DNS subtrees. */
export function nameConstraintFlood(names: number, subtrees: number): AdversarialInput {
  const key = pooledKey('ec-p256', 13);
  const rootCert = buildCertificate({ subject: 'Flood Root', key, ca: true });
  const ca = buildCertificate({
    subject: 'Flood CA',
    key,
    ca: true,
    issuer: rootCert,
    nameConstraints: { permitted: Array.from({ length: subtrees }, (_, i) => ({ dns: `p${i}.flood.test` })) },
  });
  const sans = Array.from({ length: names }, (_, i) => `h${i}.p${i % subtrees}.flood.test`);
  const leafCert = buildCertificate({ subject: 'flood.test', key, issuer: ca, sans });
  return { anchors: [rootCert], leaf: leafCert, served: [ca] };
}

/**
 * `count` junk certificates served before a valid chain, every one with the issuing CA's name but another key
 * identifier: each is looked at, and passed over, whenever an issuer of that name is sought.
 */
export function junkFlood(count: number): AdversarialInput {
  const key = pooledKey('ec-p256', 14);
  const rootCert = buildCertificate({ subject: 'Junk Flood Root', key, ca: true });
  const ca = buildCertificate({ subject: 'Junk Flood CA', key, ca: true, issuer: rootCert, skid: Buffer.from('real') });
  const junk = Array.from({ length: count }, (_, i) =>
    buildCertificate({ subject: 'Junk Flood CA', key, ca: true, skid: Buffer.from(`junk ${i}`), extensions: [{ oid: '1.2.3.4', critical: false, value: der.null() }] }),
  );
  return { anchors: [rootCert], leaf: buildCertificate({ subject: 'junk.test', key, issuer: ca }), served: [...junk, ca] };
}

/**
 * An RSA key whose public exponent is one bit shorter than its modulus: a valid key, which OpenSSL accepts at up to
 * 3072 bits, and whose every verification costs milliseconds (the exponent's length is the number of squarings).
 */
export function longExponentRsaKey(bits = 3072): KeyPair {
  const base = generateKeyPairSync('rsa', { modulusLength: bits }).privateKey.export({ format: 'jwk' });
  const big = (b64: string | undefined) => BigInt(`0x${Buffer.from(b64!, 'base64url').toString('hex')}`);
  const b64 = (n: bigint) => {
    const hex = n.toString(16);
    return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex').toString('base64url');
  };
  const inverse = (a: bigint, m: bigint): bigint | undefined => {
    let [r0, r1, x0, x1] = [((a % m) + m) % m, m, 1n, 0n];
    while (r1 !== 0n) {
      const q = r0 / r1;
      [r0, r1, x0, x1] = [r1, r0 - q * r1, x1, x0 - q * x1];
    }
    return r0 === 1n ? ((x0 % m) + m) % m : undefined;
  };
  const p = big(base.p);
  const q = big(base.q);
  const phi = (p - 1n) * (q - 1n);
  for (;;) {
    const e = (BigInt(`0x${randomBytes(bits / 8).toString('hex')}`) % (1n << BigInt(bits - 1))) | 1n | (1n << BigInt(bits - 2));
    const d = inverse(e, phi);
    if (d === undefined) continue;
    const privateKey = createPrivateKey({ key: { kty: 'RSA', n: b64(p * q), e: b64(e), d: b64(d), p: base.p!, q: base.q!, dp: b64(d % (p - 1n)), dq: b64(d % (q - 1n)), qi: b64(inverse(q, p)!) }, format: 'jwk' });
    return { type: 'rsa2048', privateKey, publicKey: createPublicKey(privateKey), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
  }
}

/** A root, then `cas` CAs with a {@link longExponentRsaKey} each, then a leaf: `cas` costly verifications. */
export function longExponentChain(cas: number): AdversarialInput {
  const rootCert = buildCertificate({ subject: 'Costly Root', key: pooledKey('ec-p256', 14), ca: true });
  let above = rootCert;
  const served = [];
  for (let i = 0; i < cas; i++) {
    above = buildCertificate({ subject: `Costly CA ${i}`, key: longExponentRsaKey(), ca: true, issuer: above });
    served.push(above);
  }
  const leafCert = buildCertificate({ subject: 'costly.test', key: pooledKey('ec-p256', 15), issuer: above });
  return { anchors: [rootCert], leaf: leafCert, served: served.reverse() };
}
