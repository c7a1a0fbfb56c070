/**
 * Failure reports delivered to a real HTTPS collector on 127.0.0.1: RFC 7469 shape plus certpin's fields, one POST
 * per distinct failure a day (TrustKit's de-duplication), a bounded queue that drops and counts, a dead collector
 * that slows nothing, report URIs on the failing pinned host skipped, no request data in a report, report-only mode,
 * and the diagnostics channels.
 */
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PinPolicy, channels, flushReports, pinnedAgent, reportStatistics } from '../src/index.js';
import type { DecisionMessage, PinPolicyOptions, PinReport, ReportDelivery, ReportMessage } from '../src/index.js';
import { supportsPartialChains } from '../src/core/policy.js';
import { POST_TIMEOUT_MS } from '../src/node/reporter.js';
import { backupPin, createCertificate, createPki, pinOf } from './support/pki.js';
import { httpsGet, startHttpsServer, startMitm } from './support/servers.js';
import type { RunningMitm, RunningServer } from './support/servers.js';

const pki = createPki();
const attacker = createCertificate({ commonName: 'Trusted Proxy CA', organization: 'Proxy', ca: true });
const collectorPki = createPki({ name: 'Collector', hosts: ['127.0.0.1'] });
const cleanups: (() => unknown)[] = [];

interface Collector {
  readonly uri: string;
  readonly received: { path: string; headers: Record<string, unknown>; report: PinReport }[];
  close(): Promise<void>;
}

async function startCollector(): Promise<Collector> {
  const server = await startHttpsServer({
    key: collectorPki.leaf.key.keyPem,
    cert: collectorPki.chainPem,
    handler: (req, res) => res.writeHead(204).end(),
  });
  const original = server.requests;
  return {
    uri: `https://127.0.0.1:${server.port}/reports?token=abc`,
    get received() {
      return original.map((r) => ({ path: r.url, headers: r.headers, report: JSON.parse(r.body) as PinReport }));
    },
    close: () => server.close(),
  };
}

/** A server that accepts TCP and never answers: a dead collector. */
async function startDeadCollector(): Promise<{ uri: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    uri: `https://127.0.0.1:${(server.address() as AddressInfo).port}/reports`,
    connections: () => sockets.size,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

let origin: RunningServer;
let mitm: RunningMitm;
let collector: Collector;

before(async () => {
  origin = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
  mitm = await startMitm({ attackerCa: attacker, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
  collector = await startCollector();
  cleanups.push(() => origin.close(), () => mitm.close(), () => collector.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A policy with its own backup pin, so that its reports are distinct from every other test's. */
function policyOf(extra: Partial<PinPolicyOptions> = {}, deliveries: ReportDelivery[] = []): PinPolicy {
  return new PinPolicy({
    hosts: { localhost: [pinOf(pki.intermediate), backupPin()] },
    ca: [pki.root.pem, attacker.pem, collectorPki.root.pem],
    trustSystemRoots: false,
    onWarning: () => {},
    reportUri: collector.uri,
    onReport: (_report, delivery) => deliveries.push(delivery),
    ...extra,
  });
}

async function throughMitm(policy: PinPolicy, path = '/account'): Promise<unknown> {
  const agent = pinnedAgent(policy);
  try {
    return await httpsGet(`https://localhost:${mitm.port}${path}`, { agent, headers: { authorization: 'Bearer secret-token', cookie: 'session=secret-cookie' } });
  } catch (error) {
    return error;
  } finally {
    agent.destroy();
  }
}

async function settled(): Promise<void> {
  assert.equal(await flushReports(5_000), 0);
  await new Promise((resolve) => setImmediate(resolve));
}

describe('report delivery', () => {
  it('POSTs one RFC 7469 report for 100 identical failures; onReport learns sent, then deduplicated', async () => {
    const deliveries: ReportDelivery[] = [];
    const policy = policyOf({}, deliveries);
    const before = collector.received.length;
    for (let i = 0; i < 100; i++) assert.equal((await throughMitm(policy) as { code?: string }).code, 'ERR_CERTPIN_PIN_MISMATCH');
    await settled();
    const posted = collector.received.slice(before);
    assert.equal(posted.length, 1);
    assert.equal(deliveries.filter((d) => d === 'sent').length, 1);
    assert.equal(deliveries.filter((d) => d === 'deduplicated').length, 99);
    const { report, headers, path } = posted[0]!;
    assert.equal(path, '/reports?token=abc');
    assert.match(String(headers['content-type']), /application\/json/);
    assert.equal(report.hostname, 'localhost');
    assert.equal(report.port, mitm.port);
    assert.equal(report['noted-hostname'], 'localhost');
    assert.equal(report['include-subdomains'], false);
    assert.match(report['date-time'], /^\d{4}-\d{2}-\d{2}T/);
    assert.equal(report['served-certificate-chain'].length, 2);
    assert.match(report['served-certificate-chain'][0]!, /^-----BEGIN CERTIFICATE-----/);
    // The path certpin verified: the forged leaf and the proxy's (trusted) CA.
    assert.equal(report['validated-certificate-chain'].length, 2);
    assert.deepEqual(report['known-pins'], policy.rules[0]!.pins.map((p) => `pin-sha256="${p.digest}"`));
    assert.equal(report.reason, 'pin-mismatch');
    assert.equal(report.enforce, true);
    assert.equal(report['certpin-version'], (await import('../src/version.js')).CERTPIN_VERSION);
  });

  it('never carries the request: no path, query, headers or body', async () => {
    const before = collector.received.length;
    await throughMitm(policyOf(), '/transfer?iban=SECRET-IBAN');
    await settled();
    const text = JSON.stringify(collector.received.slice(before));
    for (const secret of ['SECRET-IBAN', 'transfer', 'secret-token', 'secret-cookie']) assert.ok(!text.includes(secret), secret);
  });

  it('a different chain makes a new report', async () => {
    const policy = policyOf();
    // Another interception proxy forges its own leaf: another validated chain.
    const mitm2 = await startMitm({ attackerCa: attacker, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
    cleanups.push(() => mitm2.close());
    const before = collector.received.length;
    await throughMitm(policy);
    await throughMitm(policy);
    const agent = pinnedAgent(policy);
    await httpsGet(`https://localhost:${mitm2.port}/`, { agent }).catch(() => {});
    agent.destroy();
    await settled();
    assert.equal(collector.received.length - before, 2);
  });

  it('report-only: the connection goes through and is reported; a chain CA validation refuses is still refused', async () => {
    const deliveries: ReportDelivery[] = [];
    const policy = policyOf({ reportOnly: true }, deliveries);
    const before = collector.received.length;
    const response = await throughMitm(policy) as { body?: string };
    assert.equal(response.body, 'hello from origin');
    await settled();
    const [posted] = collector.received.slice(before);
    assert.equal(posted?.report.enforce, false);
    const untrusted = new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: [pki.root.pem, collectorPki.root.pem], trustSystemRoots: false, reportOnly: true, reportUri: collector.uri, onWarning: () => {} });
    const error = await throughMitm(untrusted) as { code?: string };
    assert.equal(error.code, 'SELF_SIGNED_CERT_IN_CHAIN');
  });

  it('a report URI on the failing pinned host itself is skipped, never a loop; only https URIs are accepted', async () => {
    const deliveries: ReportDelivery[] = [];
    const policy = policyOf({ reportUri: `https://localhost:${origin.port}/reports` }, deliveries);
    const before = origin.requests.length;
    await throughMitm(policy);
    await settled();
    assert.deepEqual(deliveries, ['skipped']);
    assert.equal(origin.requests.length, before);
    assert.throws(() => policyOf({ reportUri: 'http://collector.test/reports' }), { code: 'ERR_CERTPIN_INVALID_POLICY' });
    assert.throws(() => policyOf({ hosts: { localhost: { pins: [backupPin(), backupPin()], reportUri: 'ftp://x/' } } }), { code: 'ERR_CERTPIN_INVALID_POLICY' });
  });

  it('a dead collector slows no connection; a full queue drops and counts', async () => {
    const dead = await startDeadCollector();
    cleanups.push(() => dead.close());
    const deliveries: ReportDelivery[] = [];
    const statsBefore = reportStatistics();
    const started = performance.now();
    // Distinct failures (each policy has its own backup pin): more than the queue holds while the POSTs hang.
    for (let i = 0; i < 24; i++) await throughMitm(policyOf({ reportUri: dead.uri }, deliveries));
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 24 * 250, `24 refused connections took ${elapsed.toFixed(0)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stats = reportStatistics();
    assert.ok(stats.dropped > statsBefore.dropped, 'nothing was dropped');
    assert.ok(deliveries.includes('dropped'));
    assert.ok(stats.pending > 0, 'the hanging POSTs are pending');
    assert.ok(dead.connections() >= 1);
    // Bounded: flushing waits at most its timeout.
    const flushStarted = performance.now();
    assert.ok((await flushReports(100)) > 0);
    assert.ok(performance.now() - flushStarted < 1_000);
    // The collector goes away: its POSTs fail, the queue drains.
    await dead.close();
    await settled();
    assert.ok(deliveries.includes('failed'));
  });
});

describe('report delivery deadline', { concurrency: true }, () => {
  const kinds = [
    {
      what: 'accepts TCP and never starts TLS',
      start: async () => {
        const dead = await startDeadCollector();
        return { uri: dead.uri, close: () => dead.close(), received: () => 1 };
      },
    },
    {
      what: 'completes TLS, reads the POST and never answers',
      start: async () => {
        const stalled = await startHttpsServer({ key: collectorPki.leaf.key.keyPem, cert: collectorPki.chainPem, handler: () => {} });
        return { uri: `https://127.0.0.1:${stalled.port}/reports`, close: () => stalled.close(), received: () => stalled.requests.length };
      },
    },
  ];
  for (const kind of kinds) {
    it(`a collector that ${kind.what} fails the POST at the deadline, not later`, { timeout: 40_000 }, async () => {
      const collector = await kind.start();
      cleanups.push(() => collector.close());
      const deliveries: { delivery: ReportDelivery; at: number }[] = [];
      const policy = new PinPolicy({
        hosts: { localhost: [pinOf(pki.intermediate), backupPin()] },
        ca: [pki.root.pem, attacker.pem, collectorPki.root.pem],
        trustSystemRoots: false,
        onWarning: () => {},
        reportUri: collector.uri,
        onReport: (_report, delivery) => deliveries.push({ delivery, at: performance.now() }),
      });
      const started = performance.now();
      await throughMitm(policy);
      while (!deliveries.some((d) => d.delivery === 'failed') && performance.now() - started < 30_000) await new Promise((resolve) => setTimeout(resolve, 100));
      const failed = deliveries.find((d) => d.delivery === 'failed');
      assert.ok(failed, `no failure after ${(performance.now() - started).toFixed(0)} ms: ${JSON.stringify(deliveries)}`);
      assert.equal(collector.received(), 1, 'the collector received the POST');
      const took = failed.at - started;
      assert.ok(took >= POST_TIMEOUT_MS - 500 && took < POST_TIMEOUT_MS + 2_000, `the POST failed after ${took.toFixed(0)} ms`);
    });
  }
});

describe('diagnostics channels', () => {
  it('certpin:decision carries host, outcome, pattern, matched pin and duration; certpin:report the delivery', async () => {
    const decisions: DecisionMessage[] = [];
    const reports: ReportMessage[] = [];
    const onDecision = (message: unknown) => decisions.push(message as DecisionMessage);
    const onReport = (message: unknown) => reports.push(message as ReportMessage);
    diagnostics.subscribe(channels.decision, onDecision);
    diagnostics.subscribe(channels.report, onReport);
    try {
      const policy = policyOf({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] } });
      const agent = pinnedAgent(policy);
      await httpsGet(`https://localhost:${origin.port}/`, { agent });
      agent.destroy();
      await throughMitm(policy);
      await settled();
    } finally {
      diagnostics.unsubscribe(channels.decision, onDecision);
      diagnostics.unsubscribe(channels.report, onReport);
    }
    assert.equal(decisions.length, 2);
    assert.equal(decisions[0]!.outcome, 'matched');
    assert.equal(decisions[0]!.matchedPin, pinOf(pki.intermediate));
    assert.equal(decisions[0]!.pattern, 'localhost');
    assert.ok(decisions[0]!.durationMs >= 0 && decisions[0]!.durationMs < 1000);
    assert.equal(decisions[1]!.outcome, 'mismatch');
    assert.equal(decisions[1]!.allowed, false);
    assert.deepEqual(reports.map((r) => r.delivery), ['sent']);
  });
});

describe('the report POST is an ordinary https request', () => {
  it('is validated against the policy\'s anchors (a collector with an untrusted certificate gets nothing)', async () => {
    const stranger = createPki({ name: 'Stranger', hosts: ['127.0.0.1'] });
    const server = await startHttpsServer({ key: stranger.leaf.key.keyPem, cert: stranger.chainPem });
    cleanups.push(() => server.close());
    const deliveries: ReportDelivery[] = [];
    await throughMitm(policyOf({ reportUri: `https://127.0.0.1:${server.port}/r` }, deliveries));
    await settled();
    assert.deepEqual(deliveries, ['failed']);
    assert.equal(server.requests.length, 0);
    // NODE_TLS_REJECT_UNAUTHORIZED=0 left on from a debugging session changes nothing: a report names hosts and chains.
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const again: ReportDelivery[] = [];
      await throughMitm(policyOf({ reportUri: `https://127.0.0.1:${server.port}/r` }, again));
      await settled();
      assert.deepEqual(again, ['failed']);
      assert.equal(server.requests.length, 0);
    } finally {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
    }
  });

  it('trusts a collector whose chain ends at an intermediate the policy names as its only anchor, as connections do', async (t) => {
    if (!supportsPartialChains()) return t.skip('no partial chains on this Node');
    const partner = createPki({ name: 'Partner Collector', hosts: ['127.0.0.1'] });
    const server = await startHttpsServer({ key: partner.leaf.key.keyPem, cert: partner.chainPem });
    cleanups.push(() => server.close());
    const deliveries: ReportDelivery[] = [];
    await throughMitm(policyOf({ ca: [pki.root.pem, attacker.pem, partner.intermediate.pem], reportUri: `https://127.0.0.1:${server.port}/r` }, deliveries));
    await settled();
    assert.deepEqual(deliveries, ['sent']);
  });
});
