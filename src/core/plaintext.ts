/**
 * The plain-HTTP side of pinning: a request without TLS is refused when any name it is for has a pin set (a
 * redirect from https to http would strip the pinning), under `onlyPinnedHosts`, or for a name the policy cannot
 * read. Every client asks this one function, with every name it knows: the origin's host, the request's Host, the
 * name an interceptor resolved away (undici's `dns` interceptor swaps the name for an address).
 * @module
 */
import { InsecureRedirectError } from '../errors.js';
import { formatAuthority, unbracketHost } from './hostname.js';
import type { PinPolicy } from './policy.js';

/**
 * The refusal of a plain-HTTP request for `names`, or `undefined` when the policy lets every one of them go
 * unencrypted. Only the origin goes into the message: a path or query may carry secrets, and errors end up in logs.
 * @param names the origin's host first (it names the refused URL), then any other name the request is for.
 */
export function plaintextRefusal(policy: PinPolicy, names: readonly (string | undefined | null)[], port: number | string | null | undefined): InsecureRedirectError | undefined {
  const hosts = names.filter((n): n is string => typeof n === 'string' && n !== '').map(hostOfAuthority);
  if (hosts.length === 0) hosts.push('localhost');
  if (hosts.every((host) => policy.allowsPlaintext(host))) return undefined;
  return new InsecureRedirectError(`http://${formatAuthority(hosts[0]!, port === undefined || port === null || port === '' ? 80 : port, 80)}/`);
}

/** The host of an authority (`name:port`, `[v6]:port`, or a bare host). */
export function hostOfAuthority(authority: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(authority);
  if (bracketed) return bracketed[1]!;
  const colon = authority.indexOf(':');
  // More than one colon and no brackets: a bare IPv6 literal.
  if (colon !== -1 && authority.indexOf(':', colon + 1) === -1) return authority.slice(0, colon);
  return unbracketHost(authority);
}

/** Whether a header name is Host, in any case. Every request asks: the length is compared first. */
export function isHostHeaderName(name: unknown): boolean {
  const text = typeof name === 'string' ? name : String(name);
  return text.length === 4 && text.toLowerCase() === 'host';
}
