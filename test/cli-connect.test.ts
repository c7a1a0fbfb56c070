/**
 * The certpin CLI against real local TLS servers: fetch (trusted, self-signed, expired, IPv6, a server that sends only
 * its leaf, one that speaks another ALPN protocol), what --pem and --pem-path save, check exit codes and messages,
 * init output that loads once the backup placeholder is replaced. (verify has its own suites.)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicy } from '../src/index.js';
import { parseCertificates } from '../src/tools/index.js';
import { backupPin, createCertificate, createPki, pinOf } from './support/pki.js';
import type { TestPki } from './support/pki.js';
import { startHttpsServer } from './support/servers.js';
import type { RunningServer } from './support/servers.js';

import { certpin } from './support/cli.js';
import { ipv6SanMatchBroken } from './support/node-quirks.js';

const DAY = 86_400_000;
const STACK = /\n\s+at .+:\d+:\d+/;

/** The SHA-256 fingerprints of the certificates of a PEM file, in order. */
function pemFingerprints(file: string): string[] {
  return parseCertificates(readFileSync(file), file).map((c) => c.fingerprint256);
}

describe('certpin CLI against live servers', () => {
  let dir: string;
  let pki: TestPki;
  let good: RunningServer;
  let goodV6: RunningServer;
  let selfSigned: RunningServer;
  let expired: RunningServer;
  let leafOnly: RunningServer;
  let alpnOnly: tls.Server;
  let alpnPort: number;
  let closedPort: number;
  let root: string;
  let intermediateFile: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-cli-'));
    pki = createPki({ hosts: ['localhost', '127.0.0.1', '::1'] });
    const old = createPki({ name: 'Old', leafNotBefore: new Date(Date.now() - 100 * DAY), leafNotAfter: new Date(Date.now() - 3 * DAY) });
    const self = createCertificate({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'] });
    [good, goodV6, selfSigned, expired] = await Promise.all([
      startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem }),
      startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem, host: '::1' }),
      startHttpsServer({ key: self.key.keyPem, cert: self.pem }),
      startHttpsServer({ key: old.leaf.key.keyPem, cert: old.chainPem }),
    ]);
    leafOnly = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.leaf.pem });
    alpnOnly = tls.createServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem, ALPNProtocols: ['acme-tls/1'] });
    alpnOnly.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => alpnOnly.listen(0, '127.0.0.1', resolve));
    alpnPort = (alpnOnly.address() as net.AddressInfo).port;
    closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    root = path.join(dir, 'root.pem');
    writeFileSync(root, pki.root.pem + old.root.pem);
    intermediateFile = path.join(dir, 'intermediate.pem');
    writeFileSync(intermediateFile, pki.intermediate.pem);
  });
  after(async () => {
    await Promise.all([good, goodV6, selfSigned, expired, leafOnly].map((s) => s?.close()));
    await new Promise<void>((resolve) => (alpnOnly ? alpnOnly.close(() => resolve()) : resolve()));
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
    assert.match(text.stdout, /The server sent 2 certificates; 1 more from the trust store completes the verified path\./);
    assert.match(text.stdout, /O = Bank, CN = localhost {2}\[leaf · served 1\/2 · on verified path\]/);
    assert.match(text.stdout, /└─ O = Bank, CN = Bank Issuing CA {2}\[intermediate · served 2\/2 · on verified path\]/);
    assert.match(text.stdout, /└─ O = Bank, CN = Bank Root CA {2}\[root · not served: from the local trust store \(--ca\) · on verified path · trust anchor\]/);
    assert.doesNotMatch(text.stdout, /Incomplete chain/);
    for (const issued of [pki.leaf, pki.intermediate, pki.root]) assert.ok(text.stdout.includes(pinOf(issued)));
    // --pem saves what the server sent, in its order: leaf and intermediate, not the root the store added.
    assert.deepEqual(pemFingerprints(pemFile), [pki.leaf.cert.fingerprint256, pki.intermediate.cert.fingerprint256]);
    assert.match(text.stderr, /Saved the 2 certificates the server sent to .*saved\.pem \(the verified path has 3: --pem-path FILE saves it\)/);

    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.trusted, true);
    assert.equal(parsed.port, good.port);
    assert.equal(parsed.chain[0].spkiPin, pinOf(pki.leaf));
    assert.equal(parsed.chain[0].sha256, pki.leaf.cert.fingerprint256);
    assert.equal(parsed.chain[1].spkiPin, pinOf(pki.intermediate));
    assert.equal(parsed.chain[0].onVerifiedPath, true);
    assert.equal(parsed.served, 2);
    assert.equal(parsed.complete, true);
    assert.deepEqual(parsed.chain.map((c: { source: string }) => c.source), ['served', 'served', 'trust-store']);
    assert.deepEqual(parsed.chain.map((c: { servedIndex?: number }) => c.servedIndex), [1, 2, undefined]);

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
    assert.match(self.stdout, /CN = localhost {2}\[self-signed · served 1\/1 · not on a verified path\]/);
    assert.ok(self.stdout.includes('spki pin'));

    const oldJson = JSON.parse(old.stdout);
    assert.equal(oldJson.trusted, false);
    assert.equal(oldJson.error.code, 'CERT_HAS_EXPIRED');
    assert.match(oldJson.error.message, /expired on \d{4}-\d{2}-\d{2}/);
    assert.ok(oldJson.chain[0].daysLeft < 0);

    assert.match(unknown.stdout, /✘ Not trusted: the chain does not lead to a trusted root/);
    assert.match(wrongName.stdout, /✘ Not trusted for this name: the certificate is not valid for wrong\.test/);
    assert.match(wrongName.stdout, /\[leaf · served 1\/2 · on verified path\]/, 'the chain itself verifies; only the name is wrong');
    assert.match(wrongName.stdout, /use --servername NAME if you meant another name/);

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
    assert.match(matches.stdout, /^Accepted: .* matches O = Bank, CN = Bank Issuing CA\./);
    assert.equal(leafFingerprint.code, 0, leafFingerprint.stderr);
    assert.equal(JSON.parse(leafFingerprint.stdout).outcome, 'matched');
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stdout, /^Refused by pinning: the verified chain of localhost:\d+ does not carry the pinned key for localhost\.$/m);
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

  it('init: a backup must be a key pin; CA files are written relative to the policy, so they move together; verify fails a policy that pins no host', async () => {
    const sub = path.join(dir, 'app');
    mkdirSync(sub, { recursive: true });
    const out = path.join(sub, 'certpin.json');
    const certificatePin = pinOf(pki.leaf).replace(/^sha256\//, '');
    const [hexBackup, relative] = await Promise.all([
      certpin(['init', `localhost:${good.port}`, '--ca', root, '--backup-pin', Buffer.from(certificatePin, 'base64').toString('hex')]),
      certpin(['init', `localhost:${good.port}`, '--ca', root, '--backup-pin', backupPin(), '--out', out]),
    ]);
    assert.equal(hexBackup.code, 2);
    assert.match(hexBackup.stderr, /a certificate fingerprint cannot name a spare key/);
    assert.equal(relative.code, 0, relative.stderr);
    const written = JSON.parse(readFileSync(out, 'utf8')) as { ca: string[] };
    assert.deepEqual(written.ca, [path.relative(sub, root)]);
    assert.match(written.ca[0]!, /^\.\.\//);
    assert.equal(loadPolicy(out).rules.length, 1, 'the policy loads, its CA file found beside it');
    const empty = path.join(dir, 'empty.json');
    writeFileSync(empty, JSON.stringify({ hosts: {} }));
    const verified = await certpin(['verify', empty, '--no-progress']);
    assert.equal(verified.code, 1, verified.stdout + verified.stderr);
    assert.match(verified.stdout + verified.stderr, /pins no host/);
  });

  it('fetch against a server that sends only its leaf: marks what the server sent and what the store added, warns, --pem saves the one served certificate, --pem-path the path', async () => {
    const served = path.join(dir, 'leaf-only-served.pem');
    const full = path.join(dir, 'leaf-only-path.pem');
    const [withIntermediate, rootOnly, json] = await Promise.all([
      certpin(['fetch', `localhost:${leafOnly.port}`, '--ca', intermediateFile, '--ca', root, '--pem', served, '--pem-path', full]),
      certpin(['fetch', `localhost:${leafOnly.port}`, '--ca', root]),
      certpin(['fetch', `localhost:${leafOnly.port}`, '--ca', intermediateFile, '--ca', root, '--json']),
    ]);
    assert.equal(withIntermediate.code, 0, withIntermediate.stderr);
    assert.match(withIntermediate.stdout, /▲ Trusted on this machine only/);
    assert.doesNotMatch(withIntermediate.stdout, /✔ Trusted/);
    assert.match(withIntermediate.stdout, /▲ Incomplete chain: the server sent 1 certificate, and the verified path also needs "O = Bank, CN = Bank Issuing CA", which it did not send; it verified here only because this machine's local trust store \(--ca\) has it\./);
    assert.match(withIntermediate.stdout, /Node, curl, Java and mobile apps do not/);
    assert.match(withIntermediate.stdout, /O = Bank, CN = localhost {2}\[leaf · served 1\/1 · on verified path\]/);
    // With the root in the store too, the path goes on to the root, as OpenSSL builds it (a trusted intermediate ends
    // a path only in partial-chain mode).
    assert.match(withIntermediate.stdout, /└─ O = Bank, CN = Bank Issuing CA {2}\[intermediate · not served: from the local trust store \(--ca\) · on verified path\]/);
    assert.match(withIntermediate.stdout, /└─ O = Bank, CN = Bank Root CA {2}\[root · not served: from the local trust store \(--ca\) · on verified path · trust anchor\]/);
    assert.deepEqual(pemFingerprints(served), [pki.leaf.cert.fingerprint256], '--pem holds exactly what the server sent');
    assert.deepEqual(pemFingerprints(full), [pki.leaf.cert.fingerprint256, pki.intermediate.cert.fingerprint256, pki.root.cert.fingerprint256], '--pem-path holds the verified path');
    assert.match(withIntermediate.stderr, /Saved the 1 certificate the server sent to .*leaf-only-served\.pem\./);
    assert.match(withIntermediate.stderr, /Saved the verified path \(3 certificates, 2 of them from the trust store\) to .*leaf-only-path\.pem\./);

    // Only the root in the store (what Node, curl and apps have): not trusted, and the reason names the missing issuer.
    assert.equal(rootOnly.code, 0, rootOnly.stderr);
    assert.match(rootOnly.stdout, /✘ Not trusted: the server sent only its own certificate, without the CA certificate that issued it \(O = Bank, CN = Bank Issuing CA\)/);
    assert.match(rootOnly.stdout, /\[leaf · served 1\/1 · not on a verified path\]/);

    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.served, 1);
    assert.equal(parsed.complete, false);
    assert.equal(parsed.trusted, true);
    assert.deepEqual(parsed.warnings.map((w: { code: string }) => w.code), ['MISSING_INTERMEDIATE']);
    assert.deepEqual(parsed.chain.map((c: { source: string; store?: string }) => [c.source, c.store]), [['served', undefined], ['trust-store', 'local trust store (--ca)'], ['trust-store', 'local trust store (--ca)']]);
  });

  it('a server that requires a client certificate: check names mutual TLS, under TLS 1.3 and 1.2, exit 2', async () => {
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
      const strict = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem, requestCert: true, ca: pki.root.pem, maxVersion });
      try {
        const r = await certpin(['check', `localhost:${strict.port}`, '--pin', pinOf(pki.intermediate), '--ca', root]);
        assert.equal(r.code, 2, `${maxVersion}: ${r.stdout}${r.stderr}`);
        assert.match(r.stdout + r.stderr, maxVersion === 'TLSv1.3' ? /wants a client certificate it accepts \(mutual TLS\)/ : /requires a client certificate \(mutual TLS\)/, maxVersion);
      } finally {
        await strict.close();
      }
    }
  });

  it('a server that speaks another ALPN protocol is a protocol failure, not a certificate one; --alpn offers its protocol', async () => {
    const [fetched, checked, offered] = await Promise.all([
      certpin(['fetch', `localhost:${alpnPort}`, '--ca', root]),
      certpin(['check', `localhost:${alpnPort}`, '--pin', pinOf(pki.intermediate), '--ca', root, '--json']),
      certpin(['fetch', `localhost:${alpnPort}`, '--ca', root, '--alpn', 'acme-tls/1', '--json']),
    ]);
    assert.equal(fetched.code, 2);
    assert.match(fetched.stderr, /^certpin: No common application protocol \(ALPN\): localhost:\d+ accepts none of h2, http\/1\.1, so it serves another protocol on that port; the handshake stopped before any certificate was checked\. Offer its protocol with --alpn NAME/);
    assert.doesNotMatch(fetched.stderr, /Not trusted/);
    assert.equal(checked.code, 2);
    const check = JSON.parse(checked.stdout);
    assert.equal(check.error.kind, 'protocol');
    assert.equal(check.error.code, 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
    assert.equal(offered.code, 0, offered.stderr);
    const parsed = JSON.parse(offered.stdout);
    assert.equal(parsed.alpnProtocol, 'acme-tls/1');
    assert.equal(parsed.trusted, true);
  });
});
