/**
 * The servers a team rotating certificates has, on 127.0.0.1, for the `certpin verify` tests and the report page:
 * a healthy host, one that sends only its leaf, one after its rotation to the backup key, one whose leaf expires in
 * ten days, a mis-pinned one (the policy pins a key it does not use), one that is down, one that accepts TCP and
 * never speaks TLS. Certificates are made at start; the policy file pins them the way `certpin init` would.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { backupPin, createCertificate, generateKey, issueLeaf, pinOf } from './pki.js';
import type { Issued, KeyPair, TestPki } from './pki.js';
import { startHttpsServer } from './servers.js';
import type { RunningServer } from './servers.js';

const DAY = 86_400_000;

/** A root (3 years old), an intermediate (1 year old) and a leaf with the given validity. */
function pkiWithDates(label: string, hosts: readonly string[], leafNotBefore: Date, leafNotAfter: Date): TestPki {
  const root = createCertificate({ commonName: `${label} Root CA`, organization: label, ca: true, notBefore: new Date(Date.now() - 3 * 365 * DAY), notAfter: new Date(Date.now() + 7 * 365 * DAY) });
  const intermediate = createCertificate({ commonName: `${label} Issuing CA`, organization: label, ca: true, pathLength: 0, issuer: root, notBefore: new Date(Date.now() - 365 * DAY), notAfter: new Date(Date.now() + 4 * 365 * DAY) });
  const leaf = createCertificate({ commonName: hosts[0]!, organization: label, sans: hosts, issuer: intermediate, notBefore: leafNotBefore, notAfter: leafNotAfter });
  return { root, intermediate, leaf, chainPem: leaf.pem + intermediate.pem };
}

/** SPKI pin of a key pair (no certificate needed). */
export function keyPin(key: KeyPair): string {
  return pinOf({ key } as Issued);
}

export interface VerifyWorld {
  readonly dir: string;
  readonly pki: TestPki;
  /** The PKI whose leaf expires in ten days. */
  readonly short: TestPki;
  /** The leaf the rotated host served before its rotation (its key is retired). */
  readonly retiredLeaf: Issued;
  /** The backup key the rotated host now uses. */
  readonly backupKey: KeyPair;
  /** The leaf the rotated host serves now, for the backup key. */
  readonly rotatedLeaf: Issued;
  readonly ports: {
    readonly good: number;
    readonly leafOnly: number;
    readonly rotated: number;
    readonly expiring: number;
    readonly down: number;
    readonly silent: number;
  };
  /** Trust anchors: both roots, in `dir/roots.pem`. */
  readonly rootsFile: string;
  /** `--connect HOST=127.0.0.1:PORT` arguments for the hosts of {@link writePolicy}. */
  connectArgs(hosts: Record<string, number>): string[];
  /** Writes a policy file in `dir` and returns its path. */
  writePolicy(name: string, document: unknown): string;
  close(): Promise<void>;
}

export async function startVerifyWorld(): Promise<VerifyWorld> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-verify-'));
  // Dates like a real deployment's: CAs issued years ago, 90-day leaves at various ages.
  const at = (days: number) => new Date(Date.now() + days * DAY);
  const pki = pkiWithDates('Bank', ['ok.test', 'mispinned.test', 'nobackup.test', 'soon.test', 'leafonly.test', 'localhost'], at(-40), at(50));
  const short = pkiWithDates('Short', ['expiring.test'], at(-80), new Date(Date.now() + 10 * DAY + 3_600_000));
  const retiredLeaf = issueLeaf(pki.intermediate, ['rotated.test'], { notBefore: at(-85), notAfter: at(5) });
  const backupKey = generateKey('ec-p256');
  const rotatedLeaf = issueLeaf(pki.intermediate, ['rotated.test'], { key: backupKey, notBefore: at(-3), notAfter: at(87) });
  const servers: RunningServer[] = await Promise.all([
    startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem }),
    startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.leaf.pem }),
    startHttpsServer({ key: backupKey.keyPem, cert: rotatedLeaf.pem + pki.intermediate.pem }),
    startHttpsServer({ key: short.leaf.key.keyPem, cert: short.chainPem }),
  ]);
  const down = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const silentSockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    silentSockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => silentSockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const rootsFile = path.join(dir, 'roots.pem');
  writeFileSync(rootsFile, pki.root.pem + short.root.pem);
  return {
    dir,
    pki,
    short,
    retiredLeaf,
    backupKey,
    rotatedLeaf,
    rootsFile,
    ports: {
      good: servers[0]!.port,
      leafOnly: servers[1]!.port,
      rotated: servers[2]!.port,
      expiring: servers[3]!.port,
      down,
      silent: (silent.address() as net.AddressInfo).port,
    },
    connectArgs: (hosts) => Object.entries(hosts).flatMap(([host, port]) => ['--connect', `${host}=127.0.0.1:${port}`]),
    writePolicy(name, document) {
      const file = path.join(dir, name);
      writeFileSync(file, JSON.stringify(document, null, 2));
      return file;
    },
    async close() {
      for (const s of silentSockets) s.destroy();
      await Promise.all([...servers.map((s) => s.close()), new Promise<void>((resolve) => silent.close(() => resolve()))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The pin sets of the world's hosts, as `certpin init` writes them (issuing CA, leaf, backup). */
export function worldPinSets(world: VerifyWorld): Record<string, unknown> {
  const { pki, short } = world;
  return {
    'ok.test': [pinOf(pki.intermediate), pinOf(pki.leaf), backupPin()],
    'rotated.test': [pinOf(pki.intermediate), pinOf(world.retiredLeaf), keyPin(world.backupKey)],
    'expiring.test': [pinOf(short.leaf), backupPin()],
    'mispinned.test': [backupPin(), backupPin()],
    'leafonly.test': [pinOf(pki.intermediate), pinOf(pki.leaf), backupPin()],
    'down.test': [pinOf(pki.intermediate), backupPin()],
    'silent.test': [pinOf(pki.intermediate), backupPin()],
  };
}

/** Where each host of {@link worldPinSets} is served. */
export function worldAddresses(world: VerifyWorld): Record<string, number> {
  const { ports } = world;
  return {
    'ok.test': ports.good,
    'rotated.test': ports.rotated,
    'expiring.test': ports.expiring,
    'mispinned.test': ports.good,
    'leafonly.test': ports.leafOnly,
    'down.test': ports.down,
    'silent.test': ports.silent,
  };
}
