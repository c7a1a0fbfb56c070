/**
 * How the CLI writes files, against the mistakes and tricks that destroy keys or policies: two outputs that are one
 * file, an existing file replaced only when asked (or when it is the command's own earlier output), a replaced file
 * written as a new file renamed into place (no one holding the old one open reads the new key; a symlink is replaced,
 * its target untouched), no permission widened, and nothing left behind when one output fails.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { certpin, repo } from './support/cli.js';
import { backupPin, createCertificate, createPki, pinOf } from './support/pki.js';
import { startHttpsServer } from './support/servers.js';
import type { RunningServer } from './support/servers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certpin-cli-outputs-'));
const at = (name: string) => path.join(dir, name);
const pki = createPki({ hosts: ['localhost'] });
let server: RunningServer;

before(async () => {
  server = await startHttpsServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem });
  writeFileSync(at('root.pem'), pki.root.pem);
});
after(() => server.close());

const tempFiles = () => readdirSync(dir).filter((name) => name.endsWith('.tmp'));

describe('CLI output files', () => {
  it('init refuses a signing key or JWKS written over its own policy, even with --force, before writing anything', async () => {
    writeFileSync(at('app-policy.json'), '{}\n');
    const results = await Promise.all([
      certpin(['init', `localhost:${server.port}`, '--ca', at('root.pem'), '--backup-pin', backupPin(), '--out', at('app-policy.json'), '--signing-key', at('app-policy.json'), '--force']),
      certpin(['init', `localhost:${server.port}`, '--ca', at('root.pem'), '--backup-pin', backupPin(), '--out', at('fresh.json'), '--signing-key', at('fresh.key'), '--jwks', path.join(dir, '.', 'fresh.json')]),
    ]);
    for (const r of results) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /are the same file/);
    }
    assert.equal(readFileSync(at('app-policy.json'), 'utf8'), '{}\n');
    assert.equal(existsSync(at('fresh.json')), false, 'nothing written');
    assert.equal(existsSync(at('fresh.key')), false, 'nothing written');
  });

  it('backup-key refuses a CSR over its own key (by another name, or through a symlink), even with --force', async () => {
    writeFileSync(at('linked.key'), 'the key in use\n');
    symlinkSync(at('linked.key'), at('alias.csr'));
    const results = await Promise.all([
      certpin(['backup-key', 'localhost', '--out-key', at('k.pem'), '--out-csr', `${dir}/./k.pem`, '--force']),
      certpin(['backup-key', 'localhost', '--out-key', at('linked.key'), '--out-csr', at('alias.csr'), '--force']),
    ]);
    for (const r of results) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /are the same file/);
      assert.equal(r.stdout, '', 'no pin printed for a key that was not kept');
    }
    assert.equal(existsSync(at('k.pem')), false);
    assert.equal(readFileSync(at('linked.key'), 'utf8'), 'the key in use\n');
  });

  it('--force writes a new file: a reader holding the old one open never sees the key, a symlink is replaced and its target kept', async () => {
    writeFileSync(at('backup-key.pem'), 'old contents\n');
    chmodSync(at('backup-key.pem'), 0o644);
    const target = at('elsewhere.txt');
    writeFileSync(target, 'not yours\n');
    symlinkSync(target, at('backup-key.csr'));
    const fd = openSync(at('backup-key.pem'), 'r');
    const r = await certpin(['backup-key', 'localhost', '--out-key', at('backup-key.pem'), '--out-csr', at('backup-key.csr'), '--force']);
    assert.equal(r.code, 0, r.stderr);
    const buffer = Buffer.alloc(4096);
    const seen = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString();
    closeSync(fd);
    assert.equal(seen, 'old contents\n', 'the descriptor opened before still reads the old file');
    assert.match(readFileSync(at('backup-key.pem'), 'utf8'), /BEGIN PRIVATE KEY/);
    assert.equal(statSync(at('backup-key.pem')).mode & 0o777, 0o600);
    assert.equal(lstatSync(at('backup-key.csr')).isSymbolicLink(), false, 'the symlink itself was replaced');
    assert.equal(readFileSync(target, 'utf8'), 'not yours\n');
    assert.deepEqual(tempFiles(), []);
  });

  it('backup-key whose CSR cannot be written leaves no key behind and prints no pin', async () => {
    const r = await certpin(['backup-key', 'localhost', '--out-key', at('orphan.pem'), '--out-csr', path.join(dir, 'missing-dir', 'orphan.csr')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /orphan\.csr: its directory does not exist/);
    assert.equal(r.stdout, '');
    assert.equal(existsSync(at('orphan.pem')), false);
    assert.deepEqual(tempFiles(), []);
  });

  it('fetch --pem and verify --svg/--html replace their own earlier output, any other file only with --force, and never widen its mode', async () => {
    const policy = at('policy.json');
    writeFileSync(policy, JSON.stringify({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: at('root.pem') }));
    const before = readFileSync(policy, 'utf8');
    const overPolicy = await certpin(['verify', policy, '--port', String(server.port), '--svg', policy, '--no-progress']);
    assert.equal(overPolicy.code, 2, overPolicy.stderr);
    assert.match(overPolicy.stderr, /policy\.json already exists; .*--force/);
    assert.equal(readFileSync(policy, 'utf8'), before, 'the policy is intact');

    for (let run = 0; run < 2; run++) {
      const report = await certpin(['verify', policy, '--port', String(server.port), '--svg', at('report.svg'), '--html', at('report.html'), '--no-progress']);
      assert.equal(report.code, 0, `run ${run}: ${report.stderr}`);
    }

    writeFileSync(at('secret.pem'), 'a private key\n');
    chmodSync(at('secret.pem'), 0o600);
    const refused = await certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('secret.pem')]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(readFileSync(at('secret.pem'), 'utf8'), 'a private key\n');
    const forced = await certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('secret.pem'), '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(statSync(at('secret.pem')).mode & 0o777, 0o600, 'a replaced file keeps its narrower mode');
    for (let run = 0; run < 2; run++) {
      const saved = await certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('served.pem')]);
      assert.equal(saved.code, 0, `run ${run}: ${saved.stderr}`);
    }
    assert.match(readFileSync(at('served.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----/);
    assert.deepEqual(tempFiles(), []);
  });

  it('a saved chain is recognised only when it holds certificates alone, and never when the command reads it (--ca)', async () => {
    writeFileSync(at('bundle.pem'), pki.leaf.pem + pki.leaf.key.keyPem);
    writeFileSync(at('ca-copy.pem'), pki.root.pem);
    const [bundle, ownInput] = await Promise.all([
      certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('bundle.pem')]),
      certpin(['fetch', `localhost:${server.port}`, '--ca', at('ca-copy.pem'), '--pem', at('ca-copy.pem')]),
    ]);
    for (const r of [bundle, ownInput]) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /already exists; .*--force/);
    }
    assert.match(readFileSync(at('bundle.pem'), 'utf8'), /PRIVATE KEY/);
    assert.equal(readFileSync(at('ca-copy.pem'), 'utf8'), pki.root.pem);
  });

  it('/dev/stdout redirected to a file, both standard streams at once, and the umask of new files', () => {
    const cli = (args: string[], stdout: number | 'pipe', umask = '022') =>
      spawnSync('sh', ['-c', `umask ${umask}; exec "$0" --import tsx "$@"`, process.execPath, path.join(repo, 'src/cli/main.ts'), ...args], { cwd: repo, stdio: ['ignore', stdout, 'pipe'], encoding: 'utf8' });
    const redirected = openSync(at('redirected.pem'), 'w');
    const toFile = cli(['inspect', at('root.pem'), '--pem', '--out', '/dev/stdout'], redirected);
    closeSync(redirected);
    assert.equal(toFile.status, 0, toFile.stderr);
    assert.equal(readFileSync(at('redirected.pem'), 'utf8'), pki.root.pem, 'what the shell redirected to got the PEM');
    assert.equal(lstatSync('/dev/stdout').isSymbolicLink(), true);
    const both = cli(['backup-key', 'localhost', '--out-key', '/dev/stdout', '--out-csr', '/dev/stderr'], 'pipe');
    assert.equal(both.status, 0, both.stderr);
    assert.match(both.stdout, /BEGIN PRIVATE KEY/);
    assert.match(both.stderr, /BEGIN CERTIFICATE REQUEST/);
    const masked = cli(['inspect', at('root.pem'), '--pem', '--out', at('masked.pem')], 'pipe', '077');
    assert.equal(masked.status, 0, masked.stderr);
    assert.equal(statSync(at('masked.pem')).mode & 0o777, 0o600, 'a new file gets its mode less the umask');
  });

  it('a name under /dev that is a file (/dev/shm) gets every safeguard: mode 0600, no overwrite, no write through a symlink, one file named twice refused', { skip: !existsSync('/dev/shm') }, async () => {
    const shm = mkdtempSync('/dev/shm/certpin-outputs-');
    try {
      const victim = at('victim.txt');
      writeFileSync(victim, 'keep me\n');
      symlinkSync(victim, path.join(shm, 'link.csr'));
      writeFileSync(path.join(shm, 'existing.pem'), 'secret\n');
      const [fresh, existing, throughLink, twice] = await Promise.all([
        certpin(['backup-key', 'localhost', '--out-key', path.join(shm, 'k.pem'), '--out-csr', path.join(shm, 'k.csr')]),
        certpin(['backup-key', 'localhost', '--out-key', path.join(shm, 'existing.pem'), '--out-csr', path.join(shm, 'e.csr')]),
        certpin(['backup-key', 'localhost', '--out-key', path.join(shm, 'l.pem'), '--out-csr', path.join(shm, 'link.csr')]),
        certpin(['backup-key', 'localhost', '--out-key', path.join(shm, 't.pem'), '--out-csr', `${shm}/./t.pem`, '--force']),
      ]);
      assert.equal(fresh.code, 0, fresh.stderr);
      assert.equal(statSync(path.join(shm, 'k.pem')).mode & 0o777, 0o600);
      for (const r of [existing, throughLink, twice]) assert.equal(r.code, 2, r.stderr);
      assert.equal(readFileSync(path.join(shm, 'existing.pem'), 'utf8'), 'secret\n');
      assert.equal(readFileSync(victim, 'utf8'), 'keep me\n');
      assert.match(twice.stderr, /are the same file|must be different files/);
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });

  it('a device output swapped for a symlink to a file while the command waits is refused, not written through', { skip: !existsSync('/usr/bin/mkfifo') }, async () => {
    const fifo = at('served.fifo');
    execFileSync('mkfifo', [fifo]);
    const precious = at('precious.txt');
    writeFileSync(precious, 'precious\n');
    const link = at('path.out');
    symlinkSync('/dev/null', link);
    const running = certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', fifo, '--pem-path', link, '--force']);
    // The command has checked both outputs and blocks opening the FIFO, which has no reader yet.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    rmSync(link);
    symlinkSync(precious, link);
    const reader = createReadStream(fifo);
    reader.resume();
    const r = await running;
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no longer leads to a device/);
    assert.equal(readFileSync(precious, 'utf8'), 'precious\n');
  });

  it('a private key never goes to a FIFO or device at its name (another user\'s FIFO, a link to /dev/null), even with --force; to standard output redirected to a file, that file is made 0600', { skip: !existsSync('/usr/bin/mkfifo') }, async () => {
    execFileSync('mkfifo', ['-m', '666', at('trap.pem')]);
    symlinkSync('/dev/null', at('void.pem'));
    const results = await Promise.all([
      certpin(['backup-key', 'localhost', '--out-key', at('trap.pem'), '--out-csr', at('trap.csr')]),
      certpin(['signing-key', '--out-key', at('void.pem'), '--force']),
    ]);
    for (const r of results) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /a private key is written only to a regular file or standard output/);
      assert.equal(r.stdout, '');
    }
    assert.equal(existsSync(at('trap.csr')), false, 'nothing written');
    const target = at('redirected.key');
    writeFileSync(target, '');
    chmodSync(target, 0o644);
    const fd = openSync(target, 'a');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/main.ts'), 'signing-key', '--out-key', '/dev/stdout', '--out-jwks', at('redirected.jwks')], { cwd: repo, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    closeSync(fd);
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(target, 'utf8'), /BEGIN PRIVATE KEY/);
    assert.equal(statSync(target).mode & 0o777, 0o600);
  });

  it('standard output redirected to a file is that file: a key sent there and a CSR written to it are refused as one file', () => {
    const target = at('one.pem');
    writeFileSync(target, 'before\n');
    const fd = openSync(target, 'a');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/main.ts'), 'backup-key', 'example.com', '--out-key', '/dev/stdout', '--out-csr', target, '--force'], { cwd: repo, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    closeSync(fd);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /are the same file/);
    assert.equal(readFileSync(target, 'utf8'), 'before\n');
  });

  it('a policy\'s trust file is not a saved chain: a leaf for another name followed by roots, or a self-signed certificate', async () => {
    const other = createPki({ hosts: ['other.test'] });
    writeFileSync(at('trust.pem'), other.leaf.pem + other.root.pem);
    const selfSigned = createCertificate({ commonName: 'localhost', sans: ['localhost'] });
    writeFileSync(at('self.pem'), selfSigned.pem);
    const results = await Promise.all(['trust.pem', 'self.pem'].map((name) => certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at(name)])));
    for (const r of results) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /already exists; .*--force/);
    }
    assert.equal(readFileSync(at('trust.pem'), 'utf8'), other.leaf.pem + other.root.pem);
    assert.equal(readFileSync(at('self.pem'), 'utf8'), selfSigned.pem);
  });

  it('a symlink that leads to standard output is written through the descriptor (a socket cannot be opened by name)', async () => {
    symlinkSync('/dev/stdout', at('to-stdout.pem'));
    const refused = await certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('to-stdout.pem'), '--json']);
    assert.equal(refused.code, 2, 'a name that leads to a device is written to only with --force');
    const r = await certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('to-stdout.pem'), '--json', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /-----BEGIN CERTIFICATE-----/);
  });

  it('a trust bundle (more certificates than a chain, or NODE_EXTRA_CA_CERTS) is not a saved chain', async () => {
    const many = Array.from({ length: 12 }, () => pki.root.pem).join('');
    writeFileSync(at('bundle-of-12.pem'), many);
    writeFileSync(at('extra-ca.pem'), pki.root.pem);
    const [bundle, extra] = await Promise.all([
      certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('bundle-of-12.pem')]),
      certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('extra-ca.pem')], { env: { NODE_EXTRA_CA_CERTS: at('extra-ca.pem') } }),
    ]);
    for (const r of [bundle, extra]) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /already exists; .*--force/);
    }
    assert.equal(readFileSync(at('bundle-of-12.pem'), 'utf8'), many);
    assert.equal(readFileSync(at('extra-ca.pem'), 'utf8'), pki.root.pem);
  });

  it('/dev/stdout is written as it is (no --force needed, the device never replaced); a directory is refused before anything is written', async () => {
    const toStdout = await certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', '/dev/stdout', '--json']);
    assert.equal(toStdout.code, 0, toStdout.stderr);
    assert.match(toStdout.stdout, /-----BEGIN CERTIFICATE-----/);
    mkdirSync(at('a-directory'));
    writeFileSync(at('kept.key'), 'the old key\n');
    const r = await certpin(['signing-key', '--out-key', at('kept.key'), '--out-jwks', at('a-directory'), '--force']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /a-directory: it is a directory/);
    assert.equal(readFileSync(at('kept.key'), 'utf8'), 'the old key\n');
  });
});
