/**
 * The certpin CLI against real local TLS servers: fetch (trusted, self-signed, expired, IPv6), check exit codes,
 * init output that loads once the backup placeholder is replaced, and verify's warnings, failures and exit codes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicy } from '../src/index.js';
import { backupPin, createCertificate, createPki, pinOf } from './support/pki.js';
import type { TestPki } from './support/pki.js';
import { startHttpsServer } from './support/servers.js';
import type { RunningServer } from './support/servers.js';

import { certpin } from './support/cli.js';
import { ipv6SanMatchBroken } from './support/node-quirks.js';

const DAY = 86_400_000;
const STACK = /\n\s+at .+:\d+:\d+/;

describe('certpin CLI against live servers', () => {
  let dir: string;
  let pki: TestPki;
  let expiring: TestPki;
  let good: RunningServer;
  let goodV6: RunningServer;
  let selfSigned: RunningServer;
  let expired: RunningServer;
  let shortLived: RunningServer;
  let closedPort: number;
  let root: string;
  let rootExpiring: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-cli-'));
    pki = createPki({ hosts: ['localhost', '127.0.0.1', '::1', 'nobackup.test', 'ok.test', 'soon.test'] });
    expiring = createPki({ name: 'Short', hosts: ['leafonly.test'], leafNotAfter: new Date(Date.now() + 10 * DAY + 3_600_000) });
    const old = createPki({ name: 'Old', leafNotBefore: new Date(Date.now() - 100 * DAY), leafNotAfter: new Date(Date.now() - 3 * DAY) });
    const self = createCertificate({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'] });
    [good, goodV6, selfSigned, expired, shortLived] = await Promise.all([
      startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem }),
      startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem, host: '::1' }),
      startHttpsServer({ key: self.key.keyPem, cert: self.pem }),
      startHttpsServer({ key: old.leaf.key.keyPem, cert: old.chainPem }),
      startHttpsServer({ key: expiring.leaf.key.keyPem, cert: expiring.chainPem }),
    ]);
    closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    root = path.join(dir, 'root.pem');
    writeFileSync(root, pki.root.pem + old.root.pem);
    rootExpiring = path.join(dir, 'root-short.pem');
    writeFileSync(rootExpiring, expiring.root.pem);
  });
  after(async () => {
    await Promise.all([good, goodV6, selfSigned, expired, shortLived].map((s) => s?.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('fetch shows a trusted chain as a tree with pins equal to the certificates\', marks the verified path, saves --pem; IPv6 literal and URL forms', async () => {
    const pemFile = path.join(dir, 'saved.pem');
    const [text, json, v6] = await Promise.all([
      certpin(['fetch', `localhost:${good.port}`, '--ca', root, '--pem', pemFile]),
      certpin(['fetch', `https://127.0.0.1:${good.port}/path?q=1`, '--ca', root, '--json']),
      certpin(['fetch', `[::1]:${goodV6.port}`, '--ca', root, '--json']),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /✔ Trusted/);
    assert.match(text.stdout, /CN=localhost, O=Bank {2}\[leaf · on verified path\]/);
    assert.match(text.stdout, /└─ CN=Bank Issuing CA, O=Bank {2}\[intermediate · on verified path\]/);
    assert.match(text.stdout, /└─ CN=Bank Root CA, O=Bank {2}\[root · on verified path · trust anchor\]/);
    for (const issued of [pki.leaf, pki.intermediate, pki.root]) assert.ok(text.stdout.includes(pinOf(issued)));
    assert.equal(readFileSync(pemFile, 'utf8').split('BEGIN CERTIFICATE').length - 1 >= 2, true);
    assert.ok(readFileSync(pemFile, 'utf8').startsWith(pki.leaf.pem.trim().split('\n')[0]!));

    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.trusted, true);
    assert.equal(parsed.port, good.port);
    assert.equal(parsed.chain[0].spkiPin, pinOf(pki.leaf));
    assert.equal(parsed.chain[0].sha256, pki.leaf.cert.fingerprint256);
    assert.equal(parsed.chain[1].spkiPin, pinOf(pki.intermediate));
    assert.equal(parsed.chain[0].onVerifiedPath, true);

    assert.equal(v6.code, 0, v6.stderr);
    assert.equal(JSON.parse(v6.stdout).host, '::1');
    // Where Node cannot match IPv6 SANs the chain is still shown, and flagged as not trusted.
    assert.equal(JSON.parse(v6.stdout).trusted, !ipv6SanMatchBroken);
  });

  it('fetch shows and flags a self-signed, an expired, an untrusted and a wrong-name server; network failures are one plain line', async () => {
    const [self, old, unknown, wrongName, refused, dns] = await Promise.all([
      certpin(['fetch', `127.0.0.1:${selfSigned.port}`]),
      certpin(['fetch', `localhost:${expired.port}`, '--ca', root, '--json']),
      certpin(['fetch', `localhost:${good.port}`]),
      certpin(['fetch', `127.0.0.1:${good.port}`, '--servername', 'wrong.test', '--ca', root]),
      certpin(['fetch', `127.0.0.1:${closedPort}`]),
      certpin(['fetch', 'does-not-exist.invalid', '--timeout', '5000']),
    ]);
    assert.equal(self.code, 0, self.stderr);
    assert.match(self.stdout, /✘ Not trusted: the server's certificate is self-signed/);
    assert.match(self.stdout, /CN=localhost {2}\[self-signed · not on a verified path\]/);
    assert.ok(self.stdout.includes('spki pin'));

    const oldJson = JSON.parse(old.stdout);
    assert.equal(oldJson.trusted, false);
    assert.equal(oldJson.error.code, 'CERT_HAS_EXPIRED');
    assert.match(oldJson.error.message, /expired on \d{4}-\d{2}-\d{2}/);
    assert.ok(oldJson.chain[0].daysLeft < 0);

    assert.match(unknown.stdout, /✘ Not trusted: the chain does not lead to a trusted root/);
    assert.match(wrongName.stdout, /✘ Not trusted for this name: the certificate is not valid for wrong\.test/);
    assert.match(wrongName.stdout, /\[leaf · on verified path\]/, 'the chain itself verifies; only the name is wrong');

    assert.equal(refused.code, 2);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /^certpin: Connection refused by 127\.0\.0\.1:\d+/);
    assert.equal(dns.code, 2);
    assert.match(dns.stderr, /does-not-exist\.invalid does not resolve/);
    for (const r of [refused, dns]) {
      assert.doesNotMatch(r.stderr, STACK);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });

  it('check: exit 0 when a pin matches, 1 when pinning refuses, 2 for an invalid certificate, a network error or a bad pin', async () => {
    const url = `https://localhost:${good.port}/`;
    const [matches, leafFingerprint, mismatch, untrusted, refused, badPin, policy] = await Promise.all([
      certpin(['check', url, '--pin', pinOf(pki.intermediate), '--ca', root]),
      certpin(['check', url, '--pin', `SHA256 Fingerprint=${pki.leaf.cert.fingerprint256}`, '--ca', root, '--json']),
      certpin(['check', url, '--pin', backupPin(), '--ca', root]),
      certpin(['check', `localhost:${selfSigned.port}`, '--pin', pinOf(pki.intermediate)]),
      certpin(['check', `127.0.0.1:${closedPort}`, '--pin', pinOf(pki.intermediate), '--json']),
      certpin(['check', url, '--pin', 'sha256/not-a-pin']),
      (async () => {
        const file = path.join(dir, 'check-policy.json');
        writeFileSync(file, JSON.stringify({ hosts: { localhost: [backupPin(), backupPin()] }, ca: ['root.pem'] }));
        return certpin(['check', url, '--policy', file]);
      })(),
    ]);
    assert.equal(matches.code, 0, matches.stderr);
    assert.match(matches.stdout, /^Accepted: .* matches CN=Bank Issuing CA/);
    assert.equal(leafFingerprint.code, 0, leafFingerprint.stderr);
    assert.equal(JSON.parse(leafFingerprint.stdout).outcome, 'matched');
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stdout, /^Refused by pinning/);
    assert.ok(mismatch.stderr.includes(pinOf(pki.intermediate)), 'the served pins are listed to help fix the pin set');
    assert.equal(untrusted.code, 2);
    assert.match(untrusted.stdout, /self-signed/);
    assert.equal(refused.code, 2);
    assert.equal(JSON.parse(refused.stdout).error.kind, 'network');
    assert.equal(badPin.code, 2);
    assert.match(badPin.stderr, /Invalid pin "sha256\/not-a-pin"/);
    assert.doesNotMatch(badPin.stderr, STACK);
    assert.equal(policy.code, 1, policy.stderr);
  });

  it('init writes a policy with issuing CA, leaf and a backup placeholder explained in $comment; it loads once the placeholder is replaced', async () => {
    const out = path.join(dir, 'certpin.json');
    const spare = backupPin();
    const [init, withBackup, untrusted] = await Promise.all([
      certpin(['init', `localhost:${good.port}`, '--ca', root, '--out', out]),
      certpin(['init', `localhost:${good.port}`, '--ca', root, '--backup-pin', spare]),
      certpin(['init', `localhost:${selfSigned.port}`]),
    ]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stderr, /issuing CA/);
    assert.match(init.stderr, /backup key/);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    assert.match(written.$schema, /certpin-policy\.schema\.json$/);
    assert.equal(typeof written.$comment, 'string');
    const entry = written.hosts.localhost;
    assert.deepEqual(entry.pins.slice(0, 2), [pinOf(pki.intermediate), pinOf(pki.leaf)]);
    assert.match(entry.pins[2], /^REPLACE-ME/);
    assert.match(entry.$comment, /issuing CA/);
    assert.match(entry.$comment, /placeholder for a backup pin/);
    assert.deepEqual(written.ca, ['root.pem']);
    // The placeholder keeps the file from loading until a real backup is there.
    assert.throws(() => loadPolicy(out, { onWarning: () => {} }), /pins\[2\]/);
    writeFileSync(out, readFileSync(out, 'utf8').replace(entry.pins[2], spare));
    const policy = loadPolicy(out, { onWarning: () => assert.fail('no warning expected') });
    assert.equal(policy.ruleFor('localhost')?.pins.length, 3);
    // Pins of the schema accept what init wrote.
    const schema = JSON.parse(readFileSync(new URL('../schema/certpin-policy.schema.json', import.meta.url), 'utf8'));
    const pinPattern = new RegExp(schema.$defs.pin.pattern, 'u');
    assert.ok(policy.rules[0]!.pins.every((p) => pinPattern.test(p.input)));
    assert.equal(pinPattern.test(entry.pins[2]), false, 'editors flag the placeholder');

    assert.equal(withBackup.code, 0, withBackup.stderr);
    assert.deepEqual(JSON.parse(withBackup.stdout).hosts.localhost.pins, [pinOf(pki.intermediate), pinOf(pki.leaf), spare]);
    assert.equal(untrusted.code, 2);
    assert.match(untrusted.stderr, /self-signed/);
  });

  it('verify: a leaf-only pin expiring in 10 days and a pin set without backup warn, an unreachable host fails; exit codes for CI', async () => {
    const soon = new Date(Date.now() + 5 * DAY).toISOString().slice(0, 10);
    const policyFile = path.join(dir, 'verify.json');
    writeFileSync(policyFile, JSON.stringify({
      hosts: {
        'leafonly.test': [pinOf(expiring.leaf), backupPin()],
        'nobackup.test': [pinOf(pki.intermediate), pinOf(pki.leaf)],
        'soon.test': { pins: [pinOf(pki.intermediate), backupPin()], expires: soon },
        'ok.test': [pinOf(pki.intermediate), backupPin()],
        '*.wild.test': [pinOf(pki.intermediate), backupPin()],
      },
      ca: ['root.pem', 'root-short.pem'],
    }));
    const failing = path.join(dir, 'verify-down.json');
    writeFileSync(failing, JSON.stringify({ hosts: { 'down.test': [pinOf(pki.intermediate), backupPin()], 'ok.test': [pinOf(pki.intermediate), backupPin()] }, ca: ['root.pem'] }));
    const clean = path.join(dir, 'verify-clean.json');
    writeFileSync(clean, JSON.stringify({ hosts: { 'ok.test': [pinOf(pki.intermediate), backupPin()] }, ca: ['root.pem'] }));
    const connect = [
      '--connect', `leafonly.test=127.0.0.1:${shortLived.port}`,
      '--connect', `nobackup.test=127.0.0.1:${good.port}`,
      '--connect', `soon.test=127.0.0.1:${good.port}`,
      '--connect', `ok.test=127.0.0.1:${good.port}`,
      '--connect', `down.test=127.0.0.1:${closedPort}`,
    ];
    const [warnings, strict, down, ok, text] = await Promise.all([
      certpin(['verify', policyFile, ...connect, '--json']),
      certpin(['verify', policyFile, ...connect, '--fail-on', 'warning']),
      certpin(['verify', failing, ...connect, '--json']),
      certpin(['verify', clean, ...connect, '--fail-on', 'warning']),
      certpin(['verify', policyFile, ...connect]),
    ]);
    assert.equal(warnings.code, 0, warnings.stderr);
    const report = JSON.parse(warnings.stdout);
    const byHost = Object.fromEntries(report.hosts.map((h: { host: string }) => [h.host, h]));
    assert.equal(byHost['leafonly.test'].status, 'warning');
    assert.match(byHost['leafonly.test'].warnings.join(' '), /only matching pin is on the leaf, which expires in 10 days/);
    assert.equal(byHost['leafonly.test'].matchedPins[0].daysLeft, 10);
    assert.equal(byHost['nobackup.test'].status, 'warning');
    assert.match(byHost['nobackup.test'].warnings.join(' '), /no backup pin/);
    assert.deepEqual(byHost['nobackup.test'].backupPins, []);
    assert.equal(byHost['soon.test'].status, 'warning');
    assert.match(byHost['soon.test'].warnings.join(' '), /pin set expires after/);
    assert.equal(byHost['ok.test'].status, 'ok');
    assert.equal(byHost['ok.test'].connects, true);
    assert.ok(byHost['ok.test'].matchedPins[0].daysLeft > 1000);
    assert.equal(byHost['ok.test'].backupPins.length, 1);
    assert.deepEqual(report.skipped.map((s: { pattern: string }) => s.pattern), ['*.wild.test']);
    assert.deepEqual(report.summary, { hosts: 4, ok: 1, warnings: 3, failures: 0, skipped: 1 });

    assert.equal(strict.code, 1, 'warnings fail with --fail-on warning');
    assert.equal(down.code, 1);
    const downReport = JSON.parse(down.stdout);
    assert.equal(downReport.hosts.find((h: { host: string }) => h.host === 'down.test').status, 'failure');
    assert.match(downReport.hosts.find((h: { host: string }) => h.host === 'down.test').reason, /Connection refused/);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);

    assert.match(text.stdout, /▲ warning leafonly\.test/);
    assert.match(text.stdout, /✔ ok {6}ok\.test/);
    assert.match(text.stdout, /- skipped {3}\*\.wild\.test: .*--host/);
    assert.match(text.stdout, /4 hosts checked: 1 ok, 3 with warnings, 0 failing, 1 pattern skipped\./);
  });

  it('verify --host checks a concrete host for a wildcard; a missing or broken policy file is exit 2 with a plain message', async () => {
    const file = path.join(dir, 'wild.json');
    writeFileSync(file, JSON.stringify({ hosts: { '*.wild.test': [pinOf(pki.intermediate), backupPin()] } }));
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ "hosts": { "a.test": ["sha256/nope"] } }');
    const [wild, missing, bad] = await Promise.all([
      certpin(['verify', file, '--host', 'a.wild.test', '--connect', `a.wild.test=127.0.0.1:${good.port}`, '--ca', root, '--json']),
      certpin(['verify', path.join(dir, 'none.json')]),
      certpin(['verify', broken]),
    ]);
    const report = JSON.parse(wild.stdout);
    assert.equal(report.hosts[0].host, 'a.wild.test');
    assert.equal(report.hosts[0].pattern, '*.wild.test');
    assert.equal(report.hosts[0].connects, false, 'the certificate does not name a.wild.test');
    assert.equal(wild.code, 1);
    for (const r of [missing, bad]) {
      assert.equal(r.code, 2);
      assert.doesNotMatch(r.stderr, STACK);
    }
    assert.match(missing.stderr, /none\.json.*does not exist/);
    assert.match(bad.stderr, /broken\.json.*pins\[0\].*Invalid pin/);
  });
});
