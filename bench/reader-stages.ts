/**
 * Which step of certpin's certificate reader a handshake's cold caches slow down: inside real handshakes to names
 * never seen before (a new leaf each time), the reader's steps run one after the other on the served leaf, each
 * timed, then all again at once; the medians of both are printed side by side. The steps are the reader's own
 * functions, called in the order `readCertificate` calls them, without its checks (the leaf is known to be valid):
 *
 * - the DER structure (the copy, the certificate's and the TBSCertificate's elements);
 * - the two signature algorithm identifiers and the two times;
 * - the issuer and subject names;
 * - the extensions (each one's OID, flag and value, then their meaning);
 * - the signature scheme and the key.
 *
 *   node --import tsx bench/reader-stages.ts [handshakes]
 */
import tls from 'node:tls';
import { readerSteps, tlsTrustFor } from './certpin.js';
import { makeColdWorld } from './decisions.js';
import { median } from './harness.js';
import { startOrigin } from './origin.js';
import { tlsOnce } from './tls-once.js';

const { decodeExtensions, decodeOidStrict, keyInfo, parseAlgorithmIdentifier, parseName, parseTime, readDerChildren, readDerElement, signatureScheme } = readerSteps;
const handshakes = Number(process.argv[2] ?? 200);
const cold = makeColdWorld(handshakes);
const origin = await startOrigin({ main: { key: cold.leaf[0]!.key, cert: cold.leaf[0]!.cert }, coldLeaf: cold.leaf, coldChain: cold.chain });
const port = origin.ports['cold.leaf']!;
const { secureContext } = tlsTrustFor(cold.policy);

const steps = ['DER structure', 'algorithms and times', 'names', 'extensions', 'signature scheme and key'];
const first = steps.map((): number[] => []);
const again = steps.map((): number[] => []);
const unused = steps.map((): number[] => []);

/** The reader's steps on a v3 certificate's DER, each step's time pushed to `into`. */
function readInSteps(input: Buffer, into: number[][]): void {
  let from = performance.now();
  const lap = (step: number) => {
    const now = performance.now();
    into[step]!.push((now - from) * 1000);
    from = now;
  };
  const der = new Uint8Array(input);
  const [tbs, outerAlgorithm] = readDerChildren(der, readDerElement(der), 4) as [ReturnType<typeof readDerElement>, ReturnType<typeof readDerElement>];
  // version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, extensions
  const fields = readDerChildren(der, tbs, 12);
  const headerOf = (index: number) => fields[index - 1]!.next;
  lap(0);
  parseAlgorithmIdentifier(der, outerAlgorithm, tbs.next);
  const algorithm = parseAlgorithmIdentifier(der, fields[2]!, headerOf(2));
  const [notBefore, notAfter] = readDerChildren(der, fields[4]!, 3);
  parseTime(der, notBefore!);
  parseTime(der, notAfter!);
  lap(1);
  parseName(der, fields[3]!, headerOf(3));
  parseName(der, fields[5]!, headerOf(5));
  lap(2);
  const list = readDerElement(der, fields[7]!.start, fields[7]!.end);
  const extensions = readDerChildren(der, list, 64).map((extension) => {
    const parts = readDerChildren(der, extension, 4);
    const value = parts[parts.length - 1]!;
    return { oid: decodeOidStrict(der, parts[0]!), critical: parts.length === 3 && der[parts[1]!.start] !== 0, value: der.subarray(value.start, value.end) };
  });
  decodeExtensions(extensions);
  lap(3);
  signatureScheme(algorithm);
  keyInfo(der.subarray(headerOf(6), fields[6]!.end));
  lap(4);
}

try {
  // The first handshake warms the code; it is not counted.
  for (let i = 0; i < cold.leaf.length; i++) {
    await tlsOnce(() =>
      tls.connect({
        host: 'localhost',
        port,
        servername: cold.leaf[i]!.name,
        secureContext,
        checkServerIdentity: (_host, certificate) => {
          const { raw } = certificate as tls.DetailedPeerCertificate;
          readInSteps(raw, i === 0 ? unused : first);
          readInSteps(raw, i === 0 ? unused : again);
          return undefined;
        },
      }),
    );
  }
  console.log(`Node ${process.version}: certpin's reader step by step on a new leaf, inside ${cold.leaf.length - 1} handshakes\n`);
  console.log(`${'step'.padEnd(28)} ${'first read'.padStart(11)} ${'at once again'.padStart(14)}`);
  steps.forEach((step, k) => console.log(`${step.padEnd(28)} ${`${median(first[k]!).toFixed(1)} µs`.padStart(11)} ${`${median(again[k]!).toFixed(1)} µs`.padStart(14)}`));
} finally {
  origin.close();
}
