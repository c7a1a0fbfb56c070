/**
 * The pure parts of signed pin sets: the header and claim checks, the anti-rollback state machine, and the rule that
 * a document never weakens the built-in policy. Signatures are made with jose; verification goes through
 * verifyPinSetDocument (jose, the application's JWKS).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PinPolicy } from '../src/index.js';
import type { PinSetOptions } from '../src/index.js';
import { PinSetDocumentError, PolicyError } from '../src/errors.js';
import { readPinSetClaims, splitPinSetJws } from '../src/core/pinset-document.js';
import type { PinSetExpectations } from '../src/core/pinset-document.js';
import { readPinSetKeys } from '../src/core/pinset-keys.js';
import { judgeSequence, raiseFloor } from '../src/core/pinset-sequence.js';
import { findWeakening } from '../src/core/pinset-weakening.js';
import { verifyPinSetDocument } from '../src/node/pinset-verify.js';
import { backupPin } from './support/pki.js';
import { AUDIENCE, claimsOf, hmacWithPublicKey, jwksOf, signDocument, signingKey, unsecuredDocument, withPayload } from './support/pinset.js';

const P = [backupPin(), backupPin(), backupPin(), backupPin()] as const;
const pinset = { hosts: { 'api.example.com': [P[0], P[1]] } };
const keyA = signingKey('key-a');
const keyB = signingKey('key-b', 'ES256');
const keys = readPinSetKeys(jwksOf(keyA, keyB));
const now = Date.now();
const expect: PinSetExpectations = { audience: AUDIENCE, now };

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PinSetDocumentError, `expected a PinSetDocumentError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_CERTPIN_PINSET_INVALID');
    return error.reason;
  }
  assert.fail('the document was accepted');
}

describe('pin-set document: header and signature', () => {
  it('accepts EdDSA and ES256 documents signed by a key of the JWKS', async () => {
    for (const key of [keyA, keyB]) {
      const document = await verifyPinSetDocument(await signDocument(key, { seq: 7, pinset }), keys, expect);
      assert.equal(document.sequence, 7);
      assert.equal(document.kid, key.kid);
      assert.deepEqual(document.pinSets.hosts, pinset.hosts);
      assert.match(document.digest, /^[0-9a-f]{64}$/);
    }
  });

  it('refuses alg none, HS256 keyed with the public key, RS256 and ES384 (algorithm allow-list)', async () => {
    assert.equal(await refusal(verifyPinSetDocument(unsecuredDocument('key-a', { seq: 1, pinset }), keys, expect)), 'algorithm');
    assert.equal(await refusal(verifyPinSetDocument(unsecuredDocument('key-a', { seq: 1, pinset }) + 'AAAA', keys, expect)), 'algorithm');
    assert.equal(await refusal(verifyPinSetDocument(hmacWithPublicKey(keyA, { seq: 1, pinset }, 'pem'), keys, expect)), 'algorithm');
    assert.equal(await refusal(verifyPinSetDocument(hmacWithPublicKey(keyA, { seq: 1, pinset }, 'raw'), keys, expect)), 'algorithm');
    for (const alg of ['RS256', 'ES384', 'HS512', 'PS256', 'Ed25519', 'eddsa']) {
      const [, payload, signature] = (await signDocument(keyA, { seq: 1, pinset })).split('.');
      const header = Buffer.from(JSON.stringify({ alg, typ: 'certpin-pinset+jws', kid: 'key-a' })).toString('base64url');
      assert.equal(await refusal(verifyPinSetDocument(`${header}.${payload}.${signature}`, keys, expect)), 'algorithm', alg);
    }
  });

  it('refuses an alg that is not the algorithm of the key its kid names', async () => {
    // key-b is P-256 (ES256): a document claiming EdDSA with kid key-b is refused before any signature work.
    assert.equal(await refusal(verifyPinSetDocument(await signDocument(keyA, { seq: 1, pinset, header: { kid: 'key-b' } }), keys, expect)), 'algorithm');
  });

  it('refuses a wrong typ, a missing kid, an unknown kid, crit and embedded keys', async () => {
    assert.equal(await refusal(verifyPinSetDocument(await signDocument(keyA, { seq: 1, pinset, header: { typ: 'JWT' } }), keys, expect)), 'type');
    assert.equal(await refusal(verifyPinSetDocument(await signDocument(keyA, { seq: 1, pinset, header: { typ: undefined } }), keys, expect)), 'type');
    const other = signingKey('key-x');
    assert.equal(await refusal(verifyPinSetDocument(await signDocument(other, { seq: 1, pinset }), keys, expect)), 'unknown-key');
    assert.equal(await refusal(verifyPinSetDocument(await signDocument(keyA, { seq: 1, pinset, header: { kid: '' } }), keys, expect)), 'header');
    assert.equal(await refusal(verifyPinSetDocument(await signDocument(keyA, { seq: 1, pinset, header: { jwk: keyA.jwk } }), keys, expect)), 'header');
    assert.equal(await refusal(verifyPinSetDocument(await signDocument(keyA, { seq: 1, pinset, header: { jku: 'https://evil.example/keys' } }), keys, expect)), 'header');
    // The key named by kid is someone else's: the signature cannot verify.
    assert.equal(await refusal(verifyPinSetDocument(await signDocument({ ...other, kid: 'key-a' }, { seq: 1, pinset }), keys, expect)), 'signature');
    // `application/` prefix and case are allowed by RFC 7515.
    await verifyPinSetDocument(await signDocument(keyA, { seq: 1, pinset, header: { typ: 'application/CERTPIN-PINSET+JWS' } }), keys, expect);
  });

  it('refuses a tampered payload', async () => {
    const jws = await signDocument(keyA, { seq: 3, pinset });
    const tampered = withPayload(jws, claimsOf({ seq: 3, pinset: { hosts: { 'api.example.com': [P[2], P[3]] } } }));
    assert.equal(await refusal(verifyPinSetDocument(tampered, keys, expect)), 'signature');
  });

  it('refuses non-canonical base64url (one signature written two ways)', async () => {
    const jws = await signDocument(keyA, { seq: 3, pinset });
    const [h, p, s] = jws.split('.') as [string, string, string];
    // An Ed25519 signature is 64 bytes: its last base64url character carries 4 unused bits.
    const last = s.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
    assert.deepEqual(Buffer.from(s.slice(0, -1) + twin, 'base64url'), Buffer.from(s, 'base64url'));
    assert.equal(await refusal(verifyPinSetDocument(`${h}.${p}.${s.slice(0, -1)}${twin}`, keys, expect)), 'malformed');
  });

  it('refuses what is not a compact JWS', () => {
    for (const text of ['', 'a.b', 'a.b.c.d.e', '...', 'é.é.é', ' . . ']) {
      assert.throws(() => splitPinSetJws(text), (e: unknown) => e instanceof PinSetDocumentError && e.reason === 'malformed', text);
    }
    assert.throws(() => splitPinSetJws('x'.repeat(100), 50), (e: unknown) => e instanceof PinSetDocumentError && e.reason === 'too-large');
  });
});

describe('pin-set document: claims', () => {
  const payload = (claims: Record<string, unknown>) => Buffer.from(JSON.stringify(claims));
  const reasonOf = (claims: Record<string, unknown>, extra: Partial<PinSetExpectations> = {}) => {
    try {
      readPinSetClaims(payload(claims), { ...expect, ...extra });
    } catch (error) {
      assert.ok(error instanceof PinSetDocumentError, String(error));
      return error.reason;
    }
    return 'accepted';
  };
  const t = Math.floor(now / 1000);

  it('checks aud and iss', () => {
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset })), 'accepted');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, aud: [AUDIENCE, 'other'] })), 'accepted');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, aud: 'com.example.other' })), 'audience');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, aud: ['a', 'b'] })), 'audience');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, claims: { aud: undefined } })), 'claims');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iss: 'bank-pins' }), { issuer: 'bank-pins' }), 'accepted');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iss: 'someone-else' }), { issuer: 'bank-pins' }), 'issuer');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset }), { issuer: 'bank-pins' }), 'issuer');
  });

  it('checks the validity window and bounds exp to 30 days after iat', () => {
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t - 8 * 86_400, exp: t - 86_400 })), 'expired');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t - 100, exp: t })), 'expired');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t, nbf: t + 3600 })), 'not-yet-valid');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t + 3600 })), 'not-yet-valid');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t + 30 })), 'accepted', 'a clock 30 s behind is tolerated');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t, exp: t + 30 * 86_400 })), 'accepted');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t, exp: t + 30 * 86_400 + 1 })), 'lifetime');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t, exp: t + 365 * 86_400 })), 'lifetime');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t, exp: t + 10 * 86_400 }), { maxLifetime: 7 * 86_400 }), 'lifetime');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t, exp: t + 20 * 86_400 }), { maxLifetime: 365 * 86_400 }), 'accepted');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, iat: t, exp: t + 31 * 86_400 }), { maxLifetime: 365 * 86_400 }), 'lifetime', 'the 30-day bound cannot be raised');
    for (const bad of [1.5, -1, '1700000000', null, Number.MAX_SAFE_INTEGER + 2]) assert.equal(reasonOf(claimsOf({ seq: 1, pinset, claims: { exp: bad } })), 'claims', String(bad));
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, claims: { nbf: undefined } })), 'claims');
  });

  it('requires a positive safe integer seq', () => {
    for (const seq of [0, -3, 1.5, '7', 2 ** 53, null]) assert.equal(reasonOf(claimsOf({ seq: seq as number, pinset })), 'claims', String(seq));
    assert.equal(reasonOf(claimsOf({ seq: Number.MAX_SAFE_INTEGER, pinset })), 'accepted');
  });

  it('refuses unknown claims, and trust settings or unknown fields in the pin sets', () => {
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset, claims: { allowAll: true } })), 'claims');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset: undefined })), 'claims');
    for (const field of ['ca', 'trustSystemRoots', 'clientCertificate', 'developmentOverrides', 'minVersion', 'requireBackupPin', 'pinningDisabled']) {
      assert.equal(reasonOf(claimsOf({ seq: 1, pinset: { ...pinset, [field]: false } })), 'pin-sets', field);
    }
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset: { hosts: { 'api.example.com': { pins: [P[0]], skip: true } } } })), 'pin-sets');
    assert.equal(reasonOf(claimsOf({ seq: 1, pinset: [] })), 'pin-sets');
  });

  it('refuses payloads that are not UTF-8 JSON objects', () => {
    for (const bytes of [Buffer.from([0xff, 0xfe]), Buffer.from('[1]'), Buffer.from('null'), Buffer.from('{"seq":')]) {
      assert.throws(() => readPinSetClaims(bytes, expect), (e: unknown) => e instanceof PinSetDocumentError && e.reason === 'malformed');
    }
  });
});

describe('pin-set document: keys', () => {
  it('reads a JWKS of Ed25519 and P-256 keys with kids', () => {
    assert.deepEqual([...keys.values()].map((k) => [k.kid, k.alg]), [['key-a', 'EdDSA'], ['key-b', 'ES256']]);
  });

  it('refuses keys without kid, repeated kids, private keys, other key types and contradicting alg/use', () => {
    const { d: _d, ...ed } = signingKey('x').privateKey.export({ format: 'jwk' });
    const cases: [unknown, RegExp][] = [
      [{ keys: [] }, /at least one/],
      [[keyA.jwk], /JWKS/],
      [{ keys: [{ ...keyA.jwk, kid: undefined }] }, /no "kid"/],
      [{ keys: [keyA.jwk, { ...keyB.jwk, kid: 'key-a' }] }, /twice/],
      [{ keys: [{ ...signingKey('x').privateKey.export({ format: 'jwk' }), kid: 'p' }] }, /private key material/],
      [{ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'h' }] }, /private key material/],
      [{ keys: [{ ...ed, kid: 'e', alg: 'ES256' }] }, /signs with EdDSA/],
      [{ keys: [{ ...ed, kid: 'e', use: 'enc' }] }, /use/],
      [{ keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB', kid: 'r' }] }, /only Ed25519/],
      [{ keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'short', kid: 'b' }] }, /not a valid/],
    ];
    for (const [jwks, message] of cases) assert.throws(() => readPinSetKeys(jwks), (e: unknown) => e instanceof PolicyError && message.test(e.message), message.source);
  });
});

describe('pin-set document: sequence (rollback and equivocation)', () => {
  const digest = (c: string) => c.repeat(64);
  it('accepts higher, refuses lower, compares payloads at the same seq', () => {
    assert.equal(judgeSequence(undefined, 1, digest('a')).kind, 'newer');
    const floor = { sequence: 10, digest: digest('a') };
    assert.equal(judgeSequence(floor, 11, digest('b')).kind, 'newer');
    assert.equal(judgeSequence(floor, 9, digest('a')).kind, 'rollback');
    assert.equal(judgeSequence(floor, 10, digest('a')).kind, 'same');
    assert.equal(judgeSequence(floor, 10, digest('b')).kind, 'equivocation');
    assert.equal(judgeSequence({ sequence: 10, digest: undefined }, 10, digest('a')).kind, 'rollback', 'unknown payload at the floor: only higher passes');
  });

  it('only ever raises the floor', () => {
    const floor = { sequence: 10, digest: digest('a') };
    assert.equal(raiseFloor(floor, { sequence: 3, digest: digest('b') }), floor);
    assert.deepEqual(raiseFloor(floor, { sequence: 10, digest: digest('b') }), floor, 'a known digest is kept');
    assert.deepEqual(raiseFloor({ sequence: 10, digest: undefined }, { sequence: 10, digest: digest('b') }), { sequence: 10, digest: digest('b') });
    assert.deepEqual(raiseFloor(floor, { sequence: 12, digest: undefined }), { sequence: 12, digest: undefined });
    assert.equal(raiseFloor(floor, undefined), floor);
  });
});

describe('pin-set document: never weaker than the built-in policy', () => {
  const quiet = { onWarning: () => {} };
  const until = now + 7 * 86_400_000;
  const check = (bootstrap: PinPolicy, sets: PinSetOptions) => findWeakening(bootstrap, bootstrap.withPinSets(sets, 'document', { sequence: 1, expires: new Date(until) }), until);
  const boot = new PinPolicy({ hosts: { 'api.example.com': [P[0], P[1]], '**.pay.example.com': [P[0], P[1]], '*.cdn.example.com': [P[0], P[1]] }, ...quiet });

  it('lets a document replace pins and add hosts', () => {
    assert.equal(check(boot, { hosts: { 'api.example.com': [P[2], P[3]], '**.pay.example.com': [P[2], P[3]], '*.cdn.example.com': [P[2]], 'new.example.org': [P[2], P[3]] } }), undefined);
    // A broader pattern covers what the narrower ones did.
    assert.equal(check(boot, { hosts: { '**.example.com': [P[2], P[3]] } }), undefined);
    assert.equal(check(boot, { hosts: {}, defaultPins: [P[2], P[3]] }), undefined);
    assert.equal(check(boot, { hosts: { 'example.com': { pins: [P[2], P[3]], includeSubdomains: true } } }), undefined);
  });

  it('refuses leaving a pinned host, or part of a pinned pattern, unpinned', () => {
    assert.match(check(boot, { hosts: { '**.pay.example.com': [P[2]], '*.cdn.example.com': [P[2]] } })!, /^api\.example\.com.* no longer be pinned/);
    // **.pay covers pay.example.com itself and every depth: *.pay leaves both holes.
    assert.match(check(boot, { hosts: { 'api.example.com': [P[2]], '*.pay.example.com': [P[2]], '*.cdn.example.com': [P[2]] } })!, /pay\.example\.com/);
    assert.match(check(boot, { hosts: { 'api.example.com': [P[2]], 'pay.example.com': [P[2]], '*.pay.example.com': [P[2]], '*.cdn.example.com': [P[2]] } })!, /a name such as [a-z0-9-]+\.[a-z0-9-]+\.pay\.example\.com/);
    // *.cdn covers one label: an exact entry for one name leaves the others.
    assert.match(check(boot, { hosts: { 'api.example.com': [P[2]], '**.pay.example.com': [P[2]], 'img.cdn.example.com': [P[2]] } })!, /cdn\.example\.com/);
    const withDefault = new PinPolicy({ hosts: {}, defaultPins: [P[0], P[1]], ...quiet });
    assert.match(check(withDefault, { hosts: { 'api.example.com': [P[2], P[3]] } })!, /no longer be pinned/);
  });

  it('refuses making an enforced pin set report-only, and turning off onlyPinnedHosts', () => {
    assert.match(check(boot, { hosts: { '**.example.com': [P[2], P[3]] }, reportOnly: true })!, /only be reported/);
    assert.match(check(boot, { hosts: { 'api.example.com': { pins: [P[2]], reportOnly: true }, '**.pay.example.com': [P[2]], '*.cdn.example.com': [P[2]] } })!, /api\.example\.com.*report-only/);
    const strict = new PinPolicy({ hosts: { 'api.example.com': [P[0], P[1]] }, onlyPinnedHosts: true, ...quiet });
    assert.match(check(strict, { hosts: { 'api.example.com': [P[2], P[3]] } })!, /onlyPinnedHosts/);
    assert.equal(check(strict, { hosts: { 'api.example.com': [P[2], P[3]] }, onlyPinnedHosts: true }), undefined);
    // A bootstrap pin set that is itself report-only may stay report-only.
    const dryRun = new PinPolicy({ hosts: { 'api.example.com': [P[0], P[1]] }, reportOnly: true, ...quiet });
    assert.equal(check(dryRun, { hosts: { 'api.example.com': [P[2], P[3]] }, reportOnly: true }), undefined);
    assert.match(check(dryRun, { hosts: {} })!, /no longer be pinned/);
  });

  it('refuses a pin set that lapses while the document is in force, before the built-in one would', () => {
    const soon = new Date(now + 2 * 86_400_000).toISOString();
    assert.match(check(boot, { hosts: { '**.example.com': { pins: [P[2], P[3]], expires: soon } } })!, /lose its pins/);
    assert.equal(check(boot, { hosts: { '**.example.com': { pins: [P[2], P[3]], expires: new Date(until + 86_400_000).toISOString() } } }), undefined);
    // The built-in pin set lapses first anyway: the document may lapse with it.
    const lapsing = new PinPolicy({ hosts: { 'api.example.com': { pins: [P[0], P[1]], expires: new Date(now + 86_400_000).toISOString() } }, ...quiet });
    assert.equal(check(lapsing, { hosts: { 'api.example.com': { pins: [P[2], P[3]], expires: new Date(now + 86_400_000).toISOString() } } }), undefined);
    // An already lapsed built-in pin set constrains nothing.
    const lapsed = new PinPolicy({ hosts: { 'api.example.com': { pins: [P[0], P[1]], expires: '2001-01-01' } }, ...quiet });
    assert.equal(check(lapsed, { hosts: {} }), undefined);
  });

  it('handles IP literals', () => {
    const ip = new PinPolicy({ hosts: { '10.0.0.1': [P[0], P[1]] }, ...quiet });
    assert.equal(check(ip, { hosts: { '10.0.0.1': [P[2], P[3]] } }), undefined);
    assert.match(check(ip, { hosts: { '10.0.0.2': [P[2], P[3]] } })!, /10\.0\.0\.1/);
  });
});

describe('pin-set document: JSON Schema', () => {
  it('describes the claims the verifier accepts and requires, and only pin-set fields', () => {
    const schema = JSON.parse(readFileSync(new URL('../schema/certpin-pinset.schema.json', import.meta.url), 'utf8')) as {
      required: string[];
      properties: Record<string, unknown>;
      additionalProperties: boolean;
      $defs: { pinSets: { properties: Record<string, unknown>; additionalProperties: boolean } };
    };
    assert.deepEqual(Object.keys(schema.properties).sort(), ['aud', 'exp', 'iat', 'iss', 'nbf', 'pinset', 'seq']);
    assert.deepEqual([...schema.required].sort(), ['aud', 'exp', 'iat', 'nbf', 'pinset', 'seq']);
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(Object.keys(schema.$defs.pinSets.properties).sort(), ['$comment', 'defaultPins', 'hosts', 'onlyPinnedHosts', 'reportOnly', 'reportUri']);
    assert.equal(schema.$defs.pinSets.additionalProperties, false);
    // Each required claim is indeed required by the verifier.
    const t = Math.floor(now / 1000);
    for (const claim of schema.required) {
      assert.throws(() => readPinSetClaims(Buffer.from(JSON.stringify(claimsOf({ seq: 1, pinset, iat: t, claims: { [claim]: undefined } }))), expect), PinSetDocumentError, claim);
    }
  });
});
