/**
 * The policy's trust store as certpin's path validation sees it: the same certificates OpenSSL is given, read only
 * when a chain needs them. A process's first pinned connection used to read every root of the system store (20 to
 * 45 ms of certpin's reader, and 11 to 31 ms of parsing each as an X509Certificate) before its first decision.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import https from 'node:https';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { PinPolicy, pinnedConnect } from '../src/index.js';
import { fetchPinSetDocument } from '../src/node/pinset-fetch.js';
import { defaultStoreSource, storeFlags, systemTrustStore, tlsTrustFor, usesOpenSslStore } from '../src/node/trust-store.js';
import { backupPin, createPki, pinOf } from './support/pki.js';
import type { TestPki } from './support/pki.js';

const pki = createPki();
const run = promisify(execFile);

/** The URL of a source module, as a string literal for a child's script. */
const source = (file: string) => JSON.stringify(new URL(`../src/${file}`, import.meta.url).href);

/** A scratch directory, removed after the test run. */
function scratchDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A TLS server (https when it has a body to answer) on 127.0.0.1 with `issued`'s chain; its port. */
async function serve(issued: TestPki, body?: string): Promise<number> {
  const options = { key: issued.leaf.key.keyPem, cert: issued.chainPem };
  const server = body === undefined ? tls.createServer(options, (socket) => socket.end()) : https.createServer(options, (_request, response) => response.end(body));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => server.close());
  return (server.address() as AddressInfo).port;
}

/** Runs an ES module script in a child Node (not spawnSync: the servers run in this process); its last line. */
async function runScript(script: string, env: NodeJS.ProcessEnv, flags: readonly string[] = []): Promise<string> {
  const { stdout } = await run(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env });
  return stdout.trim().split('\n').at(-1)!;
}

describe('trust store', () => {
  it('holds every certificate of Node\'s default store, as the DER Node reads from each PEM', () => {
    const getCACertificates = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
    // Before tls.getCACertificates, Node's default store is its bundled roots plus NODE_EXTRA_CA_CERTS.
    const extra = process.env.NODE_EXTRA_CA_CERTS ? readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8').split(/(?=-----BEGIN CERTIFICATE-----)/).filter((b) => b.includes('-----END CERTIFICATE-----')) : [];
    const expected = (getCACertificates ? getCACertificates('default') : [...tls.rootCertificates, ...extra]).map((pem) => new X509Certificate(pem).raw);
    const store = systemTrustStore();
    assert.ok(expected.length > 100, `${expected.length} roots`);
    assert.equal(store.ders.length, expected.length);
    assert.equal(store.pems().length, expected.length);
    // What OpenSSL is given when the policy adds anchors is made from the very bytes certpin reads.
    store.pems().forEach((pem, i) => assert.ok(new X509Certificate(pem).raw.equals(expected[i]!), `root ${i} as PEM`));
    store.ders.forEach((der, i) => assert.ok(Buffer.from(der).equals(expected[i]!), `root ${i}`));
  });

  it('a NODE_EXTRA_CA_CERTS file with a block OpenSSL cannot read: certpin trusts what Node does, or refuses', () => {
    const dir = scratchDir('certpin-extra-');
    const file = path.join(dir, 'extra.pem');
    // A good certificate, a block whose base64 is not a certificate, then another good one.
    writeFileSync(file, `${pki.root.pem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n${pki.intermediate.pem}`);
    const script = `
      import tls from 'node:tls';
      import { systemTrustStore } from ${source('node/trust-store.ts')};
      let outcome;
      try { outcome = { count: systemTrustStore().ders.length }; } catch (error) { outcome = { code: error.code }; }
      const nodes = tls.getCACertificates ? tls.getCACertificates('default').length : undefined;
      console.log(JSON.stringify({ ...outcome, nodes }));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: file } });
    assert.equal(child.status, 0, child.stderr);
    const result = JSON.parse(child.stdout.trim()) as { count?: number; code?: string; nodes?: number };
    if (result.nodes === undefined) assert.equal(result.code, 'ERR_CERTPIN_INVALID_CERTIFICATE', child.stdout);
    else assert.equal(result.count, result.nodes);
  });

  it('a pinned connection reads only the trust anchors its chain names, not the whole system store', async () => {
    const port = await serve(pki);
    // System roots trusted (the default), the test's root added.
    const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: pki.root.pem });
    const socket = pinnedConnect(policy, { host: 'localhost', port });
    socket.on('error', () => {});
    await once(socket, 'secureConnect');
    socket.destroy();
    const index = tlsTrustFor(policy).anchors.index;
    assert.ok(index.size > 100, `${index.size} anchors`);
    // The policy's own root (read when the index files it), and any system root whose name falls in its bucket.
    assert.ok(index.readCount <= 2, `${index.readCount} of ${index.size} anchors read`);
  });

  it("a first connection builds the anchor index while it waits for the server's reply, not in its decision", async () => {
    // A server that reads the ClientHello and never answers: only the wait can have built the index.
    const silent = net.createServer((socket) => socket.on('error', () => {}));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    after(() => silent.close());
    const hello = once(silent, 'connection').then(([socket]) => once(socket as net.Socket, 'data'));
    const policy = new PinPolicy({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: pki.root.pem });
    const trust = tlsTrustFor(policy);
    assert.equal(trust.anchorsReady, false);
    const socket = pinnedConnect(policy, { host: 'localhost', port: (silent.address() as AddressInfo).port });
    socket.on('error', () => {});
    await hello;
    await new Promise((resolve) => setImmediate(resolve));
    try {
      assert.equal(trust.anchorsReady, true);
      assert.ok(trust.anchors.index.size > 100, `${trust.anchors.index.size} anchors`);
      assert.equal(trust.anchors.index.readCount, 1, 'filing reads the policy\'s own anchor only');
    } finally {
      socket.destroy();
    }
  });

  it('a system store certpin cannot read, met while the connection waits: the process lives on and the connection is refused', async () => {
    const port = await serve(pki);
    const dir = scratchDir('certpin-extra-wait-');
    const file = path.join(dir, 'extra.pem');
    writeFileSync(file, `${pki.root.pem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    const script = `
      import tls from 'node:tls';
      import { PinPolicy, pinnedConnect } from ${source('index.ts')};
      const policy = new PinPolicy({ hosts: { localhost: ${JSON.stringify([pinOf(pki.intermediate), backupPin()])} } });
      const socket = pinnedConnect(policy, { host: 'localhost', port: ${port} });
      socket.once('secureConnect', () => { console.log(JSON.stringify({ outcome: 'connected', lists: !!tls.getCACertificates })); socket.destroy(); });
      socket.once('error', (error) => console.log(JSON.stringify({ outcome: error.code, cause: error.cause?.code, lists: !!tls.getCACertificates })));`;
    const result = JSON.parse(await runScript(script, { ...process.env, NODE_EXTRA_CA_CERTS: file })) as { outcome: string; cause?: string; lists: boolean };
    // Node 22 and later read the file themselves and list what they kept; Node 20's file is read by certpin, which
    // refuses a store it cannot read as OpenSSL does. Either way the child ends normally, with the connection's outcome.
    if (result.lists) assert.equal(result.outcome, 'connected');
    else assert.deepEqual(result, { outcome: 'ERR_CERTPIN_CHECK_FAILED', cause: 'ERR_CERTPIN_INVALID_CERTIFICATE', lists: false });
  });
});

/**
 * With `--use-openssl-ca` (or a Node build whose default it is, as Linux distributions ship it), OpenSSL verifies
 * against its own default locations (SSL_CERT_FILE, SSL_CERT_DIR), not Node's bundled roots. certpin's anchors must be
 * those certificates: Node's "default" list then holds only NODE_EXTRA_CA_CERTS, and a store read from it refused
 * every server a system root vouches for, while the bundled roots would trust what the machine's store may not.
 */
describe('trust store under OpenSSL\'s own CA store', () => {
  const dir = scratchDir('certpin-openssl-ca-');
  const rootFile = path.join(dir, 'roots.pem');
  writeFileSync(rootFile, pki.root.pem);
  const emptyDir = mkdtempSync(path.join(dir, 'certs-'));
  const hasSystemList = typeof (tls as { getCACertificates?: unknown }).getCACertificates === 'function';

  /** Runs a child that trusts the system store (certpin's default) and connects to `port`, plain and pinned. */
  async function child(port: number, how: { argv?: string[]; nodeOptions?: string; setup?: string; certFile?: string; certDir?: string }, pins: readonly string[]) {
    const script = `
      import tls from 'node:tls';
      import { PinPolicy, pinnedConnect } from ${source('index.ts')};
      import { systemTrustStore } from ${source('node/trust-store.ts')};
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.code));
      const settle = (socket) => new Promise((resolve) => {
        socket.once('secureConnect', () => { socket.destroy(); resolve('connected'); });
        socket.once('error', (error) => resolve(error.code ?? error.message));
      });
      ${how.setup ?? ''}
      const plain = await settle(tls.connect({ host: 'localhost', port: ${port}, servername: 'localhost' }));
      const policy = new PinPolicy({ hosts: { localhost: ${JSON.stringify(pins)} }, onWarning: () => {} });
      const pinned = await settle(pinnedConnect(policy, { host: 'localhost', port: ${port} }));
      await new Promise((resolve) => setImmediate(resolve));
      console.log(JSON.stringify({ plain, pinned, anchors: systemTrustStore().ders.length, warnings }));`;
    const env: NodeJS.ProcessEnv = { ...process.env, SSL_CERT_FILE: how.certFile ?? rootFile, SSL_CERT_DIR: how.certDir ?? emptyDir };
    delete env.NODE_EXTRA_CA_CERTS;
    if (how.nodeOptions) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} ${how.nodeOptions}`;
    return JSON.parse(await runScript(script, env, how.argv)) as { plain: string; pinned: string; anchors: number; warnings: string[] };
  }

  for (const how of [{ argv: ['--use-openssl-ca'] }, { nodeOptions: '--use-openssl-ca' }]) {
    it(`${how.argv ? 'node --use-openssl-ca' : 'NODE_OPTIONS=--use-openssl-ca'}: certpin trusts what OpenSSL trusts, and still enforces the pins`, async () => {
      const port = await serve(pki);
      const good = await child(port, how, [pinOf(pki.intermediate), backupPin()]);
      // OpenSSL trusts the root through SSL_CERT_FILE: the plain connection is the yardstick.
      assert.equal(good.plain, 'connected');
      if (hasSystemList) {
        assert.equal(good.pinned, 'connected', JSON.stringify(good));
        // Only the root in OpenSSL's locations: none of Node's bundled roots, which OpenSSL is not using.
        assert.equal(good.anchors, 1);
        assert.deepEqual(good.warnings, []);
        const wrong = await child(port, how, [backupPin(), backupPin()]);
        assert.equal(wrong.pinned, 'ERR_CERTPIN_PIN_MISMATCH', JSON.stringify(wrong));
      } else {
        // Node cannot list OpenSSL's store: certpin keeps Node's bundled roots, fails closed for this root, and says why.
        assert.notEqual(good.pinned, 'connected');
        assert.ok(good.warnings.includes('CERTPIN_OPENSSL_CA_STORE'), JSON.stringify(good));
      }
    });
  }

  it('tls.setDefaultCACertificates under --use-openssl-ca: certpin trusts the certificates set, as OpenSSL does', async (t) => {
    if (typeof (tls as { setDefaultCACertificates?: unknown }).setDefaultCACertificates !== 'function') return t.skip('no tls.setDefaultCACertificates on this Node');
    const port = await serve(pki);
    // OpenSSL's locations hold another root; the root of the server is set as the default store.
    const elsewhere = path.join(dir, 'elsewhere.pem');
    writeFileSync(elsewhere, createPki({ name: 'Elsewhere' }).root.pem);
    const setup = `tls.setDefaultCACertificates([${JSON.stringify(pki.root.pem)}]);`;
    const result = await child(port, { argv: ['--use-openssl-ca'], setup, certFile: elsewhere }, [pinOf(pki.intermediate), backupPin()]);
    assert.equal(result.plain, 'connected');
    assert.equal(result.pinned, 'connected', JSON.stringify(result));
    assert.equal(result.anchors, 1);
  });

  it('a policy\'s own anchors are added to OpenSSL\'s store, not put in its place: a directory file OpenSSL cannot look up stays untrusted', async (t) => {
    if (!hasSystemList) return t.skip('Node cannot list OpenSSL\'s store here');
    // A root in SSL_CERT_DIR without its hash link: Node lists the file, OpenSSL's look-up by hash never finds it.
    const unlinked = createPki({ name: 'Unlinked', hosts: ['localhost'] });
    const certDir = mkdtempSync(path.join(dir, 'unlinked-'));
    writeFileSync(path.join(certDir, 'unlinked-root.pem'), unlinked.root.pem);
    const port = await serve(unlinked);
    const policyRoot = path.join(dir, 'policy-root.pem');
    writeFileSync(policyRoot, createPki({ name: 'Policy' }).root.pem);
    const script = `
      import { readFileSync } from 'node:fs';
      import tls from 'node:tls';
      import { PinPolicy, pinnedConnect } from ${source('index.ts')};
      import { systemTrustStore } from ${source('node/trust-store.ts')};
      const settle = (socket) => new Promise((resolve) => {
        socket.once('secureConnect', () => { socket.destroy(); resolve('connected'); });
        socket.once('error', (error) => resolve(error.code ?? error.message));
      });
      const plain = await settle(tls.connect({ host: 'localhost', port: ${port}, servername: 'localhost' }));
      const pins = ${JSON.stringify([pinOf(unlinked.intermediate), backupPin()])};
      const policy = new PinPolicy({ hosts: { localhost: pins }, ca: readFileSync(${JSON.stringify(policyRoot)}, 'utf8'), onWarning: () => {} });
      const pinned = await settle(pinnedConnect(policy, { host: 'localhost', port: ${port} }));
      console.log(JSON.stringify({ plain, pinned, anchors: systemTrustStore().ders.length }));`;
    const env: NodeJS.ProcessEnv = { ...process.env, SSL_CERT_FILE: rootFile, SSL_CERT_DIR: certDir };
    delete env.NODE_EXTRA_CA_CERTS;
    const output = await runScript(script, env, ['--use-openssl-ca']);
    const result = JSON.parse(output) as { plain: string; pinned: string; anchors: number };
    assert.equal(result.anchors, 2, output);
    // OpenSSL does not trust it, so neither may a pinned connection whose policy adds an anchor of its own.
    assert.equal(result.plain, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    assert.equal(result.pinned, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', output);
  });

  it('several directories in SSL_CERT_DIR, which Node does not read: SSL_CERT_FILE still trusted, and a warning', async (t) => {
    if (!hasSystemList) return t.skip('Node cannot list OpenSSL\'s store here');
    const port = await serve(pki);
    const result = await child(port, { argv: ['--use-openssl-ca'], certDir: `${emptyDir}:${emptyDir}` }, [pinOf(pki.intermediate), backupPin()]);
    assert.equal(result.pinned, 'connected', JSON.stringify(result));
    assert.ok(result.warnings.includes('CERTPIN_OPENSSL_CA_STORE'), JSON.stringify(result));
  });

  it('a Node build that uses OpenSSL\'s store by default is recognised, and --use-bundled-ca overrides it, however written', () => {
    const define = ['NODE_OPENSSL_CERT_STORE'];
    assert.equal(usesOpenSslStore(storeFlags([], '', define)), true);
    assert.equal(usesOpenSslStore(storeFlags(['--use-bundled-ca'], '', define)), false);
    assert.equal(usesOpenSslStore(storeFlags(['--use_bundled_ca'], '', define)), false);
    assert.equal(usesOpenSslStore(storeFlags([], '--max-old-space-size=100 "--use-bundled-ca"', define)), false);
    assert.equal(usesOpenSslStore(storeFlags([], '', ['NODE_OPENSSL_CONF_NAME=nodejs_conf'])), false);
    assert.equal(usesOpenSslStore(storeFlags(['--use-openssl-ca=true'], '', [])), true);
    assert.equal(usesOpenSslStore(storeFlags([], ' --use_openssl_ca', [])), true);
    // A value that only contains the flag is not the flag; a build without NODE_OPTIONS ignores it.
    assert.equal(usesOpenSslStore(storeFlags([], '--title="a --use-openssl-ca b"', [])), false);
    assert.equal(usesOpenSslStore(storeFlags([], '--use-openssl-ca', [], false)), false);
    assert.equal(usesOpenSslStore(storeFlags([], '', undefined)), false);
  });

  it('Node\'s own lists decide which store is in force, whatever set it', () => {
    const lists = (of: Record<string, string[]>) => (list: string) => of[list] ?? [];
    const bundled = ['B1', 'B2'];
    const noFlags = storeFlags([], '', []);
    // --use-openssl-ca, however given (a configuration file, a worker's options): "default" is exactly "extra".
    assert.equal(defaultStoreSource(lists({ bundled, default: ['E'], extra: ['E'] }), noFlags), 'openssl');
    assert.equal(defaultStoreSource(lists({ bundled, default: [], extra: [] }), noFlags), 'openssl');
    // NODE_EXTRA_CA_CERTS gone from process.env since start (a Worker's own env): "default" is a part of "extra".
    assert.equal(defaultStoreSource(lists({ bundled, default: [], extra: ['E'] }), noFlags), 'openssl');
    // tls.setDefaultCACertificates: "default" is what OpenSSL uses, whatever the flags say.
    assert.equal(defaultStoreSource(lists({ bundled, default: ['U'], extra: [] }), storeFlags(['--use-openssl-ca'], '', [])), 'node');
    // The bundled roots in force: flags that came too late (NODE_OPTIONS set at run time) change nothing.
    assert.equal(defaultStoreSource(lists({ bundled, default: [...bundled, 'E'], extra: ['E'] }), noFlags), 'node');
    // A build whose default is OpenSSL's store lists the bundled roots all the same.
    assert.equal(defaultStoreSource(lists({ bundled, default: bundled }), storeFlags([], '', ['NODE_OPENSSL_CERT_STORE'])), 'openssl');
    assert.equal(defaultStoreSource(undefined, storeFlags(['--use-openssl-ca'], '', [])), 'openssl');
  });
});

describe('a policy with anchors of its own', () => {
  it('keeps the whole default store trusted, NODE_EXTRA_CA_CERTS included, with Node\'s store and with OpenSSL\'s', async () => {
    const extraPki = createPki({ name: 'Extra', hosts: ['localhost'] });
    const port = await serve(extraPki);
    const extraFile = path.join(scratchDir('certpin-own-anchors-'), 'extra.pem');
    writeFileSync(extraFile, extraPki.root.pem);
    const script = `
      import { PinPolicy, pinnedConnect } from ${source('index.ts')};
      const policy = new PinPolicy({ hosts: { localhost: ${JSON.stringify([pinOf(extraPki.intermediate), backupPin()])} }, ca: ${JSON.stringify(createPki({ name: 'Own' }).root.pem)}, onWarning: () => {} });
      const socket = pinnedConnect(policy, { host: 'localhost', port: ${port} });
      socket.once('secureConnect', () => { socket.destroy(); console.log('connected'); });
      socket.once('error', (error) => console.log(error.code ?? error.message));`;
    for (const flags of [[], ['--use-openssl-ca']]) {
      assert.equal(await runScript(script, { ...process.env, NODE_EXTRA_CA_CERTS: extraFile }, flags), 'connected', flags.join(' '));
    }
  });
});

describe('NODE_EXTRA_CA_CERTS is what Node read at start', () => {
  const scenario = async (env: NodeJS.ProcessEnv, setup: string, own: boolean) => {
    const served = createPki({ name: 'Served', hosts: ['localhost'] });
    const port = await serve(served);
    const script = `
      import tls from 'node:tls';
      import { PinPolicy, pinnedConnect } from ${source('index.ts')};
      ${setup.replaceAll('SERVED_ROOT', JSON.stringify(served.root.pem))}
      const settle = (socket) => new Promise((resolve) => {
        socket.once('secureConnect', () => { socket.destroy(); resolve('connected'); });
        socket.once('error', (error) => resolve(error.code ?? error.message));
      });
      const plain = await settle(tls.connect({ host: 'localhost', port: ${port}, servername: 'localhost' }));
      const policy = new PinPolicy({ hosts: { localhost: ${JSON.stringify([pinOf(served.intermediate), backupPin()])} }, ${own ? `ca: ${JSON.stringify(createPki({ name: 'Own' }).root.pem)},` : ''} onWarning: () => {} });
      const pinned = await settle(pinnedConnect(policy, { host: 'localhost', port: ${port} }));
      console.log(JSON.stringify({ plain, pinned }));`;
    return { served, run: async (file: string) => JSON.parse(await runScript(script, { ...env, NODE_EXTRA_CA_CERTS: file })) as { plain: string; pinned: string } };
  };

  it('a file named after start, or a TRUSTED CERTIFICATE block Node does not load, adds nothing to a policy with its own ca', async () => {
    const dir = scratchDir('certpin-extra-start-');
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    // Named at run time, after Node and certpin loaded: Node's store never holds it.
    const late = await scenario(env, `process.env.NODE_EXTRA_CA_CERTS = ${JSON.stringify(path.join(dir, 'late.pem'))};`, true);
    writeFileSync(path.join(dir, 'late.pem'), late.served.root.pem);
    const lateResult = await late.run('');
    assert.notEqual(lateResult.plain, 'connected');
    assert.equal(lateResult.pinned, lateResult.plain, JSON.stringify(lateResult));
    // Relabelled TRUSTED CERTIFICATE: OpenSSL's reader would take it, Node's loader of this file does not.
    const relabelled = await scenario(env, '', true);
    const trusted = relabelled.served.root.pem.replaceAll('-----BEGIN CERTIFICATE-----', '-----BEGIN TRUSTED CERTIFICATE-----').replaceAll('-----END CERTIFICATE-----', '-----END TRUSTED CERTIFICATE-----');
    writeFileSync(path.join(dir, 'trusted.pem'), `${pki.root.pem}${trusted}`);
    const relabelledResult = await relabelled.run(path.join(dir, 'trusted.pem'));
    assert.notEqual(relabelledResult.plain, 'connected');
    assert.equal(relabelledResult.pinned, relabelledResult.plain, JSON.stringify(relabelledResult));
  });

  it('a file named at start stays trusted when the variable leaves process.env (a Worker\'s own env)', async () => {
    const dir = scratchDir('certpin-extra-gone-');
    const gone = await scenario(process.env, 'delete process.env.NODE_EXTRA_CA_CERTS;', false);
    writeFileSync(path.join(dir, 'extra.pem'), gone.served.root.pem);
    assert.deepEqual(await gone.run(path.join(dir, 'extra.pem')), { plain: 'connected', pinned: 'connected' });
  });
});

describe('the pin-set document fetch', () => {
  it('with documentCa, still trusts the default store, NODE_EXTRA_CA_CERTS included', async () => {
    const documentPki = createPki({ name: 'Document CDN' });
    const other = createPki({ name: 'Unrelated' });
    const port = await serve(documentPki, 'document');
    const extra = path.join(scratchDir('certpin-document-'), 'extra.pem');
    writeFileSync(extra, documentPki.root.pem);
    const script = `
      import { fetchPinSetDocument } from ${source('node/pinset-fetch.ts')};
      const url = new URL('https://localhost:${port}/pins.jws');
      const options = { ca: [${JSON.stringify(other.root.pem)}], timeout: 5000, maxBytes: 1000, background: false };
      console.log(await fetchPinSetDocument(url, options).catch((error) => error.message));`;
    assert.equal(await runScript(script, { ...process.env, NODE_EXTRA_CA_CERTS: extra }), 'document');
  });

  it('validates the host\'s certificate even with NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment', async () => {
    const unknown = createPki({ name: 'Unknown CA' });
    const port = await serve(unknown, 'document');
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const url = new URL(`https://localhost:${port}/pins.jws`);
      for (const ca of [[], [pki.root.pem]]) {
        await assert.rejects(fetchPinSetDocument(url, { ca, timeout: 5000, maxBytes: 1000, background: false }), /unable to get local issuer certificate/);
      }
    } finally {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
    }
  });
});
