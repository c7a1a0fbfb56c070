/**
 * Development overrides with Android's <debug-overrides> semantics: extra trust anchors (a local CA, mitmproxy's),
 * optionally accepted without pins for chains that end at them, never "accept anything"; loud, reported, and refused
 * when NODE_ENV is production. With a real mitmproxy in front of a real origin.
 */
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as undici from 'undici';
import { PinPolicy, channels, flushReports, loadPolicy, pinnedAgent, pinnedDispatcher } from '../src/index.js';
import type { DecisionMessage, PinPolicyOptions, PinReport, PolicyWarning } from '../src/index.js';
import { certpin } from './support/cli.js';
import { mitmproxyAvailability, startMitmproxy } from './support/mitmproxy.js';
import type { Mitmproxy } from './support/mitmproxy.js';
import { backupPin, createCertificate, createPki, pinOf } from './support/pki.js';
import { httpsGet, startHttpsServer, startMitm } from './support/servers.js';
import type { RunningMitm, RunningServer } from './support/servers.js';

const pki = createPki();
const developmentCa = createCertificate({ commonName: 'mitmproxy', organization: 'mitmproxy', ca: true });
const corporateCa = createCertificate({ commonName: 'Corporate Proxy CA', organization: 'Corp', ca: true });
const { skip: skipWithoutMitmproxy } = mitmproxyAvailability();
const cleanups: (() => unknown)[] = [];

let origin: RunningServer;
let corporateMitm: RunningMitm;
let developmentMitm: RunningMitm;

before(async () => {
  origin = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
  corporateMitm = await startMitm({ attackerCa: corporateCa, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
  developmentMitm = await startMitm({ attackerCa: developmentCa, hosts: ['localhost'], upstreamPort: origin.port, upstreamCa: pki.root.pem });
  cleanups.push(() => origin.close(), () => corporateMitm.close(), () => developmentMitm.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function withNodeEnv<T>(value: string | undefined, body: () => T): T {
  const saved = process.env.NODE_ENV;
  if (value === undefined) delete process.env.NODE_ENV;
  else process.env.NODE_ENV = value;
  try {
    return body();
  } finally {
    if (saved === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = saved;
  }
}

function policyOf(overrides: PinPolicyOptions['developmentOverrides'], extra: Partial<PinPolicyOptions> = {}): PinPolicy {
  return withNodeEnv('development', () => new PinPolicy({
    hosts: { localhost: [pinOf(pki.intermediate), backupPin()] },
    ca: [pki.root.pem, corporateCa.pem],
    trustSystemRoots: false,
    onWarning: () => {},
    ...(overrides ? { developmentOverrides: overrides } : {}),
    ...extra,
  }));
}

async function get(policy: PinPolicy, port: number): Promise<string> {
  const agent = pinnedAgent(policy);
  try {
    return (await httpsGet(`https://localhost:${port}/`, { agent })).body;
  } finally {
    agent.destroy();
  }
}

describe('development overrides', () => {
  it('are refused when NODE_ENV is production, in code and in a policy file', async () => {
    assert.throws(
      () => withNodeEnv('production', () => new PinPolicy({ hosts: {}, developmentOverrides: { ca: developmentCa.pem }, onWarning: () => {} })),
      (error: Error & { code?: string }) => error.code === 'ERR_CERTPIN_INVALID_POLICY' && /NODE_ENV is "production"/.test(error.message),
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-overrides-'));
    writeFileSync(path.join(dir, 'mitmproxy-ca.pem'), developmentCa.pem);
    writeFileSync(path.join(dir, 'root.pem'), pki.root.pem);
    const file = path.join(dir, 'certpin.dev.json');
    writeFileSync(file, JSON.stringify({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: ['root.pem'], developmentOverrides: { ca: ['mitmproxy-ca.pem'], overridePins: true } }));
    assert.equal(withNodeEnv('development', () => loadPolicy(file, { onWarning: () => {} })).trust.developmentAnchors.length, 1);
    assert.throws(() => withNodeEnv('production', () => loadPolicy(file)), /NODE_ENV is "production"/);
    // As .env files and shells write it: any case, surrounding white space.
    for (const production of ['Production', 'PRODUCTION', 'production ', ' production\n']) {
      assert.throws(() => withNodeEnv(production, () => loadPolicy(file)), /NODE_ENV is "production"/, JSON.stringify(production));
    }
    const cli = await certpin(['check', `localhost:${origin.port}`, '--policy', file], { env: { NODE_ENV: 'production' } });
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /developmentOverrides.*production/);
  });

  it('warn on every construction, and never mean "accept anything"', () => {
    const warnings: PolicyWarning[] = [];
    for (let i = 0; i < 2; i++) withNodeEnv(undefined, () => new PinPolicy({ hosts: {}, developmentOverrides: { ca: developmentCa.pem }, onWarning: (w) => warnings.push(w) }));
    assert.deepEqual(warnings.map((w) => w.code), ['CERTPIN_DEVELOPMENT_OVERRIDES', 'CERTPIN_DEVELOPMENT_OVERRIDES']);
    assert.throws(() => policyOf({ ca: [] }), { code: 'ERR_CERTPIN_INVALID_POLICY' });
    assert.throws(() => policyOf({} as never), { code: 'ERR_CERTPIN_INVALID_POLICY' });
  });

  it('with overridePins, a chain that ends at the development CA passes and is reported', async () => {
    const reports: PinReport[] = [];
    const decisions: DecisionMessage[] = [];
    const onDecision = (m: unknown) => decisions.push(m as DecisionMessage);
    diagnostics.subscribe(channels.decision, onDecision);
    try {
      const policy = policyOf({ ca: developmentCa.pem, overridePins: true }, { onReport: (r) => reports.push(r) });
      assert.equal(await get(policy, developmentMitm.port), 'hello from origin');
      await flushReports();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      diagnostics.unsubscribe(channels.decision, onDecision);
    }
    assert.deepEqual(decisions.map((d) => d.outcome), ['development-override']);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.reason, 'development-override');
    assert.equal(reports[0]!.enforce, false);
  });

  it('without overridePins the development CA is trusted and the pins still apply', async () => {
    await assert.rejects(get(policyOf({ ca: developmentCa.pem }), developmentMitm.port), { code: 'ERR_CERTPIN_PIN_MISMATCH' });
    assert.equal(await get(policyOf({ ca: developmentCa.pem }), origin.port), 'hello from origin');
  });

  it('a chain that ends anywhere else still has to match the pins', async () => {
    const policy = policyOf({ ca: developmentCa.pem, overridePins: true });
    await assert.rejects(get(policy, corporateMitm.port), { code: 'ERR_CERTPIN_PIN_MISMATCH' });
  });

  describe('with a real mitmproxy whose CA is the development override', () => {
    let mitmproxy: Mitmproxy;
    before(async () => {
      if (skipWithoutMitmproxy) return;
      mitmproxy = await startMitmproxy({ caCertPem: developmentCa.pem, caKeyPem: developmentCa.key.keyPem, upstreamCa: pki.root.pem });
      cleanups.push(() => mitmproxy.close());
    });

    it('works in development (fetch through the proxy, pins overridden for its chain)', { skip: skipWithoutMitmproxy }, async () => {
      const dispatcher = pinnedDispatcher(policyOf({ ca: developmentCa.pem, overridePins: true }), { proxy: mitmproxy.url });
      cleanups.push(() => dispatcher.destroy());
      const response = await undici.request(`https://localhost:${origin.port}/through-mitmproxy`, { dispatcher });
      assert.equal(await response.body.text(), 'hello from origin');
      assert.ok(origin.requests.some((r) => r.url === '/through-mitmproxy'));
    });

    it('is refused without the override, and the override is refused in production', { skip: skipWithoutMitmproxy }, async () => {
      const dispatcher = pinnedDispatcher(policyOf(undefined, { ca: [pki.root.pem, developmentCa.pem] }), { proxy: mitmproxy.url });
      cleanups.push(() => dispatcher.destroy());
      await assert.rejects(undici.request(`https://localhost:${origin.port}/refused`, { dispatcher }), { code: 'ERR_CERTPIN_PIN_MISMATCH' });
      assert.ok(!origin.requests.some((r) => r.url === '/refused'));
      assert.throws(() => withNodeEnv('production', () => new PinPolicy({ hosts: {}, developmentOverrides: { ca: developmentCa.pem, overridePins: true }, onWarning: () => {} })), /production/);
    });
  });
});
