/**
 * Where a first decision for new certificates goes, inside real handshakes: each handshake to a name never seen
 * before (a new leaf under a known intermediate, or a wholly new chain) runs one part of certpin's decision in its
 * `checkServerIdentity`, the parts rotating from one handshake to the next, and each part's median is printed:
 *
 * - facts: reading the served certificates (certpin's DER reader; the intermediate and root come from its cache);
 * - validate: that and path validation (the issuer look-ups, OpenSSL's checks, one signature per new certificate);
 * - decide: that and the pin decision (names, pin sets, matching);
 * - Node's X509Certificate: Node parsing the same leaf at the same moment, as a yardstick for the cold caches;
 * - certpin's signature check alone, and Node's (OpenSSL's X509_verify) alone, the certificates read untimed;
 * - Node's floor: what any sound validator must do for the new certificates, done by Node at the same moment (each
 *   read, each signature below the anchor checked): a target under it cannot be met on this machine by reading less;
 * - the reader alone (`readCertificate`, no cache), and the same read repeated at once with only the repeat timed:
 *   the difference is what the handshake's work before it costs a first read, not the code's speed;
 * - with --control, the reader on a certificate the server never sent (is it the moment or the served bytes?). Not
 *   by default: on Node 24 these reads make the reader's other parts slower, even the repeated read (about 107
 *   instead of 30 µs), for a reason not found; on Node 20 and 22 they change nothing measurable.
 *   `bench/reader-disturbed.ts` disturbs the reader outside handshakes (memory traffic, signatures, idling).
 *
 *   node --import tsx bench/cold-parts.ts [leaf|chain] [handshakes] [--control]
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { certificateFacts, decide, peerChain, readCertificate, signatureVerifies, tlsTrustFor, validateServedChain } from './certpin.js';
import { makeColdWorld } from './decisions.js';
import { median } from './harness.js';
import { startOrigin } from './origin.js';
import { tlsOnce } from './tls-once.js';

const kind = process.argv[2] === 'chain' ? 'chain' : 'leaf';
const handshakes = Number(process.argv[3] ?? 400);
const cold = makeColdWorld(handshakes);
const origin = await startOrigin({ main: { key: cold.leaf[0]!.key, cert: cold.leaf[0]!.cert }, coldLeaf: cold.leaf, coldChain: cold.chain });
const entries = kind === 'chain' ? cold.chain : cold.leaf;
const port = origin.ports[`cold.${kind}`]!;
const trust = tlsTrustFor(cold.policy);

const control = process.argv.includes('--control');
// Node's X509Certificate reads the first certificate of the bundle, and its `raw` is what a handshake hands over.
const unrelated = control ? makeColdWorld(handshakes).leaf.map((entry) => new X509Certificate(entry.cert).raw) : [];
let unrelatedNext = 0;
const parts: Record<string, (host: string, leaf: tls.DetailedPeerCertificate) => void> = {
  facts: (_host, leaf) => {
    const linked = peerChain(leaf);
    linked.der.forEach((der, i) => certificateFacts(der, linked.fingerprints[i]));
  },
  validate: (_host, leaf) => {
    const linked = peerChain(leaf);
    validateServedChain(linked.der, trust.anchors.index, { now: Date.now(), partialChain: trust.anchors.partialChain }, linked.fingerprints);
  },
  decide: (host, leaf) => {
    const linked = peerChain(leaf);
    const decision = decide(cold.policy, { names: [host, 'localhost'], port, chain: linked.der, fingerprints: linked.fingerprints }, trust.anchors);
    if (!decision.allowed) throw new Error(`refused: ${decision.outcome}`);
  },
  "Node's X509Certificate": (_host, leaf) => void new X509Certificate(leaf.raw),
  "certpin's signature check alone (facts read untimed)": (_host, leaf) => {
    const linked = peerChain(leaf);
    const [subject, issuer] = linked.der.map((der, i) => certificateFacts(der, linked.fingerprints[i]));
    if (!subject?.ok || !issuer?.ok) throw new Error('unreadable');
    timedFrom = performance.now();
    if (!signatureVerifies(subject.facts, issuer.facts, { fresh: 0, cost: 0, limit: 2 })) throw new Error('the leaf does not verify');
  },
  // What any sound validator must do for new certificates, done by Node and OpenSSL at the same moment: the floor
  // under the targets. Each certificate not seen before is read (OpenSSL decodes its key as it reads it) and each
  // signature below the anchor is checked with X509_verify. The anchors come read, as certpin's index has them.
  "Node's floor: new certificates read, each signature checked": (_host, leaf) => {
    for (let c = leaf; c.issuerCertificate && c.issuerCertificate !== c; c = c.issuerCertificate) {
      if (!nodeRead(c.raw, c.fingerprint256).verify(nodeRead(c.issuerCertificate.raw, c.issuerCertificate.fingerprint256).publicKey)) {
        throw new Error('a signature of the chain does not verify');
      }
    }
  },
  "Node's signature check alone (the certificates read untimed)": (_host, leaf) => {
    const subject = nodeRead(leaf.raw, leaf.fingerprint256);
    const key = nodeRead(leaf.issuerCertificate.raw, leaf.issuerCertificate.fingerprint256).publicKey;
    timedFrom = performance.now();
    if (!subject.verify(key)) throw new Error('the leaf does not verify');
  },
  // The reader alone (no cache), then the same read again at once: what the handshake's work costs the first read.
  'the reader alone': (_host, leaf) => void readCertificate(leaf.raw),
  'the reader again, at once (only the second timed)': (_host, leaf) => {
    readCertificate(leaf.raw);
    timedFrom = performance.now();
    void readCertificate(leaf.raw);
  },
};
if (control) parts['the reader, on a certificate never served'] = () => void readCertificate(unrelated[unrelatedNext++ % unrelated.length]!);
// The anchors read beforehand, as the policy's own anchors are (Node's X509Certificates).
const nodeCertificates = new Map((trust.caPems ?? []).map((pem) => new X509Certificate(pem)).map((c) => [c.fingerprint256, c]));
/** Node's reading of a certificate, kept by fingerprint as certpin keeps its facts. */
function nodeRead(der: Buffer, fingerprint256: string): X509Certificate {
  let read = nodeCertificates.get(fingerprint256);
  if (!read) nodeCertificates.set(fingerprint256, (read = new X509Certificate(der)));
  return read;
}
/** Set by a part that times only its end. */
let timedFrom: number | undefined;
const names = Object.keys(parts);
const times = new Map(names.map((name) => [name, [] as number[]]));

try {
  // The first handshake warms the trust anchors' index and the code; it is not counted.
  for (let i = 0; i < entries.length; i++) {
    const name = names[i % names.length]!;
    await tlsOnce(() =>
      tls.connect({
        host: 'localhost',
        port,
        servername: entries[i]!.name,
        secureContext: trust.secureContext,
        checkServerIdentity: (host, certificate) => {
          const start = performance.now();
          parts[name]!(host, certificate as tls.DetailedPeerCertificate);
          if (i > 0) times.get(name)!.push((performance.now() - (timedFrom ?? start)) * 1000);
          timedFrom = undefined;
          return undefined;
        },
      }),
    );
  }
  console.log(`Node ${process.version}: a new ${kind === 'leaf' ? 'leaf under a known intermediate' : 'chain (leaf, intermediate, root)'}, ${entries.length - 1} first handshakes, each timing one part inside checkServerIdentity\n`);
  for (const name of names) console.log(`${name.padEnd(56)} ${`${median(times.get(name)!).toFixed(0)} µs`.padStart(8)}  (${times.get(name)!.length} handshakes)`);
} finally {
  origin.close();
}
