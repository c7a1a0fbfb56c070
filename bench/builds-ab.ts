/**
 * Two builds of certpin against each other in one process, each beside the plain client, interleaved round by
 * round: how a change to the per-connection path moves the synchronous call that opens a connection and the CPU per
 * connection. Separate runs on this VM cannot resolve a few µs, since the host's state moves between them; one
 * process running both builds and the plain side in alternating order can.
 *
 *   npm run build && cp -r .build/tsc /tmp/certpin-before     # the build to compare against (e.g. on the parent commit)
 *   npm run build && cp -r .build/tsc /tmp/certpin-after
 *   node --import tsx bench/builds-ab.ts [--client tls|https] [--resume] [--rounds 50] [--per-round 30] DIR DIR…
 *
 * `--client tls` opens bare TLS connections: `pinnedConnect` against `tls.connect` with the policy's secure context.
 * `--client https` makes one GET per new connection: `pinnedAgent` against `https.Agent({ keepAlive: false })` with
 * that context. The server never resumes unless `--resume` (then both sides resume). Each build keeps its own
 * module instances (decision and session caches included).
 */
import https from 'node:https';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import type * as Index from '../src/index.js';
import type * as TrustStore from '../src/node/trust-store.js';
import { makeColdWorld } from './decisions.js';
import { interleavedRounds, median, timeCall } from './harness.js';
import type { TimedOperation } from './harness.js';
import { startOrigin } from './origin.js';
import { tlsOnce } from './tls-once.js';
import { backupPin, createPki, pinOf } from '../test/support/pki.js';

const { values, positionals: dirs } = parseArgs({
  allowPositionals: true,
  options: {
    client: { type: 'string', default: 'tls' },
    resume: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '50' },
    'per-round': { type: 'string', default: '30' },
  },
});
if (dirs.length === 0 || (values.client !== 'tls' && values.client !== 'https')) {
  console.error('usage: node --import tsx bench/builds-ab.ts [--client tls|https] [--resume] [--rounds N] [--per-round N] BUILD_DIR…\n(a BUILD_DIR is a copy of .build/tsc)');
  process.exit(2);
}
const rounds = Number(values.rounds);
const perRound = Number(values['per-round']);
const kind = values.resume ? 'resume' : 'full';
const HOST = 'localhost';

const moduleOf = <T>(dir: string, file: string) => import(new URL(`file://${process.cwd()}/${dir}/${file}`).href) as Promise<T>;
const builds = await Promise.all(dirs.map(async (dir) => ({ dir, certpin: await moduleOf<typeof Index>(dir, 'index.js'), trust: await moduleOf<typeof TrustStore>(dir, 'node/trust-store.js') })));

const pki = createPki({ name: 'Bench', hosts: [HOST] });
const cold = makeColdWorld(0);
const origin = await startOrigin({ main: { key: pki.leaf.key.keyPem, cert: pki.chainPem }, coldLeaf: cold.leaf, coldChain: cold.chain });
const certpinPort = origin.ports[`https.${kind}.a`]!;
const plainPort = origin.ports[`https.${kind}.b`]!;
const policies = builds.map(({ certpin }) => new certpin.PinPolicy({ hosts: { [HOST]: [pinOf(pki.intermediate), backupPin()] }, ca: [pki.root.pem], trustSystemRoots: false, onWarning: () => {} }));
const secureContext = builds[0]!.trust.tlsTrustFor(policies[0]!).secureContext;

const agents: https.Agent[] = [];
function get(port: number, agent: https.Agent, call: (µs: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    timeCall(call, () => https.get(`https://${HOST}:${port}/`, { agent }, (response) => response.resume().once('end', resolve))).once('error', reject);
  });
}

let lastSession: Buffer | undefined;
const variants: [string, TimedOperation][] = [];
if (values.client === 'tls') {
  variants.push(['plain tls.connect', (call) => tlsOnce(() => {
    const socket = timeCall(call, () => tls.connect({ host: HOST, port: plainPort, servername: HOST, secureContext, session: values.resume ? lastSession : undefined }));
    if (values.resume) socket.once('session', (session: Buffer) => (lastSession = session));
    return socket;
  })]);
  builds.forEach(({ dir, certpin }, i) => variants.push([`pinnedConnect of ${dir}`, (call) => tlsOnce(() => timeCall(call, () => certpin.pinnedConnect(policies[i]!, { host: HOST, port: certpinPort })))]));
} else {
  const plain = new https.Agent({ keepAlive: false, secureContext, ...(values.resume ? {} : { maxCachedSessions: 0 }) });
  agents.push(plain);
  variants.push(['plain https.Agent', (call) => get(plainPort, plain, call)]);
  builds.forEach(({ dir, certpin }, i) => {
    const agent = certpin.pinnedAgent(policies[i]!, { keepAlive: false });
    agents.push(agent);
    variants.push([`pinnedAgent of ${dir}`, (call) => get(certpinPort, agent, call)]);
  });
}

try {
  const { cpu, calls } = await interleavedRounds(variants.map(([, operation]) => operation), rounds, perRound);
  console.log(`Node ${process.version}, ${values.client}, ${kind} handshakes: ${rounds} rounds of ${perRound} connections per variant, interleaved\n`);
  console.log(`${'variant'.padEnd(40)} ${'CPU/conn'.padStart(9)}  ${'Δ CPU (paired median)'.padStart(22)}  slower rounds  ${'call'.padStart(9)}  call over plain`);
  variants.forEach(([name], v) => {
    const paired = cpu[v]!.map((value, r) => value - cpu[0]![r]!);
    const delta = v === 0 ? '' : `${median(paired) >= 0 ? '+' : ''}${median(paired).toFixed(0)} µs`;
    const slower = v === 0 ? '' : `${paired.filter((d) => d > 0).length}/${rounds}`;
    const callDelta = median(calls[v]!) - median(calls[0]!);
    const over = v === 0 ? '' : `${callDelta >= 0 ? '+' : ''}${callDelta.toFixed(1)} µs`;
    console.log(`${name.padEnd(40)} ${`${median(cpu[v]!).toFixed(0)} µs`.padStart(9)}  ${delta.padStart(22)}  ${slower.padStart(13)}  ${`${median(calls[v]!).toFixed(1)} µs`.padStart(9)}  ${over}`);
  });
} finally {
  for (const agent of agents) agent.destroy();
  origin.close();
}
