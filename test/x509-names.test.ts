/**
 * Distinguished names against OpenSSL. Path building links a certificate to its issuer by name, as X509_NAME_cmp
 * compares names: on a canonical encoding (strings to UTF-8, white space trimmed and collapsed, ASCII lower-cased,
 * each RDN a sorted SET). For random names (every string type, case and white space, multi-valued RDNs, values that
 * are not strings, strings that do not decode) certpin's canonical encoding must hash to what `openssl x509
 * -subject_hash` prints (the SHA-1 of OpenSSL's own canonical encoding), and a name OpenSSL cannot read must be one
 * certpin refuses, and the other way round.
 *
 * Seeded: set CERTPIN_SEED to replay a run (the seed is printed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { der } from '../src/core/der.js';
import { TrustAnchorIndex } from '../src/core/path/index.js';
import { nameBucket, readCertificate } from '../src/core/x509/index.js';
import { OID, buildCertificate, pooledKey } from './support/x509-builder.js';

const SEED = Number(process.env.CERTPIN_SEED ?? Date.now() % 2 ** 31);
const CASES = Number(process.env.CERTPIN_NAME_CASES ?? 400);

const ATTRIBUTE_TYPES = [OID.commonName, '2.5.4.10', '2.5.4.11', '2.5.4.6', '2.5.4.5', '1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.25'];

/** Text that exercises canonicalisation: ASCII letters in both cases, every kind of ASCII white space, Latin-1, wider. */
const text = fc
  .array(fc.constantFrom(' ', '  ', '\t', '\n', '\v', '\f', '\r', 'A', 'b', 'Z', 'q', '0', '-', '.', 'É', 'é', 'ß', 'Ω', '€', '中', '😀'), { maxLength: 12 })
  .map((parts) => parts.join(''));
const asciiText = text.map((t) => [...t].map((c) => (c.charCodeAt(0) < 0x80 ? c : 'x')).join(''));
const latin1Text = text.map((t) => [...t].map((c) => (c.charCodeAt(0) < 0x100 ? c : 'y')).join(''));

function bmp(value: string): Buffer {
  const out = Buffer.alloc(value.length * 2);
  for (let i = 0; i < value.length; i++) out.writeUInt16BE(value.charCodeAt(i), i * 2);
  return out;
}

function universal(value: string): Buffer {
  const points = [...value].map((c) => c.codePointAt(0)!);
  const out = Buffer.alloc(points.length * 4);
  points.forEach((p, i) => out.writeUInt32BE(p, i * 4));
  return out;
}

/** One attribute value as DER: mostly strings of every type, sometimes broken ones or values that are not strings. */
const attributeValue: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: text.map((t) => der.utf8(t)) },
  { weight: 3, arbitrary: asciiText.map((t) => der.printable(t)) },
  { weight: 3, arbitrary: asciiText.map((t) => der.ia5(t)) },
  { weight: 2, arbitrary: latin1Text.map((t) => tagged(0x16, Buffer.from(t, 'latin1'))) },
  { weight: 2, arbitrary: latin1Text.map((t) => tagged(0x14, Buffer.from(t, 'latin1'))) },
  { weight: 2, arbitrary: fc.stringMatching(/^[0-9 ]{0,8}$/).map((t) => tagged(0x12, Buffer.from(t, 'latin1'))) },
  { weight: 3, arbitrary: text.map((t) => tagged(0x1e, bmp(t))) },
  { weight: 2, arbitrary: text.map((t) => tagged(0x1c, universal(t))) },
  // Values OpenSSL keeps as they are encoded: a BIT STRING, a SEQUENCE, a universal tag it has no type for.
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }).map((b) => der.bitString(Buffer.from(b))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }).map((b) => der.sequence(der.octetString(Buffer.from(b)))) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(0x07, 0x0b, 0x0d, 0x1d), fc.uint8Array({ maxLength: 6 })).map(([tag, b]) => tagged(tag, Buffer.from(b))) },
  // Values OpenSSL cannot read: broken strings (invalid UTF-8, surrogates, odd lengths, past Unicode) and types a
  // name may not hold (INTEGER, OCTET STRING, VisibleString, GeneralString, a time, a context tag).
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 6 }).map((b) => tagged(0x0c, Buffer.from(b))),
      fc.constant(tagged(0x1e, Buffer.from([0xd8, 0x00]))),
      fc.constant(tagged(0x1e, Buffer.from([0x00, 0x41, 0x00]))),
      fc.constant(tagged(0x1c, Buffer.from([0x00, 0x11, 0x00, 0x00]))),
      fc.integer({ min: 0, max: 1000 }).map((n) => der.integer(n)),
      fc.uint8Array({ maxLength: 6 }).map((b) => der.octetString(Buffer.from(b))),
      fc.tuple(fc.constantFrom(0x1a, 0x1b, 0x15, 0x19, 0x17, 0x80, 0x31), asciiText).map(([tag, t]) => tagged(tag, Buffer.from(t, 'latin1'))),
    ),
  },
);

function tagged(tag: number, contents: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag, contents.length]), contents]);
}

const attribute = fc.tuple(fc.constantFrom(...ATTRIBUTE_TYPES), attributeValue).map(([oid, value]) => der.sequence(der.oid(oid), value));
/** A Name: up to four RDNs of one to three attributes each. */
const distinguishedName = fc.array(fc.array(attribute, { minLength: 1, maxLength: 3 }), { maxLength: 4 }).map((rdns) => der.sequence(...rdns.map((members) => der.set(...members))));

/** What `openssl x509 -subject_hash` prints for a name: the first four bytes of the SHA-1 of its canonical encoding, little-endian. */
function subjectHash(canonical: Uint8Array): string {
  const digest = createHash('sha1').update(canonical).digest();
  return digest.readUInt32LE(0).toString(16).padStart(8, '0');
}

describe(`distinguished names against openssl x509 -subject_hash (CERTPIN_SEED=${SEED})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'certpin-names-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`${CASES} random names: the same canonical encoding, and the same names unreadable`, () => {
    const names = fc.sample(distinguishedName, { numRuns: CASES, seed: SEED });
    const key = pooledKey('ec-p256');
    const certificates = names.map((nameDer) => buildCertificate({ subject: nameDer, key, ca: true }));
    // `openssl rehash` links each certificate of a directory it can read as <subject_hash>.<n>: one process per 250
    // names (it allows at most 256 certificates with one hash in a directory).
    const opensslHashes = new Map<number, string>();
    for (let from = 0; from < certificates.length; from += 250) {
      const batch = mkdtempSync(join(dir, 'batch-'));
      certificates.slice(from, from + 250).forEach((built, i) => writeFileSync(join(batch, `${from + i}.pem`), built.pem));
      const rehash = spawnSync('openssl', ['rehash', batch], { encoding: 'utf8' });
      assert.ok(!/overflow/.test(rehash.stderr), rehash.stderr);
      for (const link of readdirSync(batch).filter((f) => /^[0-9a-f]{8}\.\d+$/.test(f))) {
        opensslHashes.set(Number.parseInt(readlinkSync(join(batch, link)), 10), link.slice(0, 8));
      }
    }
    const differences: string[] = [];
    certificates.forEach((built, i) => {
      const opensslHash = opensslHashes.get(i);
      const read = readCertificate(built.der);
      const certpinHash = read.ok ? subjectHash(read.facts.subject.canonical) : undefined;
      if (opensslHash !== certpinHash) {
        differences.push(`${names[i]!.toString('hex')}: openssl ${opensslHash ?? 'cannot read it'}, certpin ${certpinHash ?? `cannot read it (${read.ok ? '' : read.reason})`}`);
      }
    });
    assert.deepEqual(differences, [], `replay with CERTPIN_SEED=${SEED}`);
    // The generator must make both kinds, mostly names OpenSSL reads, or the comparison says little.
    assert.ok(opensslHashes.size > CASES / 2 && opensslHashes.size < CASES, `${opensslHashes.size} of ${CASES} names were readable`);
  });

  it('names that differ only in case, white space or string type are one name, as OpenSSL compares them', () => {
    const variants = [
      der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8('Bank Issuing CA')))),
      der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.printable('  bank   ISSUING\tca ')))),
      der.sequence(der.set(der.sequence(der.oid(OID.commonName), Buffer.concat([Buffer.from([0x1e, 30]), bmp('BANK issuing CA')])))),
    ];
    const keys = variants.map((nameDer) => {
      const read = readCertificate(buildCertificate({ subject: nameDer, key: pooledKey('ec-p256'), ca: true }).der);
      assert.ok(read.ok);
      return read.facts.subject.key;
    });
    assert.equal(new Set(keys).size, 1);
    const other = readCertificate(buildCertificate({ subject: der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8('Bank Issuing CA2')))), key: pooledKey('ec-p256'), ca: true }).der);
    assert.ok(other.ok);
    assert.notEqual(other.facts.subject.key, keys[0]);
  });
});

/**
 * The trust anchor index files anchors by `nameBucket` and reads an anchor only when a lookup's name falls in its
 * bucket. Names OpenSSL holds equal must therefore always share a bucket, or a root would be missed (a chain OpenSSL
 * accepts refused); and a lookup must still return exactly the anchors of that canonical name. Names are drawn from a
 * small alphabet, so that many differ in bytes and not canonically.
 */
describe(`the trust anchor index's buckets (CERTPIN_SEED=${SEED})`, () => {
  const few = fc.array(fc.constantFrom('a', 'A', 'b', ' ', '  ', '\t', '1', 'é'), { maxLength: 4 }).map((parts) => parts.join(''));
  const fewAscii = few.map((t) => t.replace(/é/g, 'E'));
  const value: fc.Arbitrary<Buffer> = fc.oneof(
    few.map((t) => der.utf8(t)),
    fewAscii.map((t) => der.printable(t)),
    fewAscii.map((t) => der.ia5(t)),
    few.map((t) => tagged(0x14, Buffer.from(t, 'latin1'))),
    few.map((t) => tagged(0x1e, bmp(t))),
    few.map((t) => tagged(0x1c, universal(t))),
    fc.constantFrom(tagged(0x12, Buffer.from('1')), der.bitString(Buffer.from([1]))),
  );
  const member = fc.tuple(fc.constantFrom(OID.commonName, '2.5.4.10'), value).map(([oid, v]) => der.sequence(der.oid(oid), v));
  const smallName = fc.array(fc.array(member, { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 2 }).map((rdns) => der.sequence(...rdns.map((members) => der.set(...members))));
  const key = pooledKey('ec-p256');

  it('names OpenSSL holds equal share a bucket', () => {
    const byKey = new Map<string, { buckets: Set<number | undefined>; ders: Set<string> }>();
    for (const nameDer of fc.sample(smallName, { numRuns: 3000, seed: SEED })) {
      const read = readCertificate(buildCertificate({ subject: nameDer, key, ca: true }).der);
      if (!read.ok) continue;
      const group = byKey.get(read.facts.subject.key) ?? { buckets: new Set(), ders: new Set() };
      group.buckets.add(nameBucket(read.facts.subject.der));
      group.ders.add(nameDer.toString('hex'));
      byKey.set(read.facts.subject.key, group);
    }
    const split = [...byKey.values()].filter((g) => g.buckets.size !== 1 || g.buckets.has(undefined));
    assert.deepEqual(split.map((g) => [...g.ders]), [], `replay with CERTPIN_SEED=${SEED}`);
    // The property says little unless many names are equal in different bytes (case, white space, string type, order).
    const spelledApart = [...byKey.values()].filter((g) => g.ders.size > 1).length;
    assert.ok(spelledApart > 50, `only ${spelledApart} names came in more than one encoding`);
    // And buckets must tell names apart, or every lookup would read the whole store. These names differ mostly in
    // white space and in 'é', which buckets ignore; real roots' names differ in their letters.
    const buckets = new Set([...byKey.values()].map((g) => [...g.buckets][0])).size;
    assert.ok(buckets > byKey.size / 4, `${byKey.size} names in ${buckets} buckets`);
  });

  it('a lookup returns exactly the anchors of that canonical name, whatever form they are given in', () => {
    const names = fc.sample(smallName, { numRuns: 400, seed: SEED + 1 });
    const anchors = names.slice(0, 120).map((nameDer) => buildCertificate({ subject: nameDer, key, ca: true }));
    const facts = anchors.map((a) => readCertificate(a.der)).flatMap((r) => (r.ok ? [r.facts] : []));
    // The same anchors as DER, as Node's X509Certificate and as facts: three stores that must answer alike.
    const stores = [
      new TrustAnchorIndex(anchors.map((a) => a.der)),
      new TrustAnchorIndex(anchors.map((a) => new X509Certificate(a.der))),
      new TrustAnchorIndex(facts),
    ];
    const signer = anchors[0]!;
    let found = 0;
    for (const issuerName of names.slice(100)) {
      const child = readCertificate(buildCertificate({ subject: 'child.test', issuer: { ...signer, nameDer: issuerName } }).der);
      if (!child.ok) continue;
      const expected = [...new Set(facts.filter((a) => a.subject.key === child.facts.issuer.key).map((a) => a.sha256))].sort();
      found += expected.length;
      for (const store of stores) {
        assert.deepEqual(store.named(child.facts).map((a) => a.sha256).sort(), expected, issuerName.toString('hex'));
      }
    }
    for (const anchor of facts) for (const store of stores) assert.ok(store.has(anchor));
    assert.ok(found > 20, `only ${found} lookups found an anchor`);
  });
});
