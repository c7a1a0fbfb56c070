/**
 * Where the pin check's time goes (`node --import tsx bench/profile-check.ts`, or with `--cpu-prof`): the parts of
 * one cold decision on fresh chains, measured one by one, and one cached decision.
 */
import { X509Certificate } from 'node:crypto';
import { decide as decideWith } from '../src/core/decision.js';
import { PinPolicy } from '../src/index.js';
import { tlsTrustFor } from '../src/node/trust-store.js';
import { normalizeHost } from '../src/tools/index.js';
import { chainCertificate, verifyChain } from '../src/core/chain.js';
import { backupPin, createPki, pinOf } from '../test/support/pki.js';
import { median } from './harness.js';

const count = Number(process.argv[2] ?? 50);
const pkis = Array.from({ length: count }, (_, i) => createPki({ name: `P${i}`, hosts: [`h${i}.test`] }));
const policy = new PinPolicy({
  hosts: Object.fromEntries(pkis.map((p, i) => [`h${i}.test`, [pinOf(p.intermediate), backupPin()]])),
  ca: pkis.map((p) => p.root.pem),
  trustSystemRoots: false,
  onWarning: () => {},
});
const anchors = tlsTrustFor(policy).anchors;
const decide = (p: PinPolicy, h: { host: string; port: number; chain: Buffer[] }) => decideWith(p, { names: [h.host], port: h.port, chain: h.chain }, anchors);

function time(label: string, fn: (i: number) => unknown, n = count): void {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    fn(i);
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  console.log(`${label.padEnd(58)} ${median(samples).toFixed(1)} µs (median of ${n})`);
}

const half = Math.floor(count / 2);
time('new X509Certificate(leaf DER)', (i) => new X509Certificate(pkis[i]!.leaf.der));
time('leaf.publicKey.export(spki)', (i) => pkis[i]!.leaf.cert.publicKey.export({ type: 'spki', format: 'der' }));
time('leaf.verify(intermediate key)', (i) => pkis[i]!.leaf.cert.verify(pkis[i]!.intermediate.cert.publicKey));
time('chainCertificate(fresh leaf DER) (parse + digests)', (i) => chainCertificate(Buffer.from(pkis[i]!.leaf.der)), half);
time('verifyChain(leaf, [intermediate]) after facts cached', (i) => verifyChain(pkis[i]!.leaf.der, [pkis[i]!.intermediate.der], anchors, Date.now()), half);
time('decide(policy, fresh chain) cold', (i) => decide(policy, { host: `h${i + half}.test`, port: 443, chain: [Buffer.from(pkis[i + half]!.leaf.der), Buffer.from(pkis[i + half]!.intermediate.der)] }), count - half);
time('decide(policy, same chain) cached', () => decide(policy, { host: 'h0.test', port: 443, chain: [Buffer.from(pkis[0]!.leaf.der), Buffer.from(pkis[0]!.intermediate.der)] }), 2000);
time('chainCertificate(same DER) cached', () => chainCertificate(Buffer.from(pkis[0]!.leaf.der)), 2000);
time('policy.ruleFor(h0.test)', () => policy.ruleFor('h0.test'), 2000);
time('normalizeHost(h0.test)', () => normalizeHost('h0.test'), 2000);
