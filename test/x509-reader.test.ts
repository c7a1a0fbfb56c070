/**
 * The certificate reader on real certificates: Node's root store, the facts cache keyed by Node's fingerprint256,
 * and the served-chain entry point.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { TrustAnchorIndex, validateServedChain } from '../src/core/path/index.js';
import { certificateFacts, normaliseDigest, readCertificate } from '../src/core/x509/index.js';
import { CertificateParseError } from '../src/errors.js';
import { spkiPin } from '../src/tools/index.js';
import { OID, buildCertificate, intermediate, leaf, pooledKey, root } from './support/x509-builder.js';

describe('certificate reader', () => {
  it("reads every root of Node's store: self-signed CAs, nothing invalid", () => {
    for (const pem of tls.rootCertificates) {
      const x509 = new X509Certificate(pem);
      const read = readCertificate(x509.raw);
      assert.ok(read.ok, `${x509.subject}: ${read.ok ? '' : read.reason}`);
      assert.deepEqual(read.facts.invalid, [], x509.subject);
      assert.ok(read.facts.selfIssued, x509.subject);
      assert.equal(read.facts.notAfter, Date.parse(x509.validTo), x509.subject);
      assert.equal(Buffer.from(read.facts.spki).toString('base64'), x509.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'));
    }
  });

  it('reads the facts a path needs', () => {
    const r = root('Reader Root', { nameConstraints: { permitted: [{ dns: 'reader.test' }], excluded: [{ ip: '10.0.0.0/8' }] } });
    const i = intermediate('Reader Issuing', r, { pathLength: 0, eku: [OID.serverAuth] });
    const read = readCertificate(i.der);
    assert.ok(read.ok);
    const f = read.facts;
    assert.equal(f.version, 3);
    assert.deepEqual(f.basicConstraints, { ca: true, pathLength: 0 });
    assert.deepEqual(f.extKeyUsage, [OID.serverAuth]);
    assert.equal(f.keyUsage, 0x0006);
    assert.deepEqual(Buffer.from(f.authorityKeyId!.keyIdentifier!), r.skid);
    assert.deepEqual(Buffer.from(f.subjectKeyId!), i.skid);
    const rootFacts = readCertificate(r.der);
    assert.ok(rootFacts.ok);
    assert.equal(f.issuer.key, rootFacts.facts.subject.key);
    assert.equal(rootFacts.facts.nameConstraints?.permitted.length, 1);
    assert.equal(rootFacts.facts.nameConstraints?.excluded[0]?.base.type, 'iPAddress');
    assert.ok(rootFacts.facts.selfSigned);
  });

  it("a name or key identifier in BER's constructed form makes the certificate invalid, where OpenSSL joins the parts", () => {
    const tlv = (tag: number, ...parts: Buffer[]) => {
      const body = Buffer.concat(parts);
      return Buffer.concat([Buffer.from([tag, body.length]), body]);
    };
    const host = Buffer.from('reader.test', 'latin1');
    // dNSName [2] as a constructed string of two IA5String parts; keyIdentifier [0] as a constructed OCTET STRING.
    const san = tlv(0x30, tlv(0xa2, tlv(0x16, host.subarray(0, 6)), tlv(0x16, host.subarray(6))));
    const akid = tlv(0x30, tlv(0xa0, tlv(0x04, Buffer.from([1, 2, 3, 4]))));
    const raw = { ca: 'omit', keyUsage: 'omit', eku: 'omit', skid: 'omit', akid: 'omit', sans: [] } as const;
    for (const [what, extension] of [['subjectAltName', { oid: '2.5.29.17', critical: false, value: san }], ['authorityKeyIdentifier', { oid: '2.5.29.35', critical: false, value: akid }]] as const) {
      const built = buildCertificate({ ...raw, subject: 'reader.test', extensions: [extension] });
      const read = readCertificate(built.der);
      assert.ok(read.ok);
      assert.ok(read.facts.invalid.some((why) => /constructed \(BER\) form, which DER forbids/.test(why)), `${what}: ${read.facts.invalid.join('; ')}`);
    }
    // OpenSSL reads the constructed dNSName as one name: a reader that joined the parts would agree with it today,
    // and would be a second reading of names to keep identical to OpenSSL's.
    assert.equal(new X509Certificate(buildCertificate({ ...raw, subject: 'reader.test', extensions: [{ oid: '2.5.29.17', critical: false, value: san }] }).der).subjectAltName, 'DNS:reader.test');
  });

  it('a public key that is not DER (a long-form length, a padded RSA INTEGER) has no SPKI pin: openssl would hash other bytes', () => {
    const r = root('Reader BER Root');
    const ecKey = pooledKey('ec-p256');
    const rsaKey = pooledKey('rsa2048');
    const ecSpki = ecKey.publicKey.export({ type: 'spki', format: 'der' });
    // 30 59 30 13 … → 30 5a 30 81 13 …: the AlgorithmIdentifier's length in the long form, one byte longer.
    assert.equal(ecSpki[2], 0x30);
    const longForm = Buffer.concat([Buffer.from([0x30, ecSpki[1]! + 1, 0x30, 0x81]), ecSpki.subarray(3)]);
    // The RSA modulus with one more leading zero byte: the same number, a non-minimal INTEGER.
    const rsaSpki = rsaKey.publicKey.export({ type: 'spki', format: 'der' });
    const { n, e } = rsaKey.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    const integer = (bytes: Buffer) => Buffer.concat([Buffer.from([0x02, 0x82, bytes.length >> 8, bytes.length & 0xff]), bytes]);
    const modulus = integer(Buffer.concat([Buffer.from([0, 0]), Buffer.from(n, 'base64url')]));
    const exponent = Buffer.concat([Buffer.from([0x02, Buffer.from(e, 'base64url').length]), Buffer.from(e, 'base64url')]);
    const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag, 0x82, body.length >> 8, body.length & 0xff]), body]);
    const rsaKeyDer = tlv(0x30, Buffer.concat([modulus, exponent]));
    const algorithm = rsaSpki.subarray(4, 4 + 2 + rsaSpki[5]!);
    const paddedRsa = tlv(0x30, Buffer.concat([algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), rsaKeyDer]))]));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-ber-'));
    for (const [what, spkiDer] of [['EC key, long-form length', longForm], ['RSA key, padded modulus', paddedRsa]] as const) {
      const built = leaf('ber.reader.test', r, { spkiDer, key: what.startsWith('EC') ? ecKey : rsaKey });
      // OpenSSL reads the certificate and re-encodes the key: its pin is not the hash of the bytes the certificate carries.
      const file = path.join(dir, 'leaf.pem');
      writeFileSync(file, built.pem);
      const reencoded = execFileSync('openssl', ['x509', '-in', file, '-noout', '-pubkey']);
      const opensslSpki = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: reencoded });
      assert.notDeepEqual(opensslSpki, spkiDer, what);
      const read = readCertificate(built.der);
      assert.ok(read.ok, what);
      assert.ok(read.facts.invalid.some((why) => /subjectPublicKeyInfo is not DER/.test(why)), `${what}: ${read.facts.invalid.join('; ')}`);
      assert.throws(() => spkiPin(built.pem), (error: unknown) => error instanceof CertificateParseError && /not DER-encoded/.test(error.message), what);
      // The same key written in DER: read, pinned, and the pin is openssl's.
      const plain = leaf('der.reader.test', r, { key: what.startsWith('EC') ? ecKey : rsaKey });
      const plainRead = readCertificate(plain.der);
      assert.ok(plainRead.ok && plainRead.facts.invalid.length === 0, what);
      assert.equal(spkiPin(plain.pem), `sha256/${createHash('sha256').update(opensslSpki).digest('base64')}`, what);
    }
    rmSync(dir, { recursive: true });
  });

  it('an RSA-PSS key with its parameters (nested five deep) is DER, read and pinned like any key', () => {
    const r = root('Reader PSS Root');
    const { publicKey } = generateKeyPairSync('rsa-pss', { modulusLength: 2048, hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    const spkiDer = publicKey;
    const built = leaf('pss.reader.test', r, { spkiDer });
    const read = readCertificate(built.der);
    assert.ok(read.ok);
    assert.deepEqual(read.facts.invalid, []);
    assert.equal(read.facts.key.family, 'rsa-pss');
    assert.equal(spkiPin(built.pem), `sha256/${createHash('sha256').update(spkiDer).digest('base64')}`);
  });

  it("caches facts by SHA-256, keyed by Node's fingerprint256 without hashing again", () => {
    const l = leaf('cache.test', intermediate('Cache Issuing', root('Cache Root')));
    const byFingerprint = certificateFacts(l.der, l.cert.fingerprint256);
    const byHash = certificateFacts(Buffer.from(l.der));
    assert.ok(byFingerprint.ok && byHash.ok);
    assert.equal(byFingerprint.facts, byHash.facts);
    assert.equal(normaliseDigest(l.cert.fingerprint256), byHash.facts.sha256);
    assert.equal(normaliseDigest(Buffer.from(byHash.facts.sha256, 'hex')), byHash.facts.sha256);
    assert.equal(normaliseDigest('not a digest'), undefined);
  });

  it('a trust anchor index of the system store costs nothing until it is used', () => {
    const ders = tls.rootCertificates.map((pem) => new X509Certificate(pem).raw);
    const start = performance.now();
    const index = new TrustAnchorIndex(ders);
    assert.ok(performance.now() - start < 5);
    assert.equal(index.size, ders.length);
    assert.equal(index.unreadable, 0);
  });

  it("an anchor given as Node's X509Certificate lends the key OpenSSL decoded: the first chain under it decodes none", () => {
    const r = root('Lending Root');
    const i = intermediate('Lending Issuing', r);
    const l = leaf('lending.test', i);
    const anchors = new TrustAnchorIndex([r.cert]);
    const result = validateServedChain([l.der, i.der], anchors, { now: Date.now() }, [l.cert.fingerprint256, i.cert.fingerprint256]);
    assert.ok(result.verified, result.verified ? '' : result.reason);
    const anchor = result.paths[0]!.at(-1)!;
    assert.equal(anchor.x509(), r.cert, "the anchor's facts hold the store's X509Certificate");
    assert.ok(anchor.publicKey().equals(r.cert.publicKey));
    // A certificate read from DER alone gets its own reading by Node, made when its key is first needed.
    const issuing = result.paths[0]![1]!;
    assert.notEqual(issuing.x509(), i.cert);
    assert.ok(issuing.publicKey().equals(i.cert.publicKey));
  });

  it('validateServedChain: an unreadable leaf is refused, unreadable others are left out', () => {
    const r = root('Served Root');
    const i = intermediate('Served Issuing', r);
    const l = leaf('served.test', i);
    const anchors = new TrustAnchorIndex([r.der]);
    const now = Date.now();
    assert.equal(validateServedChain([], anchors, { now }).verified, false);
    const garbage = validateServedChain([Buffer.from('garbage')], anchors, { now });
    assert.equal(garbage.verified ? '' : garbage.code, 'malformed');
    const ok = validateServedChain([l.der, Buffer.from('junk'), i.der], anchors, { now }, [l.cert.fingerprint256, '', i.cert.fingerprint256]);
    assert.ok(ok.verified);
  });
});
