/**
 * One case per defence of validatePath: a chain that breaks exactly one rule is refused by certpin and by
 * `openssl verify -purpose sslserver`, while its twin without the fault is accepted by both. These are the tests that
 * fail when a check is removed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { der } from '../src/core/der.js';
import { TrustAnchorIndex, validatePath } from '../src/core/path/index.js';
import { factsOf, opensslVerdict, validateCase } from './support/path-case.js';
import type { PathCase } from './support/path-case.js';
import { OID, buildCertificate, intermediate, leaf, pooledKey, root, unknownExtension } from './support/x509-builder.js';
import type { Built, CertSpec } from './support/x509-builder.js';

const DAY = 86_400_000;

type Case = PathCase;
const certpin = validateCase;
const openssl = (c: Case): boolean => opensslVerdict(c).ok;

/** Asserts certpin refuses `bad` with `code` (and OpenSSL too unless told), and both accept `good`. */
function refused(bad: Case, code: string, options: { good?: Case; opensslRefuses?: boolean } = {}): void {
  const result = certpin(bad);
  assert.equal(result.verified, false, 'certpin accepted the faulty chain');
  assert.equal(result.verified ? '' : result.code, code);
  if (options.opensslRefuses ?? true) assert.equal(openssl(bad), false, 'openssl accepts the faulty chain: the case is wrong');
  if (options.good) {
    const ok = certpin(options.good);
    assert.ok(ok.verified, ok.verified ? '' : `${ok.code}: ${ok.reason}`);
    assert.ok(openssl(options.good), 'openssl refuses the good twin');
  }
}

/** A chain root → intermediate → leaf for `host`, with overrides per certificate. */
function chain(host: string, spec: { root?: Partial<CertSpec>; intermediate?: Partial<CertSpec>; leaf?: Partial<CertSpec> } = {}): Case & { r: Built; i: Built; l: Built } {
  const r = root(`Checks Root ${host}`, spec.root);
  const i = intermediate(`Checks Issuing ${host}`, r, spec.intermediate);
  const l = leaf(host, i, spec.leaf);
  return { anchors: [r], chain: [l, i], host, r, i, l };
}

function sanExtension(...names: Buffer[]): { oid: string; critical: boolean; value: Buffer } {
  return { oid: '2.5.29.17', critical: false, value: der.sequence(...names) };
}

describe('validatePath: one refusal per defence', () => {
  const baseline = chain('good.checks.test');

  it('accepts the baseline chain', () => {
    assert.ok(certpin(baseline).verified);
    assert.ok(openssl(baseline));
  });

  describe('extended key usage (purpose sslserver)', () => {
    it('leaf with emailProtection only', () => refused(chain('eku.test', { leaf: { eku: [OID.emailProtection] } }), 'purpose', { good: baseline }));
    it('leaf with anyExtendedKeyUsage only', () => refused(chain('eku.test', { leaf: { eku: [OID.anyExtendedKeyUsage] } }), 'purpose'));
    it('intermediate with emailProtection only', () => refused(chain('eku.test', { intermediate: { eku: [OID.emailProtection] } }), 'purpose'));
    it('trust anchor with emailProtection only', () => refused(chain('eku.test', { root: { eku: [OID.emailProtection] } }), 'purpose'));
    it('leaf keyUsage without digitalSignature, keyEncipherment or keyAgreement', () => refused(chain('ku.test', { leaf: { keyUsage: ['cRLSign'] } }), 'purpose'));
  });

  describe('name constraints', () => {
    it('dNSName outside a permitted subtree', () => refused(chain('www.evil.test', { intermediate: { nameConstraints: { permitted: [{ dns: 'good.test' }] } } }), 'name-constraints'));
    it('dNSName inside an excluded subtree', () => refused(chain('www.evil.test', { intermediate: { nameConstraints: { excluded: [{ dns: 'evil.test' }] } } }), 'name-constraints'));
    it('dNSName constraints on the trust anchor apply too', () => refused(chain('www.evil.test', { root: { nameConstraints: { permitted: [{ dns: 'good.test' }] } } }), 'name-constraints'));
    it('iPAddress outside a permitted subtree', () =>
      refused(chain('127.0.0.1', { leaf: { sans: ['127.0.0.1'], subject: 'ip leaf' }, intermediate: { nameConstraints: { permitted: [{ ip: '10.0.0.0/8' }] } } }), 'name-constraints'));
    it('iPAddress inside an excluded subtree', () =>
      refused(chain('127.0.0.1', { leaf: { sans: ['127.0.0.1'], subject: 'ip leaf' }, intermediate: { nameConstraints: { excluded: [{ ip: '127.0.0.0/8' }] } } }), 'name-constraints'));
    it('subject DN outside a permitted directoryName subtree', () =>
      refused(chain('dn.test', { leaf: { subject: [[OID.organization, 'Elsewhere'], [OID.commonName, 'dn.test']], sans: ['dn.test'] }, intermediate: { nameConstraints: { permitted: [{ dn: [[OID.organization, 'Here']] }] } } }), 'name-constraints'));
    it('rfc822Name outside a permitted email subtree', () =>
      refused(
        chain('mail.test', {
          leaf: { sans: [], extensions: [sanExtension(der.implicit(2, Buffer.from('mail.test')), der.implicit(1, Buffer.from('a@evil.test')))] },
          intermediate: { nameConstraints: { permitted: [{ email: 'good.test' }] } },
        }),
        'name-constraints',
      ));
    it('commonName checked as a DNS name when the leaf has no DNS SAN', () =>
      refused(chain('127.0.0.1', { leaf: { subject: 'www.evil.test', sans: ['127.0.0.1'] }, intermediate: { nameConstraints: { permitted: [{ dns: 'good.test' }] } } }), 'name-constraints'));
    it('an otherName SAN under an otherName constraint (unsupported type) is refused', () => {
      const upn = '1.3.6.1.4.1.311.20.2.3';
      const otherName = der.explicit(0, der.oid(upn), der.explicit(0, der.utf8('a@evil.test')));
      const constraint = { oid: '2.5.29.30', critical: true, value: der.sequence(der.explicit(1, der.sequence(der.explicit(0, der.oid(upn), der.explicit(0, der.utf8('evil.test')))))) };
      refused(chain('other.test', { leaf: { sans: [], extensions: [sanExtension(der.implicit(2, Buffer.from('other.test')), otherName)] }, intermediate: { extensions: [constraint] } }), 'name-constraints');
    });
    it("an intermediate's own names are checked against the constraints above it", () => {
      const r = root('NC Root', { nameConstraints: { permitted: [{ dns: 'good.test' }] } });
      const i = intermediate('NC Issuing', r, { sans: ['outside.example'] });
      refused({ anchors: [r], chain: [leaf('www.good.test', i), i], host: 'www.good.test' }, 'name-constraints');
    });
    it('a self-issued intermediate is skipped, as OpenSSL skips it', () => {
      const r = root('SI Root', { nameConstraints: { permitted: [{ dns: 'good.test' }] } });
      const rollover = intermediate('SI Root', r, { key: pooledKey('ec-p256', 5), sans: ['outside.example'] });
      const c: Case = { anchors: [r], chain: [leaf('www.good.test', rollover), rollover], host: 'www.good.test' };
      assert.ok(certpin(c).verified);
      assert.ok(openssl(c));
    });
  });

  describe('critical extensions', () => {
    it('unknown critical extension on the leaf', () => refused(chain('crit.test', { leaf: { extensions: [unknownExtension(true)] } }), 'critical-extension'));
    it('unknown critical extension on an intermediate', () => refused(chain('crit.test', { intermediate: { extensions: [unknownExtension(true)] } }), 'critical-extension'));
    it('unknown critical extension on the trust anchor', () => refused(chain('crit.test', { root: { extensions: [unknownExtension(true)] } }), 'critical-extension'));
    it('an unknown non-critical extension is fine', () => assert.ok(certpin(chain('crit.test', { intermediate: { extensions: [unknownExtension(false)] } })).verified));
  });

  describe('CA rules', () => {
    it('pathLenConstraint 0 on the root with an intermediate below', () => {
      const r = root('PathLen Root', { pathLength: 0 });
      const i = intermediate('PathLen Issuing', r);
      const i2 = intermediate('PathLen Sub', i);
      refused({ anchors: [r], chain: [leaf('pl.test', i2), i2, i], host: 'pl.test' }, 'path-length');
    });
    it('pathLenConstraint does not count a self-issued intermediate', () => {
      const r = root('PathLen SI Root', { pathLength: 0 });
      const key = pooledKey('ec-p256', 6);
      const i = intermediate('PathLen SI Issuing', r, { key });
      const rollover = intermediate('PathLen SI Issuing', i, { key: pooledKey('ec-p256', 8) });
      const c: Case = { anchors: [r], chain: [leaf('plsi.test', rollover), rollover, i], host: 'plsi.test' };
      assert.equal(certpin(c).verified, openssl(c));
    });
    it('an issuer whose keyUsage lacks keyCertSign', () => refused(chain('kcs.test', { intermediate: { keyUsage: ['digitalSignature', 'cRLSign'] } }), 'not-a-ca'));
    it('an intermediate that is not a CA (basicConstraints cA false)', () => refused(chain('ca.test', { intermediate: { ca: false, keyUsage: ['keyCertSign'], eku: 'omit' } }), 'not-a-ca'));
    it('an intermediate without basicConstraints', () => refused(chain('ca.test', { intermediate: { ca: 'omit' } }), 'not-a-ca'));
  });

  describe('issuer linkage and signatures', () => {
    it('authorityKeyIdentifier naming another key: no issuer, although the signature would verify', () => {
      const c = chain('akid.test', { leaf: { akid: { keyId: Buffer.alloc(20, 7) } } });
      refused(c, 'no-path');
    });
    it('a forged signature', () => {
      const c = chain('forged.test', { leaf: { signWith: pooledKey('ec-p256', 9) } });
      refused(c, 'signature');
    });
    it('a served self-signed copy of the trust anchor (same name and key, other bytes) does not end a path', () => {
      // The served copy is the only possible issuer of the intermediate (its AKID names the copy's serial). OpenSSL
      // then finds the anchor as the copy's issuer and refuses the look-alike; so does certpin, although every
      // signature on the chain would verify with the anchor's key.
      const key = pooledKey('ec-p256', 16);
      const anchor = root('Copied Root', { key });
      const copy = root('Copied Root', { key, akid: { keyId: anchor.skid! } });
      const i = intermediate('Copied Issuing', copy, { akid: { keyId: copy.skid!, serial: copy.serial } });
      refused({ anchors: [anchor], chain: [leaf('copied.test', i), i, copy], host: 'copied.test' }, 'no-path');
    });

    it('a self-signed look-alike of the trust anchor (same name, another key) is not trusted', () => {
      const c = chain('lookalike.test');
      const fake = root(`Checks Root lookalike.test`, { key: pooledKey('ec-p256', 10) });
      const i = intermediate('Look-alike Issuing', fake);
      refused({ anchors: c.anchors, chain: [leaf('lookalike.test', i), i, fake], host: 'lookalike.test' }, 'no-path');
    });
  });

  describe('validity', () => {
    const past = { notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) };
    const future = { notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 30 * DAY) };
    it('expired leaf', () => refused(chain('time.test', { leaf: past }), 'expired'));
    it('not-yet-valid leaf', () => refused(chain('time.test', { leaf: future }), 'not-yet-valid'));
    it('expired intermediate', () => refused(chain('time.test', { intermediate: past }), 'expired'));
    it('expired trust anchor', () => refused(chain('time.test', { root: past }), 'expired'));
  });

  describe('security level (the TLS client, not openssl verify)', () => {
    it('an intermediate signed with SHA-1', () => refused(chain('sha1.test', { intermediate: { hash: 'sha1' } }), 'weak-signature', { opensslRefuses: false }));
    it('an RSA-1024 leaf, at level 2', () => {
      const c = chain('rsa1024.test', { leaf: { key: rsa1024() } });
      refused(c, 'weak-key', { opensslRefuses: false });
      const [first, ...rest] = c.chain.map(factsOf);
      assert.ok(validatePath(first!, rest, new TrustAnchorIndex(c.anchors.map((a) => a.der)), { now: Date.now(), securityLevel: 1 }).verified);
    });
  });

  describe('trust anchors as OpenSSL treats them', () => {
    it('without partial chains, a trusted intermediate does not end the path: its issuer must be in the store', () => {
      const c = chain('partial.test');
      refused({ anchors: [c.i], chain: [c.l], host: 'partial.test' }, 'no-path');
      const partial: Case = { anchors: [c.i], chain: [c.l], host: 'partial.test', partialChain: true };
      assert.ok(certpin(partial).verified);
      assert.ok(openssl(partial));
    });
    it('a v1 certificate may be a root, never an intermediate', () => {
      const r = root('V1 Mid Root');
      const v1 = buildCertificate({ subject: 'V1 Intermediate', issuer: r, version: 1, notAfter: new Date(Date.now() + 300 * DAY) });
      refused({ anchors: [r], chain: [leaf('v1mid.test', v1), v1], host: 'v1mid.test' }, 'not-a-ca');
    });
  });
});

let rsa1024Key: ReturnType<typeof generateRsa1024> | undefined;
function rsa1024() {
  return (rsa1024Key ??= generateRsa1024());
}
function generateRsa1024() {
  const pair = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return { type: 'rsa2048' as const, ...pair, keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}
