/**
 * The policy's host lookup with 10 and with 10,000 hosts: the lookup per connection must not depend on the number
 * of hosts. Batches of the two sizes alternate, and the ratio is taken per pair of batches.
 */
import { certpin } from './certpin.js';
import { backupPin } from '../test/support/pki.js';
import { quartiles } from './harness.js';
import type { Quartiles } from './harness.js';

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

export interface LookupResults {
  /** Nanoseconds per lookup with 10 hosts. */
  readonly small: Quartiles;
  readonly large: Quartiles;
  /** Paired ratios large ÷ small. */
  readonly ratio: Quartiles;
}

export function benchmarkLookup(rounds: number): LookupResults {
  const pins = [backupPin(), backupPin()];
  const make = (count: number) => {
    const policy = new certpin.PinPolicy({ hosts: hostMap(count, pins), onWarning: () => {} });
    const names = queries(count);
    return () => {
      let sink = 0;
      const start = process.hrtime.bigint();
      for (let i = 0; i < 20_000; i++) if (policy.ruleFor(names[i % names.length]!)) sink++;
      const ns = Number(process.hrtime.bigint() - start) / 20_000;
      return sink < 0 ? -1 : ns;
    };
  };
  const small = make(10);
  const large = make(10_000);
  small();
  large();
  const s: number[] = [];
  const l: number[] = [];
  for (let i = 0; i < rounds; i++) {
    s.push(small());
    l.push(large());
  }
  return { small: quartiles(s), large: quartiles(l), ratio: quartiles(l.map((x, i) => x / s[i]!)) };
}
