/**
 * Which servers `certpin verify` connects to: every exact host of the policy, the concrete names `--host` gives for
 * wildcard patterns and `defaultPins`, each at the address `--connect` maps it to (or the host itself on `--port`).
 * @module
 */
import { isIP } from '../../builtins.js';
import type { HostRule, PinPolicy } from '../../index.js';
import { normalizeHost } from '../../tools/index.js';
import { UsageError, parseTarget, targetLabel } from '../usage.js';
import type { SkippedPattern } from './report.js';

/** One server to check. */
export interface VerifyTarget {
  /** The name clients use: SNI, the certificate's name, the pin set's host. */
  readonly host: string;
  readonly rule: HostRule;
  /** Where to connect (the host, or the address `--connect` gives). */
  readonly connectHost: string;
  readonly port: number;
  /** `connectHost:port`, IPv6 in brackets. */
  readonly label: string;
}

/** An address `--connect HOST=ADDR` points a host at. */
export interface ConnectAddress {
  readonly host: string;
  readonly port: number;
}

/** Reads the `--connect HOST=ADDRESS[:PORT]` options; an address without a port takes `defaultPort`. */
export function parseConnectMappings(mappings: readonly string[], defaultPort: number): Map<string, ConnectAddress> {
  const map = new Map<string, ConnectAddress>();
  for (const mapping of mappings) {
    const eq = mapping.indexOf('=');
    const name = eq > 0 ? normalizeHost(mapping.slice(0, eq)) : undefined;
    if (!name) throw new UsageError(`--connect expects HOST=ADDRESS[:PORT], e.g. api.example.com=127.0.0.1:8443; got "${mapping}".`, 'verify');
    const address = mapping.slice(eq + 1).trim();
    const target = parseTarget(address, 'verify');
    const explicitPort = isIP(address) !== 6 && /:\d+(\/.*)?$/.test(address);
    map.set(name, { host: target.host, port: explicitPort ? target.port : defaultPort });
  }
  return map;
}

/** The servers to check, and the patterns that name none. */
export function planTargets(policy: PinPolicy, extraHosts: readonly string[], connect: ReadonlyMap<string, ConnectAddress>, port: number): { targets: VerifyTarget[]; skipped: SkippedPattern[] } {
  for (const name of extraHosts) {
    if (!policy.ruleFor(name)) throw new UsageError(`--host ${name}: no pin set of the policy covers it.`, 'verify');
  }
  const checked = new Set<string>();
  const targets: VerifyTarget[] = [];
  const skipped: SkippedPattern[] = [];
  const make = (host: string, rule: HostRule): VerifyTarget => {
    checked.add(host);
    const mapped = connect.get(host);
    const connectHost = mapped?.host ?? host;
    const p = mapped?.port ?? port;
    return { host, rule, connectHost, port: p, label: targetLabel(connectHost, p) };
  };
  const extra = [...new Set(extraHosts.map((h) => normalizeHost(h) ?? h))];
  for (const rule of policy.rules) {
    if (rule.pattern.type === 'exact' && rule.pattern.text !== '*') targets.push(make(rule.pattern.base, rule));
    const named = extra.filter((h) => policy.ruleFor(h) === rule && !(rule.pattern.type === 'exact' && h === rule.pattern.base));
    for (const h of named) targets.push(make(h, rule));
    if ((rule.pattern.type !== 'exact' || rule.pattern.text === '*') && named.length === 0) {
      const label = rule.pattern.text === '*' ? 'defaultPins' : rule.pattern.text;
      skipped.push({ pattern: label, reason: `a pattern names no server; add --host NAME for a host it covers (e.g. --host ${rule.pattern.text === '*' ? 'api.example.com' : `www.${rule.pattern.base}`}).` });
    }
  }
  // A mapping for a host that is not checked (a typo, a host no pin set covers) would leave the host it was meant
  // for checked at its public address, and say ok.
  for (const host of connect.keys()) {
    if (!checked.has(host)) {
      throw new UsageError(`--connect ${host}=…: ${policy.ruleFor(host) ? `${host} is not one of the hosts checked; add --host ${host}` : 'no pin set of the policy covers it'}.`, 'verify');
    }
  }
  return { targets, skipped };
}
