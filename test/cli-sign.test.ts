/**
 * `certpin signing-key` and `certpin sign`, run as a user runs them (a child process); the documents they make are
 * verified with jose independently, and accepted by DynamicPinPolicy.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import type { JWK } from 'jose';
import { DynamicPinPolicy, PinPolicy } from '../src/index.js';
import { certpin } from './support/cli.js';
import { backupPin } from './support/pki.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certpin-sign-'));
const at = (name: string) => path.join(dir, name);
const P = [backupPin(), backupPin(), backupPin()];

describe('certpin signing-key', () => {
  it('writes an Ed25519 PKCS#8 key (0600) and prints its public JWKS, kid = RFC 7638 thumbprint', async () => {
    const result = await certpin(['signing-key', '--out-key', at('ed.key'), '--out-jwks', at('ed.jwks.json')]);
    assert.equal(result.code, 0, result.stderr);
    const jwks = JSON.parse(result.stdout) as { keys: JWK[] };
    assert.deepEqual(JSON.parse(readFileSync(at('ed.jwks.json'), 'utf8')), jwks);
    const [jwk] = jwks.keys;
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwk!.kty, 'OKP');
    assert.equal(jwk!.crv, 'Ed25519');
    assert.equal(jwk!.alg, 'EdDSA');
    assert.equal(jwk!.use, 'sig');
    assert.equal(jwk!.d, undefined, 'no private part in the JWKS');
    assert.equal(jwk!.kid, await calculateJwkThumbprint(jwk!, 'sha256'));
    assert.equal(statSync(at('ed.key')).mode & 0o777, 0o600);
    assert.match(readFileSync(at('ed.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(result.stderr, /embed it as DynamicPinPolicy/);
  });

  it('makes ES256 keys, with a chosen kid', async () => {
    const result = await certpin(['signing-key', '--type', 'es256', '--kid', 'pins-2027', '--out-key', at('ec.key')]);
    assert.equal(result.code, 0, result.stderr);
    const [jwk] = (JSON.parse(result.stdout) as { keys: JWK[] }).keys;
    assert.deepEqual([jwk!.kty, jwk!.crv, jwk!.alg, jwk!.kid], ['EC', 'P-256', 'ES256', 'pins-2027']);
  });

  it('never overwrites a key without --force', async () => {
    const before = readFileSync(at('ed.key'), 'utf8');
    const result = await certpin(['signing-key', '--out-key', at('ed.key')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /already exists.*--force/);
    assert.equal(readFileSync(at('ed.key'), 'utf8'), before);
    assert.equal(result.stdout, '');
    const bad = await certpin(['signing-key', '--type', 'rsa']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ed25519 or es256/);
  });
});

describe('certpin sign', () => {
  let jwks: { keys: JWK[] };
  before(async () => {
    const result = await certpin(['signing-key', '--out-key', at('signer.key'), '--out-jwks', at('signer.jwks.json')]);
    assert.equal(result.code, 0, result.stderr);
    jwks = JSON.parse(result.stdout) as { keys: JWK[] };
    writeFileSync(
      at('pins.json'),
      JSON.stringify({
        $schema: 'https://unpkg.com/certpin/schema/certpin-policy.schema.json',
        $comment: 'made by certpin init',
        hosts: { 'api.example.com': { $comment: 'leaf and backup', pins: [P[0], P[1]], expires: '2099-01-01' } },
        onlyPinnedHosts: true,
      }),
    );
  });

  it('signs the pin sets into a compact JWS that jose verifies with the printed JWKS', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await certpin(['sign', at('pins.json'), '--key', at('signer.key'), '--aud', 'com.example.app', '--iss', 'example-pins', '--seq', '42']);
    assert.equal(result.code, 0, result.stderr);
    const jws = result.stdout.trim();
    const header = decodeProtectedHeader(jws);
    assert.deepEqual(header, { alg: 'EdDSA', typ: 'certpin-pinset+jws', kid: jwks.keys[0]!.kid });
    const { payload } = await compactVerify(jws, await importJWK(jwks.keys[0]!, 'EdDSA'), { algorithms: ['EdDSA'] });
    const claims = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
    assert.equal(claims.aud, 'com.example.app');
    assert.equal(claims.iss, 'example-pins');
    assert.equal(claims.seq, 42);
    assert.ok((claims.iat as number) >= before && (claims.iat as number) <= before + 60);
    assert.equal(claims.nbf, claims.iat);
    assert.equal((claims.exp as number) - (claims.iat as number), 7 * 86_400, 'default: 7 days');
    assert.deepEqual(claims.pinset, { hosts: { 'api.example.com': { pins: [P[0], P[1]], expires: '2099-01-01' } }, onlyPinnedHosts: true });
    assert.match(result.stderr, /seq 42/);

    // And the application accepts it.
    const policy = new DynamicPinPolicy({
      bootstrap: new PinPolicy({ hosts: { 'api.example.com': [P[0]!, P[2]!] }, onWarning: () => {} }),
      keys: jwks,
      audience: 'com.example.app',
      issuer: 'example-pins',
      document: async () => jws,
      autoRefresh: false,
    });
    assert.equal((await policy.ready()).pinSetSequence, 42);
  });

  it('writes --out, takes --exp as a duration or a date, and defaults seq to the time in seconds', async () => {
    const result = await certpin(['sign', at('pins.json'), '--key', at('signer.key'), '--aud', 'com.example.app', '--exp', '36h', '--out', at('pins.jws')]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    const jws = readFileSync(at('pins.jws'), 'utf8').trim();
    const claims = JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, number>;
    assert.equal(claims.exp! - claims.iat!, 36 * 3600);
    assert.ok(Math.abs(claims.seq! - claims.iat!) <= 1);
    const day = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    const dated = await certpin(['sign', at('pins.json'), '--key', at('signer.key'), '--aud', 'a', '--exp', day]);
    assert.equal(dated.code, 0, dated.stderr);
    const exp = (JSON.parse(Buffer.from(dated.stdout.trim().split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }).exp;
    assert.equal(new Date(exp * 1000).toISOString(), `${new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10)}T00:00:00.000Z`);
  });

  it('signs with an ES256 key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(at('p256.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const result = await certpin(['sign', at('pins.json'), '--key', at('p256.key'), '--aud', 'a', '--kid', 'p256']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(decodeProtectedHeader(result.stdout.trim()), { alg: 'ES256', typ: 'certpin-pinset+jws', kid: 'p256' });
  });

  it('refuses trust settings in the policy, naming the field, and signs nothing', async () => {
    for (const field of ['ca', 'clientCertificate', 'developmentOverrides', 'trustSystemRoots']) {
      const file = at(`with-${field}.json`);
      writeFileSync(file, JSON.stringify({ hosts: { 'api.example.com': [P[0], P[1]] }, [field]: field === 'trustSystemRoots' ? false : 'ca.pem' }));
      const result = await certpin(['sign', file, '--key', at('signer.key'), '--aud', 'a']);
      assert.equal(result.code, 2, field);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, new RegExp(`${field}: trust anchors, client certificates.*stay in the application`), result.stderr);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('refuses bad input with plain errors: invalid pins, --exp over 30 days, no --aud, an RSA key, not JSON', async () => {
    writeFileSync(at('bad-pin.json'), JSON.stringify({ hosts: { 'api.example.com': ['sha256/short'] } }));
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(at('rsa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    writeFileSync(at('not.json'), '{ hosts');
    const cases: [string[], RegExp][] = [
      [['sign', at('bad-pin.json'), '--key', at('signer.key'), '--aud', 'a'], /bad-pin\.json.*Invalid pin/],
      [['sign', at('pins.json'), '--key', at('signer.key'), '--aud', 'a', '--exp', '31d'], /more than 30 days/],
      [['sign', at('pins.json'), '--key', at('signer.key'), '--aud', 'a', '--exp', 'tomorrow'], /--exp expects/],
      [['sign', at('pins.json'), '--key', at('signer.key'), '--aud', 'a', '--seq', '0'], /--seq expects a positive/],
      [['sign', at('pins.json'), '--key', at('signer.key')], /--aud is required/],
      [['sign', at('pins.json'), '--aud', 'a'], /--key is required/],
      [['sign', at('pins.json'), '--key', at('rsa.key'), '--aud', 'a'], /Ed25519 \(EdDSA\) or P-256 \(ES256\)/],
      [['sign', at('not.json'), '--key', at('signer.key'), '--aud', 'a'], /not valid JSON/],
      [['sign', at('missing.json'), '--key', at('signer.key'), '--aud', 'a'], /missing\.json: it does not exist/],
    ];
    for (const [args, message] of cases) {
      const result = await certpin(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, message, result.stderr);
    }
  });
});
