/**
 * Name constraints as OpenSSL enforces them (v3_ncons.c: NAME_CONSTRAINTS_check, nc_match, nc_dns, nc_ip, nc_email,
 * nc_uri, nc_dn, NAME_CONSTRAINTS_check_CN), made stricter where OpenSSL cannot see what Node's host-name check will
 * accept:
 * - a wildcard dNSName (`*.example.com`) is within a permitted subtree only if every name it can match is, and it
 *   hits an excluded subtree if any name it can match would;
 * - a trailing-dot dNSName is compared without the dot against excluded subtrees (Node's check ignores the dot);
 * - an IPv4-mapped IPv6 address hits an excluded IPv4 subtree;
 * - a leaf without DNS SAN has every commonName Node could read as a host name checked as a DNS name (OpenSSL checks
 *   only the ones that look like multi-label host names; Node's fallback also matches `*.evil.com` or `intranet`).
 * In short: a permitted subtree that cannot be shown to hold is a violation, an excluded one that cannot be ruled
 * out is a match.
 * @module
 */
import { canonicalPrefix } from '../x509/index.js';
import type { CertificateFacts, GeneralName, NameConstraints } from '../x509/index.js';

/** Why a name constraint check failed. */
export type NameConstraintFailure =
  | 'permitted-violation'
  | 'excluded-violation'
  | 'unsupported-constraint-type'
  | 'unsupported-name-syntax'
  | 'subtree-minmax'
  | 'too-many-names';

type Single = 'match' | 'no-match' | NameConstraintFailure;

const OID_COMMON_NAME = '2.5.4.3';
const OID_EMAIL_ADDRESS = '1.2.840.113549.1.9.1';
const OID_SMTP_UTF8_MAILBOX = '1.3.6.1.5.5.7.8.9';
// OpenSSL refuses when names × constraints exceed this (NAME_CHECK_MAX), so that checking stays cheap.
const NAME_CHECK_MAX = 1 << 20;

/**
 * Checks the names of `x` (subject DN, its emailAddress attributes, subjectAltName, and for the leaf the commonName
 * fallback) against one issuer's `constraints`.
 * @returns `undefined` when the names are within the constraints.
 */
export function checkNameConstraints(x: CertificateFacts, constraints: NameConstraints, isLeaf: boolean): NameConstraintFailure | undefined {
  const sans = x.subjectAltNames ?? [];
  const nameCount = x.subject.attributes.length + sans.length;
  const constraintCount = constraints.permitted.length + constraints.excluded.length;
  if (nameCount > 0 && constraintCount > NAME_CHECK_MAX / nameCount) return 'too-many-names';
  if (x.subject.attributes.length > 0) {
    const r = match({ type: 'directoryName', name: x.subject }, constraints);
    if (r) return r;
    for (const attribute of x.subject.attributes) {
      if (attribute.oid !== OID_EMAIL_ADDRESS) continue;
      if (attribute.tag !== 0x16 || attribute.text === undefined) return 'unsupported-name-syntax';
      const r2 = match({ type: 'rfc822Name', value: Buffer.from(attribute.text, 'latin1') }, constraints);
      if (r2) return r2;
    }
  }
  for (const san of sans) {
    const r = match(san, constraints);
    if (r) return r;
  }
  if (isLeaf && !sans.some((n) => n.type === 'dNSName')) {
    for (const attribute of x.subject.attributes) {
      if (attribute.oid !== OID_COMMON_NAME) continue;
      if (attribute.text === undefined) return 'unsupported-name-syntax';
      const id = commonNameAsDnsId(attribute.text);
      if (id === 'invalid') return 'unsupported-name-syntax';
      if (id === undefined) continue;
      const r = match({ type: 'dNSName', value: id }, constraints);
      if (r) return r;
    }
  }
  return undefined;
}

/**
 * The DNS identity a commonName stands for, when OpenSSL (cn2dnsid) or Node's host-name fallback could treat it as
 * one: `undefined` when neither could, `'invalid'` for an embedded NUL (OpenSSL's unsupported name syntax).
 */
function commonNameAsDnsId(text: string): Uint8Array | undefined | 'invalid' {
  let value = Buffer.from(text, 'utf8');
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  value = value.subarray(0, end);
  if (value.includes(0)) return 'invalid';
  // Node matches a pattern of printable ASCII without empty labels (after dropping one trailing dot).
  const pattern = value.length > 0 && value[value.length - 1] === 0x2e ? value.subarray(0, -1) : value;
  const nodeUsable = pattern.length > 0 && pattern.every((b) => b >= 0x21 && b <= 0x7f) && !pattern.toString('latin1').split('.').includes('');
  return nodeUsable || opensslDnsLike(value) ? value : undefined;
}

function opensslDnsLike(v: Uint8Array): boolean {
  let dns = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f) continue;
    if (i > 0 && i < v.length - 1) {
      if (c === 0x2d) continue;
      if (c === 0x2e && v[i + 1] !== 0x2e && v[i - 1] !== 0x2d && v[i + 1] !== 0x2d) {
        dns = true;
        continue;
      }
    }
    return false;
  }
  return dns;
}

function sameType(name: GeneralName, base: GeneralName): boolean {
  if (name.type !== base.type) return false;
  return name.type !== 'otherName' || (base.type === 'otherName' && base.typeId === name.typeId);
}

/** nc_match: permitted subtrees of the name's type (at least one must match), then excluded ones (none may). */
function match(name: GeneralName, nc: NameConstraints): NameConstraintFailure | undefined {
  // An SmtpUTF8Mailbox otherName is an email address to OpenSSL; certpin does not compare those, so any email
  // constraint makes the answer unknown, hence a failure.
  if (name.type === 'otherName' && name.typeId === OID_SMTP_UTF8_MAILBOX) {
    const emailConstrained = [...nc.permitted, ...nc.excluded].some((s) => s.base.type === 'rfc822Name');
    if (emailConstrained) return 'unsupported-name-syntax';
  }
  let state: 0 | 1 | 2 = 0;
  for (const subtree of nc.permitted) {
    if (!sameType(name, subtree.base)) continue;
    if (!subtree.minMaxValid) return 'subtree-minmax';
    if (state === 2) continue;
    state = 1;
    const r = single(name, subtree.base, 'permitted');
    if (r === 'match') state = 2;
    else if (r !== 'no-match') return r;
  }
  if (state === 1) return 'permitted-violation';
  for (const subtree of nc.excluded) {
    if (!sameType(name, subtree.base)) continue;
    if (!subtree.minMaxValid) return 'subtree-minmax';
    const r = single(name, subtree.base, 'excluded');
    if (r === 'match') return 'excluded-violation';
    if (r !== 'no-match') return r;
  }
  return undefined;
}

function single(name: GeneralName, base: GeneralName, mode: 'permitted' | 'excluded'): Single {
  if (name.type === 'directoryName' && base.type === 'directoryName') return canonicalPrefix(base.name, name.name) ? 'match' : 'no-match';
  if (name.type === 'dNSName' && base.type === 'dNSName') return dnsMatch(name.value, base.value, mode);
  if (name.type === 'rfc822Name' && base.type === 'rfc822Name') return emailMatch(name.value, base.value);
  if (name.type === 'uniformResourceIdentifier' && base.type === 'uniformResourceIdentifier') return uriMatch(name.value, base.value);
  if (name.type === 'iPAddress' && base.type === 'iPAddress') return ipMatch(name.value, base.value, mode);
  return 'unsupported-constraint-type';
}

const lower = (b: number): number => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b);

function equalIgnoringCase(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (lower(a[aStart + i]!) !== lower(b[bStart + i]!)) return false;
  return true;
}

/** nc_dns: an empty base matches all; otherwise the base is a suffix at a label boundary (or begins with a dot). */
function opensslDns(dns: Uint8Array, base: Uint8Array): boolean {
  if (base.length === 0) return true;
  if (dns.length < base.length) return false;
  const offset = dns.length - base.length;
  if (offset > 0 && base[0] !== 0x2e && dns[offset - 1] !== 0x2e) return false;
  return equalIgnoringCase(dns, offset, base, 0, base.length);
}

function dnsMatch(dns: Uint8Array, base: Uint8Array, mode: 'permitted' | 'excluded'): Single {
  const wildcard = dns.includes(0x2a);
  if (mode === 'permitted') {
    // A wildcard base could itself be read as a pattern; a wildcard name is only shown within a base without one.
    return opensslDns(dns, base) && !(wildcard && base.includes(0x2a)) ? 'match' : 'no-match';
  }
  if (opensslDns(dns, base)) return 'match';
  const undotted = dns.length > 1 && dns[dns.length - 1] === 0x2e ? dns.subarray(0, -1) : dns;
  if (undotted !== dns && opensslDns(undotted, base)) return 'match';
  if (wildcard) {
    // `*.example.com` can match any one label under example.com: an excluded base that is such a name, or that a
    // wildcard base could be, is treated as matched.
    const firstDot = undotted.indexOf(0x2e);
    if (firstDot < 0) return 'match';
    const rest = undotted.subarray(firstDot);
    const b = base[0] === 0x2e ? base.subarray(1) : base;
    const baseDot = b.indexOf(0x2e);
    if (baseDot >= 0 && b.length - baseDot === rest.length && equalIgnoringCase(b, baseDot, rest, 0, rest.length)) return 'match';
  }
  return 'no-match';
}

/** nc_email: `.domain` matches below it, `domain` the host part, `local@domain` the whole address. */
function emailMatch(email: Uint8Array, base: Uint8Array): Single {
  const at = email.lastIndexOf(0x40);
  if (at < 0) return 'unsupported-name-syntax';
  const baseAt = base.lastIndexOf(0x40);
  if (baseAt < 0 && base.length > 0 && base[0] === 0x2e) {
    if (email.length > base.length && equalIgnoringCase(email, email.length - base.length, base, 0, base.length)) return 'match';
    return 'no-match';
  }
  let baseHost = 0;
  if (baseAt >= 0) {
    if (baseAt > 0) {
      if (baseAt !== at) return 'no-match';
      if (base.subarray(0, baseAt).includes(0) || email.subarray(0, at).includes(0)) return 'unsupported-name-syntax';
      for (let i = 0; i < at; i++) if (base[i] !== email[i]) return 'no-match';
    }
    baseHost = baseAt + 1;
  }
  const hostLength = email.length - at - 1;
  if (base.length - baseHost !== hostLength) return 'no-match';
  return equalIgnoringCase(email, at + 1, base, baseHost, hostLength) ? 'match' : 'no-match';
}

/** nc_uri: the host of `scheme://host[:port][/…]` against a host or `.domain` base. */
function uriMatch(uri: Uint8Array, base: Uint8Array): Single {
  const colon = uri.indexOf(0x3a);
  if (colon < 0 || uri.length - colon < 3 || uri[colon + 1] !== 0x2f || uri[colon + 2] !== 0x2f) return 'unsupported-name-syntax';
  const hostStart = colon + 3;
  let hostEnd = uri.indexOf(0x3a, hostStart);
  if (hostEnd < 0) hostEnd = uri.indexOf(0x2f, hostStart);
  if (hostEnd < 0) hostEnd = uri.length;
  const hostLength = hostEnd - hostStart;
  if (hostLength === 0) return 'unsupported-name-syntax';
  if (base.length > 0 && base[0] === 0x2e) {
    if (hostLength > base.length && equalIgnoringCase(uri, hostEnd - base.length, base, 0, base.length)) return 'match';
    return 'no-match';
  }
  return base.length === hostLength && equalIgnoringCase(uri, hostStart, base, 0, hostLength) ? 'match' : 'no-match';
}

/** nc_ip: address and mask of the same family; an IPv4-mapped IPv6 address also hits an excluded IPv4 subtree. */
function ipMatch(ip: Uint8Array, base: Uint8Array, mode: 'permitted' | 'excluded'): Single {
  if (ip.length !== 4 && ip.length !== 16) return 'unsupported-name-syntax';
  if (base.length !== 8 && base.length !== 32) return 'unsupported-name-syntax';
  let address = ip;
  if (ip.length * 2 !== base.length) {
    const mapped = ip.length === 16 && ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
    if (mode !== 'excluded' || !mapped || base.length !== 8) return 'no-match';
    address = ip.subarray(12);
  }
  const n = address.length;
  for (let i = 0; i < n; i++) if ((address[i]! & base[n + i]!) !== (base[i]! & base[n + i]!)) return 'no-match';
  return 'match';
}
