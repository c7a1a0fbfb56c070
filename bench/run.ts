/**
 * `npm run bench`: certpin against the same clients without pinning, side by side in one run, on loopback.
 * Prints one Markdown table (PASS/MISS against the targets of PRODUCT.md) and the machine it ran on.
 * `npm run bench -- --quick` runs fewer rounds (a smoke test of the benchmark itself; numbers are noisier).
 */
import os from 'node:os';
import { PinPolicy } from '../src/index.js';
import { certificateFingerprint } from '../src/tools/index.js';
import { createPki, pinOf, backupPin } from '../test/support/pki.js';
import { benchmarkConnections, startOrigin } from './connections.js';
import type { ConnectionResults } from './connections.js';
import { formatMicros, formatNanos, renderTable } from './harness.js';
import type { Comparison, Row } from './harness.js';
import { benchmarkLookup, benchmarkPinCheck } from './pin-check.js';
import { benchmarkStartup } from './startup.js';

const quick = process.argv.includes('--quick');
const started = performance.now();
const progress = (text: string) => process.stderr.write(`  … ${text}\n`);

function percent(ratio: number): string {
  const p = (ratio - 1) * 100;
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`;
}

function spread(c: Comparison): string {
  return `IQR ${c.ratioLow.toFixed(3)}–${c.ratioHigh.toFixed(3)}`;
}

/**
 * A new-connection row. The verdict uses the client's CPU time: certpin's extra work per connection (in this
 * process, on the connection's critical path) as a share of the plain client's wall time per connection. The wall
 * clock ratio is shown too, with its spread: on loopback it moves by several percent from round to round.
 */
function overheadRow(measurement: string, c: Comparison, note = ''): Row {
  const cpuOverhead = c.cpuDelta;
  const share = cpuOverhead / c.b;
  return {
    measurement,
    certpin: `${formatMicros(c.a)}/req`,
    baseline: `${formatMicros(c.b)}/req`,
    result: `CPU ${cpuOverhead >= 0 ? '+' : ''}${formatMicros(cpuOverhead)}/conn (IQR ${formatMicros(c.cpuDeltaLow)}…${formatMicros(c.cpuDeltaHigh)}) = ${percent(1 + share)}; wall ${c.ratio.toFixed(3)}x (${spread(c)})${note}`,
    target: '≤ +1%',
    verdict: share <= 0.01 ? 'PASS' : c.cpuDeltaLow / c.b <= 0.01 ? 'NOISE' : 'MISS',
  };
}

function keepAliveRow(measurement: string, c: Comparison): Row {
  const throughputRatio = 1 / c.ratio; // pinned req/s ÷ plain req/s
  return {
    measurement,
    certpin: `${Math.round(1e6 / c.a)} req/s`,
    baseline: `${Math.round(1e6 / c.b)} req/s`,
    result: `${throughputRatio.toFixed(3)}x throughput (IQR ${(1 / c.ratioHigh).toFixed(3)}–${(1 / c.ratioLow).toFixed(3)})`,
    target: '≥ 0.99x',
    verdict: throughputRatio >= 0.99 ? 'PASS' : 1 / c.ratioLow >= 0.99 ? 'NOISE' : 'MISS',
  };
}

function connectionRows(r: ConnectionResults): Row[] {
  const fullNote = r.fullHandshakes.resumed === 0 ? '' : ` [${r.fullHandshakes.resumed} resumed!]`;
  const share = (x: number) => `${(x * 100).toFixed(0)}%`;
  const s = r.resumedShare;
  return [
    overheadRow('new connection/request, full handshake: node:https (pinnedAgent vs https.Agent)', r.httpsFull, fullNote),
    overheadRow('new connection/request, full handshake: fetch (pinnedDispatcher vs undici Agent)', r.fetchFull, fullNote),
    overheadRow('new connection/request, full handshake: axios (pinAxios vs axios + https.Agent)', r.axiosFull, fullNote),
    overheadRow('new connection/request, TLS resumption: node:https', r.httpsResumed, ` [resumed ${share(s.pinnedAgent)} vs ${share(s.httpsAgent)}]`),
    {
      ...overheadRow('new connection/request, TLS resumption: fetch', r.fetchResumed, ` [resumed ${share(s.pinnedDispatcher)} vs ${share(s.undiciAgent)}]`),
      target: '(info: not like for like)',
      verdict: '',
    },
    keepAliveRow('keep-alive requests: node:https', r.httpsKeepAlive),
    keepAliveRow('keep-alive requests: fetch', r.fetchKeepAlive),
    keepAliveRow('keep-alive requests: axios', r.axiosKeepAlive),
    {
      measurement: 'interceptor (check connection + request) vs in-handshake, new connection/request',
      certpin: `${formatMicros(r.interceptorNewConnection.b)}/req`,
      baseline: `${formatMicros(r.interceptorNewConnection.a)}/req`,
      result: `interceptor takes ${r.interceptorNewConnection.ratio.toFixed(2)}x (${spread(r.interceptorNewConnection)})`,
      target: '≈ 2x',
      verdict: r.interceptorNewConnection.ratio >= 1.8 ? 'PASS' : 'MISS',
    },
    {
      measurement: 'interceptor (check connection + request) vs in-handshake, keep-alive',
      certpin: `${formatMicros(r.interceptorKeepAlive.b)}/req`,
      baseline: `${formatMicros(r.interceptorKeepAlive.a)}/req`,
      result: `interceptor takes ${r.interceptorKeepAlive.ratio.toFixed(1)}x`,
      target: '(info)',
      verdict: '',
    },
  ];
}

async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  const machine = `Node ${process.version} (undici ${process.versions.undici ?? '?'} bundled, undici 7 for dispatchers), ${cpu}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}, ${new Date().toISOString().slice(0, 10)}`;
  console.log(`certpin benchmarks${quick ? ' (--quick: fewer rounds, noisier)' : ''}`);
  console.log(machine);
  progress('making the PKI and starting the origin (a child process on 127.0.0.1)');

  const pki = createPki({ name: 'Bench', hosts: ['localhost'] });
  const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: [pki.root.pem], trustSystemRoots: false, onWarning: () => {} });
  const origin = await startOrigin(pki.leaf.key.keyPem, pki.chainPem);
  let connections: ConnectionResults;
  try {
    connections = await benchmarkConnections(policy, origin, pki.root.pem, certificateFingerprint(pki.leaf.pem, 'sha256', 'hex'), { rounds: quick ? 8 : 40, perRound: quick ? 10 : 20, keepAliveRounds: quick ? 8 : 80, keepAlivePerRound: quick ? 50 : 100 }, progress);
  } finally {
    origin.close();
  }

  progress('pin check alone (cold: fresh certificates; cached: repeat)');
  const check = benchmarkPinCheck(quick ? 20 : 100);
  progress('policy lookup with 10 and 10,000 hosts');
  const lookup = benchmarkLookup();
  progress('start-up times (child processes)');
  const startup = benchmarkStartup(quick ? 5 : 15);

  const fullHandshake = connections.httpsFull.b;
  const lookupRatio = lookup.largeNanos / lookup.smallNanos;
  const rows: Row[] = [
    ...connectionRows(connections),
    {
      measurement: `pin check alone, cold (parse, hash, verify 2 signatures; ${check.chains} fresh EC P-256 chains)`,
      certpin: formatMicros(check.coldMicros),
      baseline: `${formatMicros(fullHandshake)} (full handshake + request)`,
      result: `${((check.coldMicros / fullHandshake) * 100).toFixed(1)}% of a connection, once per new chain`,
      target: '(info)',
      verdict: '',
    },
    {
      measurement: 'pin check alone, cached (same chain again)',
      certpin: formatNanos(check.cachedNanos),
      baseline: '',
      result: `${((check.cachedNanos / 1000 / fullHandshake) * 100).toFixed(2)}% of a connection`,
      target: '≤ a few µs',
      verdict: check.cachedNanos <= 10_000 ? 'PASS' : 'MISS',
    },
    {
      measurement: 'policy.ruleFor(host): 10,000 hosts vs 10 (⅓ exact, ⅓ *., ⅓ **.; half misses)',
      certpin: `${formatNanos(lookup.largeNanos)}/lookup`,
      baseline: `${formatNanos(lookup.smallNanos)}/lookup`,
      result: `${lookupRatio.toFixed(2)}x`,
      target: 'independent (≤ 1.5x)',
      verdict: lookupRatio <= 1.5 ? 'PASS' : 'MISS',
    },
    startup.importMs === undefined
      ? { measurement: "import('certpin') (dist)", certpin: `n/a (${startup.note ?? 'not built'})`, baseline: '', result: '', target: '≤ +50 ms', verdict: '' }
      : {
          measurement: `import('certpin') (dist), median of ${startup.runs} processes`,
          certpin: `${startup.importMs.toFixed(0)} ms`,
          baseline: `${startup.baselineMs.toFixed(0)} ms (node -e 0)`,
          result: `+${(startup.importMs - startup.baselineMs).toFixed(0)} ms`,
          target: '≤ +50 ms',
          verdict: startup.importMs - startup.baselineMs <= 50 ? 'PASS' : 'MISS',
        },
    startup.helpMs === undefined
      ? { measurement: 'certpin --help', certpin: 'n/a (CLI not built)', baseline: '', result: '', target: '≤ +100 ms', verdict: '' }
      : {
          measurement: `certpin --help, median of ${startup.runs} processes`,
          certpin: `${startup.helpMs.toFixed(0)} ms`,
          baseline: `${startup.baselineMs.toFixed(0)} ms (node -e 0)`,
          result: `+${(startup.helpMs - startup.baselineMs).toFixed(0)} ms`,
          target: '≤ +100 ms',
          verdict: startup.helpMs - startup.baselineMs <= 100 ? 'PASS' : 'MISS',
        },
  ];

  console.log();
  console.log(renderTable(rows));
  console.log();
  const c = connections;
  console.log(`Handshakes seen by the server: full-handshake rows ${c.fullHandshakes.full} full / ${c.fullHandshakes.resumed} resumed; resumption rows ${c.resumptionHandshakes.full} full / ${c.resumptionHandshakes.resumed} resumed.`);
  console.log(`Connection rows: ${c.httpsFull.operations} requests per side, in interleaved rounds; times are medians of round means; ratio = median of per-round ratios (certpin ÷ plain).`);
  const misses = rows.filter((r) => r.verdict === 'MISS');
  console.log(`${rows.filter((r) => r.verdict === 'PASS').length} PASS, ${misses.length} MISS, ${rows.filter((r) => r.verdict === 'NOISE').length} NOISE (median misses, interquartile range straddles the target). Total ${((performance.now() - started) / 1000).toFixed(0)} s.`);
}

await main();
