/**
 * A chain judged two ways: by certpin's path validator and by `openssl verify -purpose sslserver`. Shared by the
 * path-validation suites.
 */
import { TrustAnchorIndex, validatePath } from '../../src/core/path/index.js';
import type { PathValidation } from '../../src/core/path/index.js';
import { certificateFacts } from '../../src/core/x509/index.js';
import type { CertificateFacts } from '../../src/core/x509/index.js';
import { opensslVerify } from './openssl-cli.js';
import type { Built } from './x509-builder.js';

export interface PathCase {
  readonly anchors: readonly Built[];
  /** Leaf first, then what the server sends, in order. */
  readonly chain: readonly Built[];
  readonly host: string;
  readonly partialChain?: boolean;
}

/** The facts of a certificate the test built; a test certificate certpin cannot read is a broken test. */
export function factsOf(b: Built): CertificateFacts {
  const read = certificateFacts(b.der);
  if (!read.ok) throw new Error(`unreadable test certificate: ${read.reason}`);
  return read.facts;
}

/** certpin's path validation of the case, now. */
export function validateCase(c: PathCase): PathValidation {
  const [first, ...rest] = c.chain.map(factsOf);
  return validatePath(first!, rest, new TrustAnchorIndex(c.anchors.map((a) => a.der)), { now: Date.now(), partialChain: c.partialChain ?? false });
}

/** OpenSSL's verdict on the case, with the host checked as a name or an IP address. */
export function opensslVerdict(c: PathCase): { ok: boolean; detail: string } {
  const isIp = /^[\d.]+$|:/.test(c.host);
  return opensslVerify({
    trusted: c.anchors.map((a) => a.pem),
    untrusted: c.chain.slice(1).map((b) => b.pem),
    leaf: c.chain[0]!.pem,
    ...(isIp ? { ip: c.host } : { hostname: c.host }),
    partialChain: c.partialChain ?? false,
  });
}
