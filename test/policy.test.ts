import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PinPolicy, loadPolicy, loadPolicyFromEnv, policyFromJson } from '../src/index.js';
import { normalizeHost } from '../src/tools/index.js';
import { PolicyError } from '../src/errors.js';
import type { PolicyWarning } from '../src/index.js';
import { backupPin, createPki } from './support/pki.js';

const A = backupPin();
const B = backupPin();
const quiet = { onWarning: () => {} };

describe('host names', () => {
  const cases: [string, string | undefined][] = [
    ['API.Example.COM', 'api.example.com'],
    ['api.example.com.', 'api.example.com'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['[::1]', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['[2001:DB8::1]', '2001:db8::1'],
    ['127.0.0.1', '127.0.0.1'],
    ['good.com.evil.com', 'good.com.evil.com'],
    ['', undefined],
    [' api.example.com', undefined],
    ['api..example.com', undefined],
    ['api.example.com/path', undefined],
    ['user@api.example.com', undefined],
    ['-bad.example.com', undefined],
    ['999.1.1.1', undefined],
    ['a'.repeat(64) + '.com', undefined],
    // Names that URL parsers read as IPv4 addresses, as every client dials them; already lower-case ASCII, so they
    // must not pass as names untouched.
    ['0x7f.0.0.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['foo.123', undefined],
    ['api.0x10', undefined],
  ];
  for (const [input, expected] of cases) {
    it(`normalizes ${JSON.stringify(input)} to ${String(expected)}`, () => assert.equal(normalizeHost(input), expected));
  }
});

describe('PinPolicy host matching', () => {
  const policy = new PinPolicy({
    hosts: {
      'api.example.com': [A, B],
      '*.cdn.example.com': [A, B],
      '**.pay.example.com': [A, B],
      'example.org': { pins: [A, B], includeSubdomains: true },
      'deep.a.example.org': [B, A],
      '127.0.0.1': [A, B],
      '::1': [A, B],
    },
    ...quiet,
  });
  const pattern = (host: string) => policy.ruleFor(host)?.pattern.text;

  it('warns that a client certificate goes to any server that asks under TLS 1.2, not under TLS 1.3', () => {
    const leaf = createPki().leaf;
    const codes = (minVersion?: 'TLSv1.2' | 'TLSv1.3') => {
      const warnings: PolicyWarning[] = [];
      new PinPolicy({ hosts: {}, clientCertificate: { cert: leaf.pem, key: leaf.key.keyPem }, ...(minVersion ? { minVersion } : {}), onWarning: (w) => warnings.push(w) });
      return warnings.map((w) => w.code);
    };
    assert.deepEqual(codes(), ['CERTPIN_CLIENT_CERTIFICATE_TLS12']);
    assert.deepEqual(codes('TLSv1.3'), []);
  });

  it('matches exact names after normalisation', () => {
    assert.equal(pattern('api.example.com'), 'api.example.com');
    assert.equal(pattern('API.EXAMPLE.COM.'), 'api.example.com');
    assert.equal(pattern('x.api.example.com'), undefined);
    assert.equal(pattern('example.com'), undefined);
  });

  it('*. covers exactly one label', () => {
    assert.equal(pattern('img.cdn.example.com'), '*.cdn.example.com');
    assert.equal(pattern('cdn.example.com'), undefined);
    assert.equal(pattern('a.img.cdn.example.com'), undefined);
  });

  it('**. covers the name itself and any depth', () => {
    assert.equal(pattern('pay.example.com'), '**.pay.example.com');
    assert.equal(pattern('eu.pay.example.com'), '**.pay.example.com');
    assert.equal(pattern('a.b.c.pay.example.com'), '**.pay.example.com');
  });

  it('includeSubdomains covers names below, and the most specific entry wins', () => {
    assert.equal(pattern('example.org'), 'example.org');
    assert.equal(pattern('a.example.org'), 'example.org');
    assert.equal(pattern('deep.a.example.org'), 'deep.a.example.org');
    assert.equal(pattern('x.deep.a.example.org'), 'example.org');
  });

  it('a name that cannot be normalised keeps number-like labels as written (no IPv4 reading), so the nearest pin set applies', () => {
    const [a, b, c, d] = [backupPin(), backupPin(), backupPin(), backupPin()];
    const policy = new PinPolicy({ hosts: { '**.example.com': [a, b], '*.1.example.com': [c, d], '0x10.example.com': { pins: [c, d], includeSubdomains: true } }, onWarning: () => {} });
    for (const name of ['-x.1.example.com', 'x!.1.example.com']) assert.equal(policy.ruleFor(name)?.pattern.text, '*.1.example.com', name);
    assert.equal(policy.ruleFor('-a.0x10.example.com')?.pattern.text, '0x10.example.com');
  });

  it('never matches look-alikes', () => {
    assert.equal(pattern('api.example.com.evil.com'), undefined);
    assert.equal(pattern('evilapi.example.com'), undefined);
    assert.equal(pattern('evilexample.org'), undefined);
    assert.equal(pattern('pay.example.com.attacker.net'), undefined);
  });

  it('matches IP literals in any notation', () => {
    assert.equal(pattern('127.0.0.1'), '127.0.0.1');
    assert.equal(pattern('[::1]'), '::1');
    assert.equal(pattern('0:0::1'), '::1');
    assert.equal(pattern('127.0.0.2'), undefined);
  });

  it('lookup cost does not grow with the number of hosts', () => {
    const hosts: Record<string, string[]> = {};
    for (let i = 0; i < 10_000; i++) hosts[`host${i}.example${i % 50}.com`] = [A, B];
    const big = new PinPolicy({ hosts, ...quiet });
    const small = new PinPolicy({ hosts: Object.fromEntries(Object.entries(hosts).slice(0, 10)), ...quiet });
    const time = (p: PinPolicy) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < 20_000; i++) p.ruleFor(`host${i % 10}.example${i % 10}.com`);
      return Number(process.hrtime.bigint() - start);
    };
    time(big);
    time(small);
    const ratio = Math.min(time(big), time(big)) / Math.min(time(small), time(small));
    // A linear scan would be ~1000x slower; hashing cost varies a little with table size.
    assert.ok(ratio < 5, `10,000 hosts took ${ratio.toFixed(2)}x the time of 10`);
    assert.equal(big.ruleFor('host9999.example49.com')?.pattern.text, 'host9999.example49.com');
  });

  it('defaultPins applies to every host no entry covers', () => {
    const p = new PinPolicy({ hosts: { 'api.example.com': [A, B] }, defaultPins: [B, A], ...quiet });
    assert.equal(p.ruleFor('other.example.net')?.pattern.text, '*');
    assert.equal(p.ruleFor('api.example.com')?.pattern.text, 'api.example.com');
  });

  it('plaintext is refused to pinned hosts and to all under onlyPinnedHosts', () => {
    assert.equal(policy.allowsPlaintext('api.example.com'), false);
    assert.equal(policy.allowsPlaintext('x.example.org'), false);
    assert.equal(policy.allowsPlaintext('unrelated.net'), true);
    const strict = new PinPolicy({ hosts: { 'api.example.com': [A, B] }, onlyPinnedHosts: true });
    assert.equal(strict.allowsPlaintext('unrelated.net'), false);
  });
});

describe('PinPolicy validation', () => {
  const invalid: [string, () => unknown, RegExp][] = [
    ['no options', () => new PinPolicy(undefined as never), /expected an object/],
    ['hosts not an object', () => new PinPolicy({ hosts: [] as never }), /at hosts: expected an object/],
    ['empty pin set', () => new PinPolicy({ hosts: { 'a.example.com': [] } }), /hosts\["a.example.com"\].pins: a pin set needs at least one pin/],
    ['bad pin', () => new PinPolicy({ hosts: { 'a.example.com': [A, 'sha256/nope'] } }), /hosts\["a.example.com"\].pins\[1\]: Invalid pin "sha256\/nope"/],
    ['bad pattern', () => new PinPolicy({ hosts: { 'a.*.example.com': [A, B] } }), /wildcard may only be the whole first label/],
    ['bad host', () => new PinPolicy({ hosts: { 'a b.com': [A, B] } }), /not a valid host name/],
    ['**.com', () => new PinPolicy({ hosts: { '**.com': [A, B] } }), /"com" is a public suffix/],
    ['*.co.uk', () => new PinPolicy({ hosts: { '*.co.uk': [A, B] } }), /"co.uk" is a public suffix/],
    ['includeSubdomains on a suffix', () => new PinPolicy({ hosts: { 'com.au': { pins: [A, B], includeSubdomains: true } } }), /public suffix/],
    // The list's wildcard rules: every x.yokohama.jp and x.kawasaki.jp is a suffix, though the names themselves are not.
    ['*.yokohama.jp', () => new PinPolicy({ hosts: { '*.yokohama.jp': [A, B] } }), /every name one label below "yokohama.jp" is a public suffix/],
    ['**.kawasaki.jp', () => new PinPolicy({ hosts: { '**.kawasaki.jp': [A, B] } }), /every name one label below "kawasaki.jp" is a public suffix/],
    ['*.x.yokohama.jp', () => new PinPolicy({ hosts: { '*.x.yokohama.jp': [A, B] } }), /"x.yokohama.jp" is a public suffix/],
    ['yokohama.jp with includeSubdomains', () => new PinPolicy({ hosts: { 'yokohama.jp': { pins: [A, B], includeSubdomains: true } } }), /every name one label below "yokohama.jp" is a public suffix/],
    ['includeSubdomains on a wildcard', () => new PinPolicy({ hosts: { '*.example.com': { pins: [A, B], includeSubdomains: true } } }), /only applies to an exact host/],
    ['wildcard IP', () => new PinPolicy({ hosts: { '*.127.0.0.1': [A, B] } }), /wildcards do not apply to IP addresses/],
    ['duplicate after normalisation', () => new PinPolicy({ hosts: { 'A.example.com': [A, B], 'a.example.com.': [A, B] } }), /given twice/],
    ['expires not a date', () => new PinPolicy({ hosts: { 'a.example.com': { pins: [A, B], expires: 'next year' } } }), /expires: "next year" is not a date/],
    ['expires impossible date', () => new PinPolicy({ hosts: { 'a.example.com': { pins: [A, B], expires: '2027-02-30' } } }), /not a calendar date/],
    ['expires without zone', () => new PinPolicy({ hosts: { 'a.example.com': { pins: [A, B], expires: '2027-02-01T10:00:00' } } }), /is not a date/],
    ['expires loose format', () => new PinPolicy({ hosts: { 'a.example.com': { pins: [A, B], expires: '2027/02/01' } } }), /is not a date/],
    ['includeSubdomains not boolean', () => new PinPolicy({ hosts: { 'a.example.com': { pins: [A, B], includeSubdomains: 'yes' as never } } }), /expected true or false/],
    ['TLS 1.1', () => new PinPolicy({ hosts: {}, minVersion: 'TLSv1.1' as never }), /minVersion: "TLSv1.1" is not allowed/],
    ['no anchors', () => new PinPolicy({ hosts: {}, trustSystemRoots: false }), /"ca" must hold at least one certificate/],
    ['ca garbage', () => new PinPolicy({ hosts: {}, ca: 'not a cert' }), /ca\[0\].*not a readable X.509 certificate/],
    ['backup required', () => new PinPolicy({ hosts: { 'a.example.com': [A] }, requireBackupPin: true }), /single pin and no backup/],
    ['repeated pin is no backup', () => new PinPolicy({ hosts: { 'a.example.com': [A, A] }, requireBackupPin: true }), /repeats the same pin/],
    ['mTLS key mismatch', () => new PinPolicy({ hosts: {}, clientCertificate: { cert: createPki().leaf.pem, key: createPki().leaf.key.keyPem } }), /clientCertificate: the certificate and key cannot be used/],
  ];
  for (const [name, build, message] of invalid) {
    it(`refuses ${name} with a PolicyError naming the entry`, () => {
      assert.throws(build, (error: unknown) => {
        assert.ok(error instanceof PolicyError, String(error));
        assert.equal(error.code, 'ERR_CERTPIN_INVALID_POLICY');
        assert.match(error.message, message);
        return true;
      });
    });
  }

  it('accepts a wildcard under a registrable domain, including one the list carves out of a wildcard rule', () => {
    const policy = new PinPolicy({ hosts: { '*.example.co.uk': [A, B], '**.city.yokohama.jp': [A, B], 'x.yokohama.jp': [A, B] } });
    assert.equal(policy.ruleFor('api.city.yokohama.jp')?.pattern.text, '**.city.yokohama.jp');
    assert.equal(policy.ruleFor('a.example.co.uk')?.pattern.text, '*.example.co.uk');
  });

  it('warns about a missing backup pin, SHA-1 pins and an expired pin set', () => {
    const seen: PolicyWarning[] = [];
    const policy = new PinPolicy({
      hosts: {
        'one.example.com': [A],
        'sha1.example.com': [A, `sha1/${Buffer.alloc(20, 1).toString('base64')}`],
        'old.example.com': { pins: [A, B], expires: '2020-01-01' },
      },
      onWarning: (w) => seen.push(w),
    });
    assert.deepEqual(seen.map((w) => w.code).sort(), ['CERTPIN_LEGACY_SHA1_PIN', 'CERTPIN_NO_BACKUP_PIN', 'CERTPIN_PIN_SET_EXPIRED']);
    assert.deepEqual(policy.warnings, seen);
  });

  it('parses expiry dates strictly: a date means the end of that day, UTC', () => {
    const policy = new PinPolicy({
      hosts: {
        'a.example.com': { pins: [A, B], expires: '2027-06-30' },
        'b.example.com': { pins: [A, B], expires: '2027-06-30T12:00:00+02:00' },
      },
      ...quiet,
    });
    assert.equal(policy.ruleFor('a.example.com')?.expires?.toISOString(), '2027-07-01T00:00:00.000Z');
    assert.equal(policy.ruleFor('b.example.com')?.expires?.toISOString(), '2027-06-30T10:00:00.000Z');
  });

  it('is immutable', () => {
    const policy = new PinPolicy({ hosts: { 'a.example.com': [A, B] } });
    assert.throws(() => ((policy as unknown as { onlyPinnedHosts: boolean }).onlyPinnedHosts = true), TypeError);
    assert.throws(() => (policy.rules as unknown as unknown[]).push({}), TypeError);
    assert.throws(() => (policy.ruleFor('a.example.com')!.pins as unknown as unknown[]).pop(), TypeError);
  });
});

describe('policy files and environment', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'certpin-policy-'));
  const pki = createPki();
  writeFileSync(path.join(dir, 'root.pem'), pki.root.pem);

  it('loads a policy file with ca paths relative to the file', () => {
    const file = path.join(dir, 'certpin.json');
    writeFileSync(file, JSON.stringify({ $schema: './schema.json', hosts: { 'api.example.com': { pins: [A, B], $comment: 'current + backup' } }, ca: ['root.pem'], trustSystemRoots: false }));
    const policy = loadPolicy(file);
    assert.equal(policy.source, file);
    assert.equal(policy.trust.extraAnchors.length, 1);
    assert.equal(policy.ruleFor('api.example.com')?.pins.length, 2);
  });

  const bad: [string, string, RegExp][] = [
    ['not JSON', '{ hosts: ', /not valid JSON/],
    ['unknown field', JSON.stringify({ hosts: {}, onlyPinned: true }), /onlyPinned: unknown field/],
    ['unknown host field', JSON.stringify({ hosts: { 'a.example.com': { pins: [A, B], expire: '2027-01-01' } } }), /unknown field "expire"/],
    ['missing ca file', JSON.stringify({ hosts: {}, ca: ['missing.pem'] }), /ca\[0\]: cannot read missing.pem/],
    ['bad pin', JSON.stringify({ hosts: { 'a.example.com': ['nope', B] } }), /Invalid pin "nope"/],
  ];
  for (const [name, content, message] of bad) {
    it(`refuses a file with ${name}, naming the file`, () => {
      const file = path.join(dir, `${name.replace(/\W/g, '-')}.json`);
      writeFileSync(file, content);
      assert.throws(() => loadPolicy(file, quiet), (error: unknown) => {
        assert.ok(error instanceof PolicyError);
        assert.ok(error.message.includes(file), error.message);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  it('refuses a key written twice in one object, and keeps a host entry named __proto__, instead of losing one silently', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'certpin-dup-'));
    const pins = JSON.stringify([backupPin(), backupPin()]);
    const cases: [string, RegExp][] = [
      [`{"reportOnly": false, "hosts": {"localhost": ${pins}}, "reportOnly": true}`, /"reportOnly" appears twice/],
      [`{"hosts": {"localhost": {"pins": ${pins}, "expires": "2099-01-01", "expires": "2001-01-01"}}}`, /"expires" appears twice/],
      [`{"hosts": {"localhost": ${pins}, "local\u0068ost": {"pins": ${pins}, "reportOnly": true}}}`, /"localhost" appears twice/],
    ];
    for (const [text, message] of cases) {
      const file = path.join(dir, 'policy.json');
      writeFileSync(file, text);
      assert.throws(() => loadPolicy(file, { onWarning: () => {} }), (error: unknown) => error instanceof PolicyError && message.test(error.message), text);
    }
    // A host entry named __proto__ is an entry like any other (JSON.parse makes it one), not a change of prototype.
    writeFileSync(path.join(dir, 'proto.json'), `{"hosts": {"__proto__": ${pins}}}`);
    assert.deepEqual(loadPolicy(path.join(dir, 'proto.json'), { onWarning: () => {} }).rules.map((r) => r.pattern.text), ['__proto__']);
    // The same keys at different levels, or in sibling objects, are not duplicates.
    writeFileSync(path.join(dir, 'ok.json'), `{"hosts": {"a.example": {"pins": ${pins}}, "b.example": {"pins": ${pins}}}}`);
    assert.equal(loadPolicy(path.join(dir, 'ok.json'), { onWarning: () => {} }).rules.length, 2);
  });

  it('a policy file or a certificate file it names that never ends is refused, naming it, after 8 MiB', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'certpin-policy-'));
    const endless = path.join(dir, 'endless.json');
    writeFileSync(endless, JSON.stringify({ hosts: { 'api.example.com': [A, B] }, ca: '/dev/zero' }));
    assert.throws(() => loadPolicy('/dev/zero'), (error: unknown) => error instanceof PolicyError && /\/dev\/zero.*more than 8 MiB/.test(error.message));
    assert.throws(() => loadPolicy(endless), (error: unknown) => error instanceof PolicyError && /ca.*\/dev\/zero.*more than 8 MiB/.test(error.message));
  });

  it('refuses a missing file with a plain sentence', () => {
    assert.throws(() => loadPolicy(path.join(dir, 'nope.json')), /cannot read the policy file: it does not exist/);
  });

  it('reads CERTPIN_POLICY as inline JSON or as a path', () => {
    process.env.CERTPIN_TEST_POLICY = JSON.stringify({ hosts: { 'api.example.com': [A, B] } });
    assert.equal(loadPolicyFromEnv('CERTPIN_TEST_POLICY')?.source, '$CERTPIN_TEST_POLICY');
    process.env.CERTPIN_TEST_POLICY = path.join(dir, 'certpin.json');
    assert.equal(loadPolicyFromEnv('CERTPIN_TEST_POLICY')?.ruleFor('api.example.com')?.pins.length, 2);
    delete process.env.CERTPIN_TEST_POLICY;
    assert.equal(loadPolicyFromEnv('CERTPIN_TEST_POLICY'), undefined);
  });
});

describe('the published JSON schema', () => {
  const schema = JSON.parse(readFileSync(new URL('../schema/certpin-policy.schema.json', import.meta.url), 'utf8')) as {
    properties: Record<string, { properties?: Record<string, unknown> }>;
    $defs: { pinSet: { oneOf: [unknown, { properties: Record<string, unknown> }] } };
  };
  const known = (document: unknown): string[] => {
    try {
      policyFromJson(document);
    } catch (error) {
      const listed = /known: ([^)]*)\)/.exec((error as Error).message);
      if (listed) return listed[1]!.split(', ').sort();
    }
    assert.fail(`no unknown-field error for ${JSON.stringify(document)}`);
  };
  const described = (properties: Record<string, unknown>): string[] => Object.keys(properties).filter((key) => !key.startsWith('$')).sort();

  it('describes exactly the fields a policy file may hold, at every level', () => {
    assert.deepEqual(described(schema.properties), known({ hosts: {}, unknownField: 1 }));
    assert.deepEqual(described(schema.$defs.pinSet.oneOf[1].properties), known({ hosts: { 'a.example': { pins: [], unknownField: 1 } } }));
    assert.deepEqual(described(schema.properties.clientCertificate!.properties!), known({ hosts: {}, clientCertificate: { unknownField: 1 } }));
    assert.deepEqual(described(schema.properties.developmentOverrides!.properties!), known({ hosts: {}, developmentOverrides: { unknownField: 1 } }));
  });
});
