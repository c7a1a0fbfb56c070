/**
 * Verified chains and the pin decision, with certificates alone: the pure core, no sockets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide as decideWith } from '../src/core/decision.js';
import type { Handshake } from '../src/core/decision.js';
import { TrustAnchorIndex, validateServedChain } from '../src/core/path/index.js';
import { verifiedPath } from '../src/core/path-certificate.js';
import { PinPolicy } from '../src/index.js';
import { backupPin, createCertificate, createPki, generateKey, issueLeaf, pinOf } from './support/pki.js';
import type { Issued } from './support/pki.js';

const now = Date.now();
const DAY = 86_400_000;
const ders = (...certs: Issued[]) => certs.map((c) => c.der);
const anchorsOf = (...certs: Issued[]) => new TrustAnchorIndex(certs.map((c) => c.der));
/** The chain module's old shape, on the validator: leaf and candidates as DER. */
const verifyChain = (leaf: Uint8Array, presented: readonly Uint8Array[], anchors: TrustAnchorIndex, at: number, partialChain = false) => {
  const result = validateServedChain([leaf, ...presented], anchors, { now: at, partialChain });
  return result.verified ? { verified: true as const, paths: result.paths.map(verifiedPath) } : result;
};

describe('verifyChain', () => {
  const pki = createPki();

  it('builds leaf → intermediate → root', () => {
    const result = verifyChain(pki.leaf.der, ders(pki.intermediate), anchorsOf(pki.root), now);
    assert.ok(result.verified);
    assert.deepEqual(result.paths[0]!.map((c) => c.certificate.subject.split('\n').pop()), ['CN=localhost', 'CN=Bank Issuing CA', 'CN=Bank Root CA']);
  });

  it('uses the anchor from the store when the server omits it, and ignores junk and order', () => {
    const junk = createCertificate({ commonName: 'junk', ca: true });
    const result = verifyChain(pki.leaf.der, ders(junk, pki.root, pki.intermediate), anchorsOf(pki.root), now);
    assert.ok(result.verified);
    assert.equal(result.paths[0]!.length, 3);
  });

  it('ends at an intermediate that is itself the anchor (partial chain)', () => {
    const result = verifyChain(pki.leaf.der, ders(pki.intermediate), anchorsOf(pki.intermediate), now, true);
    assert.ok(result.verified);
    assert.equal(result.paths[0]!.length, 2);
  });

  it('refuses a missing intermediate', () => {
    assert.equal(verifyChain(pki.leaf.der, [], anchorsOf(pki.root), now).verified, false);
  });

  it('refuses a chain to a root that is not an anchor', () => {
    const other = createPki({ name: 'Other' });
    assert.equal(verifyChain(pki.leaf.der, ders(pki.intermediate, pki.root), anchorsOf(other.root), now).verified, false);
  });

  it('refuses a forged leaf that names the real intermediate as issuer (bad signature), with the real chain appended', () => {
    const forged = createCertificate({ commonName: 'localhost', issuer: pki.intermediate, signWith: generateKey('ec-p256') });
    const result = verifyChain(forged.der, ders(pki.intermediate, pki.root), anchorsOf(pki.root), now);
    assert.equal(result.verified, false);
  });

  it('refuses an issuer that is not a CA (a leaf signing a leaf)', () => {
    const child = createCertificate({ commonName: 'evil.test', issuer: pki.leaf });
    assert.equal(verifyChain(child.der, ders(pki.leaf, pki.intermediate), anchorsOf(pki.root), now).verified, false);
  });

  it('refuses a CA whose keyUsage forbids signing certificates', () => {
    const root = createCertificate({ commonName: 'Root', ca: true });
    const ca = createCertificate({ commonName: 'No Sign CA', ca: true, caWithoutCertSign: true, issuer: root });
    const leaf = issueLeaf(ca, ['a.test']);
    assert.equal(verifyChain(leaf.der, ders(ca), anchorsOf(root), now).verified, false);
  });

  it('enforces basicConstraints path length', () => {
    // The bank intermediate has pathLength 0: a sub-CA below it may not issue.
    const sub = createCertificate({ commonName: 'Sub CA', ca: true, issuer: pki.intermediate });
    const leaf = issueLeaf(sub, ['a.test']);
    assert.equal(verifyChain(leaf.der, ders(sub, pki.intermediate), anchorsOf(pki.root), now).verified, false);
    const loose = createCertificate({ commonName: 'Loose CA', ca: true, issuer: pki.root });
    const sub2 = createCertificate({ commonName: 'Sub CA 2', ca: true, issuer: loose });
    const leaf2 = issueLeaf(sub2, ['a.test']);
    assert.ok(verifyChain(leaf2.der, ders(sub2, loose), anchorsOf(pki.root), now).verified);
  });

  it('refuses expired or not-yet-valid certificates anywhere on the path', () => {
    const expired = issueLeaf(pki.intermediate, ['a.test'], { notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) });
    assert.equal(verifyChain(expired.der, ders(pki.intermediate), anchorsOf(pki.root), now).verified, false);
    const future = issueLeaf(pki.intermediate, ['a.test'], { notBefore: new Date(now + DAY), notAfter: new Date(now + 10 * DAY) });
    assert.equal(verifyChain(future.der, ders(pki.intermediate), anchorsOf(pki.root), now).verified, false);
    const oldCa = createCertificate({ commonName: 'Old CA', ca: true, issuer: pki.root, notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) });
    const leaf = issueLeaf(oldCa, ['a.test']);
    assert.equal(verifyChain(leaf.der, ders(oldCa), anchorsOf(pki.root), now).verified, false);
  });

  it('does not trust an impostor root with the same name as an anchor but another key', () => {
    const impostor = createCertificate({ commonName: 'Bank Root CA', organization: 'Bank', ca: true });
    const intermediate = createCertificate({ commonName: 'Bank Issuing CA', organization: 'Bank', ca: true, issuer: impostor });
    const leaf = issueLeaf(intermediate, ['localhost']);
    assert.equal(verifyChain(leaf.der, ders(intermediate, impostor), anchorsOf(pki.root), now).verified, false);
  });

  it('leaves out, rather than throws for, garbage among the presented certificates', () => {
    assert.ok(verifyChain(pki.leaf.der, [Buffer.from('garbage'), pki.intermediate.der], anchorsOf(pki.root), now).verified);
    assert.equal(verifyChain(Buffer.from('garbage'), [], anchorsOf(pki.root), now).verified, false);
  });
});

/** The decision with the policy's own `ca` as the anchors (what the TLS layer hands over when system roots are off). */
const decide = (policy: PinPolicy, handshake: { host: string; connectHost?: string; port: number; chain: readonly Uint8Array[] } | Handshake) => {
  const input: Handshake = 'names' in handshake ? handshake : { names: [handshake.host, ...(handshake.connectHost ? [handshake.connectHost] : [])], port: handshake.port, chain: handshake.chain };
  return decideWith(policy, input, { index: new TrustAnchorIndex(policy.trust.extraAnchors), partialChain: !policy.trust.trustSystemRoots });
};

describe('decide', () => {
  const pki = createPki();
  const chain = ders(pki.leaf, pki.intermediate);
  const policyFor = (pins: string[], extra: Partial<ConstructorParameters<typeof PinPolicy>[0]> = {}) =>
    new PinPolicy({ hosts: { localhost: pins }, ca: pki.root.pem, trustSystemRoots: false, onWarning: () => {}, ...extra });

  it('matches a pin on the leaf, the intermediate or the root', () => {
    for (const pinned of [pki.leaf, pki.intermediate, pki.root]) {
      const decision = decide(policyFor([pinOf(pinned), backupPin()]), { host: 'localhost', port: 443, chain });
      assert.equal(decision.outcome, 'matched');
      assert.equal(decision.allowed, true);
    }
  });

  it('refuses when only a backup pin that is not on the chain is configured', () => {
    const decision = decide(policyFor([backupPin(), backupPin()]), { host: 'localhost', port: 443, chain });
    assert.equal(decision.outcome, 'mismatch');
    assert.equal(decision.allowed, false);
    assert.ok('error' in decision);
    assert.equal((decision.error as { code?: string }).code, 'ERR_CERTPIN_PIN_MISMATCH');
    assert.match(decision.error.message, new RegExp(`${pinOf(pki.leaf).replace(/[+/]/g, '\\$&')}: O = Bank, CN = localhost`));
  });

  it('matches a certificate (fingerprint) pin only for that certificate', () => {
    const fingerprint = pki.leaf.cert.fingerprint256;
    assert.equal(decide(policyFor([fingerprint, backupPin()]), { host: 'localhost', port: 443, chain }).outcome, 'matched');
    const renewed = issueLeaf(pki.intermediate, ['localhost'], { key: pki.leaf.key });
    assert.equal(decide(policyFor([fingerprint, backupPin()]), { host: 'localhost', port: 443, chain: ders(renewed, pki.intermediate) }).outcome, 'mismatch');
    assert.equal(decide(policyFor([pinOf(pki.leaf), backupPin()]), { host: 'localhost', port: 443, chain: ders(renewed, pki.intermediate) }).outcome, 'matched');
  });

  it('never matches a pinned key that is only presented, not on the verified path (chain-append)', () => {
    const attacker = createPki({ name: 'Attacker' });
    const forgedChain = ders(attacker.leaf, attacker.intermediate, pki.intermediate, pki.root);
    const policy = policyFor([pinOf(pki.intermediate), pinOf(pki.root)], { ca: [pki.root.pem, attacker.root.pem] });
    const decision = decide(policy, { host: 'localhost', port: 443, chain: forgedChain });
    assert.equal(decision.outcome, 'mismatch');
  });

  it('report-only: a mismatch is allowed and carries a report', () => {
    const decision = decide(policyFor([backupPin(), backupPin()], { reportOnly: true }), { host: 'localhost', port: 8443, chain });
    assert.equal(decision.outcome, 'mismatch');
    assert.equal(decision.allowed, true);
    const [report] = decision.reports;
    assert.equal(decision.reports.length, 1);
    assert.equal(report!.enforce, false);
    assert.equal(report!.reason, 'pin-mismatch');
    assert.equal(report!.hostname, 'localhost');
    assert.equal(report!.port, 8443);
    assert.equal(report!['validated-certificate-chain'].length, 3);
    assert.equal(report!['known-pins'].length, 2);
    assert.match(report!['known-pins'][0]!, /^pin-sha256="/);
  });

  it('an expired pin set is not enforced; the host falls back to CA validation', () => {
    const policy = policyFor([], { hosts: { localhost: { pins: [backupPin(), backupPin()], expires: '2020-01-01' } } });
    assert.equal(decide(policy, { host: 'localhost', port: 443, chain }).outcome, 'pin-set-expired');
  });

  it('a pin set is enforced until its expiry moment, by the policy clock', () => {
    const expires = new Date(now + 30 * DAY);
    const hosts = { localhost: { pins: [backupPin(), backupPin()], expires } };
    const at = (time: number) => new PinPolicy({ hosts, ca: pki.root.pem, onWarning: () => {}, now: () => time });
    assert.equal(decide(at(expires.getTime() - 1000), { host: 'localhost', port: 443, chain }).outcome, 'mismatch');
    assert.equal(decide(at(expires.getTime() + 1000), { host: 'localhost', port: 443, chain }).outcome, 'pin-set-expired');
  });

  it('unpinned hosts pass, or are refused under onlyPinnedHosts', () => {
    assert.equal(decide(policyFor([pinOf(pki.leaf), backupPin()]), { host: 'other.test', port: 443, chain }).outcome, 'not-pinned');
    const strict = decide(policyFor([pinOf(pki.leaf), backupPin()], { onlyPinnedHosts: true }), { host: 'other.test', port: 443, chain });
    assert.equal(strict.outcome, 'refused-not-pinned');
    assert.equal(strict.allowed, false);
  });

  it('applies the pin set of every name the connection is for: the server name, the host dialled, the Host header', () => {
    const policy = policyFor([backupPin(), backupPin()]);
    assert.equal(decide(policy, { host: 'other.test', port: 443, chain }).outcome, 'not-pinned');
    assert.equal(decide(policy, { host: 'other.test', connectHost: 'LOCALHOST.', port: 443, chain }).outcome, 'mismatch');
    assert.equal(decide(policy, { names: ['other.test', 'third.test', 'localhost'], port: 443, chain }).outcome, 'mismatch');
    assert.equal(decide(policyFor([pinOf(pki.root), backupPin()]), { host: 'other.test', connectHost: 'localhost', port: 443, chain }).outcome, 'matched');
    assert.equal(decide(policyFor([pinOf(pki.root), backupPin()], { onlyPinnedHosts: true }), { host: 'localhost', connectHost: 'elsewhere.test', port: 443, chain }).outcome, 'refused-not-pinned');
  });

  it('every pinned name must match: one name whose pin set matches does not carry another whose pin set does not', () => {
    const twoPinSets = new PinPolicy({
      hosts: { localhost: [pinOf(pki.root), backupPin()], '127.0.0.1': [backupPin(), backupPin()] },
      ca: pki.root.pem,
      trustSystemRoots: false,
      onWarning: () => {},
    });
    for (const names of [['localhost', '127.0.0.1'], ['127.0.0.1', 'localhost']]) {
      const decision = decide(twoPinSets, { names, port: 443, chain });
      assert.equal(decision.outcome, 'mismatch', names.join(', '));
      assert.equal(decision.allowed, false);
      assert.equal(decision.host, '127.0.0.1', 'the refusal names the pin set that failed');
    }
    assert.equal(decide(twoPinSets, { names: ['localhost'], port: 443, chain }).outcome, 'matched');
  });

  it('an IP literal counts like a name: its pin set applies when a server name is sent too', () => {
    const byAddress = new PinPolicy({ hosts: { '127.0.0.1': [backupPin(), backupPin()] }, ca: pki.root.pem, trustSystemRoots: false, onWarning: () => {} });
    assert.equal(decide(byAddress, { host: 'unpinned.test', connectHost: '127.0.0.1', port: 443, chain }).outcome, 'mismatch');
    assert.equal(decide(byAddress, { host: 'unpinned.test', connectHost: '::ffff:127.0.0.1', port: 443, chain }).outcome, 'mismatch');
    assert.equal(decide(byAddress, { host: 'unpinned.test', connectHost: '[::ffff:7f00:1]', port: 443, chain }).outcome, 'mismatch');
    // Under onlyPinnedHosts, an unpinned address is refused even when the server name is pinned.
    const strict = policyFor([pinOf(pki.root), backupPin()], { onlyPinnedHosts: true });
    assert.equal(decide(strict, { host: 'localhost', connectHost: '127.0.0.1', port: 443, chain }).outcome, 'refused-not-pinned');
  });

  it('a name that cannot be normalised never counts as unpinned', () => {
    const wildcard = new PinPolicy({ hosts: { '**.example.com': [backupPin(), backupPin()] }, ca: pki.root.pem, trustSystemRoots: false, onWarning: () => {} });
    for (const odd of ['x!y.example.com', `${'a'.repeat(64)}.example.com`, 'bad-.example.com']) {
      assert.equal(decide(wildcard, { host: 'localhost', connectHost: odd, port: 443, chain }).outcome, 'mismatch', odd);
    }
    // Covered by no pattern: refused, because the policy pins hosts and cannot tell this name is not one of them.
    for (const odd of ['db.1', 'foo.123', 'x!y.other.test']) {
      const decision = decide(wildcard, { host: 'localhost', connectHost: odd, port: 443, chain });
      assert.equal(decision.outcome, 'refused-not-pinned', odd);
      assert.equal(decision.allowed, false);
    }
    // defaultPins covers them like every other host.
    const dioStyle = new PinPolicy({ hosts: {}, defaultPins: [backupPin(), backupPin()], ca: pki.root.pem, trustSystemRoots: false, onWarning: () => {} });
    assert.equal(decide(dioStyle, { host: 'x!y.example', port: 443, chain }).outcome, 'mismatch');
    // A policy that pins nothing leaves them to CA validation.
    const empty = new PinPolicy({ hosts: {}, ca: pki.root.pem, trustSystemRoots: false, onWarning: () => {} });
    assert.equal(decide(empty, { host: 'db.1', port: 443, chain }).outcome, 'not-pinned');
  });

  it('refuses when the chain cannot be verified against the policy anchors', () => {
    const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.leaf), backupPin()] }, ca: createPki({ name: 'X' }).root.pem, trustSystemRoots: false, onWarning: () => {} });
    const decision = decide(policy, { host: 'localhost', port: 443, chain });
    assert.equal(decision.outcome, 'chain-unverified');
    assert.equal(decision.allowed, false);
  });
});
