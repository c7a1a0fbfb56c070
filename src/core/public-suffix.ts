/**
 * Public suffixes (ICANN section of the Public Suffix List): a pin pattern that covers every domain under one, such
 * as `**.com` or `*.co.uk`, is refused.
 * @module
 */
import { createRequire } from 'node:module';

let suffixOf: ((host: string) => string | null) | undefined;

/**
 * Whether `name` (normalised) is itself a public suffix. The list is loaded on the first call, synchronously (policy
 * construction is synchronous) and only by policies with wildcard patterns: most processes never pay for it.
 */
export function isPublicSuffix(name: string): boolean {
  if (!suffixOf) {
    const list = createRequire(import.meta.url)('tldts-icann') as { getPublicSuffix(host: string): string | null };
    suffixOf = (host) => list.getPublicSuffix(host);
  }
  return suffixOf(name) === name;
}

/**
 * Whether a name one label below `name` is a public suffix although `name` is not: the list's wildcard rules
 * (`*.yokohama.jp`, `*.ck`) make every child of such a name a suffix, so a pattern `*.yokohama.jp` would cover
 * every domain registered under them. The probe label cannot match an exception rule (`!city.yokohama.jp`).
 */
export function hasPublicSuffixChildren(name: string): boolean {
  return isPublicSuffix(`certpin-probe-label.${name}`);
}
