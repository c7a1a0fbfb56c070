/**
 * Extension encodings against OpenSSL. certpin reads the extensions that decide a path (basicConstraints, keyUsage,
 * extendedKeyUsage, subjectAltName, nameConstraints, the key identifiers) with its own DER reader; OpenSSL marks a
 * certificate whose extension it cannot decode invalid, and refuses every chain with it. Here every certificate of a
 * chain is built with random encodings of those extensions (the usual ones, edge cases, DER violations, random DER,
 * random bytes, duplicates, the critical flag either way), signed properly, and judged by `openssl verify -purpose
 * sslserver`, by a real handshake of this Node (its own OpenSSL, the path alone) and by certpin's path validator:
 * certpin must accept no chain either refuses, and refuse none both accept except for the documented reasons
 * (docs/path-validation.md). Before this test, certpin refused extension values
 * with bytes after them (OpenSSL ignores those) and leaves with an empty name-constraint list (OpenSSL ignores a
 * leaf's name constraints).
 *
 * Seeded: set CERTPIN_SEED to replay a run (the seed is printed); CERTPIN_EXTENSION_CASES for more cases.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { der } from '../src/core/der.js';
import { readCertificate } from '../src/core/x509/certificate.js';
import { judgePath } from './support/path-case.js';
import type { PathCase } from './support/path-case.js';
import { HandshakeProbe } from './support/tls-probe.js';
import { OID, buildCertificate, keyIdOf, pooledKey } from './support/x509-builder.js';
import type { Built, KeyPair, RawExtension } from './support/x509-builder.js';

const SEED = Number(process.env.CERTPIN_SEED ?? Date.now() % 2 ** 31);
const CASES = Number(process.env.CERTPIN_EXTENSION_CASES ?? 200);
const HOST = 'ext.bank.test';
const DAY = 86_400_000;
/** Where certpin is stricter than OpenSSL on purpose (docs/path-validation.md, "Where certpin is stricter"). */
const DOCUMENTED_STRICTER = [/a CA with an empty list of name-constraint subtrees/];
/**
 * Also on purpose: a certificate with a string in BER's constructed form (OpenSSL joins the parts). The refusal may
 * name something else (a root that cannot be an anchor is "no issuer found"), so the certificates themselves say.
 */
const constructedString = (chain: { root: Built; ca: Built; leaf: Built }) =>
  [chain.root, chain.ca, chain.leaf].some((c) => {
    const read = readCertificate(c.der);
    return read.ok && read.facts.invalid.some((why) => /constructed \(BER\) form/.test(why));
  });

const EXT = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  nameConstraints: '2.5.29.30',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
} as const;
type ExtensionName = keyof typeof EXT;

const tlv = (tag: number, ...contents: Buffer[]) => {
  const body = Buffer.concat(contents);
  return body.length < 0x80 ? Buffer.concat([Buffer.from([tag, body.length]), body]) : Buffer.concat([Buffer.from([tag, 0x81, body.length]), body]);
};
const bits = (unused: number, ...bytes: number[]) => tlv(0x03, Buffer.from([unused, ...bytes]));
const dns = (name: string) => der.implicit(2, Buffer.from(name, 'latin1'));

/** Random DER-shaped values: nested SEQUENCEs and context tags around primitives. */
const randomDer: fc.Memo<Buffer> = fc.memo((depth) => {
  const primitive = fc.tuple(fc.constantFrom(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x16, 0x80, 0x81, 0x82, 0x87), fc.uint8Array({ maxLength: 8 })).map(([tag, body]) => tlv(tag, Buffer.from(body)));
  if (depth <= 1) return primitive;
  const constructed = fc.tuple(fc.constantFrom(0x30, 0x31, 0xa0, 0xa1, 0xa2), fc.array(randomDer(depth - 1), { maxLength: 3 })).map(([tag, children]) => tlv(tag, ...children));
  return fc.oneof(primitive, constructed);
});

/** Encodings of each extension's value worth trying: the usual ones first, then edge cases and violations. */
function variants(role: 'root' | 'ca' | 'leaf', issuerKeyId: Buffer, ownKeyId: Buffer): Record<ExtensionName, Buffer[]> {
  const caUsage = bits(1, 0x06);
  return {
    basicConstraints: [
      role === 'leaf' ? der.sequence() : der.sequence(der.boolean(true)),
      der.sequence(),
      der.sequence(der.boolean(true)),
      der.sequence(tlv(0x01, Buffer.from([0x00]))), // cA FALSE written out (DER leaves a DEFAULT out)
      der.sequence(tlv(0x01, Buffer.from([0x01]))), // TRUE that is not 0xff
      der.sequence(der.boolean(true), der.integer(0)),
      der.sequence(der.boolean(true), der.integer(1)),
      der.sequence(der.boolean(true), tlv(0x02, Buffer.from([0xff]))), // pathLen -1
      der.sequence(der.boolean(true), tlv(0x02, Buffer.from([0x00, 0x01]))), // non-minimal INTEGER
      der.sequence(der.boolean(true), der.integer(300)),
      der.sequence(der.integer(0)), // pathLen without cA
      der.sequence(der.boolean(true), der.boolean(true)),
      der.sequence(der.boolean(true), der.integer(0), der.null()),
      Buffer.concat([der.sequence(der.boolean(true)), Buffer.from([0x00])]), // trailing byte
    ],
    keyUsage: [
      role === 'leaf' ? bits(7, 0x80) : caUsage,
      caUsage,
      bits(7, 0x80), // digitalSignature
      bits(5, 0xa0), // digitalSignature, keyEncipherment
      bits(2, 0x04), // keyCertSign alone
      bits(0, 0x00), // no bit set
      bits(0), // no bits at all
      bits(1, 0x07), // an unused bit set
      bits(8, 0x80), // more than 7 unused bits
      bits(7, 0x86, 0x80), // decipherOnly too
      bits(0, 0x06, 0x00), // trailing zero byte
      der.octetString(Buffer.from([0x06])), // wrong type
    ],
    extKeyUsage: [
      der.sequence(der.oid(OID.serverAuth)),
      der.sequence(),
      der.sequence(der.oid(OID.clientAuth)),
      der.sequence(der.oid('2.5.29.37.0')), // anyExtendedKeyUsage
      der.sequence(der.oid(OID.serverAuth), der.oid(OID.serverAuth)),
      der.sequence(der.oid(OID.emailProtection)),
      der.sequence(tlv(0x06, Buffer.from([0x80]))), // an OID with a non-minimal arc
      der.sequence(tlv(0x06, Buffer.alloc(0))), // an empty OID
      der.sequence(der.oid(OID.serverAuth), der.null()),
      der.oid(OID.serverAuth), // not a SEQUENCE
    ],
    subjectAltName: [
      der.sequence(dns(HOST)),
      der.sequence(),
      der.sequence(dns('')),
      der.sequence(dns('other.test')),
      der.sequence(der.implicit(7, Buffer.from([127, 0, 0, 1, 9]))), // an IP of 5 bytes
      der.sequence(dns(`${HOST}\0.evil.test`)),
      der.sequence(tlv(0x89, Buffer.from([1, 2, 3]))), // an unknown GeneralName tag
      der.sequence(dns(HOST), der.null()),
      der.sequence(der.explicit(4, der.sequence())), // an empty directoryName
    ],
    nameConstraints: [
      der.sequence(der.explicit(0, der.sequence(dns('bank.test')))),
      der.sequence(der.explicit(0, der.sequence(dns('other.test')))),
      der.sequence(der.explicit(1, der.sequence(dns(HOST)))),
      der.sequence(),
      der.sequence(der.explicit(0)), // an empty permitted list
      der.sequence(der.explicit(0, der.sequence(dns('bank.test'), der.implicit(0, Buffer.from([1]))))), // minimum 1
      der.sequence(der.explicit(0, der.sequence(dns('bank.test'), der.implicit(1, Buffer.from([2]))))), // maximum
      der.sequence(der.explicit(0, der.sequence(der.implicit(7, Buffer.from([10, 0, 0, 0]))))), // an IP subtree of 4 bytes
      der.sequence(der.explicit(1, der.sequence(dns('bank.test'))), der.explicit(0, der.sequence(dns('bank.test')))), // wrong order
    ],
    subjectKeyId: [der.octetString(ownKeyId), der.octetString(Buffer.alloc(0)), bits(0, 1, 2, 3), der.octetString(Buffer.from([1, 2, 3]))],
    authorityKeyId: [
      der.sequence(der.implicit(0, issuerKeyId)),
      der.sequence(der.implicit(0, Buffer.from(issuerKeyId.map((b) => b ^ 0xff)))), // another key's id
      der.sequence(),
      der.sequence(der.implicit(0, Buffer.alloc(0))),
      der.sequence(der.implicit(2, Buffer.from([1]))), // a serial without an issuer
      der.sequence(der.implicit(0, issuerKeyId), tlv(0x83, Buffer.from([1]))), // an unknown field
      der.octetString(issuerKeyId), // not a SEQUENCE
    ],
  };
}

interface ExtensionChoice {
  readonly how: 'usual' | 'omit' | 'variant' | 'random-der' | 'random-bytes' | 'duplicate';
  readonly variant: number;
  readonly critical: 'usual' | 'flip' | 'false-written';
  readonly random: Buffer;
}

const choice: fc.Arbitrary<ExtensionChoice> = fc.record({
  how: fc.oneof(
    { weight: 10, arbitrary: fc.constant('usual' as const) },
    { weight: 2, arbitrary: fc.constant('omit' as const) },
    { weight: 6, arbitrary: fc.constant('variant' as const) },
    { weight: 1, arbitrary: fc.constant('random-der' as const) },
    { weight: 1, arbitrary: fc.constant('random-bytes' as const) },
    { weight: 1, arbitrary: fc.constant('duplicate' as const) },
  ),
  variant: fc.nat(),
  critical: fc.oneof({ weight: 8, arbitrary: fc.constant('usual' as const) }, { weight: 1, arbitrary: fc.constant('flip' as const) }, { weight: 1, arbitrary: fc.constant('false-written' as const) }),
  random: fc.oneof(randomDer(3), fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b))),
});

const USUAL: ExtensionChoice = { how: 'usual', variant: 0, critical: 'usual', random: Buffer.alloc(0) };
type Role = 'root' | 'ca' | 'leaf';

/** What a case changes: one to three extensions of the chain's certificates, and maybe an extra extension. */
const caseChoices = fc.record({
  changes: fc.array(fc.record({ role: fc.constantFrom<Role>('root', 'ca', 'ca', 'leaf', 'leaf'), name: fc.constantFrom(...(Object.keys(EXT) as ExtensionName[])), choice }), { minLength: 1, maxLength: 3 }),
  extra: fc.constantFrom(undefined, undefined, undefined, { role: 'ca' as Role, oid: '1.3.6.1.4.1.55738.666.1', critical: true }, { role: 'leaf' as Role, oid: '1.3.6.1.4.1.55738.666.1', critical: false }, { role: 'ca' as Role, oid: '2.5.29.36', critical: true }),
});
type CaseChoices = typeof caseChoices extends fc.Arbitrary<infer T> ? T : never;

const USUALLY_CRITICAL = new Set<ExtensionName>(['basicConstraints', 'keyUsage', 'nameConstraints']);

/** The raw extensions of one certificate of the case. */
function extensionsFor(role: Role, choices: CaseChoices, issuerKeyId: Buffer, ownKeyId: Buffer): RawExtension[] {
  const all = variants(role, issuerKeyId, ownKeyId);
  const out: RawExtension[] = [];
  for (const name of Object.keys(EXT) as ExtensionName[]) {
    // A leaf has no name constraints, a CA no SAN or EKU, a root no AKID, unless a change puts one there.
    const usualPresent = !(role === 'leaf' ? name === 'nameConstraints' : name === 'subjectAltName' || name === 'extKeyUsage' || (role === 'root' && name === 'authorityKeyId'));
    const c = choices.changes.findLast((change) => change.role === role && change.name === name)?.choice ?? USUAL;
    if (c.how === 'omit' || (c.how === 'usual' && !usualPresent)) continue;
    const value =
      c.how === 'variant' ? all[name][c.variant % all[name].length]!
      : c.how === 'random-der' || c.how === 'random-bytes' ? c.random
      : all[name][0]!;
    const usualCritical = USUALLY_CRITICAL.has(name);
    const extension: RawExtension = { oid: EXT[name], critical: c.critical === 'flip' ? !usualCritical : usualCritical, value };
    out.push(c.critical === 'false-written' ? { ...extension, critical: false, writeFalse: true } : extension);
    if (c.how === 'duplicate') out.push(extension);
  }
  if (choices.extra?.role === role) out.push({ oid: choices.extra.oid, critical: choices.extra.critical, value: der.sequence() });
  return out;
}

/** A chain of root, intermediate and leaf, every certificate's extensions given raw. */
function buildChain(choices: CaseChoices): { root: Built; ca: Built; leaf: Built } {
  const keys: Record<Role, KeyPair> = { root: pooledKey('ec-p256', 11), ca: pooledKey('ec-p256', 12), leaf: pooledKey('ec-p256', 13) };
  const ids = { root: keyIdOf(keys.root), ca: keyIdOf(keys.ca), leaf: keyIdOf(keys.leaf) };
  const raw = { ca: 'omit', keyUsage: 'omit', eku: 'omit', skid: 'omit', akid: 'omit', sans: [] } as const;
  const root = buildCertificate({ ...raw, subject: 'Extensions Root', key: keys.root, notAfter: new Date(Date.now() + 3650 * DAY), extensions: extensionsFor('root', choices, ids.root, ids.root) });
  const ca = buildCertificate({ ...raw, subject: 'Extensions CA', key: keys.ca, issuer: root, notAfter: new Date(Date.now() + 1825 * DAY), extensions: extensionsFor('ca', choices, ids.root, ids.ca) });
  const leaf = buildCertificate({ ...raw, subject: HOST, key: keys.leaf, issuer: ca, extensions: extensionsFor('leaf', choices, ids.ca, ids.leaf) });
  return { root, ca, leaf };
}

function pathCase(chain: { root: Built; ca: Built; leaf: Built }): PathCase {
  return { anchors: [chain.root], chain: [chain.leaf, chain.ca], host: HOST };
}

/** A case in words: each change (and with CERTPIN_SHOW_DER the changed certificates, for openssl asn1parse). */
function describeCase(choices: CaseChoices, chain: { root: Built; ca: Built; leaf: Built }): string {
  const changes = choices.changes.map(({ role, name, choice: c }) => `${role} ${name}: ${c.how}${c.how === 'variant' ? ` #${c.variant % variants(role, Buffer.alloc(20), Buffer.alloc(20))[name].length}` : ''}${c.how.startsWith('random') ? ` ${c.random.toString('hex')}` : ''}${c.critical === 'usual' ? '' : ` (critical ${c.critical})`}`);
  if (choices.extra) changes.push(`${choices.extra.role} + ${choices.extra.oid}${choices.extra.critical ? ' critical' : ''}`);
  const roles = new Set<Role>([...choices.changes.map((c) => c.role), ...(choices.extra ? [choices.extra.role] : [])]);
  const ders = process.env.CERTPIN_SHOW_DER ? ` | ${[...roles].map((role) => `${role} ${chain[role].der.toString('base64')}`).join(' ')}` : '';
  return `${changes.join('; ')}${ders}`;
}

describe(`extension encodings against openssl verify and Node's handshake (CERTPIN_SEED=${SEED})`, () => {
  const probe = new HandshakeProbe();
  before(() => probe.start());
  after(() => probe.stop());

  it(`${CASES} chains with random extension encodings: certpin accepts no chain OpenSSL refuses, and refuses none it accepts`, async () => {
    // The usual chain, unchanged, is valid for both.
    const usual = await judgePath(pathCase(buildChain({ changes: [], extra: undefined })), probe);
    assert.ok(usual.bothAccept && usual.certpin.verified);
    const cases = fc.sample(caseChoices, { numRuns: CASES, seed: SEED });
    const wrongAccepts: string[] = [];
    const stricter: string[] = [];
    let accepted = 0;
    for (const [i, choices] of cases.entries()) {
      const chain = buildChain(choices);
      const { openssl, node, certpin, bothAccept } = await judgePath(pathCase(chain), probe);
      if (bothAccept) accepted++;
      const label = () => `case ${i}: ${describeCase(choices, chain)}`;
      if (certpin.verified && !bothAccept) wrongAccepts.push(`${label()}: openssl ${openssl.detail}, Node ${node.detail}`);
      if (!certpin.verified && bothAccept && !DOCUMENTED_STRICTER.some((why) => why.test(certpin.reason)) && !constructedString(chain)) stricter.push(`${label()}: certpin ${certpin.code} (${certpin.reason})`);
    }
    assert.deepEqual(wrongAccepts, [], `certpin accepted chains OpenSSL refuses; replay with CERTPIN_SEED=${SEED}`);
    assert.deepEqual(stricter, [], `certpin refused chains OpenSSL accepts; replay with CERTPIN_SEED=${SEED}`);
    // The generator must make both kinds of chain, or the comparison says little.
    assert.ok(accepted > CASES / 10 && accepted < CASES, `${accepted} of ${CASES} chains were valid`);
  });
});
