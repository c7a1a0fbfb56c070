/**
 * Command-line arguments: `node:util` parseArgs with errors that say what to type instead, and the parsers shared by
 * the commands (targets, timeouts, numbers).
 * @module
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { isIP } from '../builtins.js';
import { domainToASCII } from 'node:url';

/** A mistake in how the command was called. Exit code 2; the message is printed as is, with a pointer to `--help`. */
export class UsageError extends Error {
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** What {@link parseCommandArgs} returns: typed option values and the positional arguments. */
export type ParsedArgs<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** Parses a command's arguments strictly; unknown options and missing values become a {@link UsageError}. */
export function parseCommandArgs<O extends Options>(command: string, args: readonly string[], options: O): ParsedArgs<O> {
  let parsed: ParsedArgs<O>;
  try {
    parsed = parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true }) as unknown as ParsedArgs<O>;
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument[^]*$/, '.');
    throw new UsageError(message, command);
  }
  // An empty value is an unset shell variable more often than a choice (`--pem "$OUT"`): no option takes one.
  for (const [name, value] of Object.entries(parsed.values as Record<string, unknown>)) {
    if (value === '' || (Array.isArray(value) && value.includes(''))) throw new UsageError(`--${name} may not be empty; give a value, or leave the option out.`, command);
  }
  return parsed;
}

/** Where a connecting command connects: host, port, and the server name to check (SNI). */
export interface ConnectTarget {
  readonly host: string;
  readonly port: number;
  /** The text the user typed, for messages. */
  readonly input: string;
  /** `host:port` with IPv6 in brackets, for messages. */
  readonly label: string;
}

/**
 * Reads `HOST`, `HOST:PORT`, `[IPv6]:PORT`, a bare IPv6 literal, or an `https://` / `wss://` URL. Default port 443.
 * @example parseTarget('https://[::1]:8443/path') // { host: '::1', port: 8443, … }
 */
export function parseTarget(input: string, command?: string): ConnectTarget {
  const text = input.trim();
  const fail = (why: string) => new UsageError(`"${input}" is not a host to connect to: ${why}. Write HOST, HOST:PORT, [IPv6]:PORT or https://HOST[:PORT]/.`, command);
  if (text === '') throw fail('it is empty');
  let host: string;
  let portText: string | undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw fail('it is not a valid URL');
    }
    if (url.protocol === 'http:' || url.protocol === 'ws:') throw fail(`${url.protocol}// has no TLS; use https://`);
    if (url.protocol !== 'https:' && url.protocol !== 'wss:') throw fail(`the scheme ${url.protocol} is not supported; use https://`);
    host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    portText = url.port || undefined;
  } else if (text.startsWith('[')) {
    const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
    if (!match) throw fail('an IPv6 literal in brackets is written [::1] or [::1]:8443');
    host = match[1]!;
    portText = match[2];
    if (isIP(host) !== 6) throw fail(`${host} is not an IPv6 address`);
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon !== -1) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
      if (host.includes(':')) throw fail('an IPv6 address with a port is written in brackets, [::1]:8443');
    } else host = text;
    if (/[\s/?#@\\]/.test(host) || host === '') throw fail('a host name has no spaces, slashes or @');
    // Unicode names are written as the URL parser writes them (IDNA: lower case, punycode, full-width mapped), so
    // that `bücher.test` means what `https://bücher.test/` means.
    if (!isIP(host) && /[^\u0020-\u007e]/.test(host)) {
      const ascii = domainToASCII(host);
      if (ascii === '') throw fail('it is not a valid international domain name');
      host = ascii;
    }
  }
  let port = 443;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw fail(`the port "${portText}" is not a number from 1 to 65535`);
  }
  return { host, port, input, label: targetLabel(host, port) };
}

/** `host:port` as the CLI shows a target, an IPv6 literal in brackets. */
export function targetLabel(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Reads a positive whole number option (`--timeout`, `--warn-days`, …). */
export function parseCount(value: string | undefined, name: string, fallback: number, command: string, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  // 2^31 - 1: Node's timers wrap a longer delay to 1 ms, so no count here may exceed it.
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > 2_147_483_647) {
    throw new UsageError(`--${name} expects a whole number${min > 0 ? ` of at least ${min}` : ''} and at most 2147483647, got "${value}".`, command);
  }
  return n;
}

/** Reads `--alpn h2,http/1.1`. */
export function parseAlpn(value: string | undefined, command: string): string[] {
  if (value === undefined) return ['h2', 'http/1.1'];
  const list = value.split(',').map((p) => p.trim()).filter(Boolean);
  if (list.length === 0 || list.some((p) => p.length > 255 || !/^[\x21-\x7e]+$/.test(p))) {
    throw new UsageError(`--alpn expects protocol names separated by commas, e.g. h2,http/1.1; got "${value}".`, command);
  }
  return list;
}

/**
 * Reads a `--servername`: not empty, and a Unicode name in its ASCII (IDNA) form, as the host itself is read.
 * @throws {UsageError}
 */
export function parseServername(value: string, command: string): string {
  const name = value.trim();
  if (name === '') throw new UsageError('--servername may not be empty; leave it out to use the host.', command);
  if (isIP(name) || !/[^\u0020-\u007e]/.test(name)) return name;
  const ascii = domainToASCII(name);
  if (ascii === '') throw new UsageError(`--servername "${value}" is not a valid host name.`, command);
  return ascii;
}
