/**
 * Property tests (fast-check): random and mutated documents are refused with a typed error and never change the
 * policy in force; a correctly signed document with arbitrary claims is either refused with a typed error or yields a
 * policy on the bootstrap's trust that is no weaker than the bootstrap.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { DynamicPinPolicy, PinPolicy } from '../src/index.js';
import type { PinSetRefusal } from '../src/index.js';
import { PinSetDocumentError } from '../src/errors.js';
import { readPinSetKeys } from '../src/core/pinset-keys.js';
import { findWeakening } from '../src/core/pinset-weakening.js';
import { verifyPinSetDocument } from '../src/node/pinset-verify.js';
import { backupPin } from './support/pki.js';
import { AUDIENCE, claimsOf, jwksOf, signDocument, signingKey } from './support/pinset.js';
import { CompactSign } from 'jose';

const P = Array.from({ length: 4 }, () => backupPin());
const key = signingKey('k1');
const ecKey = signingKey('k2', 'ES256');
const keys = readPinSetKeys(jwksOf(key, ecKey));
const REASONS: readonly PinSetRefusal[] = [
  'malformed', 'too-large', 'header', 'type', 'algorithm', 'unknown-key', 'signature', 'claims', 'audience', 'issuer',
  'expired', 'not-yet-valid', 'lifetime', 'pin-sets', 'rollback', 'equivocation', 'weakening',
];
const bootstrap = new PinPolicy({ hosts: { 'api.example.com': [P[0]!, P[1]!], '**.pay.example.com': [P[0]!, P[1]!] }, onlyPinnedHosts: true, onWarning: () => {} });

let policy: DynamicPinPolicy;
let good: string;

before(async () => {
  policy = new DynamicPinPolicy({ bootstrap, keys: jwksOf(key, ecKey), audience: AUDIENCE, document: () => Promise.reject(new Error('offline')), autoRefresh: false });
  await policy.ready();
  good = await signDocument(key, { seq: 10, pinset: { hosts: { 'api.example.com': [P[2], P[3]], '**.pay.example.com': [P[2], P[3]] }, onlyPinnedHosts: true } });
  assert.equal((await policy.offer(good)).event, 'updated');
});
after(() => policy.close());

/** Offers `text` and checks it was refused with a typed reason and that the policy in force did not change. */
async function refusedUnchanged(text: string): Promise<void> {
  const before = policy.current();
  const event = await policy.offer(text);
  assert.equal(event.event, 'refused', `accepted: ${JSON.stringify(text).slice(0, 200)}`);
  assert.ok(event.error instanceof PinSetDocumentError);
  assert.ok(REASONS.includes(event.code as PinSetRefusal), String(event.code));
  assert.equal(policy.current(), before);
}

const base64url = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 120 });

describe('properties of pin-set documents', () => {
  it('random text is refused with a typed error and changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), fc.tuple(base64url, base64url, base64url).map((parts) => parts.join('.')), fc.array(base64url, { maxLength: 6 }).map((parts) => parts.join('.'))), async (text) => {
        await assert.rejects(verifyPinSetDocument(text, keys, { audience: AUDIENCE, now: Date.now() }), PinSetDocumentError);
        await refusedUnchanged(text);
      }),
      { numRuns: 300 },
    );
  });

  it('any single-character change, insertion or deletion of a valid document is refused', async () => {
    const alphabet = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\u00e9');
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), char: alphabet }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), char: alphabet }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), char: fc.constant('') }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        let text = good;
        for (const m of mutations) {
          const at = m.at % (text.length + (m.kind === 'insert' ? 1 : 0));
          text = text.slice(0, at) + m.char + text.slice(at + (m.kind === 'insert' ? 0 : 1));
        }
        if (text.trim() === good) {
          // White space around the document is not part of it.
          assert.equal((await policy.offer(text)).event, 'unchanged');
          return;
        }
        await assert.rejects(verifyPinSetDocument(text, keys, { audience: AUDIENCE, now: Date.now() }), PinSetDocumentError);
        await refusedUnchanged(text);
      }),
      { numRuns: 300 },
    );
  });

  it('a correctly signed document with arbitrary claims is refused (typed) or never weaker than the bootstrap', async () => {
    const now = Math.floor(Date.now() / 1000);
    /** Mostly `valid`, sometimes missing, sometimes anything at all. */
    const mostly = <T>(valid: fc.Arbitrary<T>) =>
      fc.oneof({ weight: 12, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.anything({ maxDepth: 1 }) });
    /** Mostly absent, sometimes `value`. */
    const rarely = <T>(value: fc.Arbitrary<T>, weight = 8) => fc.oneof({ weight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value as fc.Arbitrary<T | undefined> });
    const host = fc.constantFrom('api.example.com', 'pay.example.com', '**.pay.example.com', '*.pay.example.com', 'x.pay.example.com', 'other.example.org', '**.example.com', 'example.com', '**.com', 'bad host');
    const pins = fc.oneof({ weight: 8, arbitrary: fc.shuffledSubarray(P, { minLength: 2, maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(fc.constantFrom(...P, 'sha256/nope'), { maxLength: 2 }) });
    const pinSet = fc.oneof(
      { weight: 4, arbitrary: pins as fc.Arbitrary<unknown> },
      {
        weight: 4,
        arbitrary: fc.record(
          { pins, reportOnly: fc.boolean(), includeSubdomains: fc.boolean(), expires: fc.constantFrom('2001-01-01', '2099-01-01', new Date((now + 86_400) * 1000).toISOString()) },
          { requiredKeys: ['pins'] },
        ),
      },
      { weight: 1, arbitrary: fc.anything({ maxDepth: 1 }) },
    );
    const covering = fc.constantFrom<Record<string, unknown>>(
      {},
      { 'api.example.com': [P[2], P[3]] },
      { 'api.example.com': [P[2], P[3]], '**.pay.example.com': [P[0], P[3]] },
      { '**.example.com': [P[1], P[2]] },
      { 'example.com': { pins: [P[1], P[2]], includeSubdomains: true } },
    );
    const pinset = mostly(
      fc
        .record({
          covering,
          hosts: fc.dictionary(host, pinSet, { maxKeys: 3 }),
          onlyPinnedHosts: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.boolean() }),
          reportOnly: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.boolean() }),
          defaultPins: rarely(pinSet, 3),
          // Trust settings are always refused; rare, so they do not hide everything else.
          ca: rarely(fc.constant('x.pem'), 20),
        })
        .map(({ covering: base, hosts, ...rest }) => {
          const sets: Record<string, unknown> = { hosts: { ...base, ...hosts } };
          for (const [name, value] of Object.entries(rest)) if (value !== undefined) sets[name] = value;
          return sets;
        }),
    );
    let seq = 100;
    let accepted = 0;
    const codes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          pinset,
          aud: mostly(fc.constantFrom(AUDIENCE, AUDIENCE, AUDIENCE, [AUDIENCE, 'x'], 'other')),
          iat: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: now - 3_600, max: now }) }, { weight: 1, arbitrary: fc.integer({ min: now - 20 * 86_400, max: now + 3_600 }) }),
          lifetime: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 3_600, max: 30 * 86_400 }) }, { weight: 1, arbitrary: fc.integer({ min: -86_400, max: 35 * 86_400 }) }),
          notBefore: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -86_400, max: 7_200 }) }),
          extra: rarely(fc.dictionary(fc.constantFrom('jti', 'sub', 'ca', 'x'), fc.anything({ maxDepth: 0 }), { minKeys: 1, maxKeys: 1 }), 12),
          signer: fc.constantFrom(key, ecKey),
        }),
        async ({ pinset: sets, aud, iat, lifetime, notBefore, extra, signer }) => {
          const claims = claimsOf({ seq: ++seq, pinset: sets, iat, exp: iat + lifetime, nbf: iat + notBefore, claims: { aud, ...extra } });
          const jws = await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: signer.alg, typ: 'certpin-pinset+jws', kid: signer.kid }).sign(signer.privateKey);
          const before = policy.current();
          const event = await policy.offer(jws);
          if (event.event === 'refused') {
            codes[event.code!] = (codes[event.code!] ?? 0) + 1;
            assert.ok(event.error instanceof PinSetDocumentError);
            assert.ok(REASONS.includes(event.code as PinSetRefusal));
            assert.equal(policy.current(), before);
            return;
          }
          assert.equal(event.event, 'updated', event.reason);
          accepted++;
          const next = policy.current();
          assert.equal(next.pinSetSequence, claims.seq);
          assert.equal(next.trust, bootstrap.trust, 'trust never comes from a document');
          assert.equal(findWeakening(bootstrap, next, (claims.exp as number) * 1000), undefined);
          assert.ok(next.onlyPinnedHosts);
        },
      ),
      { numRuns: 300 },
    );
    // The property is only worth something if some documents get through.
    assert.ok(accepted >= 10, `only ${accepted} of 300 documents were accepted (refusals: ${JSON.stringify(codes)})`);
  });

  it('a signed document under an unknown key or with a foreign header is refused whatever it says', async () => {
    const stranger = signingKey('k1');
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom('alg', 'typ', 'kid', 'crit', 'jwk', 'x5u', 'b64', 'cty'), fc.anything({ maxDepth: 1 }), { minKeys: 1, maxKeys: 3 }), async (header) => {
        await refusedUnchanged(await signDocument(stranger, { seq: 1_000_000, pinset: { hosts: {} } }));
        const text = await signDocument(key, { seq: 1_000_000, pinset: { hosts: {} }, header }).catch(() => undefined);
        // A document that turns off pinning is refused whatever its header; jose may refuse to sign some headers.
        if (text !== undefined) await refusedUnchanged(text);
      }),
      { numRuns: 60 },
    );
  });
});
