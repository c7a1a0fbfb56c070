/**
 * Where a pinned connection's extra time goes (`node --import tsx bench/profile-connect.ts`): bare TLS connections
 * (handshake only, no HTTP) to the full-handshake origin, interleaved with plain `tls.connect`: with a
 * pass-through `checkServerIdentity` of one's own, with certpin's `checkServerIdentity` alone, and `pinnedConnect`.
 */
import tls from 'node:tls';
import { PinPolicy, pinnedConnect } from '../src/index.js';
import { createPinCheck } from '../src/node/pin-check.js';
import { backupPin, createPki, pinOf } from '../test/support/pki.js';
import { startOrigin } from './connections.js';
import { compare, formatMicros } from './harness.js';

const pki = createPki({ name: 'Bench', hosts: ['localhost'] });
const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: [pki.root.pem], trustSystemRoots: false, onWarning: () => {} });
const origin = await startOrigin(pki.leaf.key.keyPem, pki.chainPem);
const context = tls.createSecureContext({ ca: pki.root.pem });
const port = Number(process.env.PORT_KIND === 'resume' ? origin.resume : origin.full);
const rounds = Number(process.argv[2] ?? 30);

function handshake(open: () => tls.TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = open();
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

const base = { host: 'localhost', port, servername: 'localhost' };
const plain = () => handshake(() => tls.connect({ ...base, secureContext: context }));
const check = createPinCheck(policy, { names: [], port: undefined }).checkServerIdentity;
const withCheck = () => handshake(() => tls.connect({ ...base, secureContext: context, checkServerIdentity: check }));
const pinned = () => handshake(() => pinnedConnect(policy, { ...base }));
const ownCheck = (host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(host, cert);
const withOwnCheck = () => handshake(() => tls.connect({ ...base, secureContext: context, checkServerIdentity: ownCheck }));

for (const [name, a] of [['tls.connect + a pass-through checkServerIdentity', withOwnCheck], ['tls.connect + certpin checkServerIdentity', withCheck], ['pinnedConnect', pinned]] as const) {
  const c = await compare(a, plain, { rounds, perRound: 20 });
  console.log(`${name.padEnd(50)} wall ${formatMicros(c.a)} vs plain ${formatMicros(c.b)}: ${c.ratio.toFixed(3)}x (IQR ${c.ratioLow.toFixed(3)}–${c.ratioHigh.toFixed(3)}); CPU ${formatMicros(c.cpuDelta)}/conn (IQR ${formatMicros(c.cpuDeltaLow)}…${formatMicros(c.cpuDeltaHigh)})`);
}
origin.close();
