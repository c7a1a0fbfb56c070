/**
 * What any validator pays at a process's first connection before its own code runs once: Node's C++ reading the
 * new certificates (`X509Certificate`) and OpenSSL checking one signature (`X509_verify`), each for the first time
 * in a fresh process. A floor for the first-connection row: certpin's pinned first connection cannot cost less
 * than this over a plain one, which reads nothing.
 *
 *   node --import tsx bench/first-use-floor.ts [processes]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { median } from './harness.js';
import { createPki } from '../test/support/pki.js';

const processes = Number(process.argv[2] ?? 15);
const pki = createPki({ name: 'Floor', hosts: ['localhost'] });
const dir = mkdtempSync(path.join(tmpdir(), 'certpin-floor-'));
try {
  writeFileSync(path.join(dir, 'leaf.pem'), pki.leaf.pem);
  writeFileSync(path.join(dir, 'intermediate.pem'), pki.intermediate.pem);
  const script = `
    const { readFileSync } = await import('node:fs');
    const leafPem = readFileSync(${JSON.stringify(path.join(dir, 'leaf.pem'))});
    const issuerPem = readFileSync(${JSON.stringify(path.join(dir, 'intermediate.pem'))});
    const { X509Certificate } = await import('node:crypto');
    const t0 = performance.now();
    const issuer = new X509Certificate(issuerPem);
    const leaf = new X509Certificate(leafPem);
    // Node parses lazily on 22 and later: reading the fields a validator needs makes it parse.
    void leaf.subject, leaf.issuer, leaf.validTo, leaf.subjectAltName, issuer.subject;
    const t1 = performance.now();
    const key = issuer.publicKey;
    const ok = leaf.verify(key);
    const t2 = performance.now();
    if (!ok) process.exit(1);
    console.log(JSON.stringify({ read: t1 - t0, verify: t2 - t1 }));`;
  const runs: { read: number; verify: number }[] = [];
  for (let i = 0; i < processes; i++) {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`the child failed: ${result.stderr.slice(0, 300)}`);
    runs.push(JSON.parse(result.stdout) as { read: number; verify: number });
  }
  const ms = (values: number[]) => `${median(values).toFixed(2)} ms`;
  console.log(`Node ${process.version}, ${processes} fresh processes, medians:`);
  console.log(`  two new certificates read by Node's X509Certificate  ${ms(runs.map((r) => r.read))}`);
  console.log(`  the leaf's signature checked (X509_verify)             ${ms(runs.map((r) => r.verify))}`);
  console.log(`  together                                               ${ms(runs.map((r) => r.read + r.verify))}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
