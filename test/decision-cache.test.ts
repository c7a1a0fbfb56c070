/**
 * The cache of pin decisions: a handshake whose chain, names and port were decided before skips path validation,
 * but only while the same decision would come out. Each test makes the first decision allowed, then changes one
 * thing the decision depends on (the clock past a certificate's end or a pin set's expiry, another name, another
 * chain) and shows that the second handshake is decided afresh.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { PinPolicy, pinnedConnect } from '../src/index.js';
import type { PinDecision, PinPolicyOptions } from '../src/index.js';
import { validateServedChain, TrustAnchorIndex } from '../src/core/path/index.js';
import { backupPin, createCertificate, createPki, issueLeaf, pinOf } from './support/pki.js';
import type { Issued } from './support/pki.js';

const DAY = 86_400_000;
const endOf = (issued: Issued) => Date.parse(issued.cert.validTo);

async function startServer(key: string, cert: string): Promise<number> {
  const server = tls.createServer({ key, cert }, (socket) => socket.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** One full handshake (no session offered); resolves with the decision seen, or the error the handshake failed with. */
async function handshake(policy: PinPolicy, port: number, requestHost?: string): Promise<{ decision?: PinDecision; error?: Error }> {
  let decision: PinDecision | undefined;
  const socket = pinnedConnect(policy, { host: '127.0.0.1', port, servername: 'localhost', resume: false, requestHost, onPinDecision: (d) => (decision = d) });
  try {
    await once(socket, 'secureConnect');
    return { decision };
  } catch (error) {
    return { decision, error: error as Error };
  } finally {
    socket.destroy();
  }
}

describe('pin decision cache', () => {
  const pki = createPki();
  const clock = { now: Date.now() };
  const policyWith = (options: Partial<PinPolicyOptions> = {}) =>
    new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: pki.root.pem, trustSystemRoots: false, now: () => clock.now, ...options });

  it('answers the same handshake from the cache, with the same decision', async () => {
    const port = await startServer(pki.leaf.key.keyPem, pki.chainPem);
    clock.now = Date.now();
    const policy = policyWith();
    const first = await handshake(policy, port);
    const second = await handshake(policy, port);
    assert.equal(first.decision?.outcome, 'matched');
    assert.equal(second.decision, first.decision, 'the second handshake got the cached decision');
    assert.ok(Number.isFinite(first.decision.validUntil) && first.decision.validUntil <= endOf(pki.leaf));
  });

  it('decides afresh once a certificate of the path has expired on the policy clock', async () => {
    const port = await startServer(pki.leaf.key.keyPem, pki.chainPem);
    clock.now = Date.now();
    const policy = policyWith();
    assert.equal((await handshake(policy, port)).decision?.outcome, 'matched');
    // The leaf ends in 90 days; the intermediate in five years. A day after the leaf's end:
    clock.now = endOf(pki.leaf) + DAY;
    const later = await handshake(policy, port);
    assert.equal(later.decision?.outcome, 'chain-unverified');
    assert.match(String(later.error?.message), /expired/);
  });

  it('decides afresh when the policy clock goes back before a certificate of the path was valid', async () => {
    const port = await startServer(pki.leaf.key.keyPem, pki.chainPem);
    clock.now = Date.now();
    const policy = policyWith();
    assert.equal((await handshake(policy, port)).decision?.outcome, 'matched');
    clock.now = Date.parse(pki.leaf.cert.validFrom) - DAY;
    const earlier = await handshake(policy, port);
    assert.equal(earlier.decision?.outcome, 'chain-unverified');
    assert.match(String(earlier.error?.message), /not yet valid/);
  });

  it('decides afresh once the pin set has expired', async () => {
    const port = await startServer(pki.leaf.key.keyPem, pki.chainPem);
    clock.now = Date.now();
    const expires = new Date(clock.now + DAY).toISOString();
    const policy = policyWith({ hosts: { localhost: { pins: [pinOf(pki.intermediate), backupPin()], expires } } });
    assert.equal((await handshake(policy, port)).decision?.outcome, 'matched');
    clock.now += 2 * DAY;
    assert.equal((await handshake(policy, port)).decision?.outcome, 'pin-set-expired');
  });

  it('keys on every name: an allowed chain for one name is checked again for a request to another', async () => {
    const port = await startServer(pki.leaf.key.keyPem, pki.chainPem);
    clock.now = Date.now();
    const policy = policyWith({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()], 'api.example.com': [backupPin(), backupPin()] } });
    assert.equal((await handshake(policy, port)).decision?.outcome, 'matched');
    const other = await handshake(policy, port, 'api.example.com');
    assert.equal(other.decision?.outcome, 'mismatch');
    assert.equal((other.error as { code?: string } | undefined)?.code, 'ERR_CERTPIN_PIN_MISMATCH');
  });

  it('keys on the chain: a new leaf is validated, a refusal is never cached', async () => {
    const port = await startServer(pki.leaf.key.keyPem, pki.chainPem);
    const rogue = createPki({ name: 'Rogue' });
    const roguePort = await startServer(rogue.leaf.key.keyPem, rogue.chainPem);
    clock.now = Date.now();
    const policy = policyWith({ ca: [pki.root.pem, rogue.root.pem] });
    assert.equal((await handshake(policy, port)).decision?.outcome, 'matched');
    const refusals = [await handshake(policy, roguePort), await handshake(policy, roguePort)];
    for (const refused of refusals) {
      assert.equal(refused.decision?.outcome, 'mismatch');
      assert.ok(refused.error);
    }
    // Each refusal is decided (and reported) afresh, with its own report time.
    assert.notEqual(refusals[0]!.decision, refusals[1]!.decision);
  });
});

describe('pin decision cache: the same leaf under another issuer', () => {
  it('is decided afresh: a copy of the issuing CA signed by another trusted root does not inherit the match', async () => {
    const pki = createPki();
    const rogueRoot = createCertificate({ commonName: 'Rogue Root CA', organization: 'Rogue', ca: true });
    // The issuing CA's name and key, certified by the rogue root: the leaf verifies under either copy.
    const copy = createCertificate({ commonName: 'Bank Issuing CA', organization: 'Bank', ca: true, pathLength: 0, issuer: rogueRoot, key: pki.intermediate.key });
    // One server (same host, same port): the first handshake gets the genuine chain, the second the copy.
    const server = tls.createServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem }, (socket) => socket.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.root), backupPin()] }, ca: [pki.root.pem, rogueRoot.pem], trustSystemRoots: false });
    assert.equal((await handshake(policy, port)).decision?.outcome, 'matched');
    server.setSecureContext({ key: pki.leaf.key.keyPem, cert: pki.leaf.pem + copy.pem });
    const viaCopy = await handshake(policy, port);
    assert.equal(viaCopy.decision?.outcome, 'mismatch');
    assert.ok(viaCopy.error);
  });
});

describe('validation: until when the verdict holds', () => {
  it('is the first validity boundary of any certificate looked at, a sibling not yet valid included', () => {
    const pki = createPki();
    const now = Date.now();
    // A second issuing CA of the same name and key, valid only from tomorrow: from then on OpenSSL could choose it.
    const sibling = createCertificate({
      commonName: 'Bank Issuing CA',
      organization: 'Bank',
      ca: true,
      pathLength: 0,
      issuer: pki.root,
      key: pki.intermediate.key,
      notBefore: new Date(Math.floor(now / 1000) * 1000 + DAY),
      notAfter: new Date(now + 30 * DAY),
    });
    const anchors = new TrustAnchorIndex([pki.root.der]);
    const plain = validateServedChain([pki.leaf.der, pki.intermediate.der], anchors, { now });
    assert.ok(plain.verified);
    assert.equal(plain.stableUntil, endOf(pki.leaf));
    const withSibling = validateServedChain([pki.leaf.der, pki.intermediate.der, sibling.der], anchors, { now });
    assert.ok(withSibling.verified);
    assert.equal(withSibling.stableUntil, Date.parse(sibling.cert.validFrom));
    const leaf2 = issueLeaf(pki.intermediate, ['localhost'], { notAfter: new Date(now + DAY) });
    const short = validateServedChain([leaf2.der, pki.intermediate.der], anchors, { now });
    assert.ok(short.verified);
    assert.equal(short.stableUntil, endOf(leaf2));
  });
});
