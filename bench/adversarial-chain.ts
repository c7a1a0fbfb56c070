/**
 * Path validation cost: the cold validation of a legitimate chain (a new leaf under a known intermediate; a new leaf
 * and intermediate under a known root; a wholly new chain) and the worst cases a server can force (lattices of
 * same-name same-key CAs, rings, 100-deep chains, name-constraint floods), per key type. Prints markdown rows.
 *
 *   node --import tsx bench/adversarial-chain.ts
 */
import { TrustAnchorIndex, clearSignatureMemo, validatePath } from '../src/core/path/index.js';
import type { PathValidation } from '../src/core/path/index.js';
import { certificateFacts, clearCertificateFactsCache } from '../src/core/x509/index.js';
import type { CertificateFacts } from '../src/core/x509/index.js';
import { deepChain, lattice, nameConstraintFlood, ring } from '../test/support/adversarial-chains.js';
import type { AdversarialInput } from '../test/support/adversarial-chains.js';
import { intermediate, leaf, pooledKey, root } from '../test/support/x509-builder.js';
import type { KeyType } from '../test/support/x509-builder.js';
import { median } from './harness.js';

const KEY_TYPES: [KeyType, string][] = [
  ['ec-p256', 'P-256'],
  ['ec-p384', 'P-384'],
  ['rsa2048', 'RSA-2048'],
  ['rsa4096', 'RSA-4096'],
  ['ed25519', 'Ed25519'],
];
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40);

function facts(der: Uint8Array): CertificateFacts {
  const read = certificateFacts(der);
  if (!read.ok) throw new Error(read.reason);
  return read.facts;
}

/** Microseconds of this process's CPU time for `fn` (the machine is shared: wall time would measure the others). */
function micros(fn: () => unknown): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

function expectVerified(result: PathValidation): void {
  if (!result.verified) throw new Error(`benchmark setup: ${result.code} ${result.reason}`);
}

// Warm the JIT on throwaway chains (a server process validates many): "cold" below means never-seen certificates,
// not never-run code.
{
  const r = root('Warm-up Root');
  const i = intermediate('Warm-up Issuing', r);
  const anchors = new TrustAnchorIndex([r.der]);
  const served = [facts(i.der)];
  const leaves = Array.from({ length: 50 }, (_, n) => leaf(`warm${n}.test`, i));
  for (let round = 0; round < 20; round++) {
    clearSignatureMemo();
    for (const l of leaves) validatePath(facts(Buffer.from(l.der)), served, anchors, { now: Date.now() });
    clearCertificateFactsCache();
  }
}

const rows: string[] = [];
const row = (cells: (string | number)[]) => rows.push(`| ${cells.join(' | ')} |`);

for (const [type, label] of KEY_TYPES) {
  const key = (n: number) => pooledKey(type, n);
  const knownRoot = root(`Bench Root ${label}`, { key: key(0) });
  const knownIntermediate = intermediate(`Bench Issuing ${label}`, knownRoot, { key: key(1) });
  const anchors = new TrustAnchorIndex([knownRoot.der]);
  // Warm: the known intermediate's facts and key, the anchor index.
  expectVerified(validatePath(facts(leaf('warm.test', knownIntermediate, { key: key(2) }).der), [facts(knownIntermediate.der)], anchors, { now: Date.now() }));

  // Every chain is built first, so that certificate generation (and its garbage) stays out of the timings.
  const samples = Array.from({ length: SAMPLES }, (_, i) => {
    const l = leaf(`leaf${i}.bench.test`, knownIntermediate, { key: key(2) });
    const i2 = intermediate(`Bench Issuing ${label} ${i}`, knownRoot, { key: key(3) });
    const l2 = leaf(`leaf${i}.bench.test`, i2, { key: key(2) });
    const r3 = root(`Bench New Root ${label} ${i}`, { key: key(4) });
    const i3 = intermediate(`Bench New Issuing ${label} ${i}`, r3, { key: key(3) });
    const l3 = leaf(`leaf${i}.bench.test`, i3, { key: key(2) });
    return { l: l.der, i: knownIntermediate.der, l2: l2.der, i2: i2.der, l3: l3.der, i3: i3.der, r3: r3.der };
  });
  const newLeaf: number[] = [];
  const newLeafAndIntermediate: number[] = [];
  const whollyNew: number[] = [];
  const warm: number[] = [];
  for (const c of samples) {
    newLeaf.push(micros(() => expectVerified(validatePath(facts(Buffer.from(c.l)), [facts(Buffer.from(c.i))], anchors, { now: Date.now() }))));
    warm.push(micros(() => expectVerified(validatePath(facts(Buffer.from(c.l)), [facts(Buffer.from(c.i))], anchors, { now: Date.now() }))));
    newLeafAndIntermediate.push(micros(() => expectVerified(validatePath(facts(Buffer.from(c.l2)), [facts(Buffer.from(c.i2))], anchors, { now: Date.now() }))));
    whollyNew.push(micros(() => expectVerified(validatePath(facts(Buffer.from(c.l3)), [facts(Buffer.from(c.i3))], new TrustAnchorIndex([Buffer.from(c.r3)]), { now: Date.now() }))));
  }
  row([`${label}: new leaf under a known intermediate (parse + 1 signature)`, `${median(newLeaf).toFixed(0)} µs`]);
  row([`${label}: new leaf and intermediate under a known root (2 signatures)`, `${median(newLeafAndIntermediate).toFixed(0)} µs`]);
  row([`${label}: wholly new chain, root included (2 signatures, 3 parses, 1 anchor index)`, `${median(whollyNew).toFixed(0)} µs`]);
  row([`${label}: same chain again (facts cached, signatures memoised)`, `${median(warm).toFixed(1)} µs`]);
}

/** Median CPU milliseconds of `runs` validations of `input`, each with a cold signature memo. */
function worst(input: AdversarialInput, runs = 7): { ms: number; code: string; work: string } {
  const l = facts(input.leaf.der);
  const served = input.served.map((b) => facts(b.der));
  const anchors = new TrustAnchorIndex(input.anchors.map((b) => facts(b.der)));
  const times: number[] = [];
  let last: PathValidation | undefined;
  for (let i = 0; i < runs; i++) {
    clearSignatureMemo();
    const start = process.cpuUsage();
    last = validatePath(l, served, anchors, { now: Date.now() });
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / 1000);
  }
  const w = last!.work;
  return { ms: median(times), code: last!.verified ? 'verified' : last!.code, work: `${w.steps} steps, ${w.signatureChecks} signatures` };
}

for (const [type, label] of [['ec-p256', 'P-256'], ['ec-p384', 'P-384'], ['rsa4096', 'RSA-4096']] as [KeyType, string][]) {
  const lat = worst(lattice(type, 4, 7));
  row([`${label}: lattice of same-name same-key CAs, 4 wide × 7 deep (16384 valid chains), worst case`, `${lat.ms.toFixed(2)} ms CPU (${lat.code}; ${lat.work})`]);
  const rng = worst(ring(type, 31, 6));
  row([`${label}: 31 certificates over 6 keys and names in cycles`, `${rng.ms.toFixed(2)} ms CPU (${rng.code}; ${rng.work})`]);
  const deep = worst(deepChain(type, 99), 3);
  row([`${label}: 100-deep chain`, `${deep.ms.toFixed(2)} ms CPU (${deep.code}; ${deep.work})`]);
}
const flood = worst(nameConstraintFlood(1000, 1000), 3);
row(['1000 SANs × 1000 name-constraint subtrees', `${flood.ms.toFixed(2)} ms CPU (${flood.code}; ${flood.work})`]);

clearCertificateFactsCache();
console.log(`Path validation, Node ${process.version} (OpenSSL ${process.versions.openssl}), CPU time, median of ${SAMPLES} (cold rows: each chain never seen before)\n`);
console.log('| case | time |\n|---|---|');
console.log(rows.join('\n'));
