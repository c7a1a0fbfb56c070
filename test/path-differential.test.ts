/**
 * Differential tests: chains generated at test time, judged by OpenSSL (`openssl verify -purpose sslserver` and a
 * real Node TLS handshake with the anchors as `ca`) and by certpin's validatePath. certpin must never accept what
 * either refuses. The constrained-sub-CA pin bypass is built by name (and tried end to end in
 * constrained-sub-ca.test.ts).
 *
 * The sampled matrix is seeded: set CERTPIN_SEED to replay a run (the seed is printed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { sign } from 'node:crypto';
import { der as derWriter, readElement } from '../src/core/der.js';
import { TrustAnchorIndex, validateServedChain } from '../src/core/path/index.js';
import type { PathValidation } from '../src/core/path/index.js';
import { certificateFacts } from '../src/core/x509/index.js';
import { opensslVerify } from './support/openssl-cli.js';
import { factsOf, opensslVerdict, validateCase } from './support/path-case.js';
import type { PathCase } from './support/path-case.js';
import { HandshakeProbe, nodeSupportsPartialChain } from './support/tls-probe.js';
import { OID, crossSign, intermediate, leaf, pooledKey, root, unknownExtension, v1Root } from './support/x509-builder.js';
import type { Built, CertSpec, KeyType, Subtree } from './support/x509-builder.js';

const DAY = 86_400_000;

/** `certificate` with its TBSCertificate's fields rewritten, signed again by `issuer`. */
function resigned(certificate: Uint8Array, rewrite: (fields: Buffer[]) => void, issuer: Built): Buffer {
  const bytes = Buffer.from(certificate);
  const outer = readElement(bytes);
  const tbs = readElement(bytes, outer.start, outer.end);
  const algorithm = readElement(bytes, tbs.next, outer.end);
  const fields: Buffer[] = [];
  for (let offset = tbs.start; offset < tbs.end; ) {
    const field = readElement(bytes, offset, tbs.end);
    fields.push(bytes.subarray(offset, field.next));
    offset = field.next;
  }
  rewrite(fields);
  const body = derWriter.sequence(...fields);
  return derWriter.sequence(body, bytes.subarray(tbs.next, algorithm.next), derWriter.bitString(sign('sha256', body, issuer.key.privateKey)));
}

interface ChainCase extends PathCase {
  readonly label: string;
}

const certpin: (c: ChainCase) => PathValidation = validateCase;

function certpinWithHost(c: ChainCase): { ok: boolean; detail: string; result: PathValidation } {
  const result = certpin(c);
  if (!result.verified) return { ok: false, detail: `${result.code}: ${result.reason}`, result };
  const identity = tls.checkServerIdentity(c.host, new X509Certificate(c.chain[0]!.der).toLegacyObject());
  return identity ? { ok: false, detail: `host: ${identity.message}`, result } : { ok: true, detail: 'OK', result };
}

const openssl = opensslVerdict;

const probe = new HandshakeProbe();

async function handshake(c: ChainCase): Promise<{ ok: boolean; detail: string } | undefined> {
  if (c.partialChain && !nodeSupportsPartialChain) return undefined;
  return probe.handshake({ keyPem: c.chain[0]!.key.keyPem, chainPem: c.chain.map((b) => b.pem).join(''), anchorsPem: c.anchors.map((a) => a.pem), host: c.host, partialChain: c.partialChain });
}

const onPath = (result: PathValidation, b: Built): boolean => result.verified && result.paths.some((p) => p.some((c) => c.sha256 === factsOf(b).sha256));

describe('path differential', () => {
  before(() => probe.start());
  after(() => probe.stop());

  describe('an issuer OpenSSL may take that certpin reads differently', () => {
    // OpenSSL takes the first served certificate that may be the issuer, and a failure on it is final. A decoy with
    // the issuer's name, served first, that certpin passed over (finding it invalid, or unreadable) while OpenSSL took
    // it would make certpin accept a chain OpenSSL refuses.
    const judge = (anchors: Built[], chain: Uint8Array[]) => validateServedChain(chain, new TrustAnchorIndex(anchors.map((a) => a.der)), { now: Date.now() });
    const pemOf = (d: Uint8Array) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(d).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;

    it('a same-name, same-key issuer that only certpin finds invalid (a duplicated unknown extension), served first', () => {
      const trusted = root('Decoy Trusted Root');
      const untrusted = root('Decoy Untrusted Root');
      const key = pooledKey('ec-p256', 3);
      const duplicate = unknownExtension(false);
      const decoy = intermediate('Decoy Inter', untrusted, { key, extensions: [duplicate, duplicate] });
      const real = intermediate('Decoy Inter', trusted, { key });
      const l = leaf('decoy.test', real);
      assert.ok(factsOf(decoy).invalid.length > 0, 'certpin finds the decoy invalid');
      assert.equal(openssl({ anchors: [trusted], chain: [l, decoy, real], host: 'decoy.test' }).ok, false, 'OpenSSL takes the decoy and fails');
      for (const served of [[decoy, real], [real, decoy]]) {
        const result = judge([trusted], [l, ...served].map((b) => b.der));
        assert.equal(result.verified, false, served[0] === decoy ? 'decoy first' : 'decoy last');
      }
      // Without the decoy the same chain is accepted.
      assert.equal(judge([trusted], [l.der, real.der]).verified, true);
    });

    // Encodings OpenSSL 3.0 reads and certpin does not: the decoy has the issuer's name, another key, no key id.
    const rewrites: [string, (fields: Buffer[]) => void][] = [
      ['a negative serial number', (fields) => void (fields[1] = Buffer.from([0x02, 0x02, 0xff, 0x05]))],
      ['extensions in a v2 certificate', (fields) => void (fields[0] = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x01]))],
      ['version 4', (fields) => void (fields[0] = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x03]))],
    ];
    for (const [name, rewrite] of rewrites) {
      it(`a served issuer certpin cannot read (${name}), served first: refused, as OpenSSL refuses`, () => {
        const r = root('Unreadable Decoy Root');
        const real = intermediate('Unreadable Inter', r);
        const l = leaf('unreadable.test', real, { akid: 'omit' });
        const base = intermediate('Unreadable Inter', r, { key: pooledKey('ec-p256', 5), skid: 'omit' });
        const decoy = resigned(base.der, rewrite, r);
        assert.equal(certificateFacts(decoy).ok, false, 'certpin cannot read it');
        const verdict = opensslVerify({ trusted: [r.pem], untrusted: [pemOf(decoy), real.pem], leaf: l.pem });
        assert.equal(verdict.ok, false, `OpenSSL takes the decoy and fails: ${verdict.detail}`);
        assert.equal(judge([r], [l.der, decoy, real.der]).verified, false);
        // An unreadable certificate with another name changes nothing, nor one with the name but a key identifier
        // that the leaf's authority key identifier rules out (OpenSSL passes over it too).
        const other = resigned(intermediate('Someone Else', r, { key: pooledKey('ec-p256', 5) }).der, rewrite, r);
        assert.equal(judge([r], [l.der, other, real.der]).verified, true);
        const identified = leaf('unreadable.test', real);
        const otherKeyId = resigned(intermediate('Unreadable Inter', r, { key: pooledKey('ec-p256', 5) }).der, rewrite, r);
        assert.ok(opensslVerify({ trusted: [r.pem], untrusted: [pemOf(otherKeyId), real.pem], leaf: identified.pem }).ok, 'OpenSSL passes over it');
        assert.equal(judge([r], [identified.der, otherKeyId, real.der]).verified, true);
      });
    }
  });

  describe('the constrained sub-CA pin bypass', () => {
    // The client trusts a MITM CA and the real roots. The attacker holds a CA under the MITM root ("Sub CA",
    // unconstrained) and a certificate with the same name and key issued under the pinned root but constrained
    // (EKU emailProtection only, or name constraints to another domain). It serves both.
    const build = (constraint: Partial<CertSpec>) => {
      const pinnedRoot = root('Pinned Root');
      const mitmRoot = root('MITM Root');
      const subKey = pooledKey('ec-p256', 7);
      const viaMitm = intermediate('Sub CA', mitmRoot, { key: subKey });
      const constrained = intermediate('Sub CA', pinnedRoot, { key: subKey, ...constraint });
      const target = leaf('bank.test', viaMitm);
      return { pinnedRoot, mitmRoot, viaMitm, constrained, target };
    };
    const variants: [string, Partial<CertSpec>][] = [
      ['EKU emailProtection only', { eku: [OID.emailProtection] }],
      ['name constraints to another domain', { nameConstraints: { permitted: [{ dns: 'other.test' }] } }],
    ];
    for (const [name, constraint] of variants) {
      it(`${name}: validatePath never puts the pinned root on a path; OpenSSL alone refuses the constrained path`, async () => {
        const { pinnedRoot, mitmRoot, viaMitm, constrained, target } = build(constraint);
        // OpenSSL and Node accept the handshake, via the MITM root.
        const both: ChainCase = { label: name, anchors: [mitmRoot, pinnedRoot], chain: [target, viaMitm, constrained], host: 'bank.test' };
        assert.ok(openssl(both).ok);
        assert.equal((await handshake(both))?.ok, true);
        // certpin never puts the pinned root on a path: the path through the constrained CA is refused, and with
        // both Sub CAs served it refuses altogether (OpenSSL could have built either chain).
        const result = certpin(both);
        assert.equal(onPath(result, pinnedRoot), false);
        assert.equal(result.verified, false);
        // Each path alone: the constrained one is refused by OpenSSL, Node and certpin alike.
        const constrainedOnly: ChainCase = { ...both, chain: [target, constrained] };
        assert.equal(openssl(constrainedOnly).ok, false);
        assert.equal((await handshake(constrainedOnly))?.ok, false);
        assert.equal(certpin(constrainedOnly).verified, false);
        // The MITM path alone is valid, and the pinned root is not on it.
        const mitmOnly: ChainCase = { ...both, chain: [target, viaMitm] };
        const mitm = certpin(mitmOnly);
        assert.ok(mitm.verified);
        assert.equal(onPath(mitm, pinnedRoot), false);
        assert.ok(onPath(mitm, mitmRoot));
      });
    }
  });

  describe('what the old code refused wrongly', () => {
    it('with the root and the intermediate both trusted, the path goes on to the root (as OpenSSL builds it)', () => {
      const r = root('Both Root');
      const i = intermediate('Both Issuing', r);
      const l = leaf('both.test', i);
      const result = certpin({ label: 'both', anchors: [r, i], chain: [l], host: 'both.test' });
      assert.ok(result.verified);
      assert.deepEqual(result.paths.map((p) => p.length), [3]);
      // With partial chains OpenSSL stops at the trusted intermediate, and so does certpin.
      const partial = certpin({ label: 'both', anchors: [r, i], chain: [l], host: 'both.test', partialChain: true });
      assert.ok(partial.verified);
      assert.deepEqual(partial.paths.map((p) => p.length), [2]);
    });

    it('a v1 root without extensions is a trust anchor', () => {
      const r = v1Root('Old V1 Root');
      const i = intermediate('Under V1', r);
      const c: ChainCase = { label: 'v1', anchors: [r], chain: [leaf('v1.test', i), i], host: 'v1.test' };
      assert.ok(certpin(c).verified);
      assert.ok(openssl(c).ok);
    });

    it('a stale expired intermediate (same name and key) listed before the valid one is passed over', async () => {
      const r = root('Stale Root');
      const key = pooledKey('ec-p256', 3);
      const stale = intermediate('Stale Issuing', r, { key, notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
      const fresh = intermediate('Stale Issuing', r, { key });
      const c: ChainCase = { label: 'stale', anchors: [r], chain: [leaf('stale.test', fresh), stale, fresh], host: 'stale.test' };
      const result = certpin(c);
      assert.ok(result.verified);
      assert.ok(onPath(result, fresh) && !onPath(result, stale));
      assert.ok(openssl(c).ok);
      assert.equal((await handshake(c))?.ok, true);
    });
  });

  describe('measured OpenSSL behaviour certpin mirrors', () => {
    const r = root('Measure Root');
    const i = intermediate('Measure Issuing', r);
    const cases: [string, () => ChainCase][] = [
      ['anyExtendedKeyUsage alone on the leaf is refused', () => ({ label: '', anchors: [r], chain: [leaf('m.test', i, { eku: [OID.anyExtendedKeyUsage] }), i], host: 'm.test' })],
      ['anyExtendedKeyUsage alone on an intermediate is refused', () => {
        const ia = intermediate('Any EKU Issuing', r, { eku: [OID.anyExtendedKeyUsage] });
        return { label: '', anchors: [r], chain: [leaf('m.test', ia), ia], host: 'm.test' };
      }],
      ['a trust anchor is purpose-checked: a root with EKU emailProtection is refused', () => {
        const re = root('Email Root', { eku: [OID.emailProtection] });
        const ie = intermediate('Under Email Root', re);
        return { label: '', anchors: [re], chain: [leaf('m.test', ie), ie], host: 'm.test' };
      }],
      ['a SHA-1 signature below the anchor is refused by the TLS client (not by openssl verify)', () => {
        const i1 = intermediate('SHA-1 Issuing', r, { hash: 'sha1' });
        return { label: '', anchors: [r], chain: [leaf('m.test', i1), i1], host: 'm.test' };
      }],
    ];
    for (const [name, make] of cases) {
      it(name, async () => {
        const c = make();
        assert.equal(certpin(c).verified, false);
        assert.equal((await handshake(c))?.ok, false);
      });
    }
    it("a trust anchor's own SHA-1 self-signature is not checked", async () => {
      const rs = root('SHA-1 Root', { hash: 'sha1' });
      const is = intermediate('Under SHA-1 Root', rs);
      const c: ChainCase = { label: '', anchors: [rs], chain: [leaf('m.test', is), is], host: 'm.test' };
      assert.ok(certpin(c).verified);
      assert.equal((await handshake(c))?.ok, true);
    });
  });

  describe('sampled matrix', () => {
    const seed = Number(process.env.CERTPIN_SEED ?? Math.floor(Math.random() * 2 ** 31));
    let state = seed >>> 0;
    const random = (): number => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    // Most dimensions keep their good value most of the time, so that accepted chains are common too.
    const sometimes = <T>(good: T, bad: readonly T[], p = 0.2): T => (random() < p ? pick(bad) : good);
    const COUNT = Number(process.env.CERTPIN_CASES ?? 400);

    const ekus: (readonly string[] | 'omit')[] = ['omit', [OID.serverAuth], [OID.emailProtection], [OID.anyExtendedKeyUsage], [OID.serverAuth, OID.anyExtendedKeyUsage]];
    const constraints: (CertSpec['nameConstraints'] | undefined)[] = [
      undefined,
      { permitted: [{ dns: 'ok.test' }] },
      { permitted: [{ dns: 'other.test' }] },
      { excluded: [{ dns: 'ok.test' }] },
      { excluded: [{ dns: 'other.test' }] },
      { permitted: [{ ip: '127.0.0.0/8' }] },
      { permitted: [{ ip: '10.0.0.0/8' }] },
      { excluded: [{ ip: '127.0.0.1/32' }] },
      { permitted: [{ dn: [[OID.organization, 'Matrix']] as Subtree extends { dn: infer N } ? N : never }] },
      { permitted: [{ dn: [[OID.organization, 'Elsewhere']] as Subtree extends { dn: infer N } ? N : never }] },
      { permitted: [{ dns: 'ok.test' }], excluded: [{ dns: 'www.ok.test' }] },
    ];
    const hosts = ['www.ok.test', 'ok.test', '127.0.0.1', 'www.other.test'];
    const keyTypes: KeyType[] = ['ec-p256', 'ec-p256', 'ec-p256', 'rsa2048', 'ed25519', 'ec-p384'];

    const makeCase = (n: number): ChainCase => {
      const keyType = pick(keyTypes);
      const key = (k: number) => pooledKey(keyType, k);
      const org = (cn: string) => [[OID.organization, 'Matrix'], [OID.commonName, `${cn} ${n}`]] as const;
      const notes: string[] = [keyType];
      const rootKind = sometimes('normal', ['v1', 'cross'], 0.3);
      const anchorRoot =
        rootKind === 'v1' ? v1Root(org('V1 Root'), key(0)) : root(org('Root'), { key: key(0), eku: sometimes<readonly string[] | 'omit'>('omit', ekus.slice(1, 3), 0.15), pathLength: sometimes<number | undefined>(undefined, [0, 1], 0.2) });
      notes.push(`root:${rootKind}`);
      let top = anchorRoot;
      const served: Built[] = [];
      if (rootKind === 'cross') {
        // The served chain climbs to an old root cross-signed by the anchor.
        const oldRoot = root(org('Old Root'), { key: key(4) });
        top = crossSign(oldRoot, anchorRoot);
        served.push(top);
      }
      const intermediateSpec: Partial<CertSpec> = { key: key(1) };
      const eku = sometimes<readonly string[] | 'omit'>('omit', ekus.slice(1, 4), 0.3);
      if (eku !== 'omit') intermediateSpec.eku = eku;
      const nc = sometimes(undefined, constraints.slice(1), 0.45);
      if (nc) intermediateSpec.nameConstraints = nc;
      if (random() < 0.12) intermediateSpec.keyUsage = pick(['omit', ['cRLSign'], ['digitalSignature', 'keyCertSign']] as const);
      if (random() < 0.2) intermediateSpec.pathLength = pick([0, 1]);
      const validity = sometimes('valid', ['expired', 'future'], 0.12);
      if (validity === 'expired') Object.assign(intermediateSpec, { notBefore: new Date(Date.now() - 300 * DAY), notAfter: new Date(Date.now() - DAY) });
      if (validity === 'future') Object.assign(intermediateSpec, { notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 300 * DAY) });
      const critical = sometimes('none', ['leaf', 'intermediate', 'root', 'noncritical'], 0.15);
      if (critical === 'intermediate') intermediateSpec.extensions = [unknownExtension(true)];
      if (critical === 'noncritical') intermediateSpec.extensions = [unknownExtension(false)];
      notes.push(`int:eku=${eku === 'omit' ? '-' : eku.join('+')},nc=${nc ? JSON.stringify(nc) : '-'},ku=${JSON.stringify(intermediateSpec.keyUsage ?? 'default')},pl=${intermediateSpec.pathLength ?? '-'},${validity},crit=${critical}`);
      const issuing = intermediate(org('Issuing'), top, intermediateSpec);
      let leafIssuer = issuing;
      const extraLevel = random() < 0.25;
      let sub: Built | undefined;
      if (extraLevel) {
        sub = intermediate(org('Sub Issuing'), issuing, { key: key(2) });
        leafIssuer = sub;
        notes.push('sub-ca');
      }
      const host = pick(hosts);
      const leafEku = sometimes<readonly string[] | 'omit'>([OID.serverAuth], [...ekus.slice(0, 1), ...ekus.slice(2)], 0.25);
      const leafSpec: Partial<CertSpec> = { key: key(3), sans: [host === '127.0.0.1' ? '127.0.0.1' : host], eku: leafEku };
      if (random() < 0.06) leafSpec.keyUsage = ['keyCertSign'];
      if (critical === 'leaf') leafSpec.extensions = [unknownExtension(true)];
      const theLeaf = leaf(host === '127.0.0.1' ? 'localhost' : host, leafIssuer, leafSpec);
      notes.push(`leaf:eku=${leafEku === 'omit' ? '-' : leafEku.join('+')},ku=${JSON.stringify(leafSpec.keyUsage ?? 'default')},host=${host}`);
      const chainUp = [...(sub ? [sub] : []), issuing, ...served];
      let anchors: Built[] = [anchorRoot];
      let partialChain = false;
      if (critical === 'root') {
        anchors = [root(anchorRoot.spec.subject, { key: key(0), extensions: [unknownExtension(true)] })];
        // Re-issue the chain under the critical-extension root (same name and key, so the intermediates verify).
      }
      const shape = pick(['exact', 'exact', 'junk', 'reordered', 'stale', 'with-root', 'partial', 'sibling', 'sibling-after']);
      let sent = chainUp;
      if (shape === 'junk') sent = [...chainUp, root('Junk Root'), leaf('junk.test', root('Junk Issuer'))];
      if (shape === 'reordered') sent = [...chainUp].reverse();
      if (shape === 'stale') {
        const stale = intermediate(org('Issuing'), top, { ...intermediateSpec, notBefore: new Date(Date.now() - 500 * DAY), notAfter: new Date(Date.now() - 2 * DAY) });
        sent = [stale, ...chainUp];
      }
      if (shape === 'with-root') sent = [...chainUp, anchorRoot];
      if (shape === 'sibling' || shape === 'sibling-after') {
        // A same-name, same-key copy of the issuing CA with EKU emailProtection (the constrained-sub-CA shape).
        // OpenSSL builds through whichever comes first; certpin, not knowing the order, refuses either way.
        const sibling = intermediate(org('Issuing'), top, { ...intermediateSpec, eku: [OID.emailProtection] });
        sent = shape === 'sibling' ? [sibling, ...chainUp] : [...chainUp, sibling];
      }
      if (shape === 'partial') {
        anchors = [issuing];
        partialChain = true;
      }
      notes.push(`served:${shape}`);
      return { label: `#${n} ${notes.join(' ')}`, anchors, chain: [theLeaf, ...sent], host, partialChain };
    };

    it(`${COUNT} sampled chains: certpin never accepts what OpenSSL or Node refuses`, async () => {
      console.log(`matrix seed ${seed} (replay with CERTPIN_SEED=${seed})`);
      const wrongAcceptances: string[] = [];
      const refusals: string[] = [];
      let agreeAccept = 0;
      let agreeRefuse = 0;
      for (let n = 0; n < COUNT; n++) {
        const c = makeCase(n);
        const mine = certpinWithHost(c);
        const reference = openssl(c);
        const live = await handshake(c);
        const referenceOk = reference.ok && (live === undefined || live.ok);
        if (mine.ok && !referenceOk) wrongAcceptances.push(`${c.label}: openssl ${reference.detail}, node ${live?.detail ?? 'n/a'}`);
        else if (!mine.ok && referenceOk) refusals.push(`${c.label}: certpin ${mine.detail}`);
        else if (mine.ok) agreeAccept++;
        else agreeRefuse++;
        if (live && reference.ok !== live.ok) console.log(`openssl verify and Node differ: ${c.label}: verify ${reference.detail}, node ${live.detail}`);
      }
      console.log(`matrix: ${agreeAccept} accepted by all, ${agreeRefuse} refused by all, ${refusals.length} refused by certpin only`);
      for (const r of refusals) console.log(`certpin stricter: ${r}`);
      assert.deepEqual(wrongAcceptances, []);
      // certpin refuses more than OpenSSL only where its own rules say so (documented in docs/path-validation.md).
      for (const r of refusals) assert.match(r, /served:sibling-after|host=127\.0\.0\.1 .*name-constraints/);
    });
  });
});
