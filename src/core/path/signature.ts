/**
 * Certificate signature checks, memoised per (certificate, issuer key) across calls: a chain seen again costs no
 * public-key operation, and a server that repeats one certificate under many names cannot make certpin verify the
 * same signature twice.
 * @module
 */
import { constants, createHash, verify } from 'node:crypto';
import type { CertificateFacts } from '../x509/index.js';

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

/** Counts public-key operations so that a caller can bound them. */
export interface SignatureWork {
  /** Fresh verifications done (memo hits are free). */
  fresh: number;
  /** The most fresh verifications allowed; one more throws {@link SignatureBudgetExceeded}. */
  readonly limit: number;
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
  if (work.fresh >= work.limit) throw new SignatureBudgetExceeded(`more than ${work.limit} signature verifications`);
  work.fresh++;
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
