/**
 * The cast of the client adapter tests: the bank's PKI (pinned), a partner's PKI (trusted, valid, not pinned for
 * localhost) and an interception proxy's CA that the client trusts, with the policy every adapter test starts from.
 */
import { PinPolicy } from '../../src/index.js';
import type { PinPolicyOptions } from '../../src/index.js';
import { backupPin, createCertificate, createPki, pinOf } from './pki.js';
import type { Issued, TestPki } from './pki.js';
import { startHttpServer, startHttpsServer, startMitm } from './servers.js';
import type { RunningHttpServer, RunningMitm, RunningServer } from './servers.js';

export interface ClientWorld {
  /** The pinned server's chain (root, intermediate, leaf for localhost, 127.0.0.1 and ::1). */
  readonly pki: TestPki;
  /** A second, unrelated PKI whose root the policy also trusts: a valid chain that is not the pinned one. */
  readonly otherPki: TestPki;
  /** A proxy CA the client trusts, as a corporate proxy's or a debugging tool's root is. */
  readonly attacker: Issued;
  /** localhost pinned to the intermediate plus a backup; all three roots trusted, system roots not. */
  policyOf(extra?: Partial<PinPolicyOptions>): PinPolicy;
}

export function createClientWorld(other: { name: string; hosts?: readonly string[] } = { name: 'Partner', hosts: ['127.0.0.1'] }): ClientWorld {
  const pki = createPki();
  const otherPki = createPki(other);
  const attacker = createCertificate({ commonName: 'Corporate Proxy CA', organization: 'Proxy', ca: true });
  return {
    pki,
    otherPki,
    attacker,
    policyOf: (extra = {}) =>
      new PinPolicy({
        hosts: { localhost: [pinOf(pki.intermediate), backupPin()] },
        ca: [pki.root.pem, otherPki.root.pem, attacker.pem],
        trustSystemRoots: false,
        onWarning: () => {},
        ...extra,
      }),
  };
}

/** The servers of an adapter suite: the pinned origin, a second origin with the partner's chain, plain HTTP, a MITM. */
export interface AdapterServers {
  /** The pinned origin; `?to=URL` answers a 302 to that URL. */
  readonly origin: RunningServer;
  /** 127.0.0.1 with the partner's valid chain. */
  readonly second: RunningServer;
  readonly plain: RunningHttpServer;
  /** Intercepts localhost with a certificate from the trusted proxy CA and relays to the origin. */
  readonly mitm: RunningMitm;
  close(): Promise<void>;
}

export async function startAdapterServers(world: ClientWorld): Promise<AdapterServers> {
  const { pki, otherPki, attacker } = world;
  const plain = await startHttpServer();
  const second = await startHttpsServer({ key: otherPki.leaf.key.keyPem, cert: otherPki.chainPem, name: 'second' });
  const origin = await startHttpsServer({
    key: pki.leaf.key.keyPem,
    cert: pki.chainPem,
    handler: (req, res) => {
      const to = new URL(req.url ?? '/', 'https://localhost').searchParams.get('to');
      if (to) res.writeHead(302, { location: to }).end();
      else res.end('hello from origin');
    },
  });
  const mitm = await startMitm({ attackerCa: attacker, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
  return {
    origin,
    second,
    plain,
    mitm,
    close: async () => {
      await Promise.all([origin.close(), second.close(), plain.close(), mitm.close()]);
    },
  };
}
