import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePin } from '../src/tools/index.js';
import { InvalidPinError } from '../src/errors.js';
import { certificateDigests, pinMatches } from '../src/core/pin.js';
import { createCertificate } from './support/pki.js';

const SPKI = 'C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=';
const HEX = '96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6';
const COLON = HEX.toUpperCase().replace(/(..)(?!$)/g, '$1:');
const SHA1_HEX = 'cabd2a79a1076a31f21d253635cb039d4329a5e8';

describe('parsePin', () => {
  it('reads sha256/ SPKI pins (OkHttp, TrustKit)', () => {
    const pin = parsePin(`sha256/${SPKI}`);
    assert.equal(pin.kind, 'spki');
    assert.equal(pin.algorithm, 'sha256');
    assert.equal(pin.canonical, `sha256/${SPKI}`);
    assert.equal(pin.legacy, false);
  });

  it('reads the HPKP header form pin-sha256="…" as an SPKI pin', () => {
    assert.equal(parsePin(`pin-sha256="${SPKI}"`).canonical, `sha256/${SPKI}`);
  });

  it('reads openssl output, colon hex and plain hex of any case as certificate pins, all equal', () => {
    const forms = [`SHA256 Fingerprint=${COLON}`, `sha256 Fingerprint=${COLON.toLowerCase()}`, COLON, COLON.toLowerCase(), HEX, HEX.toUpperCase(), `SHA256:${COLON}`, `  ${COLON}  `];
    const canonical = new Set(forms.map((f) => parsePin(f).canonical));
    assert.deepEqual([...canonical], [`SHA256:${COLON}`]);
    for (const form of forms) assert.equal(parsePin(form).kind, 'certificate');
  });

  it('accepts SHA-1 forms as legacy', () => {
    const cert = parsePin(`SHA1 Fingerprint=${SHA1_HEX.toUpperCase().replace(/(..)(?!$)/g, '$1:')}`);
    assert.equal(cert.algorithm, 'sha1');
    assert.equal(cert.legacy, true);
    assert.equal(parsePin(SHA1_HEX).kind, 'certificate');
    const spki = parsePin(`sha1/${Buffer.alloc(20, 7).toString('base64')}`);
    assert.equal(spki.kind, 'spki');
    assert.equal(spki.legacy, true);
  });

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['sha256/', /not valid base64/],
    ['sha256/abc', /not valid base64/],
    [`sha256/${Buffer.alloc(31).toString('base64')}`, /32 bytes/],
    [`sha1/${SPKI}`, /20 bytes, this one decodes to 32/],
    ['md5/AAAA', /none of the accepted forms/],
    [HEX.slice(0, 62), /31 bytes/],
    [`${HEX.slice(0, 63)}g`, /none of the accepted forms/],
    ['AA:BB:C', /odd number of hex digits/],
    [SPKI, /write it as "sha256\//],
    [`SHA256 Fingerprint=${COLON.slice(3)}`, /31/],
    ['sha256/C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=\nsha256/x', /not valid base64/],
    // The same digest as C5+…r8M= but for bits beyond it: a copying error, not a second spelling of the pin.
    ['sha256/C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8N=', /last base64 character.*"sha256\/C5\+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M="/],
    ['pin-sha256="C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8P="', /last base64 character/],
    [`sha1/${Buffer.alloc(20, 7).toString('base64').slice(0, -2)}d=`, /last base64 character/],
  ];
  for (const [input, reason] of bad) {
    it(`refuses ${JSON.stringify(input.slice(0, 40))} with an error naming the input`, () => {
      assert.throws(() => parsePin(input), (error: unknown) => {
        assert.ok(error instanceof InvalidPinError);
        assert.equal(error.code, 'ERR_CERTPIN_INVALID_PIN');
        assert.match(error.message, reason);
        assert.ok(error.message.includes(JSON.stringify(input.slice(0, 20)).slice(1, -1)), error.message);
        assert.match(error.message, /sha256\/<base64/);
        return true;
      });
    });
  }

  it('refuses non-strings', () => {
    assert.throws(() => parsePin(42 as unknown as string), InvalidPinError);
    assert.throws(() => parsePin(undefined as unknown as string), InvalidPinError);
  });
});

describe('pinMatches', () => {
  it('matches an SPKI pin on the key and a certificate pin on the whole certificate, never crosswise', () => {
    const a = createCertificate({ commonName: 'a.test' });
    const renewed = createCertificate({ commonName: 'a.test', key: a.key });
    const digests = certificateDigests(a.der, a.key.publicKey.export({ type: 'spki', format: 'der' }));
    const renewedDigests = certificateDigests(renewed.der, renewed.key.publicKey.export({ type: 'spki', format: 'der' }));
    const spki = parsePin(`sha256/${digests.spkiSha256}`);
    const certPin = parsePin(Buffer.from(digests.certSha256, 'base64').toString('hex'));
    assert.ok(pinMatches(spki, digests));
    assert.ok(pinMatches(spki, renewedDigests), 'a key pin survives a renewal with the same key');
    assert.ok(pinMatches(certPin, digests));
    assert.ok(!pinMatches(certPin, renewedDigests), 'a certificate pin does not survive a renewal');
    // The same digest bytes read as the other kind must not match.
    const crossed = parsePin(`sha256/${digests.certSha256}`);
    assert.ok(!pinMatches(crossed, digests));
  });
});
