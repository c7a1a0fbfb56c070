/**
 * A bounded, process-wide cache of certificate facts keyed by the certificate's SHA-256, so that a server's chain is
 * parsed once per process rather than once per handshake. The handshake path can key it with Node's
 * `fingerprint256` (colon hex), which Node has already computed, and skip hashing the DER again.
 * @module
 */
import { createHash } from 'node:crypto';
import type { X509Certificate } from 'node:crypto';
import { readCertificate } from './certificate.js';
import type { CertificateReadResult } from './certificate.js';

// A few thousand certificates: every chain a busy client meets, at some kilobytes each.
const LIMIT = 2048;
const cache = new Map<string, CertificateReadResult>();
const HEX_DIGITS = '0123456789abcdef';
/** The value of each ASCII hex digit, -1 for every other code unit below 128. */
const HEX_VALUE = Int8Array.from({ length: 128 }, (_, code) => {
  const c = String.fromCharCode(code).toLowerCase();
  return HEX_DIGITS.includes(c) && c !== '' ? HEX_DIGITS.indexOf(c) : -1;
});

/**
 * Normalises a certificate digest to lower-case hex: accepts 32 bytes, 64 hex digits, or `AB:CD:…` as Node's
 * `X509Certificate.fingerprint256` and `PeerCertificate.fingerprint256` print it.
 * @returns `undefined` when the input is none of these.
 */
export function normaliseDigest(digest: string | Uint8Array): string | undefined {
  if (typeof digest !== 'string') return digest.length === 32 ? Buffer.from(digest).toString('hex') : undefined;
  if (digest.length === 95) return colonHex(digest);
  return digest.length === 64 && /^[0-9a-fA-F]{64}$/.test(digest) ? digest.toLowerCase() : undefined;
}

/** `AB:CD:…` (Node's fingerprint256) to `abcd…`, or undefined; a plain loop, since it runs in every new handshake. */
function colonHex(digest: string): string | undefined {
  let hex = '';
  for (let i = 0; i < 95; i += 3) {
    if (i > 0 && digest.charCodeAt(i - 1) !== 0x3a) return undefined;
    const high = HEX_VALUE[digest.charCodeAt(i)];
    const low = HEX_VALUE[digest.charCodeAt(i + 1)];
    if (high === undefined || low === undefined || high < 0 || low < 0) return undefined;
    hex += HEX_DIGITS[high]! + HEX_DIGITS[low]!;
  }
  return hex;
}

/**
 * The facts of a certificate, from the cache or parsed now. Never throws.
 * @param digest the DER's SHA-256 if the caller has it (bytes, hex or Node's `fingerprint256`); it is trusted to be
 *   the digest of `der`.
 * @param parsed Node's `X509Certificate` of `der`, if the caller has one: see {@link readCertificate}. A certificate
 *   already in the cache keeps the facts it has.
 * @example
 * ```ts
 * const peer = socket.getPeerCertificate(true);
 * const read = certificateFacts(peer.raw, peer.fingerprint256);
 * ```
 */
export function certificateFacts(der: Uint8Array, digest?: string | Uint8Array, parsed?: X509Certificate): CertificateReadResult {
  const key = (digest === undefined ? undefined : normaliseDigest(digest)) ?? createHash('sha256').update(der).digest('hex');
  const hit = cache.get(key);
  if (hit) {
    // Refresh the entry's place so that the oldest unused one is dropped first.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const read = readCertificate(der, key, parsed);
  if (cache.size >= LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, read);
  return read;
}

/** Empties the cache (tests and benchmarks measure cold paths with it). */
export function clearCertificateFactsCache(): void {
  cache.clear();
}
