/**
 * Algorithm encodings against OpenSSL: the same keys and signatures written the ways certificates in the field write
 * them (an EC key as a compressed point, an RSA key without the NULL parameters, a signature algorithm with NULL,
 * absent or other parameters, the outer algorithm different from the inner one). Before this test certpin refused
 * ECDSA and PKCS#1 v1.5 signature algorithms with parameters other than absent (ECDSA) or NULL (RSA), which OpenSSL
 * ignores. Each chain is judged by `openssl
 * verify -purpose sslserver`, by a real handshake of the Node running the tests (the path alone) and by certpin's path
 * validator: certpin must accept no chain either refuses, and refuse none both accept.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { der, readChildren, readElement } from '../src/core/der.js';
import { judgePath } from './support/path-case.js';
import { HandshakeProbe } from './support/tls-probe.js';
import { intermediate, leaf, pooledKey, root } from './support/x509-builder.js';
import type { CertSpec, KeyPair } from './support/x509-builder.js';

const HOST = 'alg.bank.test';
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const RSA_SHA256 = '1.2.840.113549.1.1.11';

/** The subjectPublicKey bits of a key's usual SPKI. */
function publicKeyBits(key: KeyPair): Buffer {
  const spki = key.publicKey.export({ type: 'spki', format: 'der' });
  const bits = readChildren(spki, readElement(spki))[1]!;
  return spki.subarray(bits.start + 1, bits.end);
}

/** A P-256 key's SPKI with the point compressed (02/03 and X), as some CAs write it. */
function compressedSpki(key: KeyPair): Buffer {
  const point = publicKeyBits(key);
  const x = point.subarray(1, 33);
  const yOdd = point[64]! & 1;
  return der.sequence(der.sequence(der.oid('1.2.840.10045.2.1'), der.oid('1.2.840.10045.3.1.7')), der.bitString(Buffer.concat([Buffer.from([yOdd ? 0x03 : 0x02]), x])));
}

/** A P-256 key's SPKI with the curve written out (explicit ECParameters, from `openssl ecparam`) instead of named. */
function explicitCurveSpki(key: KeyPair): Buffer {
  const parameters = execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-param_enc', 'explicit', '-outform', 'DER']);
  return der.sequence(der.sequence(der.oid('1.2.840.10045.2.1'), parameters), der.bitString(publicKeyBits(key)));
}

/** An RSA key's SPKI without the NULL parameters of rsaEncryption. */
function rsaSpkiWithoutNull(key: KeyPair): Buffer {
  return der.sequence(der.sequence(der.oid('1.2.840.113549.1.1.1')), der.bitString(publicKeyBits(key)));
}

interface AlgorithmCase {
  readonly name: string;
  /** How the intermediate is written (its key), and how the leaf it signs is written (the signature algorithm). */
  readonly issuerKey: 'ec' | 'rsa' | 'ed25519';
  readonly intermediate?: (key: KeyPair) => Partial<CertSpec>;
  readonly leaf?: Partial<CertSpec>;
}

const CASES: readonly AlgorithmCase[] = [
  { name: 'P-256, as usual', issuerKey: 'ec' },
  { name: 'P-256 intermediate key as a compressed point', issuerKey: 'ec', intermediate: (key) => ({ spkiDer: compressedSpki(key) }) },
  { name: 'P-256 intermediate key with the curve written out (explicit parameters)', issuerKey: 'ec', intermediate: (key) => ({ spkiDer: explicitCurveSpki(key) }) },
  { name: 'ecdsa-with-SHA256 with NULL parameters', issuerKey: 'ec', leaf: { signatureAlgorithmDer: der.sequence(der.oid(ECDSA_SHA256), der.null()) } },
  { name: 'ecdsa-with-SHA256 with INTEGER parameters', issuerKey: 'ec', leaf: { signatureAlgorithmDer: der.sequence(der.oid(ECDSA_SHA256), der.integer(0)) } },
  { name: 'outer ecdsa-with-SHA256 with NULL, inner without', issuerKey: 'ec', leaf: { outerSignatureAlgorithmDer: der.sequence(der.oid(ECDSA_SHA256), der.null()) } },
  { name: 'RSA, as usual', issuerKey: 'rsa' },
  { name: 'RSA intermediate key without NULL parameters', issuerKey: 'rsa', intermediate: (key) => ({ spkiDer: rsaSpkiWithoutNull(key) }) },
  { name: 'sha256WithRSAEncryption without parameters', issuerKey: 'rsa', leaf: { signatureAlgorithmDer: der.sequence(der.oid(RSA_SHA256)) } },
  { name: 'sha256WithRSAEncryption with INTEGER parameters', issuerKey: 'rsa', leaf: { signatureAlgorithmDer: der.sequence(der.oid(RSA_SHA256), der.integer(0)) } },
  { name: 'outer sha256WithRSAEncryption without parameters, inner with NULL', issuerKey: 'rsa', leaf: { outerSignatureAlgorithmDer: der.sequence(der.oid(RSA_SHA256)) } },
  { name: 'Ed25519, as usual', issuerKey: 'ed25519' },
  { name: 'Ed25519 with NULL parameters', issuerKey: 'ed25519', leaf: { signatureAlgorithmDer: der.sequence(der.oid('1.3.101.112'), der.null()) } },
  { name: 'Ed25519 with INTEGER parameters', issuerKey: 'ed25519', leaf: { signatureAlgorithmDer: der.sequence(der.oid('1.3.101.112'), der.integer(0)) } },
];

describe("algorithm encodings against openssl verify and Node's handshake", () => {
  const probe = new HandshakeProbe();
  before(() => probe.start());
  after(() => probe.stop());

  for (const c of CASES) {
    it(c.name, async () => {
      const issuerKey = pooledKey(c.issuerKey === 'ec' ? 'ec-p256' : c.issuerKey === 'rsa' ? 'rsa2048' : 'ed25519', 21);
      const r = root('Algorithms Root', { key: pooledKey('ec-p256', 20) });
      const ca = intermediate('Algorithms CA', r, { key: issuerKey, ...c.intermediate?.(issuerKey) });
      const l = leaf(HOST, ca, { key: pooledKey('ec-p256', 22), ...c.leaf });
      const { openssl, node, certpin, bothAccept } = await judgePath({ anchors: [r], chain: [l, ca], host: HOST }, probe);
      const verdicts = `openssl ${openssl.detail}; Node ${node.detail}; certpin ${certpin.verified ? 'OK' : `${certpin.code}: ${certpin.reason}`}`;
      if (certpin.verified) assert.ok(bothAccept, `certpin accepted what OpenSSL refuses: ${verdicts}`);
      if (bothAccept) assert.ok(certpin.verified, `certpin refused what OpenSSL accepts: ${verdicts}`);
    });
  }
});
