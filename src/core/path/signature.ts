/**
 * Certificate signature checks, memoised per (certificate, issuer key) across calls: a chain seen again costs no
 * public-key operation, and a server that repeats one certificate under many names cannot make certpin verify the
 * same signature twice.
 * @module
 */
import { constants, createHash, verify } from 'node:crypto';
import type { CertificateFacts, KeyInfo } from '../x509/index.js';

const MEMO_LIMIT = 16_384;
const memo = new Map<string, boolean>();
const spkiDigests = new WeakMap<CertificateFacts, string>();

function spkiDigest(c: CertificateFacts): string {
  let digest = spkiDigests.get(c);
  if (digest === undefined) {
    digest = createHash('sha256').update(c.spki).digest('hex');
    spkiDigests.set(c, digest);
  }
  return digest;
}

/**
 * Counts public-key operations so that a caller can bound them, by what they cost: a verification with an ordinary
 * key (EC up to P-384, EdDSA, RSA up to 8192 bits with an ordinary exponent) costs one unit, about half a millisecond
 * at most here; a costlier key (P-521, a larger RSA modulus, a longer RSA exponent) costs as many units as it takes
 * time. An RSA key with a 3000-bit exponent, which OpenSSL accepts at 3072 bits, costs 4.6 ms per verification; six of
 * them, counted as six, stalled the event loop 55 ms.
 */
export interface SignatureWork {
  /** Fresh verifications done (memo hits are free). */
  fresh: number;
  /** The units they cost. */
  cost: number;
  /** The most units allowed; a verification that would pass it throws {@link SignatureBudgetExceeded}. */
  readonly limit: number;
}

/**
 * The units a verification with `key` costs (see {@link SignatureWork}), from measured times: P-256 55 µs, P-384
 * 465 µs, P-521 1 ms; RSA 2048, 4096 and 8192 bits with e = 65537: 20, 54 and 191 µs, growing with the square of the
 * modulus and with the exponent's length.
 */
export function verificationCost(key: KeyInfo): number {
  if (key.family === 'rsa' || key.family === 'rsa-pss') {
    const modulus = key.bits / 8192;
    return Math.max(1, Math.ceil(0.4 * modulus * modulus * ((key.exponentBits ?? 17) / 17)));
  }
  if (key.family === 'ec' && key.bits > 384) return 2;
  return 1;
}

/** Thrown when a call would need more fresh signature verifications than its budget allows. */
export class SignatureBudgetExceeded extends Error {
  override readonly name = 'SignatureBudgetExceeded';
}

/**
 * Whether `subject`'s signature verifies with `issuer`'s public key, as X509_verify decides: the outer and inner
 * signature algorithms equal, an algorithm certpin supports, and the signature valid.
 * @throws {SignatureBudgetExceeded} when the answer is not memoised and `work` has no fresh verification left.
 */
export function signatureVerifies(subject: CertificateFacts, issuer: CertificateFacts, work: SignatureWork): boolean {
  const scheme = subject.signatureScheme;
  if (!subject.signatureAlgorithmsMatch || !scheme.supported || scheme.hash === undefined) return false;
  const key = `${subject.sha256}:${spkiDigest(issuer)}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  const cost = verificationCost(issuer.key);
  if (work.cost + cost > work.limit) throw new SignatureBudgetExceeded(`more signature verification than ${work.limit} ordinary ones cost`);
  work.fresh++;
  work.cost += cost;
  let ok: boolean;
  try {
    const publicKey = issuer.publicKey();
    ok =
      scheme.keyFamily === 'rsa-pss'
        ? verify(scheme.hash, subject.tbs, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.pssSaltLength! }, subject.signature)
        : verify(scheme.hash, subject.tbs, publicKey, subject.signature);
  } catch {
    ok = false;
  }
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value!);
  memo.set(key, ok);
  return ok;
}

/** Forgets every memoised signature result (for tests and benchmarks of cold paths). */
export function clearSignatureMemo(): void {
  memo.clear();
}
