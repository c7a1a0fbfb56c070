/**
 * The C2SP x509-limbo suite against the live `openssl verify` and certpin: certpin's verdict (validatePath at the
 * case's time, then the host-name check Node applies) must equal OpenSSL's, except for the cases listed in
 * KNOWN_DIFFERENCES, each of which must be a refusal by certpin of something OpenSSL accepts, never the reverse.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { TrustAnchorIndex, validatePath } from '../src/core/path/index.js';
import type { PathValidation } from '../src/core/path/index.js';
import { certificateFacts } from '../src/core/x509/index.js';
import type { CertificateFacts } from '../src/core/x509/index.js';
import { ipv6SanMatchBroken } from './support/node-quirks.js';
import { opensslVerify } from './support/openssl-cli.js';

interface LimboCase {
  readonly id: string;
  readonly validation_kind: string;
  readonly trusted_certs: string[] | null;
  readonly untrusted_intermediates: string[] | null;
  readonly peer_certificate: string | null;
  readonly validation_time: string | null;
  readonly expected_result: 'SUCCESS' | 'FAILURE';
  readonly expected_peer_name: { kind: string; value: string } | null;
  readonly skipped?: string;
  readonly openssl_reference: { ok: boolean; detail: string; partial_chain: boolean } | null;
}

/**
 * Cases where certpin and OpenSSL 3.0 disagree on purpose. Every one is a refusal by certpin of a case OpenSSL
 * accepts (the test fails if one turns into an acceptance, or if a listed case stops disagreeing).
 */
export const KNOWN_DIFFERENCES: Readonly<Record<string, { readonly why: string; readonly tlsRefuses?: true }>> = {
  'cve::cve-2025-61727': {
    why: 'a wildcard SAN (*.example.com) under an excluded dNSName subtree it can match (bar.example.com): OpenSSL compares the pattern as a string, Node then accepts bar.example.com; certpin treats the excluded subtree as hit',
  },
  'rfc5280::nc::nc-forbids-dnsname-wildcard-san': {
    why: 'a wildcard SAN that can match a name in an excluded dNSName subtree: refused, as above',
  },
  'webpki::nc::intermediate-permitted-excluded-subtrees-both-empty-sequences': {
    why: 'an intermediate with empty permitted and excluded nameConstraints lists (RFC 5280 forbids empty lists): OpenSSL reads them as no constraint, certpin refuses such a CA on a path rather than guess',
  },
  'webpki::forbidden-p192-root': { why: 'a P-192 root key: below TLS security level 2 (the default of OpenSSL 3.2+, Node 22 and 24)', tlsRefuses: true },
  'webpki::forbidden-p192-leaf': { why: 'a P-192 leaf key: below TLS security level 2', tlsRefuses: true },
  'webpki::forbidden-dsa-root': { why: 'a DSA root: certpin verifies no DSA signatures (no TLS certificate authority uses DSA)' },
  'webpki::forbidden-dsa-leaf': { why: 'a DSA leaf key: certpin rates DSA keys at 0 bits (it supports no DSA), so it is below any security level' },
  'webpki::forbidden-weak-rsa-key-in-root': { why: 'an RSA-1024 root key: below TLS security level 2', tlsRefuses: true },
  'webpki::forbidden-weak-rsa-in-leaf': { why: 'an RSA-1024 leaf key: below TLS security level 2', tlsRefuses: true },
};

// The suite lives in the shared folder beside the repository (the C2SP x509-limbo cases, regenerated).
const suite = JSON.parse(readFileSync(new URL('../../shared/x509-limbo/limbo-cases.json', import.meta.url), 'utf8')) as { testcases: LimboCase[] };
const cases = suite.testcases.filter((c) => c.validation_kind === 'SERVER' && !c.skipped && c.peer_certificate && c.expected_peer_name);

function der(pem: string): Uint8Array | undefined {
  const body = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem)?.[1];
  return body ? Buffer.from(body.replace(/\s+/g, ''), 'base64') : undefined;
}

function facts(pem: string): CertificateFacts | undefined {
  const bytes = der(pem);
  if (!bytes) return undefined;
  const read = certificateFacts(bytes);
  return read.ok ? read.facts : undefined;
}

/** certpin's verdict: the path, then the host name as Node's checkServerIdentity checks it. */
function certpinVerdict(c: LimboCase): { ok: boolean; detail: string; path: PathValidation | undefined } {
  const leaf = facts(c.peer_certificate!);
  if (!leaf) return { ok: false, detail: 'leaf unreadable', path: undefined };
  const anchors = new TrustAnchorIndex(c.trusted_certs!.map((p) => der(p)).filter((d): d is Uint8Array => d !== undefined));
  const served = c.untrusted_intermediates!.map(facts).filter((f): f is CertificateFacts => f !== undefined);
  const path = validatePath(leaf, served, anchors, { now: c.validation_time ? Date.parse(c.validation_time) : Date.now(), partialChain: c.openssl_reference?.partial_chain ?? false });
  if (!path.verified) return { ok: false, detail: `${path.code}: ${path.reason}`, path };
  let identity: Error | undefined;
  try {
    identity = tls.checkServerIdentity(c.expected_peer_name!.value, new X509Certificate(leaf.der).toLegacyObject());
  } catch (error) {
    identity = error as Error;
  }
  return identity ? { ok: false, detail: `host name: ${identity.message}`, path } : { ok: true, detail: 'OK', path };
}

describe('x509-limbo: certpin against openssl verify', () => {
  const results: { id: string; openssl: { ok: boolean; detail: string }; opensslPath: boolean; opensslLevel2: boolean; certpin: { ok: boolean; detail: string }; ipv6Peer: boolean }[] = [];

  it(`runs the ${cases.length} server cases`, () => {
    for (const c of cases) {
      const base = {
        trusted: c.trusted_certs!,
        untrusted: c.untrusted_intermediates!,
        leaf: c.peer_certificate!,
        ...(c.validation_time ? { atTime: Math.floor(Date.parse(c.validation_time) / 1000) } : {}),
        partialChain: c.openssl_reference?.partial_chain ?? false,
      };
      const peer = c.expected_peer_name!;
      const openssl = opensslVerify({ ...base, ...(peer.kind === 'IP' ? { ip: peer.value } : { hostname: peer.value }) });
      const opensslPath = opensslVerify(base).ok;
      // What a TLS client at security level 2 decides (openssl verify applies no level unless asked).
      const opensslLevel2 = opensslVerify({ ...base, authLevel: 2 }).ok;
      results.push({ id: c.id, openssl, opensslPath, opensslLevel2, certpin: certpinVerdict(c), ipv6Peer: peer.kind === 'IP' && peer.value.includes(':') });
    }
    assert.equal(results.length, cases.length);
  });

  it('accepts nothing OpenSSL refuses', () => {
    const accepted = results.filter((r) => r.certpin.ok && !r.openssl.ok);
    assert.deepEqual(accepted.map((r) => `${r.id}: openssl ${r.openssl.detail}`), []);
  });

  it('refuses nothing OpenSSL accepts, except the documented differences', () => {
    // On a Node that matches no IPv6 host against IP SANs, every client refuses those hosts in Node's own check,
    // before certpin's: not a difference of certpin's path validation.
    const nodeRefuses = (r: (typeof results)[number]) => ipv6SanMatchBroken && r.ipv6Peer && r.certpin.detail.startsWith('host name:');
    const refused = results.filter((r) => !r.certpin.ok && r.openssl.ok && !(r.id in KNOWN_DIFFERENCES) && !nodeRefuses(r));
    assert.deepEqual(refused.map((r) => `${r.id}: certpin ${r.certpin.detail}`), []);
  });

  it('lists only differences that still exist', () => {
    const stale = Object.keys(KNOWN_DIFFERENCES).filter((id) => {
      const r = results.find((x) => x.id === id);
      return !r || r.certpin.ok === r.openssl.ok;
    });
    assert.deepEqual(stale, []);
  });

  it('the security-level differences are refused by OpenSSL at TLS security level 2 too', () => {
    for (const [id, known] of Object.entries(KNOWN_DIFFERENCES)) {
      if (!known.tlsRefuses) continue;
      assert.equal(results.find((r) => r.id === id)?.opensslLevel2, false, id);
    }
  });

  it('prints the table', () => {
    for (const r of results) {
      const mark = r.certpin.ok === r.openssl.ok ? '  ' : r.certpin.ok ? '!!' : '--';
      console.log(`${mark} ${r.id.padEnd(70)} openssl ${r.openssl.ok ? 'OK' : r.openssl.detail.padEnd(40)} path ${r.opensslPath ? 'ok' : 'no'} | certpin ${r.certpin.detail}`);
    }
  });
});
