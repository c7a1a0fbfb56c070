/**
 * Why the fetch full-handshake row costs more than the node:https one (`node --import tsx bench/profile-session-offer.ts`):
 * new connections through undici Agents with minimal connectors, against the origin that never resumes, compared
 * with undici's own Agent. It separates the pin check from the offer of a cached TLS session that the server then
 * refuses (pinnedConnect offers its checked session on every connection; undici's Agent keeps sessions only through
 * WeakRefs, so it rarely has one to offer).
 */
import tls from 'node:tls';
import { Agent } from 'undici';
import type { buildConnector } from 'undici';
import { PinPolicy, pinnedConnect } from '../src/index.js';
import { createPinCheck } from '../src/node/pin-check.js';
import { tlsTrustFor } from '../src/node/trust-store.js';
import { backupPin, createPki, pinOf } from '../test/support/pki.js';
import { startOrigin } from './connections.js';
import { compare, formatMicros } from './harness.js';

const pki = createPki({ name: 'Bench', hosts: ['localhost'] });
const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: [pki.root.pem], trustSystemRoots: false, onWarning: () => {} });
const origin = await startOrigin(pki.leaf.key.keyPem, pki.chainPem);
const url = `https://localhost:${origin.full}/close`;
const rounds = Number(process.argv[2] ?? 10);

function connector(open: (port: number) => tls.TLSSocket): buildConnector.connector {
  return (options, callback) => {
    const socket = open(Number(options.port));
    socket.once('secureConnect', () => callback(null, socket));
    socket.once('error', (error) => callback(error, null));
  };
}

const base = (port: number) => ({ host: 'localhost', port, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
const check = createPinCheck(policy, { names: [], port: undefined }).checkServerIdentity;
let offered: Buffer | undefined;
const variants: [string, Agent][] = [
  ['tls.connect, no pin check, no session', new Agent({ connect: connector((port) => tls.connect({ ...base(port), secureContext: tlsTrustFor(policy).secureContext })) })],
  ['tls.connect + certpin pin check only', new Agent({ connect: connector((port) => tls.connect({ ...base(port), secureContext: tlsTrustFor(policy).secureContext, checkServerIdentity: check })) })],
  ['tls.connect offering the last session only', new Agent({ connect: connector((port) => tls.connect({ ...base(port), secureContext: tlsTrustFor(policy).secureContext, session: offered }).on('session', (s: Buffer) => (offered = s))) })],
  ['pinnedConnect (check + session offer)', new Agent({ connect: connector((port) => pinnedConnect(policy, base(port))) })],
];
const plain = new Agent({ connect: { secureContext: tls.createSecureContext({ ca: pki.root.pem }) } });
const get = (dispatcher: Agent) => async () => {
  const response = await fetch(url, { dispatcher } as unknown as RequestInit);
  await response.arrayBuffer();
};
for (const [name, agent] of variants) {
  const c = await compare(get(agent), get(plain), { rounds, perRound: 20 });
  console.log(`${name.padEnd(46)} CPU ${formatMicros(c.cpuDelta)}/conn vs undici's Agent (IQR ${formatMicros(c.cpuDeltaLow)}…${formatMicros(c.cpuDeltaHigh)}), wall ${c.ratio.toFixed(3)}x`);
  await agent.close();
}
await plain.close();
origin.close();
