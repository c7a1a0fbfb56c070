/**
 * A chain judged two ways: by certpin's path validator and by `openssl verify -purpose sslserver`; or three ways, the
 * path alone, with a real handshake of the running Node as well. Shared by the path-validation suites.
 */
import { TrustAnchorIndex, validatePath, validateServedChain } from '../../src/core/path/index.js';
import type { PathValidation } from '../../src/core/path/index.js';
import { certificateFacts } from '../../src/core/x509/index.js';
import type { CertificateFacts } from '../../src/core/x509/index.js';
import { opensslVerify } from './openssl-cli.js';
import type { OpensslVerdict } from './openssl-cli.js';
import type { HandshakeProbe, HandshakeVerdict } from './tls-probe.js';
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

/** The three verdicts on a case's path (host names are not checked). */
export interface PathVerdicts {
  readonly openssl: OpensslVerdict;
  readonly node: HandshakeVerdict;
  /** certpin as the handshake runs it (validateServedChain: an unreadable leaf is refused, see its rule for others). */
  readonly certpin: PathValidation;
  /** Whether OpenSSL and Node both accept: certpin must accept then, unless it is stricter on purpose, and only then. */
  readonly bothAccept: boolean;
}

/** Judges the case's path by `openssl verify`, by a handshake of this Node through `probe`, and by certpin. */
export async function judgePath(c: PathCase, probe: HandshakeProbe): Promise<PathVerdicts> {
  const [leaf, ...served] = c.chain;
  const openssl = opensslVerify({ trusted: c.anchors.map((a) => a.pem), untrusted: served.map((b) => b.pem), leaf: leaf!.pem, partialChain: c.partialChain ?? false });
  const node = await probe.handshake({ keyPem: leaf!.key.keyPem, chainPem: c.chain.map((b) => b.pem).join(''), anchorsPem: c.anchors.map((a) => a.pem), host: c.host, partialChain: c.partialChain, checkHost: false });
  const certpin = validateServedChain(c.chain.map((b) => b.der), new TrustAnchorIndex(c.anchors.map((a) => a.der)), { now: Date.now(), partialChain: c.partialChain ?? false });
  return { openssl, node, certpin, bothAccept: openssl.ok && node.ok };
}
