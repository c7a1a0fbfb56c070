/**
 * Property-based tests (fast-check) of what reads untrusted or hand-written input: pins, host names, PEM and policy
 * documents. On random and mutated input they throw only certpin's typed errors, never hang, and never yield a
 * weaker policy than the input says.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PinPolicy, policyFromJson } from '../src/index.js';
import { normalizeHost, parseCertificates, parsePin } from '../src/tools/index.js';
import { CertpinError } from '../src/errors.js';
import { isIpLiteral } from '../src/core/hostname.js';
import { backupPin, createPki } from './support/pki.js';

const RUNS = { numRuns: 400 };
const pki = createPki();
const quiet = { onWarning: () => {} };

/** Runs `body`; a throw must be one of certpin's typed errors with a stable code. */
function typedOrNothing(body: () => unknown): unknown {
  try {
    return body();
  } catch (error) {
    assert.ok(error instanceof CertpinError, `not a certpin error: ${String(error)}`);
    assert.match(error.code, /^ERR_CERTPIN_/);
    return undefined;
  }
}

/** Mutates a string: a character changed, inserted or deleted at random places. */
const mutated = (base: string) =>
  fc.array(fc.tuple(fc.nat(), fc.constantFrom('change', 'insert', 'delete'), fc.string({ minLength: 1, maxLength: 1 })), { minLength: 1, maxLength: 4 }).map((edits) => {
    let text = base;
    for (const [at, kind, char] of edits) {
      const i = text.length === 0 ? 0 : at % text.length;
      text = kind === 'change' ? text.slice(0, i) + char + text.slice(i + 1) : kind === 'insert' ? text.slice(0, i) + char + text.slice(i) : text.slice(0, i) + text.slice(i + 1);
    }
    return text;
  });

describe('parsePin', () => {
  const valid = [backupPin(), `SHA256 Fingerprint=${pki.leaf.cert.fingerprint256}`, pki.leaf.cert.fingerprint256.replace(/:/g, '').toLowerCase(), `sha1/${Buffer.alloc(20, 1).toString('base64')}`];

  it('on any string: a Pin with a digest of the right size, or an InvalidPinError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), ...valid.map(mutated)), (input) => {
        const pin = typedOrNothing(() => parsePin(input)) as ReturnType<typeof parsePin> | undefined;
        if (pin) assert.equal(Buffer.from(pin.digest, 'base64').length, pin.algorithm === 'sha256' ? 32 : 20);
      }),
      RUNS,
    );
  });

  it('parsing its canonical form gives the same pin', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), (digest, spki) => {
        const text = spki ? `sha256/${Buffer.from(digest).toString('base64')}` : Buffer.from(digest).toString('hex');
        const pin = parsePin(text);
        assert.deepEqual(parsePin(pin.canonical), { ...pin, input: pin.canonical });
      }),
      RUNS,
    );
  });
});

describe('normalizeHost', () => {
  it('on any string: undefined or a normal form that is stable, lower case, without trailing dot', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.domain(), fc.ipV4(), fc.ipV6(), fc.webUrl().map((u) => new URL(u).hostname), ...['api.Example.com.', '[::ffff:127.0.0.1]', 'xn--bcher-kva.example'].map(mutated)), (input) => {
        const host = normalizeHost(input);
        if (host === undefined) return;
        assert.equal(normalizeHost(host), host, `not stable: ${input} → ${host}`);
        assert.equal(host, host.toLowerCase());
        assert.ok(!host.endsWith('.'));
      }),
      RUNS,
    );
  });

  it('never takes long, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 5000 }), (input) => {
        const started = performance.now();
        normalizeHost(input);
        assert.ok(performance.now() - started < 50);
      }),
      { numRuns: 100 },
    );
  });
});

describe('isIpLiteral', () => {
  it("agrees with Node's isIP on addresses, names and strings made of their characters", () => {
    const characters = fc.constantFrom(...'0123456789abcdefABCDEFxyz.:%[]-_ '.split(''));
    const input = fc.oneof(
      fc.ipV4(),
      fc.ipV4Extended(),
      fc.ipV6(),
      fc.tuple(fc.ipV6(), fc.stringMatching(/^[a-z0-9]{1,6}$/)).map(([address, zone]) => `${address}%${zone}`),
      fc.domain(),
      fc.string({ unit: characters, maxLength: 24 }),
      fc.string(),
    );
    fc.assert(fc.property(input, (host) => isIpLiteral(host) === (isIP(host) !== 0)), { numRuns: 3000 });
  });
});

describe('parseCertificates', () => {
  it('on random and mutated PEM: certificates or a CertificateParseError, fast', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 2000 }), mutated(pki.chainPem), fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b))), (input) => {
        const started = performance.now();
        typedOrNothing(() => parseCertificates(input, 'input'));
        assert.ok(performance.now() - started < 100);
      }),
      RUNS,
    );
  });

  it('on mutated DER: a certificate or a CertificateParseError', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(pki.leaf.der.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 5 }), (edits) => {
        const der = Buffer.from(pki.leaf.der);
        for (const [at, value] of edits) der[at] = value;
        typedOrNothing(() => parseCertificates(der, 'input.der'));
      }),
      RUNS,
    );
  });
});

describe('policy construction', () => {
  const pins = [backupPin(), backupPin()];
  const entry = fc.record(
    {
      pins: fc.oneof(fc.constant(pins), fc.array(fc.oneof(fc.constantFrom(...pins), fc.string()), { maxLength: 3 })),
      includeSubdomains: fc.oneof(fc.boolean(), fc.constant('yes' as unknown as boolean)),
      expires: fc.oneof(fc.constantFrom('2030-01-01', '2020-01-01', '2030-02-30', 'tomorrow'), fc.string()),
      reportOnly: fc.oneof(fc.boolean(), fc.constant(1 as unknown as boolean)),
    },
    { requiredKeys: ['pins'] },
  );
  const pattern = fc.oneof(fc.domain(), fc.domain().map((d) => `*.${d}`), fc.domain().map((d) => `**.${d}`), fc.constantFrom('**.com', '*.co.uk', 'localhost', '127.0.0.1', '::1', '*', '**'), fc.string());

  it('random policies: a PolicyError naming the entry, or a policy that says exactly what was written', () => {
    fc.assert(
      fc.property(fc.dictionary(pattern, entry, { maxKeys: 4 }), fc.boolean(), (hosts, onlyPinnedHosts) => {
        const policy = typedOrNothing(() => new PinPolicy({ hosts, onlyPinnedHosts, ...quiet })) as PinPolicy | undefined;
        if (!policy) return;
        assert.equal(policy.onlyPinnedHosts, onlyPinnedHosts);
        assert.equal(policy.rules.length, Object.keys(hosts).length);
        for (const rule of policy.rules) {
          const written = Object.entries(hosts).find(([text]) => rule.pattern.text === text || normalizeHost(text.replace(/^\*\*?\./, '')) === rule.pattern.base)?.[1];
          assert.ok(written, `a rule nobody wrote: ${rule.pattern.text}`);
          assert.equal(rule.pins.length, written.pins.length);
          assert.equal(rule.reportOnly, written.reportOnly === true);
          assert.equal(rule.includeSubdomains, written.includeSubdomains === true);
        }
      }),
      RUNS,
    );
  });

  it('mutated policy documents: a PolicyError, or a policy no weaker than the valid document', () => {
    const document = JSON.stringify({ hosts: { 'api.example.com': { pins, expires: '2030-01-01' } }, onlyPinnedHosts: true });
    fc.assert(
      fc.property(mutated(document), (text) => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          return;
        }
        const policy = typedOrNothing(() => policyFromJson(json, quiet)) as PinPolicy | undefined;
        if (!policy) return;
        // Whatever survived parsing, a surviving rule for the host still enforces real pins.
        const rule = policy.ruleFor('api.example.com');
        if (rule) assert.ok(rule.pins.length >= 1);
      }),
      RUNS,
    );
  });
});
