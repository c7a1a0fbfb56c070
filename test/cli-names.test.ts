/**
 * Host names as people type them into the CLI: a Unicode name (or full-width letters) means its IDNA ASCII form, in
 * HOST, in --servername and in the names of a backup key's CSR, as it does in an https:// URL; an empty
 * --servername is a usage error, not a check for no name.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { certpin } from './support/cli.js';
import { createPki, pinOf } from './support/pki.js';
import { startHttpsServer } from './support/servers.js';
import type { RunningServer } from './support/servers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certpin-cli-names-'));
const at = (name: string) => path.join(dir, name);
const pki = createPki({ hosts: ['xn--bcher-kva.test', 'localhost'] });
let server: RunningServer;

before(async () => {
  server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
  writeFileSync(at('root.pem'), pki.root.pem);
});
after(() => server.close());

describe('host names in the CLI', () => {
  it('--servername bücher.test and a full-width HOST are checked in their ASCII form', async () => {
    const [unicode, fullWidth, url] = await Promise.all([
      certpin(['fetch', `127.0.0.1:${server.port}`, '--servername', 'bücher.test', '--ca', at('root.pem'), '--json']),
      certpin(['check', `ｌｏｃａｌｈｏｓｔ:${server.port}`, '--pin', pinOf(pki.intermediate), '--ca', at('root.pem')]),
      certpin(['check', `https://ｌｏｃａｌｈｏｓｔ:${server.port}/`, '--pin', pinOf(pki.intermediate), '--ca', at('root.pem')]),
    ]);
    assert.equal(unicode.code, 0, unicode.stderr);
    assert.equal((JSON.parse(unicode.stdout) as { trusted: boolean }).trusted, true, unicode.stdout);
    assert.equal(fullWidth.code, 0, fullWidth.stdout + fullWidth.stderr);
    assert.match(fullWidth.stdout, /valid chain for localhost/);
    assert.equal(url.code, 0, 'the URL form agreed already');
  });

  it('an empty --servername is a usage error', async () => {
    const r = await certpin(['check', `localhost:${server.port}`, '--pin', pinOf(pki.intermediate), '--ca', at('root.pem'), '--servername', '']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--servername may not be empty/);
  });

  it('backup-key bücher.de writes the CSR for xn--bcher-kva.de', async () => {
    const r = await certpin(['backup-key', 'bücher.de', '*.bücher.de', '--out-key', at('b.key'), '--out-csr', at('b.csr')]);
    assert.equal(r.code, 0, r.stderr);
    const text = execFileSync('openssl', ['req', '-in', at('b.csr'), '-noout', '-text']).toString();
    assert.match(text, /DNS:xn--bcher-kva\.de, DNS:\*\.xn--bcher-kva\.de/);
  });
});
