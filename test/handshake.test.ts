/**
 * Security invariants of PRODUCT.md enforced in real TLS handshakes on 127.0.0.1, through both node:https entry
 * points: `pinnedAgent` and `pinnedTlsOptions`. Each attack has a control showing the test setup is able to fail
 * (the same attack succeeds without the defence).
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { PinPolicy, classifyError, pinnedAgent, pinnedConnect, pinnedTlsOptions } from '../src/index.js';
import type { PinPolicyOptions, PinReport } from '../src/index.js';
import { backupPin, createCertificate, createPki, issueLeaf, pinOf } from './support/pki.js';
import type { Issued } from './support/pki.js';
import { ipv6SanMatchBroken } from './support/node-quirks.js';
import { httpsGet, startHttpsServer, startMitm } from './support/servers.js';
import type { RunningMitm, RunningServer } from './support/servers.js';

const DAY = 86_400_000;
const SECRET = 'Bearer SECRET-TOKEN-42';
const pki = createPki();
const proxyCa = createCertificate({ commonName: 'Corporate Proxy CA', organization: 'Proxy', ca: true });
const cleanups: (() => unknown)[] = [];

function policyOf(pins: string[], extra: Partial<PinPolicyOptions> = {}): PinPolicy {
  return new PinPolicy({ hosts: { localhost: pins }, ca: [pki.root.pem, proxyCa.pem], trustSystemRoots: false, onWarning: () => {}, ...extra });
}
const goodPins = () => [pinOf(pki.intermediate), backupPin()];

/** A pinned client: opens a connection to 127.0.0.1:port for `localhost`, sends a request with a secret, returns the body. */
type Client = (policy: PinPolicy, port: number, extra?: Record<string, unknown>) => Promise<string>;

const clients: Record<string, Client> = {
  async pinnedAgent(policy, port, extra = {}) {
    const agent = pinnedAgent(policy, { keepAlive: false });
    try {
      const response = await httpsGet(`https://localhost:${port}/account`, { agent, host: '127.0.0.1', servername: 'localhost', headers: { authorization: SECRET }, ...extra });
      return response.body;
    } finally {
      agent.destroy();
    }
  },
  pinnedTlsOptions(policy, port, extra = {}) {
    // Spread last, as the README says: the pinned options then win over anything set before them.
    return rawRequest(tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...extra, ...pinnedTlsOptions(policy) }));
  },
  async pinnedConnect(policy, port, extra = {}) {
    return rawRequest(pinnedConnect(policy, { host: '127.0.0.1', port, servername: 'localhost', ...extra }));
  },
};

/** Writes an HTTP request at once, before the handshake completes: it must never leave before the pin check. */
function rawRequest(socket: tls.TLSSocket): Promise<string> {
  socket.write(`GET /account HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${SECRET}\r\nConnection: close\r\n\r\n`);
  return new Promise((resolve, reject) => {
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
    socket.on('end', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)));
    socket.on('error', reject);
  });
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  await promise.then(() => assert.fail(`expected ${code}, the connection succeeded`), (error: unknown) => (caught = error));
  assert.equal((caught as { code?: string }).code, code, String(caught));
  return caught as Error;
}

let origin: RunningServer;
let mitm: RunningMitm;

before(async () => {
  origin = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem, name: 'bank' });
  mitm = await startMitm({ attackerCa: proxyCa, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
  cleanups.push(() => origin.close(), () => mitm.close());
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

for (const [name, request] of Object.entries(clients)) {
  describe(`${name}: invariants`, () => {
    it('connects to the real server when a pin of the verified chain matches (leaf, intermediate or root)', async () => {
      for (const pinned of [pki.leaf, pki.intermediate, pki.root]) {
        assert.equal(await request(policyOf([pinOf(pinned), backupPin()]), origin.port), 'hello from bank');
      }
    });

    it('refuses when only a backup key that is not on the chain is pinned', async () => {
      await rejectsWith(request(policyOf([backupPin(), backupPin()]), origin.port), 'ERR_CERTPIN_PIN_MISMATCH');
    });

    it('1. refuses a MITM whose root the client trusts, before any request byte leaves', async () => {
      const before = mitm.intercepted.length;
      const requestsBefore = origin.requests.length;
      const error = await rejectsWith(request(policyOf(goodPins()), mitm.port), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.match(error.message, /CN = Corporate Proxy CA/);
      assert.match(error.message, new RegExp(pinOf(pki.intermediate).replace(/[+/]/g, '\\$&')));
      assert.equal(mitm.intercepted.length, before, 'the proxy read nothing');
      assert.equal(origin.requests.length, requestsBefore);
    });

    it('1. control: without a pin for the host, the same MITM reads the secret', async () => {
      const policy = new PinPolicy({ hosts: {}, ca: [pki.root.pem, proxyCa.pem], trustSystemRoots: false });
      assert.equal(await request(policy, mitm.port), 'hello from bank');
      assert.ok(mitm.intercepted.join('').includes(SECRET), 'the proxy read the secret');
    });

    it('2. refuses a forged leaf with the real intermediate and root appended (chain-append)', async () => {
      const attacker = createCertificate({ commonName: 'Attacker Issuing CA', ca: true, issuer: proxyCa });
      const forged = issueLeaf(attacker, ['localhost']);
      const server = await startHttpsServer({ key: forged.key.keyPem, cert: forged.pem + attacker.pem + pki.intermediate.pem + pki.root.pem });
      try {
        await rejectsWith(request(policyOf([pinOf(pki.intermediate), pinOf(pki.root)]), server.port), 'ERR_CERTPIN_PIN_MISMATCH');
        assert.equal(server.requests.length, 0);
      } finally {
        await server.close();
      }
    });

    it('6. refuses an expired certificate whose key is pinned', async () => {
      const expired = issueLeaf(pki.intermediate, ['localhost'], { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
      await withServer(expired, async (port) => rejectsWith(request(policyOf([pinOf(expired), backupPin()]), port), 'CERT_HAS_EXPIRED'));
    });

    it('6. refuses a certificate for another host whose key is pinned', async () => {
      const other = issueLeaf(pki.intermediate, ['other.test']);
      await withServer(other, async (port) => rejectsWith(request(policyOf([pinOf(other), backupPin()]), port), 'ERR_TLS_CERT_ALTNAME_INVALID'));
    });

    it('6. refuses a pinned self-signed certificate that is not a trust anchor', async () => {
      const self = createCertificate({ commonName: 'localhost' });
      await withServer(self, async (port) => rejectsWith(request(policyOf([pinOf(self), backupPin()]), port), 'DEPTH_ZERO_SELF_SIGNED_CERT'), '');
    });

    it('6. refuses a pinned chain to a root the policy does not trust', async () => {
      const rogue = createPki({ name: 'Rogue' });
      await withServer(rogue.leaf, async (port) => rejectsWith(request(policyOf([pinOf(rogue.leaf), pinOf(rogue.root)]), port), 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), rogue.intermediate.pem);
    });

    it('8. a pin check that throws fails the connection closed', async () => {
      const broken = policyOf(goodPins(), { now: () => { throw new Error('clock failure'); } });
      const error = await rejectsWith(request(broken, origin.port), 'ERR_CERTPIN_CHECK_FAILED');
      assert.match(error.message, /clock failure/);
    });

    it('report-only: connects, and reports the mismatch', async () => {
      const reports: PinReport[] = [];
      const policy = policyOf([backupPin(), backupPin()], { reportOnly: true, onReport: (r) => reports.push(r) });
      assert.equal(await request(policy, origin.port), 'hello from bank');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.reason, 'pin-mismatch');
      assert.equal(reports[0]!.enforce, false);
      assert.equal(reports[0]!.hostname, 'localhost');
      assert.equal(reports[0]!.port, origin.port);
      assert.ok(!JSON.stringify(reports[0]).includes('/account'), 'no request path in a report');
    });

    it('enforced mismatches are reported too', async () => {
      const reports: PinReport[] = [];
      await rejectsWith(request(policyOf(goodPins(), { onReport: (r) => reports.push(r) }), mitm.port), 'ERR_CERTPIN_PIN_MISMATCH');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.enforce, true);
    });

    it('an expired pin set connects under CA validation only, and still refuses an untrusted chain', async () => {
      const expiredSet = { localhost: { pins: [backupPin(), backupPin()], expires: '2020-01-01' } };
      assert.equal(await request(policyOf([], { hosts: expiredSet }), origin.port), 'hello from bank');
      const self = createCertificate({ commonName: 'localhost' });
      await withServer(self, async (port) => rejectsWith(request(policyOf([], { hosts: expiredSet }), port), 'DEPTH_ZERO_SELF_SIGNED_CERT'), '');
    });

    it('onlyPinnedHosts refuses a host without a pin set', async () => {
      const policy = new PinPolicy({ hosts: { 'api.bank.test': goodPins() }, onlyPinnedHosts: true, ca: pki.root.pem, trustSystemRoots: false, onWarning: () => {} });
      await rejectsWith(request(policy, origin.port), 'ERR_CERTPIN_HOST_NOT_PINNED');
    });

    it('7. rejectUnauthorized: false cannot switch validation or pins off', async () => {
      const seen = mitm.intercepted.length;
      if (name === 'pinnedTlsOptions') {
        // Set before the spread, it is overridden by the pinned options' rejectUnauthorized: true.
        await rejectsWith(request(policyOf(goodPins()), mitm.port, { rejectUnauthorized: false }), 'ERR_CERTPIN_PIN_MISMATCH');
      } else {
        await rejectsWith(request(policyOf(goodPins()), mitm.port, { rejectUnauthorized: false }), 'ERR_CERTPIN_INSECURE_OPTION');
      }
      assert.equal(mitm.intercepted.length, seen, 'the proxy read nothing');
    });
  });
}

async function withServer(leaf: Issued, run: (port: number) => Promise<unknown>, chainTail = pki.intermediate.pem): Promise<void> {
  const server = await startHttpsServer({ key: leaf.key.keyPem, cert: leaf.pem + chainTail });
  try {
    await run(server.port);
    assert.equal(server.requests.length, 0, 'no request reached the server');
  } finally {
    await server.close();
  }
}

describe('pinnedAgent: invariant 3, reuse cannot skip the check', () => {
  it('Node itself skips checkServerIdentity on resumed sessions (the trap this design answers)', async () => {
    let calls = 0;
    const agent = new https.Agent({ keepAlive: false, ca: pki.root.pem, checkServerIdentity: (host, cert) => (calls++, tls.checkServerIdentity(host, cert)) });
    for (let i = 0; i < 3; i++) await httpsGet(`${origin.url}/`, { agent, host: '127.0.0.1', servername: 'localhost' });
    agent.destroy();
    assert.equal(calls, 1, 'three connections, one identity check');
  });

  it('resumes only sessions it checked, and resumption still works for speed', async () => {
    const server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
    const agent = pinnedAgent(policyOf(goodPins()), { keepAlive: false });
    try {
      for (let i = 0; i < 3; i++) await httpsGet(`${server.url}/`, { agent, host: '127.0.0.1', servername: 'localhost' });
      assert.equal(server.stats.connections, 3);
      assert.equal(server.stats.resumed, 2);
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`a refused ${maxVersion} MITM handshake leaves no session to resume: every attempt is refused`, async () => {
      const tls12Mitm = await startMitmWithVersion(maxVersion);
      const agent = pinnedAgent(policyOf(goodPins()), { keepAlive: false });
      try {
        for (let i = 0; i < 3; i++) await rejectsWith(httpsGet(`https://localhost:${tls12Mitm.port}/`, { agent, host: '127.0.0.1', servername: 'localhost' }), 'ERR_CERTPIN_PIN_MISMATCH');
        assert.equal(tls12Mitm.intercepted.length, 0);
      } finally {
        agent.destroy();
        await tls12Mitm.close();
      }
    });
  }

  it('a session checked under one policy is never resumed under another', async () => {
    const server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
    const right = pinnedAgent(policyOf(goodPins()), { keepAlive: false });
    const wrong = pinnedAgent(policyOf([backupPin(), backupPin()]), { keepAlive: false });
    try {
      await httpsGet(`${server.url}/`, { agent: right, host: '127.0.0.1', servername: 'localhost' });
      await httpsGet(`${server.url}/`, { agent: right, host: '127.0.0.1', servername: 'localhost' });
      assert.equal(server.stats.resumed, 1, 'the right policy resumed its own session');
      await rejectsWith(httpsGet(`${server.url}/`, { agent: wrong, host: '127.0.0.1', servername: 'localhost' }), 'ERR_CERTPIN_PIN_MISMATCH');
    } finally {
      right.destroy();
      wrong.destroy();
      await server.close();
    }
  });

  it('keep-alive: per-request options cannot open an unchecked socket for the pool', async () => {
    const agent = pinnedAgent(policyOf(goodPins()), { keepAlive: true });
    const seen = mitm.intercepted.length;
    try {
      // A request that tries to switch the identity check off still goes through the pinned handshake.
      await rejectsWith(httpsGet(`https://localhost:${mitm.port}/`, { agent, host: '127.0.0.1', servername: 'localhost', checkServerIdentity: () => undefined }), 'ERR_CERTPIN_PIN_MISMATCH');
      await rejectsWith(httpsGet(`https://localhost:${mitm.port}/`, { agent, host: '127.0.0.1', servername: 'localhost' }), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(mitm.intercepted.length, seen, 'the proxy read nothing');
    } finally {
      agent.destroy();
    }
  });

  it('keep-alive: a reused socket was checked (one handshake, two requests)', async () => {
    const server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
    const agent = pinnedAgent(policyOf(goodPins()), { keepAlive: true });
    try {
      await httpsGet(`${server.url}/`, { agent, host: '127.0.0.1', servername: 'localhost' });
      await httpsGet(`${server.url}/`, { agent, host: '127.0.0.1', servername: 'localhost' });
      assert.equal(server.stats.connections, 1);
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  it('refuses weakening options at construction and per request', async () => {
    assert.throws(() => pinnedAgent(policyOf(goodPins()), { rejectUnauthorized: false } as never), { code: 'ERR_CERTPIN_INSECURE_OPTION' });
    assert.throws(() => pinnedAgent(policyOf(goodPins()), { ca: proxyCa.pem } as never), { code: 'ERR_CERTPIN_INSECURE_OPTION' });
    const agent = pinnedAgent(policyOf(goodPins()));
    const seen = mitm.intercepted.length;
    try {
      await rejectsWith(httpsGet(`https://localhost:${mitm.port}/`, { agent, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false }), 'ERR_CERTPIN_INSECURE_OPTION');
      await rejectsWith(httpsGet(`https://localhost:${mitm.port}/`, { agent, host: '127.0.0.1', servername: 'localhost', minVersion: 'TLSv1' }), 'ERR_CERTPIN_INSECURE_OPTION');
      await rejectsWith(httpsGet(`https://localhost:${mitm.port}/`, { agent, host: '127.0.0.1', servername: 'localhost', ca: proxyCa.pem }), 'ERR_CERTPIN_INSECURE_OPTION');
      assert.equal(mitm.intercepted.length, seen, 'the proxy read nothing');
    } finally {
      agent.destroy();
    }
  });

  it('pinnedConnect refuses a session it did not check itself', async () => {
    // A session obtained from an unpinned connection to the MITM...
    const session = await new Promise<Buffer>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: mitm.port, servername: 'localhost', ca: proxyCa.pem });
      socket.once('session', (s: Buffer) => {
        resolve(s);
        socket.destroy();
      });
      socket.on('error', reject);
    });
    // ...would skip the check if it were resumed: pinnedConnect refuses it before connecting.
    const before = mitm.intercepted.length;
    assert.throws(() => pinnedConnect(policyOf(goodPins()), { host: '127.0.0.1', port: mitm.port, servername: 'localhost', session }), { code: 'ERR_CERTPIN_INSECURE_OPTION', option: 'session' });
    assert.equal(mitm.intercepted.length, before);
  });
});

describe('pinnedTlsOptions: invariant 3 on a shared https.Agent', () => {
  it('an unpinned keep-alive socket to the same host is not handed to a pinned request', async () => {
    const agent = new https.Agent({ keepAlive: true, ca: [pki.root.pem, proxyCa.pem] });
    try {
      // An unpinned request through the (trusted) proxy, with the same TLS settings as the pinned options (so the
      // agent's pool key differs only by what pinnedTlsOptions adds for that purpose): its socket is pooled.
      const unpinned = await httpsGet(`https://localhost:${mitm.port}/`, { agent, host: '127.0.0.1', servername: 'localhost', minVersion: 'TLSv1.2', rejectUnauthorized: true });
      assert.equal(unpinned.body, 'hello from bank');
      // The pinned request on the same agent must open (and check) its own connection.
      await rejectsWith(httpsGet(`https://localhost:${mitm.port}/`, { agent, host: '127.0.0.1', servername: 'localhost', ...pinnedTlsOptions(policyOf(goodPins())) }), 'ERR_CERTPIN_PIN_MISMATCH');
    } finally {
      agent.destroy();
    }
  });
});

async function startMitmWithVersion(maxVersion: tls.SecureVersion): Promise<RunningMitm> {
  const forged = issueLeaf(proxyCa, ['localhost']);
  const intercepted: string[] = [];
  const server = tls.createServer({ key: forged.key.keyPem, cert: forged.pem, maxVersion }, (socket) => {
    socket.on('data', (d: Buffer) => {
      intercepted.push(d.toString());
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    });
    socket.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, intercepted, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('trust anchors and mTLS', () => {
  it('trusts only the app\'s own intermediate when told to (partial chain; Node >= 22.9)', async () => {
    const warnings: string[] = [];
    const policy = new PinPolicy({
      hosts: { localhost: [pinOf(pki.intermediate), backupPin()] },
      ca: pki.intermediate.pem,
      trustSystemRoots: false,
      onWarning: (w) => warnings.push(w.code),
    });
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    const agent = pinnedAgent(policy);
    try {
      if (major > 22 || (major === 22 && minor >= 9)) {
        assert.deepEqual(warnings, []);
        assert.equal((await httpsGet(`${origin.url}/`, { agent, host: '127.0.0.1', servername: 'localhost' })).body, 'hello from bank');
      } else {
        // OpenSSL on older Node cannot end a chain at an intermediate: the policy says so, and the connection fails closed.
        assert.deepEqual(warnings, ['CERTPIN_PARTIAL_CHAIN_UNSUPPORTED']);
        await rejectsWith(httpsGet(`${origin.url}/`, { agent, host: '127.0.0.1', servername: 'localhost' }), 'UNABLE_TO_GET_ISSUER_CERT');
      }
      // Either way, a chain from another CA is refused as a certificate error: the system roots are not trusted.
      await assert.rejects(httpsGet(`https://localhost:${mitm.port}/`, { agent, host: '127.0.0.1', servername: 'localhost' }), (error) => classifyError(error).kind === 'certificate');
    } finally {
      agent.destroy();
    }
  });

  it('presents the policy\'s client certificate to a server that requires one (mTLS)', async () => {
    const clientCa = createCertificate({ commonName: 'Client CA', ca: true });
    const client = createCertificate({ commonName: 'app-client', issuer: clientCa, clientAuth: true, sans: [] });
    const server = await startHttpsServer({
      key: pki.leaf.key.keyPem,
      cert: pki.chainPem,
      requestCert: true,
      ca: clientCa.pem,
      handler: (req, res) => res.end(`client ${(req.socket as tls.TLSSocket).getPeerCertificate().subject?.CN ?? 'none'}`),
    });
    const withCert = pinnedAgent(policyOf(goodPins(), { clientCertificate: { cert: client.pem, key: client.key.keyPem } }));
    const without = pinnedAgent(policyOf(goodPins()));
    try {
      assert.equal((await httpsGet(`${server.url}/`, { agent: withCert, host: '127.0.0.1', servername: 'localhost' })).body, 'client app-client');
      await assert.rejects(httpsGet(`${server.url}/`, { agent: without, host: '127.0.0.1', servername: 'localhost' }));
      assert.equal(server.requests.length, 1);
    } finally {
      withCert.destroy();
      without.destroy();
      await server.close();
    }
  });
});

describe('pinnedConnect: server name indication', () => {
  it('sends the host as SNI unless a server name is given, and never an IP literal', async () => {
    const seen: (string | false)[] = [];
    const server = tls.createServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const policy = policyOf(goodPins(), { hosts: { localhost: goodPins(), '127.0.0.1': goodPins() } });
    const connect = async (options: tls.ConnectionOptions) => {
      const accepted = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
      const socket = pinnedConnect(policy, { port, resume: false, ...options });
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      seen.push(((await accepted) as tls.TLSSocket & { servername: string | false }).servername);
      socket.destroy();
    };
    try {
      await connect({ host: 'localhost' });
      await connect({ host: '127.0.0.1' });
      await connect({ host: '127.0.0.1', servername: 'localhost' });
      await connect({ host: 'localhost', servername: '127.0.0.1' });
      assert.deepEqual(seen, ['localhost', false, 'localhost', 'localhost']);
    } finally {
      server.close();
    }
  });
});

describe('IP literal hosts', () => {
  it('pins an IPv6 literal written in any form, and refuses it when the pins do not match', async () => {
    const server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem, host: '::1' });
    const good = pinnedAgent(new PinPolicy({ hosts: { '0:0:0:0:0:0:0:1': goodPins() }, ca: pki.root.pem, trustSystemRoots: false, onWarning: () => {} }));
    const bad = pinnedAgent(new PinPolicy({ hosts: { '[::1]': [backupPin(), backupPin()] }, ca: pki.root.pem, trustSystemRoots: false }));
    try {
      if (ipv6SanMatchBroken) {
        // This Node cannot match the SAN itself: the pinned agent must still fail closed, never skip the check.
        await rejectsWith(httpsGet(`https://[::1]:${server.port}/`, { agent: good }), 'ERR_TLS_CERT_ALTNAME_INVALID');
      } else {
        assert.equal((await httpsGet(`https://[::1]:${server.port}/`, { agent: good })).body, 'hello from origin');
        await rejectsWith(httpsGet(`https://[::1]:${server.port}/`, { agent: bad }), 'ERR_CERTPIN_PIN_MISMATCH');
      }
    } finally {
      good.destroy();
      bad.destroy();
      await server.close();
    }
  });
});

describe('pins follow the host actually dialled, not only the server name', () => {
  let sniMitm: RunningMitm;
  before(async () => {
    sniMitm = await startMitm({ attackerCa: proxyCa, hosts: ['localhost', 'unpinned.example'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
  });
  after(() => sniMitm.close());

  it('a Host header naming an unpinned host does not take a pinned host\'s connection out of its pins', async () => {
    const agent = pinnedAgent(policyOf(goodPins()));
    const seen = sniMitm.intercepted.length;
    try {
      await rejectsWith(httpsGet(`https://localhost:${sniMitm.port}/`, { agent, headers: { host: 'unpinned.example' } }), 'ERR_CERTPIN_PIN_MISMATCH');
      assert.equal(sniMitm.intercepted.length, seen);
    } finally {
      agent.destroy();
    }
  });

  it('nor does a servername option', async () => {
    await rejectsWith(rawRequest(pinnedConnect(policyOf(goodPins()), { host: 'localhost', port: sniMitm.port, servername: 'unpinned.example' })), 'ERR_CERTPIN_PIN_MISMATCH');
  });

  it('control: with no pin set for the dialled host, the same request goes through the MITM', async () => {
    const agent = pinnedAgent(new PinPolicy({ hosts: { 'other.example': goodPins() }, ca: [pki.root.pem, proxyCa.pem], trustSystemRoots: false, onWarning: () => {} }));
    try {
      assert.equal((await httpsGet(`https://localhost:${sniMitm.port}/`, { agent, headers: { host: 'unpinned.example' } })).body, 'hello from bank');
    } finally {
      agent.destroy();
    }
  });
});
