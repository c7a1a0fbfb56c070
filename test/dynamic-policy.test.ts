/**
 * DynamicPinPolicy against a real HTTPS server on 127.0.0.1 that serves the signed document (test PKI): every attack
 * on the document is refused and leaves the policy in force unchanged; persistence, fallback, refresh on a pin
 * failure, and that nothing of it keeps the process alive.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DynamicPinPolicy, PinPolicy, channels, errors, pinnedFetch } from '../src/index.js';
import type { DynamicPinPolicyOptions, PolicyUpdateMessage } from '../src/index.js';
import { repo } from './support/cli.js';
import { backupPin, createPki } from './support/pki.js';
import { startHttpsServer } from './support/servers.js';
import type { RunningServer } from './support/servers.js';
import { AUDIENCE, hmacWithPublicKey, jwksOf, payloadOf, signDocument, signingKey, unsecuredDocument, withPayload } from './support/pinset.js';
import type { DocumentSpec } from './support/pinset.js';

const P = Array.from({ length: 6 }, () => backupPin());
const keyA = signingKey('2026-a');
const keyB = signingKey('2026-b', 'ES256');
const cdn = createPki({ name: 'CDN' });
const DAY = 86_400;

let server: RunningServer;
let body = '';
let status = 200;
let nowMs = Date.now();
const clock = () => nowMs;
const t = () => Math.floor(nowMs / 1000);
const open: DynamicPinPolicy[] = [];
const bootstrap = new PinPolicy({ hosts: { 'api.example.com': [P[0]!, P[1]!] }, onWarning: () => {}, now: clock });
const scratch = mkdtempSync(path.join(tmpdir(), 'certpin-dynamic-'));

before(async () => {
  server = await startHttpsServer({
    key: cdn.leaf.key.keyPem,
    cert: cdn.chainPem,
    handler: (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/jose' }).end(body);
    },
  });
});
after(async () => {
  for (const policy of open) policy.close();
  await server.close();
});

type Dynamic = DynamicPinPolicy & { events: PolicyUpdateMessage[] };

/** A dynamic policy; its first fetch starts at once (it fetches whatever is served now). */
function make(options: Partial<DynamicPinPolicyOptions> = {}): Dynamic {
  const events: PolicyUpdateMessage[] = [];
  const policy = new DynamicPinPolicy({
    bootstrap,
    keys: jwksOf(keyA, keyB),
    audience: AUDIENCE,
    document: `${server.url}/pins/bank.jws`,
    documentCa: cdn.root.pem,
    autoRefresh: false,
    onEvent: (event) => events.push(event),
    ...options,
  });
  open.push(policy);
  return Object.assign(policy, { events });
}

/** A dynamic policy whose first fetch found nothing (HTTP 404), with that event cleared. */
async function dynamic(options: Partial<DynamicPinPolicyOptions> = {}): Promise<Dynamic> {
  status = 404;
  const policy = make(options);
  await policy.ready();
  policy.events.length = 0;
  return policy;
}

/** A document pinning api.example.com to `pins` (a replacement of the bootstrap's pins is allowed). */
function spec(seq: number, pins: string[] = [P[2]!, P[3]!], extra: Partial<DocumentSpec> = {}): DocumentSpec {
  return { seq, iat: t(), pinset: { hosts: { 'api.example.com': pins } }, ...extra };
}

function serve(jws: string): void {
  body = jws;
  status = 200;
}

/** Serves `jws`, refreshes, and checks the policy in force did not change and the refusal reason. */
async function refused(policy: DynamicPinPolicy, jws: string, reason: string): Promise<PolicyUpdateMessage> {
  const before = policy.current();
  serve(jws);
  const event = await policy.refresh();
  assert.equal(event.event, 'refused', `expected a refusal (${reason}), got ${event.event}`);
  assert.equal(event.code, reason, event.reason);
  assert.ok(event.error instanceof errors.PinSetDocumentError);
  assert.equal(policy.current(), before, 'a refused document changes nothing');
  return event;
}

async function accepted(policy: DynamicPinPolicy, jws: string): Promise<PolicyUpdateMessage> {
  serve(jws);
  const event = await policy.refresh();
  assert.equal(event.event, 'updated', event.reason);
  assert.equal(policy.current(), event.policy);
  return event;
}

const pinsOf = (policy: PinPolicy, host = 'api.example.com') => policy.ruleFor(host)?.pins.map((p) => p.canonical);

describe('DynamicPinPolicy: documents served over https', () => {
  it('starts on the bootstrap, then applies a signed document (fetched without blocking anything)', async () => {
    serve(await signDocument(keyA, spec(10)));
    const policy = make();
    assert.equal(policy.current(), bootstrap, 'the bootstrap applies while the first fetch runs');
    const ready = await policy.ready();
    assert.equal(ready.pinSetSequence, 10);
    assert.deepEqual(pinsOf(ready), [P[2], P[3]]);
    assert.equal(ready.trust, bootstrap.trust, 'the trust settings stay the bootstrap\'s');
    assert.equal(policy.sequence, 10);
    assert.ok(policy.expires && policy.expires.getTime() === (t() + 7 * DAY) * 1000);
    assert.match(ready.source, /pins\/bank\.jws \(seq 10\)/);
    assert.deepEqual(policy.events.map((e) => e.event), ['updated']);
  });

  it('replaces the pin sets of the previous document (no merging)', async () => {
    const policy = await dynamic();
    await accepted(policy, await signDocument(keyA, { seq: 10, iat: t(), pinset: { hosts: { 'api.example.com': [P[2], P[3]], 'partner.example.org': [P[4], P[5]] } } }));
    assert.ok(policy.current().ruleFor('partner.example.org'));
    await accepted(policy, await signDocument(keyA, spec(11, [P[4]!, P[5]!])));
    assert.equal(policy.current().ruleFor('partner.example.org'), undefined, 'a host left out of the new document is gone');
    assert.deepEqual(pinsOf(policy.current()), [P[4], P[5]]);
  });

  it('refuses a tampered payload, alg none, HS256 keyed with the public key, an unknown kid, a wrong aud or iss, a wrong typ', async () => {
    const policy = await dynamic({ issuer: 'bank-pins' });
    await accepted(policy, await signDocument(keyA, spec(10, undefined, { iss: 'bank-pins' })));
    const evil = { hosts: { 'api.example.com': [P[4], P[5]] } };
    const good = await signDocument(keyA, spec(11, undefined, { iss: 'bank-pins' }));
    await refused(policy, withPayload(good, { ...payloadOf(good), pinset: evil }), 'signature');
    await refused(policy, unsecuredDocument(keyA.kid, spec(11, undefined, { iss: 'bank-pins' })), 'algorithm');
    await refused(policy, hmacWithPublicKey(keyA, spec(11, undefined, { iss: 'bank-pins' }), 'pem'), 'algorithm');
    await refused(policy, hmacWithPublicKey(keyA, spec(11, undefined, { iss: 'bank-pins' }), 'raw'), 'algorithm');
    await refused(policy, await signDocument(signingKey('stolen-cdn-key'), spec(11, undefined, { iss: 'bank-pins' })), 'unknown-key');
    await refused(policy, await signDocument(keyA, spec(11, undefined, { iss: 'bank-pins', aud: 'com.example.other-app' })), 'audience');
    await refused(policy, await signDocument(keyA, spec(11, undefined, { iss: 'someone-else' })), 'issuer');
    await refused(policy, await signDocument(keyA, spec(11, undefined, { iss: 'bank-pins', header: { typ: 'JWT' } })), 'type');
    await refused(policy, 'not a document', 'malformed');
    await refused(policy, '{"hosts":{}}', 'malformed');
    assert.equal(policy.current().pinSetSequence, 10);
  });

  it('refuses a replayed older document (rollback) and a different one under the same seq (equivocation)', async () => {
    const policy = await dynamic();
    const older = await signDocument(keyA, spec(9, [P[4]!, P[5]!]));
    await accepted(policy, await signDocument(keyA, spec(10)));
    const event = await refused(policy, older, 'rollback');
    assert.equal(event.sequence, 9);
    await refused(policy, await signDocument(keyA, spec(10, [P[4]!, P[5]!])), 'equivocation');
    // The same payload signed again (ECDSA signatures differ each time) is the same document.
    const same = await signDocument(keyB, spec(10));
    serve(same);
    assert.equal((await policy.refresh()).event, 'unchanged');
    assert.equal(policy.current().pinSetSequence, 10);
  });

  it('refuses expired, not yet valid and too long-lived documents', async () => {
    const policy = await dynamic();
    await accepted(policy, await signDocument(keyA, spec(10)));
    await refused(policy, await signDocument(keyA, spec(11, undefined, { iat: t() - 8 * DAY, exp: t() - DAY })), 'expired');
    await refused(policy, await signDocument(keyA, spec(11, undefined, { nbf: t() + DAY })), 'not-yet-valid');
    await refused(policy, await signDocument(keyA, spec(11, undefined, { exp: t() + 31 * DAY })), 'lifetime');
    await refused(policy, await signDocument(keyA, spec(11, undefined, { exp: t() + 3650 * DAY })), 'lifetime');
  });

  it('keeps the last good document until its own exp, then falls back to the bootstrap', async () => {
    const start = nowMs;
    try {
      const policy = await dynamic();
      await accepted(policy, await signDocument(keyA, spec(10, undefined, { exp: t() + 2 * DAY })));
      const changes: PinPolicy[] = [];
      policy.onChange((next) => changes.push(next));
      status = 503;
      assert.equal((await policy.refresh()).event, 'unavailable');
      await refused(policy, await signDocument(keyA, spec(9)), 'rollback');
      nowMs += DAY * 1000;
      assert.equal(policy.current().pinSetSequence, 10, 'still in force a day later');
      nowMs += DAY * 1000;
      assert.equal(policy.current(), bootstrap, 'at exp, the bootstrap');
      assert.deepEqual(changes, [bootstrap], 'listeners (adapters) are told');
      assert.equal(policy.events.at(-1)!.event, 'fallback');
      assert.equal(policy.sequence, undefined);
      // The floor stays: the old document cannot come back.
      nowMs = start;
      await refused(policy, await signDocument(keyA, spec(10, [P[4]!, P[5]!])), 'equivocation');
    } finally {
      nowMs = start;
    }
  });

  it('follows the signing key\'s rotation through the JWKS', async () => {
    const both = await dynamic();
    await accepted(both, await signDocument(keyA, spec(10)));
    await accepted(both, await signDocument(keyB, spec(11)));
    await accepted(both, await signDocument(keyA, spec(12)), );
    // The retired key is dropped from the app's JWKS: its documents are refused, the new key's accepted.
    const newOnly = await dynamic({ keys: jwksOf(keyB) });
    await refused(newOnly, await signDocument(keyA, spec(13)), 'unknown-key');
    await accepted(newOnly, await signDocument(keyB, spec(13)));
  });

  it('refuses a document that unpins a bootstrap host, makes it report-only or lapses early, unless allowUnpinning', async () => {
    const policy = await dynamic();
    await accepted(policy, await signDocument(keyA, spec(10)));
    await refused(policy, await signDocument(keyA, { seq: 11, iat: t(), pinset: { hosts: { 'other.example.com': [P[2], P[3]] } } }), 'weakening');
    await refused(policy, await signDocument(keyA, { seq: 11, iat: t(), pinset: { hosts: { 'api.example.com': [P[2], P[3]] }, reportOnly: true } }), 'weakening');
    const soon = new Date(nowMs + DAY * 1000).toISOString();
    const event = await refused(policy, await signDocument(keyA, { seq: 11, iat: t(), pinset: { hosts: { 'api.example.com': { pins: [P[2], P[3]], expires: soon } } } }), 'weakening');
    assert.match(event.reason!, /api\.example\.com.*allowUnpinning/);
    const permissive = await dynamic({ allowUnpinning: true });
    await accepted(permissive, await signDocument(keyA, { seq: 11, iat: t(), pinset: { hosts: {} } }));
    assert.equal(permissive.current().ruleFor('api.example.com'), undefined);
  });

  it('refuses invalid pin sets inside a valid signature', async () => {
    const policy = await dynamic();
    await refused(policy, await signDocument(keyA, { seq: 11, iat: t(), pinset: { hosts: { 'api.example.com': ['sha256/nope'] } } }), 'pin-sets');
    await refused(policy, await signDocument(keyA, { seq: 11, iat: t(), pinset: { hosts: { '**.com': [P[2], P[3]] } } }), 'pin-sets');
    await refused(policy, await signDocument(keyA, { seq: 11, iat: t(), pinset: { hosts: { 'api.example.com': [P[2], P[3]] }, ca: ['/etc/evil.pem'] } }), 'pin-sets');
  });

  it('publishes every event on certpin:policy-update', async () => {
    const seen: PolicyUpdateMessage[] = [];
    const listener = (message: unknown) => seen.push(message as PolicyUpdateMessage);
    const policy = await dynamic();
    diagnostics.subscribe(channels.policyUpdate, listener);
    try {
      await accepted(policy, await signDocument(keyA, spec(10)));
      await refused(policy, await signDocument(keyA, spec(9)), 'rollback');
      status = 404;
      await policy.refresh();
      assert.deepEqual(seen.map((m) => [m.event, m.code]), [['updated', undefined], ['refused', 'rollback'], ['unavailable', undefined]]);
      assert.match(seen[2]!.reason!, /HTTP 404/);
    } finally {
      diagnostics.unsubscribe(channels.policyUpdate, listener);
    }
  });

  it('is fetched with normal TLS validation: an untrusted document server is unavailable, not trusted', async () => {
    serve(await signDocument(keyA, spec(10)));
    const policy = make({ documentCa: undefined });
    await policy.ready();
    const event = policy.events.at(-1)!;
    assert.equal(event.event, 'unavailable');
    assert.match(event.reason!, /certificate|self.signed|issuer/i);
    assert.throws(() => make({ document: `http://127.0.0.1:${server.port}/x` }), /https only/);
  });

  it('refuses an over-large document before reading it all', async () => {
    serve(await signDocument(keyA, spec(10)));
    const policy = make({ maxDocumentBytes: 200 });
    await policy.ready();
    const event = policy.events.at(-1)!;
    assert.equal(event.event, 'unavailable');
    assert.match(event.reason!, /more than 200 bytes/);
    assert.equal(policy.current(), bootstrap);
  });

  it('names its document URL without the query or fragment (a pre-signed URL\'s token) in sources, errors and reports', async () => {
    const policy = make({ document: `${server.url}/pins/bank.jws?X-Amz-Signature=SECRET-123#part` });
    serve(await signDocument(keyA, spec(3)));
    await policy.ready();
    assert.equal(policy.current().pinSetSequence, 3);
    assert.equal(policy.current().source, `${server.url}/pins/bank.jws (seq 3)`);
    status = 503;
    const unavailable = await policy.refresh();
    assert.doesNotMatch(unavailable.reason ?? '', /SECRET/);
  });

  it('loads the document with a function instead of a URL', async () => {
    const jws = await signDocument(keyA, spec(10));
    const policy = make({ document: async () => jws });
    assert.equal((await policy.ready()).pinSetSequence, 10);
    const slow = await dynamic({ document: (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))), fetchTimeout: 50 });
    assert.equal((await slow.refresh()).event, 'unavailable');
  });
});

describe('DynamicPinPolicy: the cache file', () => {
  const file = (name: string) => path.join(scratch, name, 'pins.json');

  it('keeps the last good document and the highest seq across a restart (atomic, mode 0600)', async () => {
    const cacheFile = file('restart');
    const first = await dynamic({ cacheFile });
    await accepted(first, await signDocument(keyA, spec(10)));
    first.close();
    assert.equal(statSync(cacheFile).mode & 0o777, 0o600);
    assert.deepEqual(readFileSync(cacheFile, 'utf8').match(/"highestSeq": (\d+)/)?.[1], '10');

    // The server is down at the restart: the cached document applies.
    const second = make({ cacheFile, document: () => Promise.reject(new Error('offline')) });
    assert.equal((await second.ready()).pinSetSequence, 10);
    assert.deepEqual(second.events.map((e) => e.event), ['updated', 'unavailable']);
    assert.equal(second.events[0]!.reason, 'read from the cache file');
    // And the floor too: an older document is a rollback after the restart as before it.
    serve(await signDocument(keyA, spec(9)));
    const third = make({ cacheFile });
    await third.ready();
    assert.equal(third.current().pinSetSequence, 10);
    assert.equal(third.events.at(-1)!.code, 'rollback');
  });

  it('ignores a corrupt cache file (bootstrap, no crash), and rewrites it with the next good document', async () => {
    const cacheFile = file('corrupt');
    const first = await dynamic({ cacheFile });
    await accepted(first, await signDocument(keyA, spec(10)));
    for (const garbage of ['{not json', '[]', '{"format":"certpin-pinset-cache","jws":42,"highestSeq":"x"}', '']) {
      writeFileSync(cacheFile, garbage);
      const policy = make({ cacheFile, document: () => Promise.reject(new Error('offline')) });
      assert.equal(await policy.ready(), bootstrap, garbage);
    }
    writeFileSync(cacheFile, '{not json');
    serve(await signDocument(keyA, spec(10)));
    const policy = make({ cacheFile });
    assert.equal((await policy.ready()).pinSetSequence, 10);
    assert.match(readFileSync(cacheFile, 'utf8'), /"highestSeq": 10/);
  });

  it('two processes sharing the cache file: a restart never puts the older document of one back in force', async () => {
    const cacheFile = file('shared');
    const a = await dynamic({ cacheFile });
    const b = await dynamic({ cacheFile });
    const five = await signDocument(keyA, spec(5, [P[2]!, P[3]!]));
    const six = await signDocument(keyA, spec(6, [P[3]!, P[4]!]));
    // B accepts seq 6, which drops P[2]; A, which had not seen it, accepts seq 5 a moment later.
    assert.equal((await b.offer(six)).event, 'updated');
    assert.equal((await a.offer(five)).event, 'updated');
    assert.match(readFileSync(cacheFile, 'utf8'), /"highestSeq": 6/);
    assert.equal(payloadOf((JSON.parse(readFileSync(cacheFile, 'utf8')) as { jws: string }).jws).seq, 6, 'seq 5 was not written beside the floor of 6');
    // A file written before that rule (seq 5 beside a floor of 6): after a restart with the document host unreachable,
    // seq 5 is not in force; the built-in pins are, until seq 6 or later arrives.
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(cacheFile, JSON.stringify({ ...cache, jws: five }));
    const restarted = make({ cacheFile, document: () => Promise.reject(new Error('offline')) });
    assert.equal(await restarted.ready(), bootstrap);
    assert.ok(restarted.events.some((e) => e.event === 'refused' && e.code === 'rollback' && e.sequence === 5));
  });

  it('verifies the cached document again: a tampered one is refused', async () => {
    const cacheFile = file('tampered');
    const first = await dynamic({ cacheFile });
    await accepted(first, await signDocument(keyA, spec(10)));
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as { jws: string };
    cache.jws = withPayload(cache.jws, { ...payloadOf(cache.jws), pinset: { hosts: { 'api.example.com': [P[4], P[5]] } } });
    writeFileSync(cacheFile, JSON.stringify(cache));
    const policy = make({ cacheFile, document: () => Promise.reject(new Error('offline')) });
    assert.equal(await policy.ready(), bootstrap);
    assert.equal(policy.events[0]!.code, 'signature');
    assert.match(policy.events[0]!.reason!, /^the cached document/);
  });

  it('lets a cached highest seq raise the floor, never lower it', async () => {
    const cacheFile = file('floor');
    const first = await dynamic({ cacheFile });
    await accepted(first, await signDocument(keyA, spec(20)));
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(cacheFile, JSON.stringify({ ...cache, highestSeq: 1000, highestDigest: undefined }));
    serve(await signDocument(keyA, spec(21)));
    const raised = make({ cacheFile });
    await raised.ready();
    // Another process accepted seq 1000: the cached seq 20 has been replaced, and the server's seq 21 is a rollback.
    assert.equal(raised.current(), bootstrap, 'a cached document below the floor recorded beside it is not used');
    assert.deepEqual(raised.events.map((e) => [e.event, e.code, e.sequence]), [['updated', undefined, 20], ['refused', 'rollback', 20], ['refused', 'rollback', 21]]);
    await accepted(raised, await signDocument(keyA, spec(1001)));

    // A lower number in the file does not lower the floor an accepted document set.
    writeFileSync(cacheFile, JSON.stringify({ ...cache, highestSeq: 1 }));
    serve(await signDocument(keyA, spec(15)));
    const lowered = make({ cacheFile });
    await lowered.ready();
    assert.equal(lowered.current().pinSetSequence, 20);
    assert.equal(lowered.events.at(-1)!.code, 'rollback');
  });
});

describe('DynamicPinPolicy: refresh and the process', () => {
  it('keeps the bootstrap (or the last good set) when the server is unreachable', async () => {
    const policy = make({ document: 'https://127.0.0.1:1/pins.jws' });
    assert.equal(await policy.ready(), bootstrap);
    assert.equal(policy.events.at(-1)!.event, 'unavailable');
    const withLastGood = await dynamic();
    await accepted(withLastGood, await signDocument(keyA, spec(10)));
    await server.close();
    try {
      assert.equal((await withLastGood.refresh()).event, 'unavailable');
      assert.equal(withLastGood.current().pinSetSequence, 10);
    } finally {
      server = await startHttpsServer({ key: cdn.leaf.key.keyPem, cert: cdn.chainPem, handler: (_req, res) => res.writeHead(status).end(body) });
    }
  });

  it('does not keep the process alive (timers unref\'d), with the server unreachable or not', async () => {
    serve(await signDocument(keyA, spec(10)));
    const run = (url: string) =>
      new Promise<{ code: number | null; out: string; ms: number }>((resolve, reject) => {
        const started = Date.now();
        const child = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'test/support/dynamic-exit.ts')], {
          cwd: repo,
          env: { ...process.env, TEST_PINS: JSON.stringify([P[0], P[1]]), TEST_JWKS: JSON.stringify(jwksOf(keyA)), TEST_AUDIENCE: AUDIENCE, TEST_URL: url, TEST_CA: cdn.root.pem },
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const killer = setTimeout(() => child.kill(), 20_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(killer);
          resolve({ code, out, ms: Date.now() - started });
        });
      });
    const offline = await run('https://127.0.0.1:1/pins.jws');
    assert.equal(offline.code, 0, offline.out);
    assert.match(offline.out, /unavailable\nready bootstrap/);
    const online = await run(`${server.url}/pins.jws`);
    assert.equal(online.code, 0, online.out);
    assert.match(online.out, /updated 10\nready 10/);
  });

  it('gives a refresh asked for during a fetch a fetch of its own, started after it (one for all such requests)', async () => {
    let served = await signDocument(keyA, spec(10));
    const gates: (() => void)[] = [];
    let calls = 0;
    const release = async () => {
      const deadline = Date.now() + 2_000;
      while (gates.length === 0) {
        if (Date.now() > deadline) throw new Error('no fetch is waiting');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      gates.shift()!();
    };
    const policy = make({
      document: () => {
        calls++;
        const text = served;
        return new Promise<string>((resolve) => gates.push(() => resolve(text)));
      },
    });
    await release();
    assert.equal((await policy.ready()).pinSetSequence, 10);
    const first = policy.refresh();
    await new Promise((resolve) => setImmediate(resolve));
    served = await signDocument(keyA, spec(11));
    const second = policy.refresh();
    const third = policy.refresh();
    await release();
    assert.equal((await first).event, 'unchanged', 'the fetch under way still saw seq 10');
    await release();
    const [a, b] = await Promise.all([second, third]);
    assert.equal(a, b);
    assert.equal(a.event, 'updated');
    assert.equal(policy.current().pinSetSequence, 11);
    assert.equal(calls, 3);
  });

  it('a document offered with a nearer exp moves the next refresh to halfway there', async (t) => {
    const start = Math.floor(Date.now() / 1000) * 1000;
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: start });
    const HOUR = 3600;
    const iat = start / 1000;
    const long = await signDocument(keyA, spec(1, [P[2]!, P[3]!], { iat, exp: iat + 7 * 24 * HOUR }));
    const short = await signDocument(keyA, spec(2, [P[3]!, P[4]!], { iat, exp: iat + 2 * HOUR }));
    const next = await signDocument(keyA, spec(3, [P[4]!, P[5]!], { iat, exp: iat + 7 * 24 * HOUR }));
    let served = long;
    let fetches = 0;
    const clocked = new PinPolicy({ hosts: { 'api.example.com': [P[0]!, P[1]!] }, onWarning: () => {}, now: () => Date.now() });
    const policy = make({ bootstrap: clocked, autoRefresh: true, document: () => (fetches++, Promise.resolve(served)) });
    assert.equal((await policy.ready()).pinSetSequence, 1);
    assert.equal((await policy.offer(short)).event, 'updated');
    served = next;
    // The refresh planned for the week-long document would come after seq 2 expired; it comes after an hour.
    t.mock.timers.tick(HOUR * 1000 + 60_000 * 7);
    // The fetch and the signature check (Web Crypto, off the thread) take real time, which the mocked clock does not.
    for (let i = 0; i < 20_000 && policy.current().pinSetSequence !== 3; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(policy.current().pinSetSequence, 3, `${fetches} fetches`);
    policy.close();
  });

  it('does not load jose when certpin is imported (it is loaded by the first verification)', async () => {
    const script = `
      import { register } from 'node:module';
      register(${JSON.stringify(new URL('./support/block-jose-hooks.mjs', import.meta.url).href)});
      const certpin = await import('./src/index.ts');
      const bootstrap = new certpin.PinPolicy({ hosts: {} });
      const policy = new certpin.DynamicPinPolicy({ bootstrap, keys: ${JSON.stringify(jwksOf(keyA))}, audience: 'a', document: async () => 'x.y.z', autoRefresh: false });
      await policy.ready();
      console.log(policy.current() === bootstrap ? 'ok' : 'changed');
    `;
    const result = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(out.trim()));
    });
    assert.equal(result, 'ok');
  });

  it('refreshes once after a pin failure, rate-limited, without delaying the handshake', async () => {
    const api = createPki({ name: 'Api' });
    const apiServer = await startHttpsServer({ key: api.leaf.key.keyPem, cert: api.chainPem });
    try {
      // localhost is pinned to keys the API server does not have: every connection is a pin failure.
      const pinned = new PinPolicy({ hosts: { localhost: [P[0]!, P[1]!] }, ca: api.root.pem, onWarning: () => {} });
      const jws = await signDocument(keyA, { seq: 10, iat: t(), pinset: { hosts: { localhost: [P[2], P[3]] } } });
      serve(jws);
      const policy = make({ bootstrap: pinned, autoRefresh: true });
      await policy.ready();
      const fetches = () => server.requests.filter((r) => r.url === '/pins/bank.jws').length;
      const before = fetches();
      const fetchPinned = pinnedFetch(policy);
      const original = policy.events.length;
      const unchanged = new Promise<PolicyUpdateMessage>((resolve, reject) => {
        const started = Date.now();
        const timer = setInterval(() => {
          if (policy.events.length > original) {
            clearInterval(timer);
            resolve(policy.events.at(-1)!);
          } else if (Date.now() - started > 5_000) {
            clearInterval(timer);
            reject(new Error('no refresh within 5 s of the pin failures'));
          }
        }, 10);
      });
      for (let i = 0; i < 4; i++) {
        await assert.rejects(fetchPinned(`${apiServer.url}/`), (e: unknown) => (e as { cause?: { code?: string } }).cause?.code === 'ERR_CERTPIN_PIN_MISMATCH');
      }
      assert.equal((await unchanged).event, 'unchanged', 'the failure triggered a refresh');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(fetches() - before, 1, 'four failures, one refresh');
      await (fetchPinned.dispatcher as { close(): Promise<void> }).close();
      policy.close();
      await assert.rejects(fetchPinned(`${apiServer.url}/`));
    } finally {
      await apiServer.close();
    }
  });
});

