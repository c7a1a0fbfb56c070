/**
 * Where certpin is stricter than OpenSSL on purpose (docs/path-validation.md): OpenSSL accepts these chains, Node's
 * host-name check would then accept a name the constraints were meant to keep out, and certpin refuses. Also: names
 * compare canonically, as OpenSSL compares them.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { der } from '../src/core/der.js';
import { TrustAnchorIndex, validatePath } from '../src/core/path/index.js';
import type { PathValidation } from '../src/core/path/index.js';
import { opensslVerify } from './support/openssl-cli.js';
import { factsOf, opensslVerdict, validateCase } from './support/path-case.js';
import { OID, buildCertificate, intermediate, leaf, pooledKey, root, unknownExtension } from './support/x509-builder.js';
import type { Built, CertSpec } from './support/x509-builder.js';

const certpin = (anchors: readonly Built[], chain: readonly Built[]): PathValidation => validateCase({ anchors, chain, host: '' });
const openssl = (anchors: readonly Built[], chain: readonly Built[], host: string): boolean => opensslVerdict({ anchors, chain, host }).ok;

/** Node's host-name check on the leaf. */
const nodeAccepts = (l: Built, host: string): boolean => tls.checkServerIdentity(host, new X509Certificate(l.der).toLegacyObject()) === undefined;

/** A root whose intermediate carries `constraints`, and a leaf under it. */
function constrained(constraints: CertSpec['nameConstraints'], leafSpec: Partial<CertSpec>) {
  const r = root('Stricter Root');
  const i = intermediate('Stricter Issuing', r, { nameConstraints: constraints });
  const l = leaf('stricter.test', i, leafSpec);
  return { anchors: [r], chain: [l, i] };
}

describe('stricter than OpenSSL, where Node would accept an excluded name', () => {
  it('a wildcard SAN that can match an excluded name', () => {
    const { anchors, chain } = constrained({ excluded: [{ dns: 'bank.test' }] }, { sans: ['*.test'] });
    const wide = constrained({ excluded: [{ dns: 'bar.example.test' }] }, { sans: ['*.example.test'] });
    assert.ok(openssl(wide.anchors, wide.chain, 'bar.example.test'), 'OpenSSL accepts');
    assert.ok(nodeAccepts(wide.chain[0]!, 'bar.example.test'), 'and Node then accepts the excluded name');
    const result = certpin(wide.anchors, wide.chain);
    assert.equal(result.verified ? 'verified' : result.code, 'name-constraints');
    // A single-label wildcard Node never matches is refused anyway.
    assert.equal(certpin(anchors, chain).verified, false);
  });

  it('a SAN with a trailing dot under an excluded subtree without it', () => {
    const { anchors, chain } = constrained({ excluded: [{ dns: 'bank.test' }] }, { sans: ['stricter.test', 'bank.test.'] });
    assert.ok(openssl(anchors, chain, 'stricter.test'), 'OpenSSL accepts');
    assert.ok(nodeAccepts(chain[0]!, 'bank.test'), 'Node matches bank.test to "bank.test."');
    assert.equal(certpin(anchors, chain).verified, false);
  });

  it('an IPv4-mapped IPv6 SAN under an excluded IPv4 subtree', () => {
    const { anchors, chain } = constrained({ excluded: [{ ip: '10.0.0.0/8' }] }, { sans: ['stricter.test', '::ffff:a01:203'] });
    assert.ok(openssl(anchors, chain, 'stricter.test'), 'OpenSSL accepts');
    assert.equal(certpin(anchors, chain).verified, false);
  });

  it('a leaf without DNS SAN whose commonName Node would use, under DNS constraints', () => {
    const { anchors, chain } = constrained({ permitted: [{ dns: 'good.test' }] }, { subject: '*.evil.test', sans: ['127.0.0.1'] });
    assert.ok(openssl(anchors, chain, 'www.evil.test'), 'OpenSSL skips a commonName that is not a host name');
    assert.ok(nodeAccepts(chain[0]!, 'www.evil.test'), 'Node falls back to the commonName');
    assert.equal(certpin(anchors, chain).verified, false);
  });

  it('nameConstraints with an empty permitted list', () => {
    const r = root('Empty NC Root');
    const emptyPermitted = { oid: '2.5.29.30', critical: true, value: der.sequence(der.explicit(0)) };
    const i = intermediate('Empty NC Issuing', r, { extensions: [emptyPermitted] });
    const l = leaf('empty.test', i);
    assert.ok(openssl([r], [l, i], 'empty.test'), 'OpenSSL reads it as no constraint');
    const result = certpin([r], [l, i]);
    assert.equal(result.verified, false);
  });

  it('an invalid leaf (a duplicated extension) trusted directly with partial chains', () => {
    const r = root('Invalid Leaf Root');
    const i = intermediate('Invalid Leaf Issuing', r);
    const duplicate = { oid: '2.5.29.17', critical: false, value: der.sequence(der.implicit(2, Buffer.from('invalid.test'))) };
    const l = leaf('invalid.test', i, { extensions: [duplicate] });
    const [facts] = [l].map(factsOf);
    assert.ok(facts!.invalid.length > 0);
    assert.ok(opensslVerify({ trusted: [l.pem], untrusted: [], leaf: l.pem, hostname: 'invalid.test', partialChain: true }).ok, 'OpenSSL accepts it');
    const result = validatePath(facts!, [], new TrustAnchorIndex([l.der]), { now: Date.now(), partialChain: true });
    assert.equal(result.verified ? 'verified' : result.code, 'malformed');
  });

  it('a root certpin finds invalid (a duplicated extension) is refused as malformed, at once, not taken for its own issuer', () => {
    const duplicate = unknownExtension(false);
    const r = root('Invalid Root', { extensions: [duplicate, duplicate] });
    const i = intermediate('Under Invalid Root', r);
    for (const chain of [[leaf('invalid-root.test', r)], [leaf('invalid-root.test', i), i]]) {
      assert.ok(openssl([r], chain, 'invalid-root.test'), 'OpenSSL accepts it');
      const result = certpin([r], chain);
      assert.equal(result.verified ? 'verified' : result.code, 'malformed');
      assert.ok(!result.verified && result.work.steps < 10, `a few steps, not a loop through the anchor (${result.verified ? '' : result.work.steps})`);
    }
  });

  it('a leaf whose public key is not DER (a long-form length): one key, two pins', () => {
    const r = root('Non-DER Key Root');
    const i = intermediate('Non-DER Key Issuing', r);
    const key = pooledKey('ec-p256', 3);
    const spki = key.publicKey.export({ type: 'spki', format: 'der' });
    // 30 59 30 13 … → 30 5a 30 81 13 …: the AlgorithmIdentifier's length in the long form.
    const spkiDer = Buffer.concat([Buffer.from([0x30, spki[1]! + 1, 0x30, 0x81]), spki.subarray(3)]);
    const l = leaf('nonder.test', i, { key, spkiDer });
    assert.ok(openssl([r], [l, i], 'nonder.test'), 'OpenSSL accepts it');
    const result = certpin([r], [l, i]);
    assert.equal(result.verified ? 'verified' : result.code, 'malformed');
  });

  it('two same-name, same-key issuers, one constrained: refused whatever the order', () => {
    const r = root('Order Root');
    const key = pooledKey('ec-p256', 15);
    const plain = intermediate('Order Issuing', r, { key });
    const limited = intermediate('Order Issuing', r, { key, eku: [OID.emailProtection] });
    const l = leaf('order.test', plain);
    assert.ok(openssl([r], [l, plain, limited], 'order.test'), 'OpenSSL takes the first');
    assert.equal(openssl([r], [l, limited, plain], 'order.test'), false, 'and fails with the other first');
    assert.equal(certpin([r], [l, plain, limited]).verified, false);
    assert.equal(certpin([r], [l, limited, plain]).verified, false);
  });
});

describe('names compare as OpenSSL compares them', () => {
  it('case, white space and string type do not matter; the words do', () => {
    const r = root('Canonical Root');
    const i = intermediate([[OID.organization, 'Example Bank'], [OID.commonName, 'Issuing CA One']], r);
    const printable = (text: string) => der.set(der.sequence(der.oid(OID.commonName), der.printable(text)));
    const variant = der.sequence(der.set(der.sequence(der.oid(OID.organization), der.utf8('  EXAMPLE   bank '))), printable('issuing  ca ONE'));
    const different = der.sequence(der.set(der.sequence(der.oid(OID.organization), der.utf8('Example Bank'))), printable('Issuing CA Two'));
    for (const [nameDer, same] of [[variant, true], [different, false]] as const) {
      const l = buildCertificate({ subject: 'canonical.test', issuer: { ...i, nameDer }, akid: 'omit' });
      assert.equal(openssl([r], [l, i], 'canonical.test'), same);
      assert.equal(certpin([r], [l, i]).verified, same);
    }
  });
});
