/**
 * The certificate reader on real certificates: Node's root store, the facts cache keyed by Node's fingerprint256,
 * and the served-chain entry point.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { TrustAnchorIndex, validateServedChain } from '../src/core/path/index.js';
import { certificateFacts, normaliseDigest, readCertificate } from '../src/core/x509/index.js';
import { OID, buildCertificate, intermediate, leaf, root } from './support/x509-builder.js';

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
