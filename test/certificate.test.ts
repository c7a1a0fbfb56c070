import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { certificateFingerprint, describeCertificate, parseCertificates, spkiPin, toCertificate } from '../src/tools/index.js';
import { CertificateParseError } from '../src/errors.js';
import { KEY_USAGE, certificateFacts } from '../src/core/x509/index.js';
import { createCertificate, createPki, generateKey } from './support/pki.js';
import type { KeyType } from './support/pki.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certpin-cert-'));
let counter = 0;

/** What openssl says, computed at test time with the openssl CLI (never a stored list). */
function openssl(pem: string): { sha256: string; sha1: string; spki: string } {
  const file = path.join(dir, `c${counter++}.pem`);
  writeFileSync(file, pem);
  const fingerprint = (alg: string) => execFileSync('openssl', ['x509', '-in', file, '-noout', '-fingerprint', `-${alg}`], { encoding: 'utf8' }).trim().split('=')[1]!;
  const pubkey = execFileSync('openssl', ['x509', '-in', file, '-noout', '-pubkey']);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pubkey });
  const spki = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64');
  return { sha256: fingerprint('sha256'), sha1: fingerprint('sha1'), spki: `sha256/${spki}` };
}

describe('pins and fingerprints agree with openssl', () => {
  const types: KeyType[] = ['rsa2048', 'rsa4096', 'ec-p256', 'ec-p384', 'ed25519'];
  for (const type of types) {
    it(`for a ${type} certificate`, () => {
      const cert = createCertificate({ commonName: `${type}.test`, key: generateKey(type) });
      const expected = openssl(cert.pem);
      assert.equal(spkiPin(cert.pem), expected.spki);
      assert.equal(spkiPin(cert.der), expected.spki);
      assert.equal(spkiPin(cert.cert), expected.spki);
      assert.equal(certificateFingerprint(cert.pem), expected.sha256);
      assert.equal(certificateFingerprint(cert.pem, 'sha1'), expected.sha1);
      assert.equal(certificateFingerprint(cert.pem, 'sha256', 'hex'), expected.sha256.replace(/:/g, '').toLowerCase());
    });
  }

  it('for every root of tls.rootCertificates, openssl computed at test time in one batch', () => {
    const bundle = path.join(dir, 'roots.pem');
    writeFileSync(bundle, tls.rootCertificates.join('\n'));
    // One openssl process per root would take minutes; a shell loop over the split bundle takes a second.
    const script = `
      set -e; cd "$1"; awk '/BEGIN CERT/{n++} {print > ("root-" n ".pem")}' roots.pem
      for f in $(ls root-*.pem | sort -t- -k2 -n); do
        fp=$(openssl x509 -in "$f" -noout -fingerprint -sha256 | cut -d= -f2)
        spki=$(openssl x509 -in "$f" -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
        echo "$fp sha256/$spki"
      done`;
    const lines = execFileSync('bash', ['-c', script, 'bash', dir], { encoding: 'utf8' }).trim().split('\n');
    assert.equal(lines.length, tls.rootCertificates.length);
    tls.rootCertificates.forEach((pem, i) => {
      const [fingerprint, pin] = lines[i]!.split(' ');
      assert.equal(certificateFingerprint(pem), fingerprint, `root ${i}`);
      assert.equal(spkiPin(pem), pin, `root ${i}: ${new X509Certificate(pem).subject}`);
    });
  });

  it('gives the SPKI pin, not the hash of the raw EC point that Node\'s docs suggest', () => {
    const cert = createCertificate({ commonName: 'ec.test', key: generateKey('ec-p256') });
    // Node's docs hash getPeerCertificate().pubkey: for EC keys that is the raw curve point, not the SPKI.
    const legacy = new X509Certificate(cert.pem).toLegacyObject() as unknown as { pubkey: Buffer };
    const docsMethod = `sha256/${createHash('sha256').update(legacy.pubkey).digest('base64')}`;
    assert.notEqual(spkiPin(cert.pem), docsMethod);
    assert.equal(spkiPin(cert.pem), openssl(cert.pem).spki);
  });

  it('matches the published SPKI pins of roots in Node\'s store (PRODUCT.md vectors)', () => {
    const pins = new Set(tls.rootCertificates.map((pem) => spkiPin(pem)));
    for (const vector of ['C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=', 'diGVwiVYbubAI3RW4hB9xU8e/CH2GnkuvVFZE8zmgzI=', 'hxqRlPTu1bMS/0DITB1SSu0vd4u/8l8TjPgfaAp63Gc=']) {
      assert.ok(pins.has(`sha256/${vector}`), vector);
    }
  });
});

describe('parseCertificates', () => {
  const pki = createPki();

  it('reads a PEM bundle, a DER buffer and a single PEM', () => {
    assert.equal(parseCertificates(pki.chainPem + pki.root.pem).length, 3);
    assert.equal(parseCertificates(pki.leaf.der).length, 1);
    assert.equal(toCertificate(pki.leaf.pem).subject, pki.leaf.cert.subject);
  });

  it('reads PEM with CRLF line ends and text around the blocks', () => {
    const messy = `subject=CN = localhost\r\n${pki.leaf.pem.replace(/\n/g, '\r\n')}\r\ntrailing text`;
    assert.equal(parseCertificates(messy)[0]!.fingerprint256, pki.leaf.cert.fingerprint256);
  });

  const garbage: [string, string | Buffer, RegExp][] = [
    ['empty input', '', /empty/],
    ['text', 'hello world', /neither PEM .* nor DER/],
    ['a private key', pki.leaf.key.keyPem, /PRIVATE KEY but no CERTIFICATE block/],
    ['truncated PEM', pki.leaf.pem.slice(0, 200), /incomplete/],
    ['bad base64', '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n', /not valid base64/],
    ['truncated DER', pki.leaf.der.subarray(0, 100), /does not parse/],
    ['random bytes starting like DER', Buffer.from([0x30, 0x82, 0xff, 0xff, 1, 2, 3]), /does not parse/],
  ];
  for (const [name, input, reason] of garbage) {
    it(`refuses ${name} with an error naming the input`, () => {
      assert.throws(() => parseCertificates(input, 'server.pem'), (error: unknown) => {
        assert.ok(error instanceof CertificateParseError);
        assert.equal(error.code, 'ERR_CERTPIN_INVALID_CERTIFICATE');
        assert.match(error.message, /^server\.pem is not a readable X\.509 certificate/);
        assert.match(error.message, reason);
        return true;
      });
    });
  }

  it('refuses a bundle where one certificate is expected', () => {
    assert.throws(() => toCertificate(pki.chainPem), /holds 2 certificates/);
  });
});

/** What the certificate reader finds in basicConstraints and keyUsage about a right to issue others. */
function issuerConstraints(certificate: X509Certificate): { ca: boolean; pathLength: number | undefined; keyCertSign: boolean | undefined } {
  const read = certificateFacts(certificate.raw);
  assert.ok(read.ok);
  const { basicConstraints, keyUsage } = read.facts;
  return { ca: basicConstraints?.ca ?? false, pathLength: basicConstraints?.pathLength, keyCertSign: keyUsage === undefined ? undefined : (keyUsage & KEY_USAGE.keyCertSign) !== 0 };
}

describe('describeCertificate and the issuer constraints the reader finds', () => {
  it('describes names, SANs, key, validity and every pin form', () => {
    const pki = createPki({ hosts: ['api.bank.test', '127.0.0.1'], keyType: 'ec-p384' });
    const details = describeCertificate(pki.leaf.pem);
    assert.equal(details.subject, 'O = Bank, CN = api.bank.test');
    assert.equal(details.issuer, 'O = Bank, CN = Bank Issuing CA');
    assert.deepEqual(details.subjectAltNames, ['DNS:api.bank.test', 'IP Address:127.0.0.1']);
    assert.equal(details.key, 'EC P-384');
    assert.equal(details.isCA, false);
    assert.equal(details.selfSigned, false);
    assert.ok(details.daysLeft >= 88 && details.daysLeft <= 90);
    assert.equal(details.spkiPin, openssl(pki.leaf.pem).spki);
    assert.equal(describeCertificate(pki.root.pem).selfSigned, true);
    assert.equal(describeCertificate(createCertificate({ commonName: 'r', key: generateKey('rsa2048') }).pem).key, 'RSA 2048');
  });

  it('reads basicConstraints path length and keyUsage keyCertSign from the DER', () => {
    const pki = createPki();
    assert.deepEqual(issuerConstraints(pki.intermediate.cert), { ca: true, pathLength: 0, keyCertSign: true });
    assert.deepEqual(issuerConstraints(pki.root.cert), { ca: true, pathLength: undefined, keyCertSign: true });
    assert.deepEqual(issuerConstraints(pki.leaf.cert), { ca: false, pathLength: undefined, keyCertSign: false });
    const noCertSign = createCertificate({ commonName: 'x', ca: true, caWithoutCertSign: true });
    assert.equal(issuerConstraints(noCertSign.cert).keyCertSign, false);
  });
});
