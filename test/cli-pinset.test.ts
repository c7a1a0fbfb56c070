/**
 * Signed pin-set documents in the rest of the CLI: `init --signing-key` makes the signing setup beside the policy,
 * `inspect` shows a document and judges it as the application would, and `verify --document` checks the live hosts
 * against the pins a document would put in force. Run as a user runs them, against a real server.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { certpin } from './support/cli.js';
import { backupPin, createPki, pinOf } from './support/pki.js';
import { startHttpsServer } from './support/servers.js';
import type { RunningServer } from './support/servers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certpin-cli-pinset-'));
const at = (name: string) => path.join(dir, name);
const pki = createPki({ hosts: ['bank.test', 'localhost', '127.0.0.1'] });
const AUD = 'com.example.bank';
let server: RunningServer;

before(async () => {
  server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
  writeFileSync(at('root.pem'), pki.root.pem);
});
after(() => server.close());

describe('signed pin-set documents in init, inspect and verify', () => {
  it('init --signing-key writes the policy, a 0600 signing key and the JWKS, and says how to publish', async () => {
    const result = await certpin(['init', `localhost:${server.port}`, '--ca', at('root.pem'), '--backup-pin', backupPin(), '--out', at('certpin.json'), '--signing-key', at('signing.key'), '--aud', AUD]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(statSync(at('signing.key')).mode & 0o777, 0o600);
    const jwks = JSON.parse(readFileSync(at('certpin-keys.json'), 'utf8')) as { keys: { kid: string; d?: string }[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.d, undefined);
    assert.match(result.stderr, new RegExp(`certpin sign .*certpin\\.json --key .*signing\\.key --aud ${AUD.replace(/\./g, '\\.')}`));
    assert.match(result.stderr, /certpin verify .*--document pins\.jws/);
  });

  it('inspect shows a document; with the keys and audience it says whether the application applies it', async () => {
    // A document pinning the bank's issuing CA, signed with the key init made.
    writeFileSync(at('pinset.json'), JSON.stringify({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] } }));
    const signed = await certpin(['sign', at('pinset.json'), '--key', at('signing.key'), '--aud', AUD, '--seq', '7', '--out', at('pins.jws')]);
    assert.equal(signed.code, 0, signed.stderr);
    const shown = await certpin(['inspect', at('pins.jws')]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /signed pin-set document/);
    assert.match(shown.stdout, /seq\s+7/);
    assert.match(shown.stdout, /localhost\s+2 pins/);
    assert.match(shown.stdout, /Not verified/);
    const accepted = await certpin(['inspect', at('pins.jws'), '--keys', at('certpin-keys.json'), '--aud', AUD]);
    assert.equal(accepted.code, 0, accepted.stdout + accepted.stderr);
    assert.match(accepted.stdout, /✔ An application with these keys, for com\.example\.bank, applies it/);
    const wrongAudience = await certpin(['inspect', at('pins.jws'), '--keys', at('certpin-keys.json'), '--aud', 'com.example.other', '--json']);
    assert.equal(wrongAudience.code, 1);
    const json = JSON.parse(wrongAudience.stdout) as { accepted: boolean; code: string };
    assert.equal(json.accepted, false);
    assert.equal(json.code, 'audience');
  });

  it('inspect checks the weakening rules only with the built-in policy (--policy), and says so without it', async () => {
    writeFileSync(at('builtin.json'), JSON.stringify({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: ['root.pem'] }));
    writeFileSync(at('other.json'), JSON.stringify({ hosts: { 'other.example': [pinOf(pki.intermediate), backupPin()] } }));
    assert.equal((await certpin(['sign', at('other.json'), '--key', at('signing.key'), '--aud', AUD, '--out', at('other.jws')])).code, 0);
    const keys = ['--keys', at('certpin-keys.json'), '--aud', AUD];
    const unchecked = await certpin(['inspect', at('other.jws'), ...keys]);
    assert.equal(unchecked.code, 0, unchecked.stderr);
    assert.match(unchecked.stdout, /weakening rules .* were not checked: add --policy FILE/);
    const weakening = await certpin(['inspect', at('other.jws'), ...keys, '--policy', at('builtin.json')]);
    assert.equal(weakening.code, 1, weakening.stdout);
    assert.match(weakening.stdout, /refuses it: .*localhost/);
  });

  it('inspect shows a document whose times are out of range as written, and the application refuses it', async () => {
    const [header, payload] = readFileSync(at('pins.jws'), 'utf8').trim().split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const body = Buffer.from(JSON.stringify({ ...claims, exp: 1e20 })).toString('base64url');
    const signature = sign(null, Buffer.from(`${header}.${body}`), createPrivateKey(readFileSync(at('signing.key')))).toString('base64url');
    writeFileSync(at('far.jws'), `${header}.${body}.${signature}\n`);
    const shown = await certpin(['inspect', at('far.jws')]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /100000000000000000000 \(not a time\)/);
    const judged = await certpin(['inspect', at('far.jws'), '--keys', at('certpin-keys.json'), '--aud', AUD]);
    assert.equal(judged.code, 1, judged.stdout + judged.stderr);
    assert.doesNotMatch(judged.stderr, /unexpected error/);
  });

  it('verify --document checks the hosts against the document\'s pins, and fails on a document applications would refuse', async () => {
    // The built-in policy pins a key the server does not use; the document moves the host to the issuing CA.
    writeFileSync(at('bootstrap.json'), JSON.stringify({ hosts: { localhost: [backupPin(), backupPin()] }, ca: ['root.pem'] }));
    writeFileSync(at('moved.json'), JSON.stringify({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] } }));
    assert.equal((await certpin(['sign', at('moved.json'), '--key', at('signing.key'), '--aud', AUD, '--out', at('moved.jws')])).code, 0);
    const connect = ['--connect', `localhost=127.0.0.1:${server.port}`];
    const withoutDocument = await certpin(['verify', at('bootstrap.json'), ...connect, '--json']);
    assert.equal(withoutDocument.code, 1, 'the built-in pins alone do not match');
    const withDocument = await certpin(['verify', at('bootstrap.json'), ...connect, '--document', at('moved.jws'), '--keys', at('certpin-keys.json'), '--aud', AUD, '--json']);
    assert.equal(withDocument.code, 0, withDocument.stdout);
    const report = JSON.parse(withDocument.stdout) as { hosts: { status: string; pinSetDocumentExpires?: string | null }[] };
    assert.equal(report.hosts[0]!.status, 'ok');
    const refused = await certpin(['verify', at('bootstrap.json'), ...connect, '--document', at('moved.jws'), '--keys', at('certpin-keys.json'), '--aud', 'com.example.other']);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout + refused.stderr, /applications would refuse this signed pin-set document/);
  });
});
