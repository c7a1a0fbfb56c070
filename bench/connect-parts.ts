/**
 * Where a pinned full handshake's extra CPU goes, at a resolution the main table cannot reach on a small VM: many
 * short interleaved rounds of bare TLS handshakes (no HTTP), the order alternating each round, and per variant the
 * median over rounds of its CPU per handshake minus the plain side's in the same round, with the count of rounds in
 * which it was the slower one.
 *
 *   node --expose-gc --import tsx bench/connect-parts.ts [rounds] [handshakes per round]
 *
 * Variants, each adding one part of what `pinnedConnect` does to the one before:
 * - plain: `tls.connect` with the policy's shared secure context and Node's own host-name check;
 * - control: plain again, to the listener pinnedConnect uses: its difference from plain is this instrument's noise
 *   on this machine, the resolution every other row has;
 * - check: the same with certpin's `checkServerIdentity` (the cached pin decision);
 * - pinnedConnect: everything (option checks, the session cache and its listeners, the handshake guard).
 * The server never resumes and issues tickets: the case of the table's full-handshake rows. Beside the CPU, the
 * median time of the synchronous call that opens each connection (what `pinnedConnect` does before the handshake, and
 * `tls.connect` itself), which the machine's noise disturbs far less.
 */
import tls from 'node:tls';
import { certpin, createPinCheck, tlsTrustFor } from './certpin.js';
import { interleavedRounds, median, timeCall } from './harness.js';
import { makeColdWorld } from './decisions.js';
import { startOrigin } from './origin.js';
import { tlsOnce } from './tls-once.js';
import { backupPin, createPki, pinOf } from '../test/support/pki.js';

const rounds = Number(process.argv[2] ?? 100);
const perRound = Number(process.argv[3] ?? 40);
const HOST = 'localhost';

const pki = createPki({ name: 'Bench', hosts: [HOST] });
const policy = new certpin.PinPolicy({ hosts: { [HOST]: [pinOf(pki.intermediate), backupPin()] }, ca: [pki.root.pem], trustSystemRoots: false, onWarning: () => {} });
const cold = makeColdWorld(0);
const origin = await startOrigin({ main: { key: pki.leaf.key.keyPem, cert: pki.chainPem }, coldLeaf: cold.leaf, coldChain: cold.chain });
const secureContext = tlsTrustFor(policy).secureContext;
// Two identical listeners in the server process; every variant but pinnedConnect uses the second.
const certpinPort = origin.ports['https.full.a']!;
const plainPort = origin.ports['https.full.b']!;

const variants: [string, () => tls.TLSSocket][] = [
  ['plain: tls.connect', () => tls.connect({ host: HOST, port: plainPort, servername: HOST, secureContext })],
  // The same as plain, to pinnedConnect's listener: what this instrument reports for two identical sides.
  ['control: plain again, the other listener', () => tls.connect({ host: HOST, port: certpinPort, servername: HOST, secureContext })],
  [
    "check: tls.connect + certpin's checkServerIdentity",
    () => tls.connect({ host: HOST, port: plainPort, servername: HOST, secureContext, checkServerIdentity: createPinCheck(policy, { names: [HOST, undefined], port: plainPort }).checkServerIdentity }),
  ],
  ['pinnedConnect', () => certpin.pinnedConnect(policy, { host: HOST, port: certpinPort })],
];

try {
  // Beside the CPU, the synchronous call alone (options, check, session slot, tls.connect), per connection: far less noisy.
  const { cpu, calls } = await interleavedRounds(variants.map(([, open]) => (recordCall) => tlsOnce(() => timeCall(recordCall, open))), rounds, perRound);
  console.log(`Node ${process.version}: ${rounds} rounds of ${perRound} full handshakes per variant, CPU per handshake (this process)\n`);
  console.log(`${'variant'.padEnd(52)} ${'median'.padStart(9)}  ${'Δ vs plain (paired median)'.padStart(27)}  slower rounds  synchronous call (median)`);
  variants.forEach(([name], v) => {
    const paired = cpu[v]!.map((value, r) => value - cpu[0]![r]!);
    const delta = v === 0 ? '' : `${median(paired) >= 0 ? '+' : ''}${median(paired).toFixed(0)} µs = ${((median(paired) / median(cpu[0]!)) * 100).toFixed(1)} %`;
    const slower = v === 0 ? '' : `${paired.filter((d) => d > 0).length}/${rounds}`;
    console.log(`${name.padEnd(52)} ${`${median(cpu[v]!).toFixed(0)} µs`.padStart(9)}  ${delta.padStart(27)}  ${slower.padStart(13)}  ${`${median(calls[v]!).toFixed(0)} µs`.padStart(9)}`);
  });
} finally {
  origin.close();
}
