/**
 * Host names and host patterns: normalisation (case, trailing dot, IDN to punycode, IP literals) and the three
 * pattern forms of OkHttp's CertificatePinner: `api.example.com` (exact), `*.example.com` (exactly one more label),
 * `**.example.com` (the name itself and any depth below it).
 * @module
 */
import { domainToASCII } from 'node:url';
import { isIP } from '../builtins.js';

/** Lower-case LDH (and `_`) labels of 1 to 63 characters that neither start nor end with `-`, dot-separated. */
const ALREADY_NORMAL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

const LAST_LABEL_IS_A_NAME = /(?:^|\.)[a-z_][^.]*$/;

/** `::ffff:a.b.c.d` as the URL parser writes it: `::ffff:HHHH:HHHH`. */
const IPV4_MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/** A parsed host pattern. */
export interface HostPattern {
  readonly type: 'exact' | 'one-label' | 'any-depth';
  /** The normalised name the pattern is anchored at (without the `*.`/`**.` prefix). */
  readonly base: string;
  /** The pattern as written after normalisation, e.g. `*.example.com`. */
  readonly text: string;
}

/**
 * Normalises a host name or IP literal: lower case, no trailing dot, IDN to punycode, IPv6 without brackets in
 * canonical form, IPv4 in dotted-decimal (also when written as an IPv4-mapped IPv6 address, `::ffff:127.0.0.1`, or
 * in the shorthand forms URL parsers and resolvers accept, `127.1`, `0x7f000001`). Returns `undefined` for anything
 * that is not a valid host.
 */
export function normalizeHost(input: string): string | undefined {
  if (typeof input !== 'string') return undefined;
  // Every handshake normalises its host: names already in normal form skip the IDN conversion. Punycode labels
  // (which need validating) and a last label starting with a digit (URL parsers may read the name as an IPv4
  // address: 0x7f.1, 127.1) take the full path.
  if (input.length <= 253 && ALREADY_NORMAL.test(input) && LAST_LABEL_IS_A_NAME.test(input) && !input.includes('xn--')) return input;
  let host = input.trim();
  if (host === '' || host !== input) return undefined;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const zone = host.indexOf('%');
  if (isIP(zone === -1 ? host : host.slice(0, zone)) === 6) {
    let canonical: string;
    try {
      canonical = new URL(`http://[${host}]/`).hostname.slice(1, -1);
    } catch {
      return undefined;
    }
    // An IPv4-mapped IPv6 address reaches the IPv4 host: it must meet that literal's pin set.
    const mapped = IPV4_MAPPED.exec(canonical);
    if (!mapped) return canonical;
    const high = parseInt(mapped[1]!, 16);
    const low = parseInt(mapped[2]!, 16);
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  if (isIP(host) === 4) return host;
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.includes('..') || /[\s/?#@:\\]/.test(host)) return undefined;
  const ascii = domainToASCII(host);
  if (!ascii || ascii.length > 253) return undefined;
  // A name made only of digits and dots that is not a valid IPv4 address would be read as one by URL parsers.
  if (/^[\d.]+$/.test(ascii)) return isIP(ascii) === 4 ? ascii : undefined;
  for (const label of ascii.split('.')) {
    if (label.length === 0 || label.length > 63 || !/^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/.test(label)) return undefined;
  }
  return ascii;
}

/**
 * A best-effort lower-case form of a name that {@link normalizeHost} refuses (`X!y.Example.COM.` →
 * `x!y.example.com`), label by label, only to find the pin set its readable labels fall under. It never makes a name
 * count as unpinned.
 */
export function lenientHostName(input: string): string | undefined {
  if (typeof input !== 'string') return undefined;
  let host = input.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  host = host.replace(/\.+$/, '');
  if (host === '' || host.length > 1024) return undefined;
  return host
    .split('.')
    // Only labels with non-ASCII characters go through IDNA: the URL parser reads a number-like label ("1", "0x10")
    // as an IPv4 address, which would file the name under another pin set.
    .map((label) => (/[^ -~]/.test(label) ? domainToASCII(label) || label : label))
    .join('.');
}

/** A URL's hostname as sockets take it: an IPv6 literal without its brackets. */
export function unbracketHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** `host:port` as a URL authority writes it: an IPv6 literal in brackets, no port when it is `defaultPort`. */
export function formatAuthority(host: string, port: number | string, defaultPort?: number): string {
  const name = isIP(host) === 6 ? `[${host}]` : host;
  return Number(port) === defaultPort ? name : `${name}:${port}`;
}

/** Whether a normalised host is an IP literal (policy patterns with wildcards never apply to those). */
export function isIpLiteral(host: string): boolean {
  // Every connection asks, mostly of names: an IPv4 literal ends with a digit and an IPv6 one has a colon, and a name
  // with neither is not worth Node's regular expressions.
  const last = host.charCodeAt(host.length - 1);
  if (!(last >= 0x30 && last <= 0x39) && !host.includes(':')) return false;
  return isIP(host) !== 0;
}

/**
 * Parses a host pattern. Returns a reason string instead of a pattern when it is not valid, so that the policy can
 * name the offending entry.
 */
export function parseHostPattern(input: string): HostPattern | string {
  if (typeof input !== 'string' || input.trim() === '') return 'a host pattern must be a non-empty string';
  let type: HostPattern['type'] = 'exact';
  let rest = input;
  if (input.startsWith('**.')) {
    type = 'any-depth';
    rest = input.slice(3);
  } else if (input.startsWith('*.')) {
    type = 'one-label';
    rest = input.slice(2);
  }
  if (rest.includes('*')) return 'a wildcard may only be the whole first label, as in "*.example.com" or "**.example.com"';
  const base = normalizeHost(rest);
  if (!base) return `"${rest}" is not a valid host name or IP address`;
  if (type !== 'exact' && isIpLiteral(base)) return 'wildcards do not apply to IP addresses';
  const text = type === 'exact' ? base : `${type === 'any-depth' ? '**' : '*'}.${base}`;
  return { type, base, text };
}

/** The names above a host, closest first: `a.b.example.com` → `b.example.com`, `example.com`, `com`. */
export function parentDomains(host: string): string[] {
  if (isIpLiteral(host)) return [];
  const parents: string[] = [];
  for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) parents.push(host.slice(dot + 1));
  return parents;
}
