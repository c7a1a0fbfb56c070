/**
 * Is the first read inside a handshake slow because of what ran before it? Outside any handshake, certpin's reader
 * (optimised first on 100 certificates) reads a certificate it has not seen, right after one disturbance each time,
 * the disturbances rotating, and each one's median is printed:
 *
 * - nothing (the reader's speed on new certificates);
 * - memory traffic: 8 MB written, or read, which evicts the data caches;
 * - one RSA-2048 or one P-256 signature by OpenSSL (some of what a handshake runs);
 * - the thread idle 1 or 5 ms (`Atomics.wait`), as a client waits for the server's reply; a 1 ms spin beside it.
 *
 * `bench/cold-parts.ts` times the same read inside real handshakes.
 *
 *   node --import tsx bench/reader-disturbed.ts [rounds]
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { readCertificate } from './certpin.js';
import { median } from './harness.js';
import { createPki } from '../test/support/pki.js';

const rounds = Number(process.argv[2] ?? 60);
const leaves = Array.from({ length: 100 + rounds * 8 }, () => createPki({ hosts: ['localhost'] }).leaf.der);
for (const der of leaves.slice(0, 100)) if (!readCertificate(der).ok) throw new Error('unreadable test certificate');

const memory = Buffer.alloc(8 * 1024 * 1024);
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const idle = (ms: number) => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const disturbances: Record<string, () => void> = {
  nothing: () => {},
  'write 8 MB': () => void memory.fill(Math.floor(Math.random() * 255)),
  'read 8 MB': () => {
    let sum = 0;
    for (let i = 0; i < memory.length; i += 64) sum += memory[i]!;
    if (sum < 0) throw new Error('unreachable');
  },
  'one RSA-2048 signature': () => void sign('sha256', Buffer.from('x'), rsa),
  'one P-256 signature': () => void sign('sha256', Buffer.from('x'), p256),
  'idle 1 ms': () => idle(1),
  'idle 5 ms': () => idle(5),
  'spin 1 ms': () => {
    const end = performance.now() + 1;
    while (performance.now() < end);
  },
};
const times = new Map(Object.keys(disturbances).map((name) => [name, [] as number[]]));
let next = 100;
for (let round = 0; round < rounds; round++) {
  for (const [name, disturb] of Object.entries(disturbances)) {
    const der = leaves[next++]!;
    disturb();
    const start = performance.now();
    readCertificate(der);
    times.get(name)!.push((performance.now() - start) * 1000);
  }
}
console.log(`Node ${process.version}: certpin's reader on a new certificate right after each disturbance, ${rounds} rounds\n`);
for (const [name, samples] of times) console.log(`${name.padEnd(24)} ${`${median(samples).toFixed(0)} µs`.padStart(8)}`);
