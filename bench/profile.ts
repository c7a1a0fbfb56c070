/**
 * Where the time goes: V8 CPU profiles of certpin's side and of the plain side of one benchmark row, the same number
 * of operations each, put next to each other (per category, the functions whose self time differs most, and
 * certpin's functions by inclusive time). Replaces the old profile-* scripts.
 *
 *   node --expose-gc --import tsx bench/profile.ts tls-full [operations]
 *
 * Scenarios: <client>-<kind> with client tls, https, fetch, axios, got, ws, h2 and kind full, resume (a new
 * connection per operation) or keep (requests on an open connection, clients https, fetch, axios, got, h2, ws);
 * cold-leaf and cold-chain (first decisions for new certificates, certpin only); import (`import('certpin')` of
 * the built dist, by module). `--save DIR` also writes the two .cpuprofile files (open them in Chrome DevTools).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import path from 'node:path';
import tls from 'node:tls';
import type { PinPolicy } from '../src/index.js';
import { certificateFacts, certpin, createPinCheck, decide, normalizeHost, peerChain, tlsTrustFor, validateServedChain } from './certpin.js';
import { quartiles } from './harness.js';
import { backupPin, createPki, pinOf } from '../test/support/pki.js';
import { keepAlivePairs, newConnectionPairs } from './clients.js';
import { tlsOnce } from './tls-once.js';
import type { ClientPair, Operation } from './clients.js';
import { compareProfiles, inclusiveReport, summarize } from './cpu-profile.js';
import type { CpuProfile } from './cpu-profile.js';
import { makeColdWorld } from './decisions.js';
import { startOrigin } from './origin.js';
import { distEntry, ensureBuilt } from './startup.js';

const scenario = process.argv[2] ?? 'tls-full';
const operations = Number(process.argv[3] ?? 400);
const saveAt = process.argv.indexOf('--save');
const saveDir = saveAt === -1 ? undefined : process.argv[saveAt + 1];

const CLIENTS: Record<string, string> = { tls: 'node:tls', https: 'node:https', fetch: 'fetch', axios: 'axios', got: 'got', ws: 'ws', h2: 'node:http2' };

/** Garbage collections seen while profiling, per side: count and total pause by kind. */
const gcSeen: Record<string, Record<string, { count: number; ms: number }>> = { certpin: {}, plain: {} };
let gcSide: string | undefined;
const gcKinds: Record<number, string> = { 1: 'scavenge (minor)', 2: 'mark-compact (major)', 4: 'incremental marking (incl. the forced GC before each profile)', 8: 'weak callbacks', 16: 'minor mark-sweep' };
new PerformanceObserver((list) => {
  if (!gcSide) return;
  for (const entry of list.getEntries()) {
    const kind = gcKinds[(entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
    const slot = (gcSeen[gcSide]![kind] ??= { count: 0, ms: 0 });
    slot.count++;
    slot.ms += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });

async function profile(run: Operation, count: number, side?: 'certpin' | 'plain'): Promise<CpuProfile> {
  gcSide = side;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  (globalThis as { gc?: () => void }).gc?.();
  await session.post('Profiler.start');
  for (let i = 0; i < count; i++) await run();
  const { profile: result } = await session.post('Profiler.stop');
  session.disconnect();
  await new Promise((resolve) => setImmediate(resolve));
  gcSide = undefined;
  return result as unknown as CpuProfile;
}

function save(name: string, data: CpuProfile): void {
  if (!saveDir) return;
  mkdirSync(saveDir, { recursive: true });
  writeFileSync(path.join(saveDir, `${scenario}-${name}.cpuprofile`), JSON.stringify(data));
}

/** Bytes allocated per operation by function (V8's sampling heap profiler, garbage included), top entries. */
async function allocations(run: Operation, count: number): Promise<Map<string, number>> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  for (let i = 0; i < count; i++) await run();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: AllocationNode; samples: { size: number; nodeId: number }[] } };
  session.disconnect();
  const byNode = new Map<number, string>();
  const walk = (node: AllocationNode) => {
    const f = node.callFrame;
    byNode.set(node.id, `${f.functionName || '(anonymous)'} ${f.url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, '$1/')}`.trim());
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const bytes = new Map<string, number>();
  for (const sample of profile.samples) {
    const name = byNode.get(sample.nodeId) ?? '?';
    bytes.set(name, (bytes.get(name) ?? 0) + sample.size / count);
  }
  return bytes;
}

interface AllocationNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children: readonly AllocationNode[];
}

async function pairScenario(pair: ClientPair): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await pair.certpin();
    await pair.plain();
  }
  // Two halves each, alternating, so that drift in the machine's load hits both sides.
  const half = Math.ceil(operations / 2);
  const a1 = await profile(pair.certpin, half, 'certpin');
  const b1 = await profile(pair.plain, half, 'plain');
  const b2 = await profile(pair.plain, half, 'plain');
  const a2 = await profile(pair.certpin, half, 'certpin');
  save('certpin', a1);
  save('plain', b1);
  const merge = (x: ReturnType<typeof summarize>, y: ReturnType<typeof summarize>) => {
    const add = <K>(m: ReadonlyMap<K, number>, n: ReadonlyMap<K, number>) => {
      const out = new Map(m);
      for (const [k, v] of n) out.set(k, (out.get(k) ?? 0) + v);
      return out;
    };
    return { busy: x.busy + y.busy, byCategory: add(x.byCategory, y.byCategory), self: add(x.self, y.self), inclusive: add(x.inclusive, y.inclusive) };
  };
  console.log(`${scenario}: ${pair.certpinSide} vs ${pair.plainSide}, ${half * 2} operations each\n`);
  console.log(compareProfiles(merge(summarize(a1), summarize(a2)), merge(summarize(b1), summarize(b2)), half * 2));
  const allocA = await allocations(pair.certpin, half);
  const allocB = await allocations(pair.plain, half);
  const total = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
  console.log(`\nbytes allocated per operation (sampling heap profiler): certpin ${(total(allocA) / 1024).toFixed(1)} KiB, plain ${(total(allocB) / 1024).toFixed(1)} KiB; certpin's own functions:`);
  for (const [name, b] of [...allocA].filter(([n]) => n.includes('src/')).sort((x, y) => y[1] - x[1]).slice(0, 12)) console.log(`  ${(b / 1024).toFixed(2).padStart(7)} KiB  ${name}`);
  console.log('largest differences by allocating function (certpin − plain):');
  const names = new Set([...allocA.keys(), ...allocB.keys()]);
  const diffs = [...names].map((n) => [n, (allocA.get(n) ?? 0) - (allocB.get(n) ?? 0)] as const).sort((x, y) => Math.abs(y[1]) - Math.abs(x[1])).slice(0, 10);
  for (const [name, d] of diffs) console.log(`  ${(d / 1024).toFixed(2).padStart(7)} KiB  ${name}`);
  console.log('\ngarbage collections during the profiles (PerformanceObserver "gc"), per 1000 operations:');
  for (const side of ['certpin', 'plain']) {
    const kinds = Object.entries(gcSeen[side]!).map(([kind, v]) => `${kind} ${((v.count * 1000) / (half * 2)).toFixed(1)} (${((v.ms * 1000) / (half * 2)).toFixed(1)} ms)`);
    console.log(`  ${side.padEnd(8)} ${kinds.join(', ') || 'none'}`);
  }
}

/** The modules `from` imports, in the order a post-order walk loads them (dependencies first): node: builtins and certpin's files. */
function importOrder(from: string, order: string[] = [], seen = new Set<string>()): string[] {
  if (seen.has(from)) return order;
  seen.add(from);
  const text = readFileSync(from, 'utf8');
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)) {
    const spec = (m[1] ?? m[2])!;
    if (spec.startsWith('.')) importOrder(path.resolve(path.dirname(from), spec), order, seen);
    else if (!seen.has(spec)) {
      seen.add(spec);
      order.push(spec);
    }
  }
  order.push(from);
  return order;
}

/**
 * What `import('certpin')` spends its time on: in fresh processes, each module of the import graph imported on its
 * own, dependencies first (so that each import pays for that module alone), its CPU time, median over processes; and a V8 CPU
 * profile of the whole import, by file.
 */
function importBreakdown(): void {
  const note = ensureBuilt();
  if (note) throw new Error(note);
  const order = importOrder(distEntry);
  const script = `const order = ${JSON.stringify(order)}; const out = []; for (const m of order) { const s = process.cpuUsage(); await import(m.startsWith('node:') ? m : 'file://' + m); const u = process.cpuUsage(s); out.push((u.user + u.system) / 1000); } process.stdout.write(JSON.stringify(out));`;
  const runs: number[][] = [];
  for (let i = 0; i < 9; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    runs.push(JSON.parse(r.stdout) as number[]);
  }
  const rows = order.map((m, k) => [m.replace(/^.*\/dist\//, 'dist/'), quartiles(runs.map((r) => r[k]!)).median] as const);
  const total = rows.reduce((x, [, t]) => x + t, 0);
  console.log(`import('certpin'): CPU time of each module imported alone, dependencies first; median of ${runs.length} processes; sum ${total.toFixed(1)} ms\n`);
  for (const [m, t] of [...rows].sort((a, b) => b[1] - a[1])) if (t >= 0.2) console.log(`  ${t.toFixed(1).padStart(6)} ms  ${m}`);
  const small = rows.filter(([, t]) => t < 0.2);
  console.log(`  ${small.reduce((x, [, t]) => x + t, 0).toFixed(1).padStart(6)} ms  ${small.length} other modules under 0.2 ms each`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-import-'));
  for (let i = 0; i < 5; i++) spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '50', '--cpu-prof-dir', dir, '-e', `import(${JSON.stringify(distEntry)}).then(() => {})`], { stdio: 'inherit' });
  const summaries = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => summarize(JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as CpuProfile));
  const byCategory = new Map<string, number>();
  for (const s of summaries) for (const [c, t] of s.byCategory) byCategory.set(c, (byCategory.get(c) ?? 0) + t / summaries.length);
  console.log(`\nCPU profile of the whole import (node --cpu-prof; node's own start-up included), mean of ${summaries.length} processes, by category:\n`);
  for (const [c, t] of [...byCategory].sort((a, b) => b[1] - a[1])) console.log(`  ${(t / 1000).toFixed(1).padStart(6)} ms  ${c}`);
}

/**
 * The parts of certpin's work on a full handshake, each timed inside real handshakes: connection i times part
 * i mod n first thing in its checkServerIdentity (with the caches of the previous handshakes, and nothing of this
 * one warmed up), then runs certpin's real check. Also the synchronous call of pinnedConnect against tls.connect.
 */
async function breakdown(policy: PinPolicy, port: number): Promise<void> {
  const anchors = tlsTrustFor(policy).anchors;
  const host = 'localhost';
  const prototypeCache = new Map<string, unknown>();
  const parts: [string, (cert: tls.DetailedPeerCertificate) => unknown][] = [
    ["Node's tls.checkServerIdentity (both sides pay it)", (cert) => tls.checkServerIdentity(host, cert)],
    ["certpin's whole checkServerIdentity (Node's included)", (cert) => createPinCheck(policy, { names: [host], port }).checkServerIdentity(host, cert)],
    ['  decide() (what certpin:decision times, almost)', (cert) => {
      const { der, fingerprints } = peerChain(cert);
      return decide(policy, { names: [host, host], port, chain: der, fingerprints }, anchors);
    }],
    ['    peerChain(cert): the DER and fingerprints of the chain Node linked', (cert) => peerChain(cert)],
    ['    certificateFacts() for each DER (cached facts, keyed by fingerprint256)', (cert) => {
      const { der, fingerprints } = peerChain(cert);
      return der.map((d, i) => certificateFacts(d, fingerprints[i]));
    }],
    ['    validateServedChain() (cached facts and signatures)', (cert) => {
      const { der, fingerprints } = peerChain(cert);
      return validateServedChain(der, anchors.index, { now: Date.now(), partialChain: anchors.partialChain }, fingerprints);
    }],
    ['    normalizeHost + policy.ruleFor, two names', () => [normalizeHost(host), policy.ruleFor(host), normalizeHost(host), policy.ruleFor(host)]],
    ['  Date.parse(cert.valid_to) (session lifetime)', (cert) => Date.parse(cert.valid_to)],
    ["prototype, not in certpin: decision cache keyed by Node's fingerprint256 of each linked certificate", (cert) => {
      let key = `${host}|${port}`;
      const seen = new Set<object>();
      for (let c: tls.DetailedPeerCertificate | undefined = cert; c && !seen.has(c); c = c.issuerCertificate) {
        seen.add(c);
        key += `|${c.fingerprint256}`;
      }
      let decision = prototypeCache.get(key);
      if (!decision) {
        const { der, fingerprints } = peerChain(cert);
        prototypeCache.set(key, (decision = decide(policy, { names: [host], port, chain: der, fingerprints }, anchors)));
      }
      return decision;
    }],
  ];
  const times = parts.map(() => [] as number[]);
  const secureContext = tlsTrustFor(policy).secureContext;
  let i = 0;
  let measured = 0;
  const connectTimes = { pinned: [] as number[], plain: [] as number[] };
  const once = () => {
    const usePinned = i++ % 2 === 0;
    const part = usePinned ? 0 : measured++ % parts.length;
    const check = createPinCheck(policy, { names: [host], port }).checkServerIdentity;
    const checkServerIdentity = (name: string, cert: tls.PeerCertificate) => {
      const start = performance.now();
      parts[part]![1](cert as tls.DetailedPeerCertificate);
      times[part]!.push((performance.now() - start) * 1000);
      return check(name, cert);
    };
    return tlsOnce(() => {
      const start = performance.now();
      const socket = usePinned ? certpin.pinnedConnect(policy, { host, port }) : tls.connect({ host, port, servername: host, secureContext, checkServerIdentity });
      (usePinned ? connectTimes.pinned : connectTimes.plain).push((performance.now() - start) * 1000);
      return socket;
    });
  };
  for (let w = 0; w < 40; w++) await once();
  for (const t of [...times, connectTimes.pinned, connectTimes.plain]) t.length = 0;
  for (let n = 0; n < 2 * operations; n++) await once();
  const show = (name: string, values: number[]) => {
    const q = quartiles(values);
    console.log(`  ${name.padEnd(58)} ${q.median.toFixed(1).padStart(7)} µs  (IQR ${q.low.toFixed(1)} … ${q.high.toFixed(1)}, ${values.length} handshakes)`);
  };
  console.log(`certpin's work on a full handshake (same chain each time), timed inside real handshakes (${operations} with a part timed, each part in every ${parts.length}th; as many pinnedConnect handshakes in between):\n`);
  parts.forEach(([name], k) => show(name, times[k]!));
  console.log('\nthe synchronous call that starts a connection:\n');
  show('pinnedConnect(policy, { host, port })', connectTimes.pinned);
  show('tls.connect({ host, port, servername, secureContext, … })', connectTimes.plain);
}

async function main(): Promise<void> {
  if (scenario === 'import') {
    importBreakdown();
    return;
  }

  const pki = createPki({ name: 'Bench', hosts: ['localhost'] });
  const policy = new certpin.PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: [pki.root.pem], trustSystemRoots: false, onWarning: () => {} });
  const coldCount = scenario.startsWith('cold-') ? operations : 0;
  const cold = makeColdWorld(coldCount);
  const origin = await startOrigin({ main: { key: pki.leaf.key.keyPem, cert: pki.chainPem }, coldLeaf: cold.leaf, coldChain: cold.chain });
  const env = { policy, secureContext: tlsTrustFor(policy).secureContext, ports: origin.ports };
  try {
    if (scenario === 'breakdown') {
      await breakdown(policy, origin.ports['https.full.a']!);
      return;
    }
    if (scenario === 'cold-leaf' || scenario === 'cold-chain') {
      const entries = scenario === 'cold-leaf' ? cold.leaf : cold.chain;
      const port = origin.ports[scenario === 'cold-leaf' ? 'cold.leaf' : 'cold.chain']!;
      const once = (name: string) => tlsOnce(() => certpin.pinnedConnect(cold.policy, { host: 'localhost', port, servername: name }));
      await once(entries[0]!.name);
      let next = 1;
      const result = await profile(() => once(entries[next++]!.name), entries.length - 1);
      save('certpin', result);
      const summary = summarize(result);
      console.log(`${scenario}: ${entries.length - 1} first handshakes, one per new certificate; certpin's functions by inclusive time, per handshake:\n`);
      console.log(inclusiveReport(summary, entries.length - 1, (n) => n.includes('src/') || n.includes('dist/') || n.includes('.build/') || /X509Certificate|verify|checkIssued|createHash|digest/.test(n), 30));
      return;
    }
    const [client, kind] = scenario.split('-') as [string, string];
    const name = CLIENTS[client];
    if (!name || !['full', 'resume', 'keep'].includes(kind)) throw new Error(`unknown scenario ${scenario}`);
    const pairs = kind === 'keep' ? await keepAlivePairs(env) : newConnectionPairs(env, kind as 'full' | 'resume');
    try {
      const pair = pairs.find((p) => p.client.startsWith(name));
      if (!pair) throw new Error(`no ${name} pair for ${kind}`);
      await pairScenario(pair);
    } finally {
      for (const p of pairs) await p.close();
    }
  } finally {
    origin.close();
  }
}

await main();
process.exit(0);
