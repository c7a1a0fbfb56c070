/**
 * `npm run demo`: why pinning matters, and certpin doing it, in under a minute, offline.
 *
 * A local "bank API" (HTTPS on 127.0.0.1, a real root CA, intermediate and leaf made on the spot) and a real
 * interception proxy (mockttp, the engine of HTTP Toolkit; the same kind as Charles, Burp or mitmproxy) whose root
 * CA the client trusts, like a corporate proxy CA pushed to the machine. Then:
 *   1. an unpinned client through the proxy connects, and the proxy reads its secret token;
 *   2. the pinned client (fetch with `pinnedDispatcher`, axios with `pinAxios`) connects directly;
 *   3. the same pinned clients through the proxy are refused in the handshake; the proxy sees no request, and a
 *      pin-failure report reaches the security team's collector;
 *   4. the bank rotates to a new key that was pinned in advance as a backup; the pinned clients keep working;
 *   5. (demo/dynamic-rotation.ts) a rotation driven by a signed pin-set document, with no client restart, and a
 *      file host taken over that serves old, forged and weakening documents, all refused.
 * Every step checks what it claims; the process exits 0 only when all of them held (CI runs it as a test).
 */
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type tls from 'node:tls';
import axios from 'axios';
import type { AxiosInstance } from 'axios';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { PinPolicy, checkConnection, flushReports, pinnedFetch } from '../src/index.js';
import { PinningError } from '../src/errors.js';
import { pinAxios } from '../src/adapters/axios.js';
import { startInterceptingProxy } from '../test/support/intercepting-proxy.js';
import type { InterceptingProxy } from '../test/support/intercepting-proxy.js';
import { createCertificate, createPki, generateKey, issueLeaf, pinOf } from '../test/support/pki.js';
import { startBankApi } from './bank.js';
import type { BankApi } from './bank.js';
import { startReportCollector } from './collector.js';
import { dynamicRotationDemo } from './dynamic-rotation.js';
import { expect, failures, heading, quote, say, style } from './narrate.js';

const started = performance.now();
const TIME_LIMIT_MS = 55_000;
const watchdog = setTimeout(() => {
  console.error(style.red(`\nThe demo did not finish within ${TIME_LIMIT_MS / 1000} s: something hangs.`));
  process.exit(1);
}, TIME_LIMIT_MS);
watchdog.unref();

const token = `sk_live_${randomBytes(12).toString('hex')}`;
const cleanups: (() => unknown)[] = [];

async function fetchBalance(url: string, fetchPinned: typeof fetch): Promise<{ status: number; body: string }> {
  const response = await fetchPinned(`${url}/v1/balance`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.text() };
}

async function axiosBalance(api: AxiosInstance): Promise<{ status: number; body: string }> {
  const response = await api.get('/v1/balance', { headers: { authorization: `Bearer ${token}` }, responseType: 'text' });
  return { status: response.status, body: String(response.data) };
}

/** The unpinned client: node:https through the proxy with https-proxy-agent, trusting the same CAs as the policy. */
function unpinnedBalance(url: string, proxyUrl: string, ca: string[]): Promise<{ status: number; body: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const agent = new HttpsProxyAgent(proxyUrl);
    const request = https.get(`${url}/v1/balance`, { agent, ca, headers: { authorization: `Bearer ${token}` } }, (response) => {
      const issuer = String((response.socket as tls.TLSSocket).getPeerCertificate().issuer?.CN ?? '?');
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        agent.destroy();
        resolve({ status: response.statusCode ?? 0, body, issuer });
      });
    });
    request.on('error', (error) => {
      agent.destroy();
      reject(error);
    });
  });
}

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

function describeError(error: unknown): string {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return cause ? `${String(error)}, cause: ${String(cause)}` : String(error);
}

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string } | undefined)?.code;
}

async function main(): Promise<void> {
  console.log(style.bold('certpin demo: a pinned client against an interception proxy it trusts'));

  // ── Setup ───────────────────────────────────────────────────────────────────────────────────────────────
  heading('Setup');
  const bankPki = createPki({ name: 'Bank' });
  const spareKey = generateKey('ec-p256'); // the backup key: generated now, pinned now, deployed later
  const proxyCa = createCertificate({ commonName: 'Corporate Proxy CA', organization: 'Proxy', ca: true });
  const trusted = [bankPki.root.pem, proxyCa.pem]; // the machine trusts both roots
  const currentPin = pinOf(bankPki.leaf);
  const backupPin = pinOf({ ...bankPki.leaf, key: spareKey });

  const bank: BankApi = await startBankApi({ key: bankPki.leaf.key.keyPem, cert: bankPki.chainPem }, token);
  cleanups.push(() => bank.close());
  const proxy: InterceptingProxy = await startInterceptingProxy({ caCert: proxyCa.pem, caKey: proxyCa.key.keyPem, upstreamCa: bankPki.root.pem });
  cleanups.push(() => proxy.close());
  const collectorLeaf = issueLeaf(bankPki.intermediate, ['127.0.0.1'], { organization: 'Bank Security' });
  const collector = await startReportCollector({ key: collectorLeaf.key.keyPem, cert: collectorLeaf.pem + bankPki.intermediate.pem });
  cleanups.push(() => collector.close());
  say(`bank API      ${bank.url}  (chain: localhost ← Bank Issuing CA ← Bank Root CA)`);
  say(`proxy         ${proxy.url}  (mockttp, intercepts TLS with "Corporate Proxy CA")`);
  say(`trust store   Bank Root CA + Corporate Proxy CA  (a proxy CA pushed to the machine)`);
  say(`collector     ${collector.uri}  (the security team's endpoint for pin-failure reports)`);
  say(`secret token  Authorization: Bearer ${token}`);

  const policy = new PinPolicy({
    hosts: { localhost: [currentPin, backupPin] },
    ca: trusted,
    trustSystemRoots: false,
    reportUri: collector.uri,
    onWarning: () => {},
  });
  say(`pins          localhost: ${currentPin}  (current key)`);
  say(`                         ${backupPin}  (backup key, not deployed yet)`);

  // ── Step 1 ──────────────────────────────────────────────────────────────────────────────────────────────
  heading('1. Unpinned client through the proxy');
  say('node:https + https-proxy-agent, validating certificates normally against the trust store.');
  const seenBefore = proxy.intercepted();
  const unpinned = await settle(unpinnedBalance(bank.url, proxy.url, trusted));
  if (expect(unpinned.value?.status === 200, 'connected and got the balance', String(unpinned.error ?? unpinned.value?.status))) {
    say(`response      ${unpinned.value!.body}`);
    say(`certificate   issued by "${unpinned.value!.issuer}": the proxy's, accepted because the machine trusts it`);
  }
  const stolen = proxy.seen.slice(seenBefore).find((r) => r.headers.authorization !== undefined);
  if (expect(stolen?.headers.authorization === `Bearer ${token}`, 'the proxy decrypted the request and read the token')) {
    say(style.yellow(`proxy log     ${stolen!.method} ${stolen!.url}`));
    say(style.yellow(`              authorization: ${String(stolen!.headers.authorization)}`));
  }

  // ── Step 2 ──────────────────────────────────────────────────────────────────────────────────────────────
  heading('2. Pinned client, direct to the bank');
  const fetchPinned = pinnedFetch(policy);
  cleanups.push(() => fetchPinned.dispatcher.destroy());
  const api = pinAxios(axios.create({ baseURL: bank.url }), policy);
  cleanups.push(() => (api.defaults.httpsAgent as https.Agent).destroy());
  say('const fetchPinned = pinnedFetch(policy); fetchPinned(url)');
  const direct = await settle(fetchBalance(bank.url, fetchPinned));
  expect(direct.value?.status === 200, `fetch connected: ${direct.value?.body ?? String(direct.error)}`);
  say("pinAxios(axios.create({ baseURL }), policy)");
  const directAxios = await settle(axiosBalance(api));
  expect(directAxios.value?.status === 200, `axios connected: ${directAxios.value?.body ?? String(directAxios.error)}`);
  const check = await checkConnection(bank.url, [currentPin, backupPin], { ca: trusted });
  expect(check.status === 'CONNECTION_SECURE' && check.matchedPin === currentPin, `the handshake matched the current key's pin (${check.matchedPin ?? check.reason})`);

  // ── Step 3 ──────────────────────────────────────────────────────────────────────────────────────────────
  heading('3. Pinned client through the proxy');
  const interceptedBefore = proxy.intercepted();
  const bankRequestsBefore = bank.requests.length;
  const viaProxy = pinnedFetch(policy, { proxy: proxy.url });
  cleanups.push(() => viaProxy.dispatcher.destroy());
  say(`pinnedFetch(policy, { proxy: '${proxy.url}' })(url)`);
  const refused = await settle(fetchBalance(bank.url, viaProxy));
  const cause = (refused.error as { cause?: unknown } | undefined)?.cause;
  if (expect(refused.error instanceof TypeError && cause instanceof PinningError, 'fetch refused: the pins did not match', String(refused.error ?? 'it connected'))) {
    say('What your code gets (err, err.cause):');
    quote(`${(refused.error as Error).name}: ${(refused.error as Error).message}`);
    quote(`cause: ${(cause as PinningError).name} [${(cause as PinningError).code}]: ${(cause as PinningError).message}`);
  }
  const apiViaProxy = pinAxios(axios.create({ baseURL: bank.url }), policy, { proxy: proxy.url });
  cleanups.push(() => (apiViaProxy.defaults.httpsAgent as https.Agent).destroy());
  say(`pinAxios(axios.create({ baseURL }), policy, { proxy: '${proxy.url}' })`);
  const refusedAxios = await settle(axiosBalance(apiViaProxy));
  if (expect(codeOf(refusedAxios.error) === 'ERR_CERTPIN_PIN_MISMATCH', 'axios refused with the same error', String(refusedAxios.error ?? 'it connected'))) {
    quote(`AxiosError [${codeOf(refusedAxios.error)}]: ${(refusedAxios.error as Error).message.split('\n')[0]}`);
  }
  expect(proxy.intercepted() === interceptedBefore, `the proxy saw no request (${proxy.intercepted() - interceptedBefore} new): the handshake failed before a byte of it was sent`);
  expect(bank.requests.length === bankRequestsBefore, 'the bank received nothing either');
  await flushReports(5_000);
  const [report] = collector.reports;
  if (expect(collector.reports.length === 1 && report?.reason === 'pin-mismatch', 'the collector received one pin-failure report (the second refusal, same chain, was de-duplicated)', `${collector.reports.length} reports`)) {
    say(`report        ${report!['date-time']}  ${report!.hostname}:${report!.port}  reason ${report!.reason}  enforced ${report!.enforce}`);
    say(`              validated chain: ${report!['validated-certificate-chain'].length} certificates, ending at the proxy's CA; known pins: ${report!['known-pins'].length}`);
    expect(!JSON.stringify(report).includes(token), 'the report carries no request data (no path, headers or token)');
  }

  // ── Step 4 ──────────────────────────────────────────────────────────────────────────────────────────────
  heading('4. Certificate rotation to the backup key');
  const newLeaf = issueLeaf(bankPki.intermediate, ['localhost', '127.0.0.1'], { key: spareKey, organization: 'Bank' });
  await bank.restart({ key: spareKey.keyPem, cert: newLeaf.pem + bankPki.intermediate.pem });
  say(`the bank restarted on the same port with a new certificate for the backup key`);
  // The restart closed the clients' keep-alive connections; give them a moment to see the FIN, as they would in a
  // real rollout (a request written to a socket the server just closed fails with "other side closed", pinned or not).
  await new Promise((resolve) => setTimeout(resolve, 200));
  const afterFetch = await settle(fetchBalance(bank.url, fetchPinned));
  expect(afterFetch.value?.status === 200, `fetch, same dispatcher and policy: ${afterFetch.value?.body ?? describeError(afterFetch.error)}`);
  const afterAxios = await settle(axiosBalance(api));
  expect(afterAxios.value?.status === 200, `axios, same instance and policy: ${afterAxios.value?.body ?? String(afterAxios.error)}`);
  // The old server's TLS sessions cannot resume on the new one: the first connection is a full handshake, checked
  // against the pins; a later one may resume a session that passed that check (certpin caches only those).
  expect(bank.handshakes.full >= 1, `a full handshake with the new key, checked against the pins (${bank.handshakes.full} full, ${bank.handshakes.resumed} resumed from it)`);
  const rotated = await checkConnection(bank.url, [currentPin, backupPin], { ca: trusted });
  expect(rotated.status === 'CONNECTION_SECURE' && rotated.matchedPin === backupPin, `the handshake now matches the backup pin (${rotated.matchedPin ?? rotated.reason})`);
  say(style.dim('Next: pin a new spare key (certpin backup-key) and ship it before the next rotation.'));

  await dynamicRotationDemo();
}

let crashed: unknown;
try {
  await main();
} catch (error) {
  crashed = error;
} finally {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // closing is best effort
    }
  }
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log();
if (crashed) {
  console.log(style.red(`The demo crashed: ${crashed instanceof Error ? (crashed.stack ?? crashed.message) : String(crashed)}`));
  process.exitCode = 1;
} else if (failures.length) {
  console.log(style.red(`${failures.length} step(s) did not behave as stated (${seconds} s):`));
  for (const failure of failures) console.log(style.red(`  - ${failure}`));
  process.exitCode = 1;
} else {
  console.log(style.green(`All steps behaved as stated. Total time ${seconds} s.`));
}
// Keep-alive sockets of third-party agents may linger; the demo is over either way.
process.exit(process.exitCode ?? 0);
