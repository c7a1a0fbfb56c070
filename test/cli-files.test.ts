/**
 * The certpin CLI on files, run as a child process like a user runs it: inspect (PEM, DER, bundles, garbage, and
 * conversion), agreement with openssl byte for byte, backup-key, help, version, colours and error hygiene.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { der, encode } from '../src/core/der.js';
import { createCertificate, createPki, generateKey } from './support/pki.js';
import type { KeyType } from './support/pki.js';

import { certpin, repo } from './support/cli.js';

function openssl(args: readonly string[], input?: Buffer | string): Buffer {
  return execFileSync('openssl', args, { input });
}

/** openssl's SPKI pin of a certificate file: x509 -pubkey | pkey -pubin -outform der | dgst -sha256 -binary | base64. */
function opensslPin(certFile: string): string {
  const pubkey = openssl(['x509', '-in', certFile, '-pubkey', '-noout']);
  const spki = openssl(['pkey', '-pubin', '-outform', 'der'], pubkey);
  return `sha256/${openssl(['dgst', '-sha256', '-binary'], spki).toString('base64')}`;
}

function opensslFingerprint(certFile: string, algorithm: 'sha256' | 'sha1'): string {
  return openssl(['x509', '-in', certFile, '-noout', '-fingerprint', `-${algorithm}`]).toString().trim().split('=')[1]!;
}

/** Stack frames look like "    at fn (file:line:col)". */
const STACK = /\n\s+at .+:\d+:\d+/;
const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[\\d+m`, 'g');

describe('certpin CLI on files', () => {
  let dir: string;
  const files: Record<string, string> = {};
  const types: KeyType[] = ['rsa2048', 'ec-p256', 'ec-p384', 'ed25519'];

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-cli-'));
    for (const type of types) {
      const cert = createCertificate({ commonName: `${type}.test`, key: generateKey(type) });
      files[type] = path.join(dir, `${type}.pem`);
      writeFileSync(files[type], cert.pem);
    }
    const pki = createPki({ name: 'Files' });
    files.bundle = path.join(dir, 'bundle.pem');
    writeFileSync(files.bundle, pki.leaf.pem + pki.intermediate.pem + pki.root.pem);
    files.der = path.join(dir, 'leaf.cer');
    writeFileSync(files.der, pki.leaf.der);
    files.leafPem = path.join(dir, 'leaf.crt');
    writeFileSync(files.leafPem, pki.leaf.pem);
    files.garbage = path.join(dir, 'garbage.crt');
    writeFileSync(files.garbage, 'this is not a certificate\n');
    files.key = path.join(dir, 'key.pem');
    writeFileSync(files.key, generateKey('ec-p256').keyPem);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('inspect agrees with openssl for RSA, EC P-256, P-384 and Ed25519 (SPKI pin, SHA-256 and SHA-1 fingerprints)', async () => {
    const result = await certpin(['inspect', '--json', ...types.map((t) => files[t]!)]);
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as { file: string; certificates: { spkiPin: string; sha256: string; sha256Hex: string; sha1: string; key: string }[] }[];
    assert.equal(json.length, 4);
    for (const [i, type] of types.entries()) {
      const cert = json[i]!.certificates[0]!;
      assert.equal(cert.spkiPin, opensslPin(files[type]!), type);
      assert.equal(cert.sha256, opensslFingerprint(files[type]!, 'sha256'), type);
      assert.equal(cert.sha256Hex, opensslFingerprint(files[type]!, 'sha256').replace(/:/g, '').toLowerCase(), type);
      assert.equal(cert.sha1, opensslFingerprint(files[type]!, 'sha1'), type);
    }
    assert.deepEqual(json.map((f) => f.certificates[0]!.key), ['RSA 2048', 'EC P-256', 'EC P-384', 'Ed25519']);
  });

  it('inspect reads DER (.cer), PEM (.crt) and bundles, and shows every detail as text', async () => {
    const result = await certpin(['inspect', files.der!, files.leafPem!, files.bundle!]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /leaf\.cer \(DER, 1 certificate\)/);
    assert.match(result.stdout, /leaf\.crt \(PEM, 1 certificate\)/);
    assert.match(result.stdout, /bundle\.pem \(PEM, 3 certificates\)/);
    const pin = opensslPin(files.leafPem!);
    assert.equal(result.stdout.split(pin).length - 1, 3, 'the leaf pin appears for the DER, the PEM and the bundle');
    for (const label of ['issuer', 'names', 'key', 'valid', 'spki pin', 'sha256', 'sha256 hex', 'sha1']) assert.match(result.stdout, new RegExp(`\\n\\s+${label}\\s`));
    assert.match(result.stdout, /days left/);
    assert.match(result.stdout, /\[root\]/);
    assert.ok(!result.stdout.includes(ESC), 'no colours when stdout is not a terminal');
  });

  it('a PEM label with terminal control sequences is quoted in the error, never written raw; a timeout past 2^31 - 1 ms is a usage error', async () => {
    const file = path.join(dir, 'escape.pem');
    writeFileSync(file, '-----BEGIN \u001b[31mEVIL\u001b]0;pwned\u0007-----\nAAAA\n-----END \u001b[31mEVIL\u001b]0;pwned\u0007-----\n');
    const inspected = await certpin(['inspect', file]);
    assert.equal(inspected.code, 2, inspected.stderr);
    assert.ok(!inspected.stderr.includes('\u001b') && !inspected.stderr.includes('\u0007'), inspected.stderr);
    assert.match(inspected.stderr, /\\u001b\[31mEVIL/);
    const timed = await certpin(['check', '127.0.0.1:9', '--pin', `sha256/${'A'.repeat(43)}=`, '--timeout', '3000000000']);
    assert.equal(timed.code, 2, timed.stderr);
    assert.match(timed.stderr, /--timeout expects a whole number .*at most 2147483647/);
  });

  it('inspect converts DER to PEM and PEM to DER, identical to openssl', async () => {
    const toPem = await certpin(['inspect', files.der!, '--pem']);
    assert.equal(toPem.code, 0, toPem.stderr);
    assert.equal(toPem.stdout, openssl(['x509', '-inform', 'der', '-in', files.der!]).toString());
    const out = path.join(dir, 'converted.der');
    const toDer = await certpin(['inspect', files.leafPem!, '--der', '--out', out]);
    assert.equal(toDer.code, 0, toDer.stderr);
    assert.deepEqual(readFileSync(out), readFileSync(files.der!));
    const again = await certpin(['inspect', files.leafPem!, '--der', '--out', out]);
    assert.equal(again.code, 2, 'refuses to overwrite without --force');
    assert.match(again.stderr, /already exists.*--force/);
  });

  it('garbage, a key instead of a certificate, a missing file and a bundle to DER: plain errors naming the file, exit 2, no stack trace', async () => {
    const results = await Promise.all([
      certpin(['inspect', files.garbage!]),
      certpin(['inspect', files.key!]),
      certpin(['inspect', path.join(dir, 'missing.pem')]),
      certpin(['inspect', files.bundle!, '--der', '--out', path.join(dir, 'x.der')]),
      certpin(['inspect', '--bogus']),
    ]);
    for (const r of results) {
      assert.equal(r.code, 2, r.stderr);
      assert.doesNotMatch(r.stderr, STACK);
      assert.ok(r.stderr.trim().split('\n').length <= 2, r.stderr);
      assert.equal(r.stdout, '');
    }
    assert.match(results[0]!.stderr, /garbage\.crt is not a readable X\.509 certificate/);
    assert.match(results[1]!.stderr, /key\.pem .*PRIVATE KEY.*no CERTIFICATE/);
    assert.match(results[2]!.stderr, /missing\.pem: it does not exist/);
    assert.match(results[3]!.stderr, /DER holds one certificate.*has 3/);
    assert.match(results[4]!.stderr, /--bogus/);
  });

  it('an endless input (/dev/zero, 9 MiB on standard input, an oversized policy) ends in an error naming it, not a hang', async () => {
    const big = path.join(dir, 'big.json');
    writeFileSync(big, Buffer.alloc(9 * 1024 * 1024, 0x20));
    const started = Date.now();
    const results = await Promise.all([
      certpin(['inspect', '/dev/zero']),
      certpin(['inspect', '-'], { input: Buffer.alloc(9 * 1024 * 1024, 0x41) }),
      certpin(['check', 'https://127.0.0.1:9', '--policy', big]),
    ]);
    assert.ok(Date.now() - started < 30_000, 'the reads were bounded');
    for (const r of results) {
      assert.equal(r.code, 2, r.stderr);
      assert.doesNotMatch(r.stderr, STACK);
      assert.match(r.stderr, /more than 8 MiB/);
    }
    assert.match(results[0]!.stderr, /Cannot read \/dev\/zero/);
    assert.match(results[1]!.stderr, /Cannot read standard input/);
    assert.match(results[2]!.stderr, /big\.json/);
  });

  it('colours only when asked (FORCE_COLOR) and never with NO_COLOR', async () => {
    const [coloured, plain] = await Promise.all([
      certpin(['inspect', files.leafPem!], { env: { FORCE_COLOR: '1' } }),
      certpin(['inspect', files.leafPem!], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } }),
    ]);
    assert.ok(coloured.stdout.includes(`${ESC}[`));
    assert.ok(!plain.stdout.includes(ESC));
    assert.equal(plain.stdout.replace(/\s+/g, ' '), coloured.stdout.replace(ANSI, '').replace(/\s+/g, ' '));
  });

  it('backup-key: the printed pin equals openssl\'s pin of the written key, the CSR verifies, the key is 0600, nothing is overwritten', async () => {
    const cases = [['ec-p256', 'prime256v1'], ['ec-p384', 'secp384r1'], ['rsa2048', 'rsaEncryption'], ['ed25519', 'ED25519']] as const;
    const results = await Promise.all(cases.map(([type]) => certpin(['backup-key', '--type', type, '--subject', `CN=${type}.example.com, O=Example`, '--san', `${type}.example.com`, '--out-key', path.join(dir, `${type}.key`), '--out-csr', path.join(dir, `${type}.csr`)])));
    for (const [i, [type, algorithm]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 0, r.stderr);
      const keyFile = path.join(dir, `${type}.key`);
      const csrFile = path.join(dir, `${type}.csr`);
      const spki = openssl(['pkey', '-in', keyFile, '-pubout', '-outform', 'der']);
      assert.equal(r.stdout.trim(), `sha256/${openssl(['dgst', '-sha256', '-binary'], spki).toString('base64')}`, type);
      assert.equal(statSync(keyFile).mode & 0o777, 0o600, type);
      execFileSync('openssl', ['req', '-verify', '-noout', '-in', csrFile], { stdio: 'pipe' });
      const text = openssl(['req', '-in', csrFile, '-noout', '-text']).toString();
      // Encoded in the order written, so openssl shows the subject as it was typed.
      assert.equal(openssl(['req', '-in', csrFile, '-noout', '-subject']).toString().trim(), `subject=CN = ${type}.example.com, O = Example`);
      assert.match(text, new RegExp(`DNS:${type}\\.example\\.com`));
      assert.match(text, new RegExp(algorithm));
      const csrPub = openssl(['req', '-in', csrFile, '-pubkey', '-noout']);
      assert.deepEqual(openssl(['pkey', '-pubin', '-outform', 'der'], csrPub), spki, 'the CSR carries the key whose pin was printed');
    }
    const keyFile = path.join(dir, 'ec-p256.key');
    const before = readFileSync(keyFile);
    const again = await certpin(['backup-key', '--out-key', keyFile, '--out-csr', path.join(dir, 'other.csr')]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists.*--force/);
    assert.deepEqual(readFileSync(keyFile), before, 'the existing key is untouched');
  });

  it('backup-key HOST puts the host in the CSR subject and subjectAltName; --subject alone lends its CN to the subjectAltName; without a host it says the CSR names none', async () => {
    const file = (name: string) => path.join(dir, name);
    const [host, subjectOnly, none] = await Promise.all([
      certpin(['backup-key', 'api.example.com', 'www.example.com', '--out-key', file('h.key'), '--out-csr', file('h.csr')]),
      certpin(['backup-key', '--subject', '/CN=pay.example.com/O=Example, Inc.', '--out-key', file('s.key'), '--out-csr', file('s.csr')]),
      certpin(['backup-key', '--out-key', file('n.key'), '--out-csr', file('n.csr')]),
    ]);
    for (const r of [host, subjectOnly, none]) assert.equal(r.code, 0, r.stderr);
    const text = (csr: string) => openssl(['req', '-in', file(csr), '-noout', '-text', '-subject']).toString();
    assert.match(text('h.csr'), /subject=CN = api\.example\.com\n/);
    assert.match(text('h.csr'), /DNS:api\.example\.com, DNS:www\.example\.com/);
    assert.match(text('s.csr'), /subject=CN = pay\.example\.com, O = "Example, Inc\."\n/);
    assert.match(text('s.csr'), /DNS:pay\.example\.com/);
    assert.doesNotMatch(text('n.csr'), /Subject Alternative Name/);
    assert.match(none.stderr, /The CSR names no host, and CAs take names from its subjectAltName: run again with the host/);
    assert.doesNotMatch(host.stderr, /names no host/);
  });

  it('names print as `openssl x509 -noout -subject` prints them: the certificate\'s RDN order, its quoting and escapes', async () => {
    const key = generateKey('ec-p256');
    const atv = (oid: string, value: Buffer) => der.set(der.sequence(der.oid(oid), value));
    const names = [
      der.sequence(atv('2.5.4.3', der.utf8('localhost')), atv('2.5.4.10', der.utf8('Acme'))),
      der.sequence(atv('2.5.4.10', der.utf8('Acme, Inc.')), atv('2.5.4.3', der.utf8('#a+b<c>;" \\ '))),
      der.sequence(atv('2.5.4.3', der.utf8('café\ttab')), der.set(der.sequence(der.oid('2.5.4.3'), der.utf8('x')), der.sequence(der.oid('0.9.2342.19200300.100.1.1'), der.utf8('y'))), atv('1.2.3.4.5', der.utf8('unknown'))),
      der.sequence(atv('2.5.4.6', der.printable('US')), atv('2.5.4.10', encode(0x1e, Buffer.from([0x00, 0xe9, 0x65, 0xe5]))), atv('2.5.4.11', encode(0x14, Buffer.from([0x41, 0xe9])))),
    ];
    const certFiles = names.map((name, i) => {
      const algorithm = der.sequence(der.oid('1.2.840.10045.4.3.2'));
      const validity = der.sequence(der.time(new Date(Date.now() - 86_400_000)), der.time(new Date(Date.now() + 86_400_000)));
      const tbs = der.sequence(der.explicit(0, der.integer(2)), der.integer(i + 1), algorithm, name, validity, name, key.publicKey.export({ type: 'spki', format: 'der' }));
      const cert = new X509Certificate(der.sequence(tbs, algorithm, der.bitString(sign('sha256', tbs, key.privateKey))));
      const file = path.join(dir, `name-${i}.pem`);
      writeFileSync(file, cert.toString());
      return file;
    });
    const [json, text] = await Promise.all([certpin(['inspect', '--json', ...certFiles]), certpin(['inspect', ...certFiles])]);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { certificates: { subject: string; issuer: string }[] }[];
    certFiles.forEach((file, i) => {
      const subject = openssl(['x509', '-in', file, '-noout', '-subject']).toString().replace(/^subject=/, '').replace(/\n$/, '');
      assert.equal(parsed[i]!.certificates[0]!.subject, subject, file);
      assert.equal(parsed[i]!.certificates[0]!.issuer, subject, file);
      assert.ok(text.stdout.includes(`${subject}  [self-signed]`), subject);
    });
    assert.equal(parsed[0]!.certificates[0]!.subject, 'CN = localhost, O = Acme', 'CN first when the certificate encodes it first');
  });

  it('--help on every command with examples, --version, and help starts without loading the commands', async () => {
    const commands = ['fetch', 'inspect', 'check', 'init', 'backup-key', 'verify'];
    const results = await Promise.all([certpin(['--help']), certpin(['--version']), ...commands.map((c) => certpin([c, '--help'])), certpin(['nope'])]);
    assert.equal(results[0]!.code, 0);
    for (const c of commands) assert.match(results[0]!.stdout, new RegExp(`\\n  ${c}\\s`));
    assert.equal(results[1]!.stdout.trim(), JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).version);
    commands.forEach((c, i) => {
      const r = results[i + 2]!;
      assert.equal(r.code, 0, c);
      assert.match(r.stdout, new RegExp(`^Usage: certpin ${c}`), c);
      assert.match(r.stdout, /Examples:\n {2}certpin /, c);
    });
    const unknown = results.at(-1)!;
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "nope"/);
    assert.doesNotMatch(unknown.stderr, STACK);
    // `certpin --help` loads no command and not the library: main's static imports are builtins and tiny helpers.
    const mainSource = readFileSync(path.join(repo, 'src/cli/main.ts'), 'utf8');
    const staticImports = [...mainSource.matchAll(/^import [^;]*? from '([^']+)';/gm)].map((m) => m[1]);
    assert.deepEqual(staticImports.filter((m) => !m!.startsWith('node:')).sort(), ['./style.js', './usage.js', './version.js']);
    // verify loads the report renderers only for --html / --svg.
    const verifySource = readFileSync(path.join(repo, 'src/cli/commands/verify.ts'), 'utf8');
    assert.doesNotMatch(verifySource, /^import [^;]*'\.\.\/report\//m);
    assert.match(verifySource, /await import\('\.\.\/report\/html\.js'\)/);
    // Their only import beyond Node's built-ins is certpin's loader of those built-ins, which imports nothing.
    for (const helper of ['style.ts', 'usage.ts', 'version.ts']) {
      const source = readFileSync(path.join(repo, 'src/cli', helper), 'utf8');
      assert.deepEqual([...source.matchAll(/^import [^;]*? from '([^']+)';/gm)].map((m) => m[1]).filter((m) => !m!.startsWith('node:') && m !== '../builtins.js'), [], helper);
    }
    assert.deepEqual([...readFileSync(path.join(repo, 'src/builtins.ts'), 'utf8').matchAll(/^import (?!type )[^;]*? from '([^']+)';/gm)], [], 'src/builtins.ts');
  });

  it('inspect reads standard input with "-"', async () => {
    const r = await certpin(['inspect', '-', '--json'], { input: readFileSync(files.der!) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout)[0].certificates[0].spkiPin, opensslPin(files.leafPem!));
    assert.equal(JSON.parse(r.stdout)[0].file, 'standard input');
  });
});
