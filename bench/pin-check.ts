/**
 * In-process micro-benchmarks: the pin decision alone on real DER chains (cold and cached), and the policy's host
 * lookup with 10 and with 10,000 hosts.
 */
import { decide as decideWith } from '../src/core/decision.js';
import type { Handshake } from '../src/core/decision.js';
import { PinPolicy } from '../src/index.js';
import { tlsTrustFor } from '../src/node/trust-store.js';
import { backupPin, createPki, pinOf } from '../test/support/pki.js';
import { median, nsPerCall } from './harness.js';

export interface PinCheckResults {
  /** Microseconds for the first decision on a never-seen chain (parse, hash, two signature checks), median. */
  readonly coldMicros: number;
  /** Nanoseconds for a decision on a chain already seen (caches hit). */
  readonly cachedNanos: number;
  readonly chains: number;
}

/** `chains` fresh PKIs (root, intermediate, leaf), each host pinned on its intermediate. */
export function benchmarkPinCheck(chains: number): PinCheckResults {
  const pkis = Array.from({ length: chains }, (_, i) => createPki({ name: `Bench${i}`, hosts: [`host${i}.bench.test`] }));
  const policy = new PinPolicy({
    hosts: Object.fromEntries(pkis.map((pki, i) => [`host${i}.bench.test`, [pinOf(pki.intermediate), backupPin()]])),
    ca: pkis.map((pki) => pki.root.pem),
    trustSystemRoots: false,
    onWarning: () => {},
  });
  const anchors = tlsTrustFor(policy).anchors; // built once per policy, not per check: keep it out of the cold numbers
  const decide = (p: PinPolicy, h: { host: string; port: number; chain: Buffer[] }) => decideWith(p, { names: [h.host], port: h.port, chain: h.chain } satisfies Handshake, anchors);
  // The handshake hands over fresh Buffers each time: copy the DER so no identity-based shortcut can help.
  const handshakes = pkis.map((pki, i) => ({ host: `host${i}.bench.test`, port: 443, chain: [Buffer.from(pki.leaf.der), Buffer.from(pki.intermediate.der)] }));

  const cold: number[] = [];
  for (const handshake of handshakes) {
    const start = process.hrtime.bigint();
    const decision = decide(policy, handshake);
    cold.push(Number(process.hrtime.bigint() - start) / 1000);
    if (decision.outcome !== 'matched') throw new Error(`benchmark setup: expected a pin match, got ${decision.outcome}`);
  }
  const copies = handshakes.map((h) => ({ ...h, chain: h.chain.map((d) => Buffer.from(d)) }));
  const cachedNanos = nsPerCall((i) => decide(policy, copies[i % copies.length]!).allowed, { rounds: 15, perRound: 2000 });
  return { coldMicros: median(cold), cachedNanos, chains };
}

export interface LookupResults {
  readonly smallNanos: number;
  readonly largeNanos: number;
}

/** Hosts of mixed kinds: exact names, `*.` (one label) and `**.` (any depth) patterns. */
function hostMap(count: number, pins: string[]): Record<string, string[]> {
  const hosts: Record<string, string[]> = {};
  for (let i = 0; i < count; i++) {
    const kind = i % 3;
    const name = kind === 0 ? `api${i}.bank${i}.example` : kind === 1 ? `*.svc${i}.example` : `**.zone${i}.example`;
    hosts[name] = pins;
  }
  return hosts;
}

/** Lookups that hit each kind of entry and miss, spread over the whole map. */
function queries(count: number): string[] {
  const out: string[] = [];
  for (let j = 0; j < 64; j++) {
    const i = Math.floor((j * count) / 64);
    const kind = i % 3;
    out.push(kind === 0 ? `api${i}.bank${i}.example` : kind === 1 ? `node.svc${i}.example` : `a.b.c.zone${i}.example`);
    out.push(`unknown${j}.other.example`);
  }
  return out;
}

export function benchmarkLookup(): LookupResults {
  const pins = [backupPin(), backupPin()];
  const measure = (count: number) => {
    const policy = new PinPolicy({ hosts: hostMap(count, pins), onWarning: () => {} });
    const names = queries(count);
    return nsPerCall((i) => policy.ruleFor(names[i % names.length]!), { rounds: 21, perRound: 20_000 });
  };
  // Interleaved, twice each, to cancel drift; the faster of the two runs (noise only ever adds time).
  const small = [measure(10)];
  const large = [measure(10_000)];
  small.push(measure(10));
  large.push(measure(10_000));
  return { smallNanos: Math.min(...small), largeNanos: Math.min(...large) };
}
