/**
 * Property tests of the DER reader and the certificate reader on random and mutated input: they fail only with typed
 * errors or typed results, never hang, and a mutated certificate is never accepted unless its signature still
 * verifies over unchanged signed bytes.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DerError, readDerChildren, readDerElement } from '../src/core/der.js';
import { TrustAnchorIndex, validatePath } from '../src/core/path/index.js';
import { readCertificate } from '../src/core/x509/index.js';
import { normaliseDigest } from '../src/core/x509/facts-cache.js';
import type { CertificateFacts } from '../src/core/x509/index.js';
import { OID, intermediate, leaf, pooledKey, root } from './support/x509-builder.js';
import type { Built } from './support/x509-builder.js';

const SLOW_MS = 100;

/** Runs `fn`, asserting it returns within SLOW_MS and throws nothing but a DerError. */
function bounded<T>(fn: () => T): T | undefined {
  const start = performance.now();
  try {
    return fn();
  } catch (error) {
    assert.ok(error instanceof DerError, `unexpected ${String(error)}`);
    return undefined;
  } finally {
    assert.ok(performance.now() - start < SLOW_MS, 'took too long');
  }
}

/** Random DER-shaped trees: nested constructed elements with random tags and contents. */
const tlv: fc.Memo<Uint8Array> = fc.memo((depth) => {
  const primitive = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 })).map(([tag, body]) => encode(tag & ~0x20, body));
  if (depth <= 1) return primitive;
  const constructed = fc
    .tuple(fc.constantFrom(0x30, 0x31, 0xa0, 0xa3, 0x04), fc.array(tlv(depth - 1), { maxLength: 5 }))
    .map(([tag, children]) => encode(tag, Buffer.concat(children)));
  return fc.oneof(primitive, constructed);
});

function encode(tag: number, body: Uint8Array): Uint8Array {
  const length = body.length;
  const header = length < 0x80 ? [tag, length] : length < 0x100 ? [tag, 0x81, length] : [tag, 0x82, length >> 8, length & 0xff];
  return Buffer.concat([Buffer.from(header), body]);
}

const issuingRoot = root('Property Root');
const issuing = intermediate('Property Issuing', issuingRoot);
const leaves: Built[] = [
  leaf('p256.test', issuing),
  leaf('rsa.test', issuing, { key: pooledKey('rsa2048') }),
  leaf('ed.test', issuing, { key: pooledKey('ed25519'), eku: [OID.serverAuth], sans: ['ed.test', '127.0.0.1'] }),
  leaf('nc.test', issuing, { key: pooledKey('ec-p384') }),
];
const anchors = new TrustAnchorIndex([issuingRoot.der]);
const issuingFacts = ((): CertificateFacts => {
  const read = readCertificate(issuing.der);
  assert.ok(read.ok);
  return read.facts;
})();

/** A mutation: flip, overwrite, insert, delete, truncate or append bytes. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(der: Uint8Array, m: Mutation): Uint8Array {
  const out = Buffer.from(der);
  const at = m.at % out.length;
  switch (m.kind) {
    case 'flip':
      out[at]! ^= 1 << m.bit;
      return out;
    case 'set':
      out[at] = m.value;
      return out;
    case 'insert':
      return Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    case 'delete':
      return Buffer.concat([out.subarray(0, at), out.subarray(at + m.count)]);
    case 'truncate':
      return out.subarray(0, at);
  }
}

describe('DER and certificate reader properties', () => {
  it('the strict DER reader throws only DerError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        bounded(() => {
          const el = readDerElement(bytes);
          readDerChildren(bytes, el);
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('the certificate reader never throws, on random bytes or random DER trees', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), tlv(6)), (bytes) => {
        const read = bounded(() => readCertificate(bytes));
        assert.ok(read !== undefined, 'readCertificate threw');
        assert.equal(typeof read.ok, 'boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('a mutated leaf is read without a throw or a hang, and accepted only if the signed bytes and signature are intact', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.constantFrom(...leaves), fc.array(mutation, { minLength: 1, maxLength: 3 }), (original, mutations) => {
        const mutated = mutations.reduce((der, m) => (der.length ? mutate(der, m) : der), original.der as Uint8Array);
        const read = bounded(() => readCertificate(mutated));
        assert.ok(read !== undefined);
        if (!read.ok) return;
        const result = bounded(() => validatePath(read.facts, [issuingFacts], anchors, { now: Date.now() }));
        assert.ok(result !== undefined);
        if (!result.verified) return;
        accepted++;
        const originalFacts = readCertificate(original.der);
        assert.ok(originalFacts.ok);
        assert.deepEqual(Buffer.from(read.facts.tbs), Buffer.from(originalFacts.facts.tbs), 'accepted with changed signed bytes');
        assert.ok(new X509Certificate(mutated).verify(issuing.cert.publicKey), 'accepted with a signature OpenSSL refuses');
      }),
      { numRuns: 1500 },
    );
    // Only mutations that leave a valid certificate (e.g. inside an ECDSA signature's DER-neutral bytes) get here.
    assert.ok(accepted < 50, `${accepted} mutated leaves accepted`);
  });

  it('a mutated intermediate never lets a chain through unless it still verifies', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 2 }), (mutations) => {
        const mutated = mutations.reduce((der, m) => (der.length ? mutate(der, m) : der), issuing.der as Uint8Array);
        const read = bounded(() => readCertificate(mutated));
        if (!read?.ok) return;
        const leafRead = readCertificate(leaves[0]!.der);
        assert.ok(leafRead.ok);
        const result = bounded(() => validatePath(leafRead.facts, [read.facts], anchors, { now: Date.now() }));
        if (!result?.verified) return;
        assert.ok(new X509Certificate(mutated).verify(issuingRoot.cert.publicKey));
        assert.ok(new X509Certificate(leaves[0]!.der).verify(new X509Certificate(mutated).publicKey));
      }),
      { numRuns: 800 },
    );
  });
});

describe('property: the facts cache key from Node fingerprints', () => {
  it("reads Node's fingerprint256 (either case) as the DER's SHA-256 hex, and nothing else of that length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), (bytes, upper) => {
        const hex = Buffer.from(bytes).toString('hex');
        const colon = hex.match(/../g)!.join(':');
        assert.equal(normaliseDigest(upper ? colon.toUpperCase() : colon), hex);
        assert.equal(normaliseDigest(bytes), hex);
        assert.equal(normaliseDigest(hex.toUpperCase()), hex);
      }),
    );
    const wellFormed = /^([0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2}$/;
    fc.assert(
      fc.property(fc.string({ minLength: 95, maxLength: 95, unit: fc.constantFrom('0', 'a', 'F', 'g', ':', ' ', '\u0130', '\uff10') }), (text) => {
        const read = normaliseDigest(text);
        if (wellFormed.test(text)) assert.equal(read, text.replaceAll(':', '').toLowerCase());
        else assert.equal(read, undefined);
      }),
      { numRuns: 5000 },
    );
  });
});
