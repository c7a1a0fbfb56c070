/**
 * A key rotation driven by signed pin-set documents, end to end, with real handshakes: clients (pinnedDispatcher and
 * pinnedAgent) pinned to key A by the built-in policy, with B as its backup; the server moves to B; a signed document
 * pins B and its successor C; the server moves to C; then a document pins C and D and the server moves to D before
 * the clients fetched it, so the pin failure itself makes them fetch it. The clients follow without a restart, and an
 * interception proxy whose CA they trust is refused at every step.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as undici from 'undici';
import type { Dispatcher } from 'undici';
import { DynamicPinPolicy, PinPolicy, classifyError, pinnedAgent, pinnedDispatcher } from '../src/index.js';
import type { PinnedAgent } from '../src/index.js';
import { createCertificate, createPki, generateKey, issueLeaf } from './support/pki.js';
import type { Issued, KeyPair } from './support/pki.js';
import { httpsGet, startHttpsServer, startMitm } from './support/servers.js';
import type { RunningMitm, RunningServer } from './support/servers.js';
import { AUDIENCE, jwksOf, signDocument, signingKey } from './support/pinset.js';

const root = createCertificate({ commonName: 'Bank Root CA', organization: 'Bank', ca: true });
const intermediate = createCertificate({ commonName: 'Bank Issuing CA', organization: 'Bank', ca: true, pathLength: 0, issuer: root });
const attacker = createCertificate({ commonName: 'Corporate Proxy CA', organization: 'Proxy', ca: true });
const keys = { A: generateKey(), B: generateKey(), C: generateKey(), D: generateKey() };
const leaves = Object.fromEntries(Object.entries(keys).map(([name, key]) => [name, issueLeaf(intermediate, ['localhost', '127.0.0.1'], { key })])) as Record<keyof typeof keys, Issued>;
const pin = (key: KeyPair) => `sha256/${createHash('sha256').update(key.publicKey.export({ type: 'spki', format: 'der' })).digest('base64')}`;
const cdn = createPki({ name: 'CDN' });
const signer = signingKey('pins-2026');

/** The bank's API: one HTTPS server whose certificate and key can be swapped, as a deployment does. */
interface ApiServer {
  readonly port: number;
  readonly connections: () => number;
  deploy(leaf: Issued): Promise<void>;
  close(): Promise<void>;
}

async function startApi(leaf: Issued): Promise<ApiServer> {
  let connections = 0;
  const server = https.createServer({ key: leaf.key.keyPem, cert: leaf.pem + intermediate.pem }, (_req, res) => res.end('balance: 42'));
  server.on('secureConnection', () => connections++);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    async deploy(next) {
      server.setSecureContext({ key: next.key.keyPem, cert: next.pem + intermediate.pem });
      // A deployment restarts the servers: every connection made with the old key goes, new ones get the new key.
      server.closeAllConnections();
      await new Promise((resolve) => setTimeout(resolve, 100));
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('rotation driven by a signed pin-set document', () => {
  let api: ApiServer;
  let cdnServer: RunningServer;
  let mitm: RunningMitm;
  let document = '';
  let policy: DynamicPinPolicy;
  let dispatcher: Dispatcher;
  let agent: PinnedAgent;
  const bootstrap = new PinPolicy({
    hosts: { localhost: [pin(keys.A), pin(keys.B)] },
    ca: [root.pem, attacker.pem],
    trustSystemRoots: false,
    onWarning: () => {},
  });

  before(async () => {
    api = await startApi(leaves.A);
    cdnServer = await startHttpsServer({
      key: cdn.leaf.key.keyPem,
      cert: cdn.chainPem,
      handler: (_req, res) => (document ? res.writeHead(200).end(document) : res.writeHead(404).end()),
    });
    mitm = await startMitm({ attackerCa: attacker, hosts: ['localhost'], upstreamPort: api.port, upstreamCa: root.pem });
    policy = new DynamicPinPolicy({
      bootstrap,
      keys: jwksOf(signer),
      audience: AUDIENCE,
      document: `${cdnServer.url}/bank.jws`,
      documentCa: cdn.root.pem,
      failureRefreshInterval: 0,
    });
    await policy.ready();
    dispatcher = pinnedDispatcher(policy);
    agent = pinnedAgent(policy);
  });

  after(async () => {
    policy.close();
    agent.destroy();
    await dispatcher.close();
    await Promise.all([api.close(), cdnServer.close(), mitm.close()]);
  });

  /**
   * A request written to a kept-alive socket just as the server closed it fails with "other side closed" (pinned or
   * not); a client retries that on a new connection, and so do these helpers. A pinning refusal is never retried.
   */
  const retryClosedSocket = async <T>(attempt: () => Promise<T>): Promise<T> => {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (tries >= 3 || !['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(code ?? '')) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  const viaDispatcher = (port: number) =>
    retryClosedSocket(async () => (await undici.request(`https://localhost:${port}/v1/balance`, { dispatcher })).body.text());
  const viaAgent = (port: number) => retryClosedSocket(async () => (await httpsGet(`https://localhost:${port}/v1/balance`, { agent })).body);

  async function bothClientsWork(step: string): Promise<void> {
    assert.equal(await viaDispatcher(api.port), 'balance: 42', `${step}: pinnedDispatcher`);
    assert.equal(await viaAgent(api.port), 'balance: 42', `${step}: pinnedAgent`);
  }

  async function interceptionRefused(step: string): Promise<void> {
    for (const [name, attempt] of [['pinnedDispatcher', () => viaDispatcher(mitm.port)], ['pinnedAgent', () => viaAgent(mitm.port)]] as const) {
      await assert.rejects(attempt(), (error: unknown) => classifyError(error).code === 'ERR_CERTPIN_PIN_MISMATCH', `${step}: ${name} through the proxy`);
    }
    assert.deepEqual(mitm.intercepted, [], `${step}: the proxy read nothing`);
  }

  async function publish(seq: number, pins: string[]): Promise<void> {
    document = await signDocument(signer, { seq, pinset: { hosts: { localhost: pins } } });
  }

  it('1. key A, pinned by the built-in policy', async () => {
    assert.equal(policy.current(), bootstrap);
    await bothClientsWork('key A');
    await interceptionRefused('key A');
  });

  it('2. the server moves to B, the built-in backup', async () => {
    await api.deploy(leaves.B);
    await bothClientsWork('key B');
    await interceptionRefused('key B');
  });

  it('3. a signed document pins B and its successor C; pooled connections of the old policy are retired', async () => {
    await publish(2, [pin(keys.B), pin(keys.C)]);
    const connectionsBefore = api.connections();
    const event = await policy.refresh();
    // 'unchanged' when a refresh that step 2's refused interceptions started took the document first.
    assert.ok(event.event === 'updated' || event.event === 'unchanged', event.reason);
    assert.equal(policy.current().pinSetSequence, 2);
    await bothClientsWork('document seq 2');
    assert.equal(api.connections() - connectionsBefore, 2, 'each client opened a new connection under the new policy');
    await interceptionRefused('document seq 2');
  });

  it('4. the server moves to C: the clients follow; the built-in pins alone would refuse it', async () => {
    await api.deploy(leaves.C);
    await bothClientsWork('key C');
    await interceptionRefused('key C');
    const staticAgent = pinnedAgent(bootstrap);
    try {
      await assert.rejects(httpsGet(`https://localhost:${api.port}/`, { agent: staticAgent }), (error: unknown) => classifyError(error).code === 'ERR_CERTPIN_PIN_MISMATCH');
    } finally {
      staticAgent.destroy();
    }
  });

  it('5. a document pins C and D, the server moves to D first: the pin failure makes the clients fetch it', async () => {
    // Every pin failure of step 4 (the refused interceptions, the static agent) asks for a refresh one turn of the
    // event loop later; let the last ask arrive, then wait for the fetch queued behind them all.
    await new Promise((resolve) => setImmediate(resolve));
    await policy.refresh();
    const next = await signDocument(signer, { seq: 3, pinset: { hosts: { localhost: [pin(keys.C), pin(keys.D)] } } });
    await api.deploy(leaves.D);
    assert.equal(policy.current().pinSetSequence, 2, 'no fetch took a document before the pin failure');
    // Published as the connection opens: only a fetch that starts after it (the failure's) can read it.
    document = next;
    const updated = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the pin failure did not bring the new document within 5 s')), 5_000);
      const stop = policy.onChange(() => {
        clearTimeout(timer);
        stop();
        resolve();
      });
    });
    updated.catch(() => {});
    const failure = await viaDispatcher(api.port).then(() => undefined, (error: unknown) => error);
    assert.equal(classifyError(failure).code, 'ERR_CERTPIN_PIN_MISMATCH', 'seq 2 does not pin D');
    await updated;
    assert.equal(policy.current().pinSetSequence, 3);
    await bothClientsWork('key D');
    await interceptionRefused('key D');
  });

  it('6. an old document replayed by the document host is refused; the clients stay on D', async () => {
    await publish(2, [pin(keys.B), pin(keys.C)]);
    const event = await policy.refresh();
    assert.equal(event.event, 'refused');
    assert.equal(event.code, 'rollback');
    await bothClientsWork('after the replay');
    await interceptionRefused('after the replay');
  });
});

