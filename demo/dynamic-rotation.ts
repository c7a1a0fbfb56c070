/**
 * The dynamic-pins part of the demo: a key rotation driven by a signed pin-set document, with no client restart.
 *
 * The bank's app ships with pins for its current key A and a backup key B, and with the public key that signs pin
 * documents. The bank moves to B, publishes a signed document that pins B and its successor C on a plain static file
 * host, moves to C; the client follows. Then the file host is taken over: it replays the old document, serves one
 * signed with the attacker's own key, and one signed with the real key (a leaked one) that switches pinning off.
 * Each is refused and changes nothing; an interception proxy the machine trusts is refused at every step.
 *
 * `await dynamicRotationDemo()` runs it (it records failed expectations in narrate's `failures`); run alone:
 * `node --import tsx demo/dynamic-rotation.ts`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Dispatcher } from 'undici';
import { DynamicPinPolicy, PinPolicy, pinnedDispatcher } from '../src/index.js';
import type { PolicyUpdateMessage } from '../src/index.js';
import { pinSetPublicJwk, signPinSetDocument } from '../src/tools/index.js';
import { startInterceptingProxy } from '../test/support/intercepting-proxy.js';
import { createCertificate, createPki, generateKey, issueLeaf, pinOf } from '../test/support/pki.js';
import { startHttpsServer } from '../test/support/servers.js';
import { startBankApi } from './bank.js';
import { expect, failures, heading, quote, say, style } from './narrate.js';

const AUDIENCE = 'com.example.bank';

/** Runs the dynamic rotation story; resolves when it is over and everything it started is closed. */
export async function dynamicRotationDemo(): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  try {
    await story(cleanups);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // closing is best effort
      }
    }
  }
}

async function story(cleanups: (() => unknown)[]): Promise<void> {
  const token = `sk_live_${randomBytes(12).toString('hex')}`;
  heading('Dynamic pins: a rotation driven by a signed document');
  const bankPki = createPki({ name: 'Bank' });
  const [keyB, keyC] = [generateKey('ec-p256'), generateKey('ec-p256')];
  const leafOf = (key: typeof keyB) => issueLeaf(bankPki.intermediate, ['localhost', '127.0.0.1'], { key, organization: 'Bank' });
  const pinA = pinOf(bankPki.leaf);
  const pinB = pinOf({ ...bankPki.leaf, key: keyB });
  const pinC = pinOf({ ...bankPki.leaf, key: keyC });
  const proxyCa = createCertificate({ commonName: 'Corporate Proxy CA', organization: 'Proxy', ca: true });
  const cdnPki = createPki({ name: 'CDN' });

  // The signing key stays with the bank's release tooling; only its public half is in the app.
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const jwks = { keys: [pinSetPublicJwk(signingKey, 'bank-pins-2026')] };
  let served: string | undefined;
  const cdn = await startHttpsServer({ key: cdnPki.leaf.key.keyPem, cert: cdnPki.chainPem, handler: (_req, res) => (served ? res.end(served) : res.writeHead(404).end()) });
  cleanups.push(() => cdn.close());
  const bank = await startBankApi({ key: bankPki.leaf.key.keyPem, cert: bankPki.chainPem }, token);
  cleanups.push(() => bank.close());
  const proxy = await startInterceptingProxy({ caCert: proxyCa.pem, caKey: proxyCa.key.keyPem, upstreamCa: bankPki.root.pem });
  cleanups.push(() => proxy.close());

  const bootstrap = new PinPolicy({ hosts: { localhost: [pinA, pinB] }, ca: [bankPki.root.pem, proxyCa.pem], trustSystemRoots: false, onWarning: () => {} });
  const events: PolicyUpdateMessage[] = [];
  const policy = new DynamicPinPolicy({
    bootstrap,
    keys: jwks,
    audience: AUDIENCE,
    document: `${cdn.url}/pins/bank.jws`,
    documentCa: cdnPki.root.pem,
    onEvent: (event) => events.push(event),
  });
  cleanups.push(() => policy.close());
  say(`built-in pins localhost: ${pinA} (key A, current)`);
  say(`                         ${pinB} (key B, backup)`);
  say(`signing key   Ed25519, kid bank-pins-2026: its public JWK is embedded in the app, the private key is not`);
  say(`document      ${cdn.url}/pins/bank.jws (any static host: its authenticity is the signature)`);

  const dispatcher: Dispatcher = pinnedDispatcher(policy);
  cleanups.push(() => dispatcher.destroy());
  const viaProxy: Dispatcher = pinnedDispatcher(policy, { proxy: proxy.url });
  cleanups.push(() => viaProxy.destroy());
  const balance = async (through: Dispatcher) => {
    try {
      const response = await fetch(`${bank.url}/v1/balance`, { dispatcher: through, headers: { authorization: `Bearer ${token}` } } as unknown as RequestInit);
      return { ok: response.status === 200, text: `HTTP ${response.status}` };
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      return { ok: false, text: cause?.code ?? String(error) };
    }
  };
  const bothWays = async (step: string) => {
    const direct = await balance(dispatcher);
    expect(direct.ok, `${step}: the pinned client gets the balance (${direct.text})`);
    const before = proxy.intercepted();
    const intercepted = await balance(viaProxy);
    expect(!intercepted.ok && intercepted.text === 'ERR_CERTPIN_PIN_MISMATCH' && proxy.intercepted() === before, `${step}: through the interception proxy it is refused (${intercepted.text}), the proxy reads nothing`);
  };
  const publish = async (sequence: number, pins: string[], key = signingKey, pinset: object = { hosts: { localhost: pins } }) => {
    served = (await signPinSetDocument(pinset, { privateKey: key, keyId: 'bank-pins-2026', audience: AUDIENCE, sequence })).jws;
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

  heading('1. The app starts: the built-in pins, then the first signed document');
  const first = await policy.ready();
  expect(first === bootstrap, 'no document published yet: the built-in pins apply');
  await publish(1, [pinA, pinB]);
  const one = await policy.refresh();
  expect(one.event === 'updated' && policy.sequence === 1, `document seq 1 (A + B), signed by signPinSetDocument (what certpin sign runs): ${one.event}`);
  await bothWays('key A');

  heading('2. The bank moves to its backup key B');
  await bank.restart({ key: keyB.keyPem, cert: leafOf(keyB).pem + bankPki.intermediate.pem });
  await settle();
  await bothWays('key B');

  heading('3. The bank publishes a document that pins B and its successor C');
  say('certpin sign pins.json --key bank-pins.key --aud com.example.bank --out bank.jws');
  await publish(2, [pinB, pinC]);
  const two = await policy.refresh();
  expect(two.event === 'updated' && policy.sequence === 2, `the app took document seq 2 without a restart (${two.event})`);
  say(style.dim('Pooled connections checked under the previous pins are retired; new ones are checked against B + C.'));

  heading('4. The bank moves to C (no app release)');
  await bank.restart({ key: keyC.keyPem, cert: leafOf(keyC).pem + bankPki.intermediate.pem });
  await settle();
  await bothWays('key C');

  heading('5. The file host is taken over');
  const attempts: [string, () => Promise<void>, string][] = [
    ['it replays the old document (seq 1: A + B)', () => publish(1, [pinA, pinB]), 'rollback'],
    ["it serves a document signed with the attacker's own key", () => publish(3, [pinOf(proxyCa), pinC], generateKeyPairSync('ed25519').privateKey), 'signature'],
    ['with a leaked signing key, it serves one that unpins the bank', () => publish(4, [], signingKey, { hosts: { 'decoy.example.com': [pinC, pinB] } }), 'weakening'],
  ];
  for (const [what, act, reason] of attempts) {
    await act();
    const event = await policy.refresh();
    if (expect(event.event === 'refused' && event.code === reason && policy.sequence === 2, `${what}: refused (${event.code ?? event.event}), seq 2 stays in force`)) {
      quote(event.reason!);
    }
  }
  await bothWays('after the attacks');
  say(style.dim(`Events on certpin:policy-update: ${events.map((e) => e.event + (e.code ? `(${e.code})` : '')).join(', ')}`));
}

// Run alone: `node --import tsx demo/dynamic-rotation.ts`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await dynamicRotationDemo();
  console.log(failures.length ? style.red(`\n${failures.length} step(s) did not behave as stated.`) : style.green('\nAll steps behaved as stated.'));
  process.exit(failures.length ? 1 : 0);
}
