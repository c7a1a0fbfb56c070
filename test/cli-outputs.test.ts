/**
 * How the CLI writes files, against the mistakes and tricks that destroy keys or policies: two outputs that are one
 * file, an existing file replaced only when asked (or when it is the command's own earlier output), a replaced file
 * written as a new file renamed into place (no one holding the old one open reads the new key; a symlink is replaced,
 * its target untouched), no permission widened, and nothing left behind when one output fails.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { PathLike } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { X509Certificate } from 'node:crypto';
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
    for (const force of [[], ['--force']]) {
      const overPolicy = await certpin(['verify', policy, '--port', String(server.port), '--svg', policy, '--no-progress', ...force]);
      assert.equal(overPolicy.code, 2, overPolicy.stderr);
      assert.match(overPolicy.stderr, /policy\.json is also read by this command; write to another name \(not even --force/);
      assert.equal(readFileSync(policy, 'utf8'), before, 'the policy is intact');
    }

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
    const saved = readFileSync(at('served.pem'), 'utf8');
    assert.match(saved, new RegExp(`^Saved by certpin fetch from localhost:${server.port} \\(server name localhost\\) on [0-9T:-]+Z: the certificates the server sent, in its order\\.\\n-----BEGIN CERTIFICATE-----`));
    // The first line is text before the first PEM block (RFC 7468), which PEM readers skip.
    assert.match(execFileSync('openssl', ['x509', '-in', at('served.pem'), '-noout', '-subject'], { encoding: 'utf8' }), /CN ?= ?localhost/);
    assert.equal(new X509Certificate(saved).subject, pki.leaf.cert.subject);
    const inspected = await certpin(['inspect', at('served.pem')]);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(inspected.stdout, /2 certificates/);
    assert.deepEqual(tempFiles(), []);
  });

  it('a saved chain is recognised only when it holds certificates alone, and never when the command reads it (--ca)', async () => {
    writeFileSync(at('bundle.pem'), pki.leaf.pem + pki.leaf.key.keyPem);
    writeFileSync(at('ca-copy.pem'), pki.root.pem);
    const [bundle, ownInput] = await Promise.all([
      certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('bundle.pem')]),
      certpin(['fetch', `localhost:${server.port}`, '--ca', at('ca-copy.pem'), '--pem', at('ca-copy.pem')]),
    ]);
    assert.equal(bundle.code, 2, bundle.stderr);
    assert.match(bundle.stderr, /already exists; .*--force/);
    assert.equal(ownInput.code, 2, ownInput.stderr);
    assert.match(ownInput.stderr, /is also read by this command/);
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
    assert.match(r.stderr, /no longer leads to the device it led to/);
    assert.equal(readFileSync(precious, 'utf8'), 'precious\n');
  });

  it('a private key never goes to a FIFO or device at its name (another user\'s FIFO, a link to /dev/null), even with --force; to standard output redirected to a file only when that file is its owner\'s alone', { skip: !existsSync('/usr/bin/mkfifo') }, async () => {
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
    // The shell made the file 0644 before certpin started: another process may hold it open already, and chmod would
    // not take that descriptor back.
    const target = at('redirected.key');
    writeFileSync(target, '');
    chmodSync(target, 0o644);
    const early = openSync(target, 'r');
    const toStdout = (file: string) => {
      const fd = openSync(file, 'a');
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/main.ts'), 'signing-key', '--out-key', '/dev/stdout', '--out-jwks', `${file}.jwks`], { cwd: repo, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
      closeSync(fd);
      return r;
    };
    const refused = toStdout(target);
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /leads to a file others can read \(mode 0644\).*umask 077/);
    const buffer = Buffer.alloc(4096);
    assert.equal(readSync(early, buffer, 0, buffer.length, 0), 0, 'the early reader sees no key');
    closeSync(early);
    assert.equal(existsSync(`${target}.jwks`), false, 'nothing written');
    const privateFile = at('private-redirect.key');
    writeFileSync(privateFile, '', { mode: 0o600 });
    const accepted = toStdout(privateFile);
    assert.equal(accepted.status, 0, accepted.stderr);
    assert.match(readFileSync(privateFile, 'utf8'), /BEGIN PRIVATE KEY/);
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
    assert.equal(bundle.code, 2, bundle.stderr);
    assert.match(bundle.stderr, /already exists; .*--force/);
    assert.equal(extra.code, 2, extra.stderr);
    assert.match(extra.stderr, /is also read by this command/);
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

describe('CLI output files: all or nothing, and only where the user pointed', () => {
  const init = (...args: string[]) => certpin(['init', `localhost:${server.port}`, '--ca', at('root.pem'), '--backup-pin', backupPin(), ...args]);

  it('init --force replaces the policy, never a signing key or a JWKS already there; a key sent to a stream needs --jwks', async () => {
    writeFileSync(at('kept-signing.key'), 'the signing key in use\n', { mode: 0o600 });
    writeFileSync(at('kept-keys.json'), '{"keys":[]}\n');
    writeFileSync(at('init-policy.json'), '{}\n');
    const inDev = existsSync('/dev/certpin-keys.json');
    const [overKey, overJwks, toStream] = await Promise.all([
      init('--out', at('init-policy.json'), '--force', '--signing-key', at('kept-signing.key'), '--jwks', at('new-keys.json')),
      init('--out', at('init-policy.json'), '--force', '--signing-key', at('new-signing.key'), '--jwks', at('kept-keys.json')),
      init('--out', at('stream-policy.json'), '--signing-key', '/dev/stdout'),
    ]);
    assert.equal(overKey.code, 2, overKey.stderr);
    assert.match(overKey.stderr, /kept-signing\.key already exists; init makes a new signing key and never replaces one \(not even with --force\)/);
    assert.equal(overJwks.code, 2, overJwks.stderr);
    assert.match(overJwks.stderr, /kept-keys\.json already exists; init never replaces a JWKS/);
    assert.equal(toStream.code, 2, toStream.stderr);
    assert.match(toStream.stderr, /--signing-key \/dev\/stdout is not a file in a directory: name the JWKS file too \(--jwks FILE\)/);
    assert.equal(toStream.stdout, '', 'no key printed');
    assert.equal(existsSync('/dev/certpin-keys.json'), inDev, 'nothing written under /dev');
    assert.equal(readFileSync(at('kept-signing.key'), 'utf8'), 'the signing key in use\n');
    assert.equal(readFileSync(at('kept-keys.json'), 'utf8'), '{"keys":[]}\n');
    assert.equal(readFileSync(at('init-policy.json'), 'utf8'), '{}\n', 'the policy is not written either');
    for (const name of ['new-keys.json', 'new-signing.key', 'stream-policy.json']) assert.equal(existsSync(at(name)), false, name);
  });

  it("sign and inspect never write over their own input, not even with --force", async () => {
    await certpin(['signing-key', '--out-key', at('input-signing.key')]);
    const key = readFileSync(at('input-signing.key'), 'utf8');
    writeFileSync(at('sign-policy.json'), JSON.stringify({ hosts: { 'api.example.com': [pinOf(pki.intermediate), backupPin()] } }));
    writeFileSync(at('input.pem'), pki.root.pem);
    const [overKey, overPolicy, overCertificate] = await Promise.all([
      certpin(['sign', at('sign-policy.json'), '--key', at('input-signing.key'), '--aud', 'app', '--out', at('input-signing.key'), '--force']),
      certpin(['sign', at('sign-policy.json'), '--key', at('input-signing.key'), '--aud', 'app', '--out', `${dir}/./sign-policy.json`, '--force']),
      certpin(['inspect', at('input.pem'), '--der', '--out', at('input.pem'), '--force']),
    ]);
    for (const r of [overKey, overPolicy, overCertificate]) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /read by this command; write to another name \(not even --force replaces a command's input\)/);
    }
    assert.equal(readFileSync(at('input-signing.key'), 'utf8'), key);
    assert.equal(readFileSync(at('input.pem'), 'utf8'), pki.root.pem);
  });

  it('when a later output fails, a file replaced under --force is put back and a new one removed', { skip: !existsSync('/dev/full') }, async () => {
    // /dev/full refuses every write: streams and devices are written last, after the files.
    writeFileSync(at('replaced-backup.pem'), 'the previous backup key\n', { mode: 0o600 });
    const [replacing, creating] = await Promise.all([
      certpin(['backup-key', 'localhost', '--out-key', at('replaced-backup.pem'), '--out-csr', '/dev/full', '--force']),
      certpin(['backup-key', 'localhost', '--out-key', at('created-backup.pem'), '--out-csr', '/dev/full', '--force']),
    ]);
    for (const r of [replacing, creating]) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /Cannot write \/dev\/full: the disk is full/);
      assert.equal(r.stdout, '', 'no pin printed for a key that was not kept');
    }
    assert.equal(readFileSync(at('replaced-backup.pem'), 'utf8'), 'the previous backup key\n');
    assert.equal(statSync(at('replaced-backup.pem')).mode & 0o777, 0o600);
    assert.equal(existsSync(at('created-backup.pem')), false);
    assert.deepEqual(tempFiles(), []);
  });

  it('a FIFO output is opened before any file is made: while it waits for its reader, nothing of the command is on disk', { skip: !existsSync('/usr/bin/mkfifo') }, async () => {
    const fifo = at('waiting.fifo');
    execFileSync('mkfifo', [fifo]);
    const child = spawnSync('sh', ['-c', `"$0" --import tsx "$@" & pid=$!; sleep 2; ls -a "${dir}" > "${at('while-waiting.txt')}"; kill $pid; wait $pid`, process.execPath, path.join(repo, 'src/cli/main.ts'), 'signing-key', '--out-key', at('waiting.key'), '--out-jwks', fifo, '--force'], { cwd: repo, encoding: 'utf8' });
    assert.notEqual(child.status, 0);
    const seen = readFileSync(at('while-waiting.txt'), 'utf8').split('\n');
    assert.equal(seen.includes('waiting.key'), false, 'the key is not written before the FIFO is open');
    assert.deepEqual(seen.filter((name) => name.endsWith('.tmp')), [], 'no temporary file either');
    assert.equal(existsSync(at('waiting.key')), false);
  });

  it('a file removed between the checks and the writing goes in as a new file, and out again when a later output fails', { skip: !existsSync('/dev/full') }, async () => {
    // The removal is made to happen at the last moment (the link that would keep the old file), as a concurrent
    // process could; /dev/full then fails the command after the files are in place.
    const target = at('vanishing.pem');
    writeFileSync(target, 'the old chain\n');
    const linkSync = fs.linkSync;
    fs.linkSync = ((from: PathLike, to: PathLike) => {
      if (String(from) === target && existsSync(target)) rmSync(target);
      linkSync(from, to);
    }) as typeof fs.linkSync;
    syncBuiltinESMExports();
    try {
      const { writeOutputFiles } = await import('../src/cli/files.js');
      assert.throws(
        () => writeOutputFiles([{ file: target, data: 'the new chain\n' }, { file: '/dev/full', data: 'x' }], { force: true }),
        (error: Error) => /\/dev\/full: the disk is full\.$/.test(error.message),
      );
    } finally {
      fs.linkSync = linkSync;
      syncBuiltinESMExports();
    }
    assert.equal(existsSync(target), false, 'the new file is removed with the failed command');
    assert.deepEqual(tempFiles(), []);
  });

  it('a device output swapped for another device while the command waits is refused', { skip: !existsSync('/usr/bin/mkfifo') }, async () => {
    const fifo = at('first.fifo');
    execFileSync('mkfifo', [fifo]);
    const link = at('second.out');
    symlinkSync('/dev/null', link);
    const running = certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', fifo, '--pem-path', link, '--force']);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    rmSync(link);
    symlinkSync('/dev/zero', link);
    const reader = createReadStream(fifo);
    reader.resume();
    const r = await running;
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /second\.out changed while certpin was writing/);
  });

  it('a chain is replaced without --force only when fetch saved it: a renewed chain not yet deployed is kept, and so is a large file', async () => {
    const renewed = pki.leaf.pem + pki.intermediate.pem;
    writeFileSync(at('fullchain.pem'), renewed);
    const marked = (await certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('marked.pem')])).code;
    assert.equal(marked, 0);
    writeFileSync(at('large.pem'), readFileSync(at('marked.pem'), 'utf8') + '\n'.repeat(1024 * 1024) + 'other data\n');
    const [unmarked, large] = await Promise.all([
      certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('fullchain.pem')]),
      certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', at('large.pem')]),
    ]);
    for (const r of [unmarked, large]) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /already exists; choose another name, or pass --force/);
    }
    assert.equal(readFileSync(at('fullchain.pem'), 'utf8'), renewed);
    assert.match(readFileSync(at('large.pem'), 'utf8'), /other data\n$/);
  });

  it('a name is written in the directory the kernel finds for it (a symlink before ".."), and names that cannot be a file are refused plainly', async () => {
    // /dev/shm is another file system than the test directory: a temporary file made where the name reads as text
    // (here) could not be renamed there.
    const elsewhere = mkdtempSync(existsSync('/dev/shm') ? '/dev/shm/certpin-dots-' : path.join(tmpdir(), 'certpin-dots-'));
    try {
      mkdirSync(path.join(elsewhere, 'sub'));
      symlinkSync(path.join(elsewhere, 'sub'), at('sub'));
      const r = await certpin(['backup-key', 'localhost', '--out-key', 'sub/../dotted.pem', '--out-csr', 'sub/../dotted.csr'], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(existsSync(path.join(elsewhere, 'dotted.pem')), true, 'where the kernel resolves sub/..');
      assert.equal(existsSync(at('dotted.pem')), false);
      assert.deepEqual(tempFiles(), []);
      const [empty, slash] = await Promise.all([
        certpin(['signing-key', '--out-key', ''], { cwd: dir }),
        certpin(['signing-key', '--out-key', 'new-dir/'], { cwd: dir }),
      ]);
      assert.equal(empty.code, 2);
      assert.match(empty.stderr, /--out-key may not be empty/);
      assert.equal(slash.code, 2);
      assert.match(slash.stderr, /Cannot write new-dir\/: a file name cannot end with "\/"/);
      assert.deepEqual(readdirSync(path.dirname(dir)).filter((name) => name.startsWith('.certpin-')), [], 'nothing made in the parent directory');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("another user's file in a shared directory, or a directory that cannot be written, is refused before anything is written", { skip: process.getuid?.() !== 0 || !existsSync('/usr/sbin/runuser') }, () => {
    // Run as nobody: root may write anywhere. rename() would fail only after the key was in place.
    const shared = mkdtempSync(path.join(tmpdir(), 'certpin-shared-'));
    try {
      chmodSync(shared, 0o755);
      mkdirSync(path.join(shared, 'sticky'), { mode: 0o1777 });
      chmodSync(path.join(shared, 'sticky'), 0o1777);
      writeFileSync(path.join(shared, 'sticky', 'theirs.csr'), 'root\'s file\n', { mode: 0o666 });
      chmodSync(path.join(shared, 'sticky', 'theirs.csr'), 0o666);
      mkdirSync(path.join(shared, 'read-only'), { mode: 0o555 });
      const asNobody = (cwd: string, args: string[]) =>
        spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '--import', import.meta.resolve('tsx'), path.join(repo, 'src/cli/main.ts'), ...args], { cwd, encoding: 'utf8' });
      const sticky = asNobody(path.join(shared, 'sticky'), ['backup-key', 'localhost', '--out-key', 'mine.pem', '--out-csr', 'theirs.csr', '--force']);
      assert.equal(sticky.status, 2, sticky.stderr);
      assert.match(sticky.stderr, /Cannot write theirs\.csr: it belongs to another user in a shared directory/);
      assert.equal(existsSync(path.join(shared, 'sticky', 'mine.pem')), false, 'no key left behind');
      assert.equal(readFileSync(path.join(shared, 'sticky', 'theirs.csr'), 'utf8'), 'root\'s file\n');
      const readOnly = asNobody(path.join(shared, 'read-only'), ['signing-key', '--out-key', 'k.pem']);
      assert.equal(readOnly.status, 2, readOnly.stderr);
      assert.match(readOnly.stderr, /Cannot write k\.pem: its directory \(\.\) is not writable/);
      // In a directory of one's own, another user's file that one cannot read is still replaced when asked (--force).
      mkdirSync(path.join(shared, 'own'));
      execFileSync('chown', ['nobody', path.join(shared, 'own')]);
      writeFileSync(path.join(shared, 'own', 'root.pem'), pki.root.pem);
      chmodSync(path.join(shared, 'own', 'root.pem'), 0o644);
      writeFileSync(path.join(shared, 'own', 'theirs.pem'), 'root\'s\n', { mode: 0o600 });
      const replaced = asNobody(path.join(shared, 'own'), ['inspect', 'root.pem', '--pem', '--out', 'theirs.pem', '--force']);
      assert.equal(replaced.status, 0, replaced.stderr);
      assert.equal(readFileSync(path.join(shared, 'own', 'theirs.pem'), 'utf8'), pki.root.pem);
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });

  /** A shared library that makes link() fail as on a file system without hard links (FAT, exFAT). */
  const noLinkShim = (): string => {
    const shim = path.join(dir, 'nolink');
    if (!existsSync(`${shim}.so`)) {
      writeFileSync(`${shim}.c`, '#include <errno.h>\nint link(const char *a, const char *b) { (void)a; (void)b; errno = EPERM; return -1; }\nint linkat(int fa, const char *a, int fb, const char *b, int flags) { (void)fa; (void)a; (void)fb; (void)b; (void)flags; errno = EPERM; return -1; }\n');
      execFileSync('cc', ['-shared', '-fPIC', '-o', `${shim}.so`, `${shim}.c`]);
    }
    return `${shim}.so`;
  };
  const withoutLinks = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/main.ts'), ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, LD_PRELOAD: noLinkShim() } });

  it('a file system without hard links (FAT on a USB stick) still gets new files, created exclusively; a replaced file that cannot be kept is named', { skip: !existsSync('/usr/bin/cc') }, async () => {
    const r = withoutLinks(['backup-key', 'localhost', '--out-key', at('fat.pem'), '--out-csr', at('fat.csr')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(at('fat.pem'), 'utf8'), /BEGIN PRIVATE KEY/);
    assert.equal(statSync(at('fat.pem')).mode & 0o777, 0o600);
    assert.deepEqual(tempFiles(), []);
    // Without a second name for the old file there is nothing to put back, and nothing is copied (a copy would read
    // through a name that may have been swapped since the checks): still one atomic rename, and the error says so.
    writeFileSync(at('fat-old.pem'), 'the old key\n', { mode: 0o600 });
    const failed = withoutLinks(['backup-key', 'localhost', '--out-key', at('fat-old.pem'), '--out-csr', '/dev/full', '--force']);
    assert.equal(failed.status, 2, failed.stderr);
    assert.match(failed.stderr, /\/dev\/full: the disk is full; .*fat-old\.pem was replaced, and its previous version could not be kept to put back/);
    assert.match(readFileSync(at('fat-old.pem'), 'utf8'), /BEGIN PRIVATE KEY/);
    assert.equal(statSync(at('fat-old.pem')).mode & 0o777, 0o600);
    assert.deepEqual(tempFiles(), []);
  });

  it('the files a policy names, and NODE_EXTRA_CA_CERTS, are inputs too: verify and init never write over them', async () => {
    writeFileSync(at('named-root.pem'), pki.root.pem);
    writeFileSync(at('extra-input.pem'), pki.root.pem);
    writeFileSync(at('names-root.json'), JSON.stringify({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: 'named-root.pem' }));
    const [overNamedCa, overExtra, initOverCa] = await Promise.all([
      certpin(['verify', at('names-root.json'), '--port', String(server.port), '--html', at('named-root.pem'), '--force', '--no-progress']),
      certpin(['verify', at('names-root.json'), '--port', String(server.port), '--svg', at('extra-input.pem'), '--force', '--no-progress'], { env: { NODE_EXTRA_CA_CERTS: at('extra-input.pem') } }),
      certpin(['init', `localhost:${server.port}`, '--ca', at('named-root.pem'), '--backup-pin', backupPin(), '--out', at('named-root.pem'), '--force']),
    ]);
    for (const r of [overNamedCa, overExtra, initOverCa]) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /read by this command; write to another name/);
    }
    assert.equal(readFileSync(at('named-root.pem'), 'utf8'), pki.root.pem);
    assert.equal(readFileSync(at('extra-input.pem'), 'utf8'), pki.root.pem);
  });

  it('standard output: a large output to a slow pipe arrives whole; beside a key sent there, the pin and the JWKS go to standard error', () => {
    const bundle = at('large-bundle.pem');
    writeFileSync(bundle, pki.root.pem.repeat(1000));
    const size = statSync(bundle).size;
    assert.ok(size > 256 * 1024, 'more than a pipe holds');
    const cli = `"${process.execPath}" --import tsx "${path.join(repo, 'src/cli/main.ts')}"`;
    const slow = spawnSync('sh', ['-c', `{ ${cli} inspect "${bundle}" --pem --out /dev/stdout; echo "status $?" >&2; } | (sleep 1; wc -c)`], { cwd: repo, encoding: 'utf8' });
    assert.match(slow.stderr, /status 0/, slow.stderr);
    assert.equal(Number(slow.stdout.trim()), size);
    const key = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/main.ts'), 'signing-key', '--out-key', '/dev/stdout'], { cwd: repo, encoding: 'utf8' });
    assert.equal(key.status, 0, key.stderr);
    assert.match(key.stdout, /^-----BEGIN PRIVATE KEY-----\n[^]*-----END PRIVATE KEY-----\n$/, 'the key alone on standard output');
    assert.match(key.stderr, /"keys"/);
    const backup = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/main.ts'), 'backup-key', 'localhost', '--out-key', '/dev/stdout', '--out-csr', at('stdout-backup.csr')], { cwd: repo, encoding: 'utf8' });
    assert.equal(backup.status, 0, backup.stderr);
    assert.match(backup.stdout, /^-----BEGIN PRIVATE KEY-----\n[^]*-----END PRIVATE KEY-----\n$/);
    assert.match(backup.stderr, /^sha256\/[A-Za-z0-9+/]{43}=$/m);
  });

  it('init never sends a signing key to the standard output its policy goes to; an empty option value is refused', async () => {
    // `--ca <(cat root.pem)`: a pipe the shell names, gone once init exits.
    const caPipe = at('ca.fifo');
    execFileSync('mkfifo', [caPipe]);
    execFile('sh', ['-c', `cat "${at('root.pem')}" > "${caPipe}"`]);
    const streamCa = await certpin(['init', `localhost:${server.port}`, '--ca', caPipe, '--backup-pin', backupPin(), '--out', at('stream-ca.json')]);
    assert.equal(streamCa.code, 2, streamCa.stderr);
    assert.match(streamCa.stderr, /--ca .*ca\.fifo is not a regular file; the policy names its CA files for later runs/);
    assert.equal(existsSync(at('stream-ca.json')), false);
    const [shared, emptyPem, emptyOut] = await Promise.all([
      init('--signing-key', '/dev/stdout', '--jwks', at('shared-keys.json')),
      certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem', '']),
      certpin(['sign', at('root.pem'), '--key', at('root.pem'), '--aud', 'app', '--out', '']),
    ]);
    assert.equal(shared.code, 2, shared.stderr);
    assert.match(shared.stderr, /the private key would land in the policy\. Give --out FILE/);
    assert.equal(shared.stdout, '');
    assert.equal(existsSync(at('shared-keys.json')), false);
    assert.equal(emptyPem.code, 2);
    assert.match(emptyPem.stderr, /--pem may not be empty/);
    assert.equal(emptyOut.code, 2);
    assert.match(emptyOut.stderr, /--out may not be empty/);
  });

  it('a key and another output on one stream are one file, by whatever name: /dev/stdout, /dev/fd/1, standard error sent to standard output', async () => {
    // Through a shell, piped to cat (the exit status is cat's; the refusal is read from standard error), and without
    // blocking this process, whose event loop runs the server.
    const run = (args: string[], shell: string) =>
      new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
        execFile('sh', ['-c', `"$0" --import tsx "$@" ${shell}`, process.execPath, path.join(repo, 'src/cli/main.ts'), ...args], { cwd: repo, encoding: 'utf8' }, (error, stdout, stderr) =>
          error && typeof error.code !== 'number' ? reject(error) : resolve({ stdout, stderr }),
        );
      });
    const both = await run(['signing-key', '--out-key', '/dev/stdout', '--out-jwks', '/dev/fd/1'], '| cat');
    assert.match(both.stderr, /\/dev\/stdout and \/dev\/fd\/1 are the same file/);
    assert.doesNotMatch(both.stdout, /PRIVATE KEY/);
    const policyAndKey = await run(['init', `localhost:${server.port}`, '--ca', at('root.pem'), '--backup-pin', backupPin(), '--out', '/dev/stdout', '--signing-key', '/proc/self/fd/1', '--jwks', at('one-stream.json')], '| cat');
    assert.match(policyAndKey.stderr, /the policy and the signing key would go to one stream/);
    assert.doesNotMatch(policyAndKey.stdout, /PRIVATE KEY/);
    const keyAndRequest = await run(['backup-key', 'localhost', '--out-key', '/dev/stdout', '--out-csr', '/dev/stderr'], '2>&1 | cat');
    assert.match(keyAndRequest.stdout, /\/dev\/stdout and \/dev\/stderr lead to one stream; a private key shares it with no other output/);
    assert.doesNotMatch(keyAndRequest.stdout, /PRIVATE KEY|CERTIFICATE REQUEST/);
    // On a terminal too: a pseudo-terminal is often read by a program (ssh -t, script) and passed on.
    if (existsSync('/usr/bin/script')) {
      const onTerminal = await new Promise<{ stdout: string }>((resolve, reject) => {
        execFile('script', ['-qec', `"${process.execPath}" --import tsx "${path.join(repo, 'src/cli/main.ts')}" backup-key localhost --out-key /dev/stdout --out-csr /dev/stderr`, '/dev/null'], { cwd: repo, encoding: 'utf8' }, (error, stdout) =>
          error && typeof error.code !== 'number' ? reject(error) : resolve({ stdout }),
        );
      });
      assert.match(onTerminal.stdout, /lead to one stream; a private key shares it with no other output/);
      assert.doesNotMatch(onTerminal.stdout, /PRIVATE KEY-----/);
    }
    const merged = await run(['init', `localhost:${server.port}`, '--ca', at('root.pem'), '--backup-pin', backupPin(), '--signing-key', '/dev/stderr', '--jwks', at('merged.json')], '2>&1 | cat');
    assert.match(merged.stdout, /the policy and the signing key would go to one stream/);
    assert.doesNotMatch(merged.stdout, /PRIVATE KEY/);
    assert.equal(existsSync(at('merged.json')), false);
  });

  it('a marked file of one self-signed certificate is a trust file, never replaced by a saved path without --force; nor are the development CA files of verify --production', async () => {
    const selfSigned = createCertificate({ commonName: 'localhost', sans: ['localhost'] });
    const marked = `Saved by certpin fetch from localhost:8443 (server name localhost) on 2026-01-01T00:00:00Z: the certificates the server sent, in its order.\n${selfSigned.pem}`;
    writeFileSync(at('dev-trust.pem'), marked);
    writeFileSync(at('dev-ca.pem'), pki.root.pem);
    writeFileSync(at('with-overrides.json'), JSON.stringify({ hosts: { localhost: [pinOf(pki.intermediate), backupPin()] }, ca: 'root.pem', developmentOverrides: { ca: 'dev-ca.pem' } }));
    const [path, production] = await Promise.all([
      certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem-path', at('dev-trust.pem')]),
      certpin(['verify', at('with-overrides.json'), '--production', '--port', String(server.port), '--html', at('dev-ca.pem'), '--force', '--no-progress']),
    ]);
    assert.equal(path.code, 2, path.stderr);
    assert.match(path.stderr, /dev-trust\.pem already exists; choose another name, or pass --force/);
    assert.equal(readFileSync(at('dev-trust.pem'), 'utf8'), marked);
    assert.equal(production.code, 2, production.stderr);
    assert.match(production.stderr, /read by this command/);
    assert.equal(readFileSync(at('dev-ca.pem'), 'utf8'), pki.root.pem);
  });

  it('fetch --pem-path replaces the path it saved before; the default JWKS goes beside the key where the kernel finds it', async () => {
    for (let run = 0; run < 2; run++) {
      const r = await certpin(['fetch', `localhost:${server.port}`, '--ca', at('root.pem'), '--pem-path', at('saved-path.pem')]);
      assert.equal(r.code, 0, `run ${run}: ${r.stderr}`);
    }
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'certpin-jwks-'));
    try {
      mkdirSync(path.join(elsewhere, 'deep'));
      symlinkSync(path.join(elsewhere, 'deep'), at('to-deep'));
      const r = await init('--out', 'to-deep/../deep-policy.json', '--signing-key', 'to-deep/../deep.key', '--aud', 'app');
      assert.equal(r.code, 2, 'init runs from the repository, where to-deep does not exist');
      const here = await certpin(['init', `localhost:${server.port}`, '--ca', at('root.pem'), '--backup-pin', backupPin(), '--out', 'to-deep/../deep-policy.json', '--signing-key', 'to-deep/../deep.key'], { cwd: dir });
      assert.equal(here.code, 0, here.stderr);
      assert.equal(existsSync(path.join(elsewhere, 'deep.key')), true);
      assert.equal(existsSync(path.join(elsewhere, 'certpin-keys.json')), true, 'the JWKS beside the key');
      assert.equal(existsSync(at('certpin-keys.json')), false);
      // Read back through the name it was written by, and through its real name: the same root either way.
      for (const name of ['to-deep/../deep-policy.json', path.join(elsewhere, 'deep-policy.json')]) {
        const verified = await certpin(['verify', name, '--port', String(server.port), '--no-progress'], { cwd: dir });
        assert.equal(verified.code, 0, `${name}: ${verified.stderr}`);
      }
      // A policy written into a symlinked directory (at another depth than the link) is read back through that name too.
      mkdirSync(path.join(elsewhere, 'deeper', 'still'), { recursive: true });
      symlinkSync(path.join(elsewhere, 'deeper', 'still'), at('cfg'));
      const linked = await certpin(['init', `localhost:${server.port}`, '--ca', 'root.pem', '--backup-pin', backupPin(), '--out', 'cfg/certpin.json'], { cwd: dir });
      assert.equal(linked.code, 0, linked.stderr);
      const verified = await certpin(['verify', 'cfg/certpin.json', '--port', String(server.port), '--no-progress'], { cwd: dir });
      assert.equal(verified.code, 0, verified.stderr);
      // A symlink above both the policy and its CA file changes nothing: the path stays relative, and the pair moves.
      mkdirSync(path.join(elsewhere, 'real', 'project'), { recursive: true });
      writeFileSync(path.join(elsewhere, 'real', 'project', 'root.pem'), pki.root.pem);
      symlinkSync(path.join(elsewhere, 'real'), path.join(elsewhere, 'link'));
      const above = await certpin(['init', `localhost:${server.port}`, '--ca', 'link/project/root.pem', '--backup-pin', backupPin(), '--out', 'link/project/certpin.json'], { cwd: elsewhere });
      assert.equal(above.code, 0, above.stderr);
      assert.deepEqual((JSON.parse(readFileSync(path.join(elsewhere, 'real', 'project', 'certpin.json'), 'utf8')) as { ca: string[] }).ca, ['root.pem']);
      // A CA file named through a symlink and "..": the relative path would name another file, so the real one is named.
      mkdirSync(path.join(elsewhere, 'plain', 'other', 'sub'), { recursive: true });
      writeFileSync(path.join(elsewhere, 'plain', 'other', 'root.pem'), pki.root.pem);
      symlinkSync(path.join(elsewhere, 'plain', 'other', 'sub'), path.join(elsewhere, 'plain', 'lnk'));
      const dotted = await certpin(['init', `localhost:${server.port}`, '--ca', 'lnk/../root.pem', '--backup-pin', backupPin(), '--out', 'certpin.json'], { cwd: path.join(elsewhere, 'plain') });
      assert.equal(dotted.code, 0, dotted.stderr);
      assert.match(dotted.stderr, /is named by its absolute path/);
      const verifiedDotted = await certpin(['verify', 'certpin.json', '--port', String(server.port), '--no-progress'], { cwd: path.join(elsewhere, 'plain') });
      assert.equal(verifiedDotted.code, 0, verifiedDotted.stderr);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
