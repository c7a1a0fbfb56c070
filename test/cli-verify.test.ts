/**
 * `certpin verify` against the servers of a team rotating certificates (test/support/verify-world.ts): a healthy
 * host, one after its rotation to the backup key, a leaf that expires in ten days, a server that sends only its
 * leaf, a mis-pinned host, a host that is down and one that accepts TCP and never speaks TLS. Warnings, failures,
 * exit codes, the table, progress in CI logs, --production and the default policy file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backupPin, pinOf } from './support/pki.js';
import { certpin } from './support/cli.js';
import { keyPin, startVerifyWorld, worldAddresses, worldPinSets } from './support/verify-world.js';
import type { VerifyWorld } from './support/verify-world.js';

const DAY = 86_400_000;
const STACK = /\n\s+at .+:\d+:\d+/;

interface Host {
  host: string;
  status: string;
  reason: string;
  connects: boolean;
  failure: { kind: string; code: string | null } | null;
  warnings: string[];
  pins: string[];
  backupPins: string[];
  retiredPins: string[];
  backupInUse: string | null;
  matchedPins: { pin: string; daysLeft: number; position: string }[];
  served: { spkiPin: string; subject: string }[];
  breaksAt: string | null;
  certificates: { role: string; notBefore: string; notAfter: string; source: string; pinned: boolean }[];
}

function hostsOf(stdout: string): Record<string, Host> {
  return Object.fromEntries((JSON.parse(stdout).hosts as Host[]).map((h) => [h.host, h]));
}

describe('certpin verify', () => {
  let world: VerifyWorld;
  let policy: string;
  let connect: string[];

  before(async () => {
    world = await startVerifyWorld();
    policy = world.writePolicy('certpin.json', { hosts: worldPinSets(world), ca: ['roots.pem'] });
    connect = world.connectArgs(worldAddresses(world));
  });
  after(() => world?.close());

  it('after a rotation to the backup key, says the spare is in use; a leaf-only server, a mis-pinned, a down and a silent host fail, the silent one within --timeout', async () => {
    const started = Date.now();
    const [json, text] = await Promise.all([
      certpin(['verify', policy, ...connect, '--timeout', '1500', '--json']),
      certpin(['verify', policy, ...connect, '--timeout', '1500']),
    ]);
    const elapsed = Date.now() - started;
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout);
    const hosts = hostsOf(json.stdout);

    // Rotation: the retired leaf's pin no longer passes for a backup.
    const rotated = hosts['rotated.test']!;
    assert.equal(rotated.status, 'warning');
    assert.equal(rotated.connects, true);
    assert.equal(rotated.backupInUse, keyPin(world.backupKey));
    assert.deepEqual(rotated.retiredPins, [pinOf(world.retiredLeaf)]);
    assert.deepEqual(rotated.backupPins, []);
    assert.match(rotated.warnings.join(' '), /the pin order reads as a rotation to the backup key: the leaf carries .* If it is a retired key, no spare is left: pin a new spare key now \(certpin backup-key\)/);
    // Before the rotation the same layout has a spare, and no warning.
    const ok = hosts['ok.test']!;
    assert.equal(ok.status, 'ok');
    assert.equal(ok.backupPins.length, 1);
    assert.deepEqual(ok.retiredPins, []);
    assert.equal(ok.backupInUse, null);
    assert.equal(ok.breaksAt, new Date(world.pki.leaf.cert.validTo).toISOString());

    const expiring = hosts['expiring.test']!;
    assert.equal(expiring.status, 'warning');
    assert.match(expiring.warnings.join(' '), /only matching pin is on the leaf, which expires in 10 days/);

    // The server sends only its leaf: the store has only roots, as clients' stores do.
    const leafOnly = hosts['leafonly.test']!;
    assert.equal(leafOnly.status, 'failure');
    assert.equal(leafOnly.failure?.kind, 'certificate');
    assert.match(leafOnly.reason, /the server sent only its own certificate, without the CA certificate that issued it \(O = Bank, CN = Bank Issuing CA\)/);
    assert.deepEqual(leafOnly.served.map((c) => c.spkiPin), [pinOf(world.pki.leaf)]);

    const mispinned = hosts['mispinned.test']!;
    assert.equal(mispinned.failure?.kind, 'pinning');
    assert.match(mispinned.reason, /clients would be refused: the verified chain carries none of the 2 pins of mispinned\.test/);
    assert.deepEqual(mispinned.served.map((c) => c.spkiPin), [pinOf(world.pki.leaf), pinOf(world.pki.intermediate)]);

    const down = hosts['down.test']!;
    assert.equal(down.failure?.kind, 'network');
    assert.match(down.reason, /Connection refused by 127\.0\.0\.1:\d+/);
    assert.deepEqual(down.backupPins, [], 'nothing seen, no spare claimed');

    const silent = hosts['silent.test']!;
    assert.equal(silent.failure?.code, 'ETIMEDOUT');
    assert.match(silent.reason, /Timed out: no TLS handshake with 127\.0\.0\.1:\d+ within 1500 ms/);
    assert.ok(report.durationMs < 1500 + 1000, `the checks took ${report.durationMs} ms with --timeout 1500`);
    assert.ok(elapsed < 1500 + 8000, `the command took ${elapsed} ms`);
    for (const name of ['down.test', 'silent.test', 'mispinned.test', 'leafonly.test']) assert.equal(hosts[name]!.breaksAt, report.checkedAt, name);
    assert.deepEqual(report.summary, { hosts: 7, ok: 1, warnings: 2, failures: 4, skipped: 0 });

    // Text: a failure shows what was served next to what is pinned, ready to compare.
    assert.equal(text.code, 1);
    const block = text.stdout.slice(text.stdout.indexOf('✘ failure mispinned.test'));
    assert.match(block, new RegExp(`served: +${escape(pinOf(world.pki.leaf))} +O = Bank, CN = ok\\.test\\n +${escape(pinOf(world.pki.intermediate))} +O = Bank, CN = Bank Issuing CA\\n +pinned: +sha256/`));
    assert.match(text.stdout, /▲ warning rotated\.test/);
    assert.match(text.stdout, /7 hosts checked: 1 ok, 2 with warnings, 4 failing\./);
  });

  it('the intermediate only in the local store: connects, with an incomplete-chain warning; a wrong name suggests --connect, not --servername', async () => {
    const file = world.writePolicy('store.json', {
      hosts: { 'leafonly.test': worldPinSets(world)['leafonly.test'], 'wrongname.test': [pinOf(world.pki.intermediate), backupPin()] },
      ca: ['roots.pem'],
    });
    const intermediate = path.join(world.dir, 'intermediate.pem');
    writeFileSync(intermediate, world.pki.intermediate.pem);
    const r = await certpin(['verify', file, '--ca', intermediate, '--connect', `leafonly.test=127.0.0.1:${world.ports.leafOnly}`, '--connect', `wrongname.test=127.0.0.1:${world.ports.good}`, '--json']);
    const hosts = hostsOf(r.stdout);
    assert.equal(hosts['leafonly.test']!.status, 'warning');
    assert.match(hosts['leafonly.test']!.warnings.join(' '), /incomplete chain: the server does not send "O = Bank, CN = Bank Issuing CA", which clients need/);
    // The path goes on from the stored intermediate to the root, as OpenSSL builds it.
    assert.deepEqual(hosts['leafonly.test']!.certificates.map((c) => c.source), ['served', 'trust-store', 'trust-store']);
    const wrong = hosts['wrongname.test']!;
    assert.match(wrong.reason, /not valid for wrongname\.test .*--connect wrongname\.test=ADDRESS/);
    assert.doesNotMatch(wrong.reason, /--servername/);
  });

  it('warnings (leaf-only pin expiring, no backup, pin set expiring), skipped wildcards, exit codes for CI, and --format table sorted by "breaks first"', async () => {
    const soon = new Date(Date.now() + 5 * DAY).toISOString().slice(0, 10);
    const { pki } = world;
    const policyFile = world.writePolicy('verify.json', {
      hosts: {
        'expiring.test': worldPinSets(world)['expiring.test'],
        'nobackup.test': [pinOf(pki.intermediate), pinOf(pki.leaf)],
        'soon.test': { pins: [pinOf(pki.intermediate), backupPin()], expires: soon },
        'ok.test': [pinOf(pki.intermediate), backupPin()],
        '*.wild.test': [pinOf(pki.intermediate), backupPin()],
      },
      ca: ['roots.pem'],
    });
    const clean = world.writePolicy('verify-clean.json', { hosts: { 'ok.test': [pinOf(pki.intermediate), backupPin()] }, ca: ['roots.pem'] });
    const hosts = { 'expiring.test': world.ports.expiring, 'nobackup.test': world.ports.good, 'soon.test': world.ports.good, 'ok.test': world.ports.good };
    const args = world.connectArgs(hosts);
    const [warnings, strict, ok, text, table] = await Promise.all([
      certpin(['verify', policyFile, ...args, '--json']),
      certpin(['verify', policyFile, ...args, '--fail-on', 'warning']),
      certpin(['verify', clean, ...world.connectArgs({ 'ok.test': world.ports.good }), '--fail-on', 'warning']),
      certpin(['verify', policyFile, ...args]),
      certpin(['verify', policy, ...connect, '--timeout', '1500', '--format', 'table']),
    ]);
    assert.equal(warnings.code, 0, warnings.stderr);
    const report = JSON.parse(warnings.stdout);
    const byHost = hostsOf(warnings.stdout);
    assert.equal(byHost['expiring.test']!.matchedPins[0]!.daysLeft, 10);
    assert.equal(byHost['nobackup.test']!.status, 'warning');
    assert.match(byHost['nobackup.test']!.warnings.join(' '), /no backup pin/);
    assert.deepEqual(byHost['nobackup.test']!.backupPins, []);
    assert.equal(byHost['soon.test']!.status, 'warning');
    assert.match(byHost['soon.test']!.warnings.join(' '), /pin set expires after/);
    assert.equal(byHost['ok.test']!.status, 'ok');
    assert.ok(byHost['ok.test']!.matchedPins[0]!.daysLeft > 1000);
    assert.deepEqual(report.skipped.map((s: { pattern: string }) => s.pattern), ['*.wild.test']);
    assert.deepEqual(report.summary, { hosts: 4, ok: 1, warnings: 3, failures: 0, skipped: 1 });
    assert.equal(strict.code, 1, 'warnings fail with --fail-on warning');
    assert.match(strict.stderr, /Exit code 1: --fail-on warning and there are warnings\./);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(text.stdout, /▲ warning expiring\.test/);
    assert.match(text.stdout, /✔ ok {6}ok\.test/);
    assert.match(text.stdout, /- skipped {3}\*\.wild\.test: .*--host/);
    assert.match(text.stdout, /4 hosts checked: 1 ok, 3 with warnings, 0 failing, 1 pattern skipped\./);

    // The table: one line per host, failing hosts first, then by the day they break.
    const lines = table.stdout.split('\n');
    assert.match(lines[0]!, /^STATUS +HOST +BREAKS +LEAF +PINNED ON +SPARES +NOTE$/);
    const order = lines.slice(1, 8).map((l) => /^\S+ \S+ +(\S+)/.exec(l)?.[1]);
    assert.deepEqual(order, ['down.test', 'leafonly.test', 'mispinned.test', 'silent.test', 'expiring.test', 'ok.test', 'rotated.test']);
    assert.match(lines.find((l) => l.includes('rotated.test'))!, /▲ warn +rotated\.test +\d{4}-\d{2}-\d{2} \(86 d\) +86 d +leaf\+CA +0 \(in use\) +the pin order reads as a rotation/);
    assert.match(lines.find((l) => l.includes('expiring.test'))!, /\(10 d\) +10 d +leaf +1 /);
    assert.match(lines.find((l) => l.includes('down.test'))!, /✘ fail +down\.test +now +- +- +- +clients would not connect: Connection refused/);
    assert.match(lines.find((l) => l.includes('mispinned.test'))!, /✘ fail +mispinned\.test +now +\d+ d +- +- +clients would be refused/);
  });

  it('progress in a CI log (not a terminal): a line naming the host still pending, to stderr', async () => {
    const file = world.writePolicy('slow.json', { hosts: { 'silent.test': worldPinSets(world)['silent.test'], 'ok.test': worldPinSets(world)['ok.test'] }, ca: ['roots.pem'] });
    const [logged, quiet] = await Promise.all([
      certpin(['verify', file, ...world.connectArgs({ 'silent.test': world.ports.silent, 'ok.test': world.ports.good }), '--timeout', '2600', '--progress-every', '1']),
      certpin(['verify', file, ...world.connectArgs({ 'silent.test': world.ports.silent, 'ok.test': world.ports.good }), '--timeout', '2600', '--progress-every', '1', '--no-progress']),
    ]);
    assert.equal(logged.code, 1);
    const progress = logged.stderr.split('\n').filter((l) => l.startsWith('certpin verify: '));
    assert.ok(progress.length >= 1, logged.stderr);
    assert.match(progress[0]!, /^certpin verify: 1\/2 checked after \d+\.\d s; pending \(1\): silent\.test \d+\.\d s$/);
    // At least every --progress-every second while a host is pending (a tenth of it late at most, plus scheduling).
    const times = progress.map((l) => Number(/after (\d+\.\d) s/.exec(l)![1]));
    assert.ok(times.length >= 2, logged.stderr);
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! <= 1.35, `progress lines at ${times.join(', ')} s`);
    assert.ok(!logged.stdout.includes('pending'), 'progress goes to stderr only');
    assert.ok(!logged.stderr.includes('\u001b'), 'no terminal control codes in a log');
    assert.equal(quiet.stderr.split('\n').filter((l) => l.startsWith('certpin verify: ')).length, 0);
  });

  it('--production fails on developmentOverrides and checks hosts without them; without it they apply; under NODE_ENV=production the file does not even load', async () => {
    // The only trust for the host comes from the development CA.
    const file = world.writePolicy('dev.json', { hosts: { 'ok.test': worldPinSets(world)['ok.test'] }, developmentOverrides: { ca: ['roots.pem'] } });
    const args = world.connectArgs({ 'ok.test': world.ports.good });
    const [development, production, productionEnv, refused] = await Promise.all([
      certpin(['verify', file, ...args, '--json']),
      certpin(['verify', file, ...args, '--production', '--json']),
      certpin(['verify', file, ...args, '--production'], { env: { NODE_ENV: 'production' } }),
      certpin(['verify', file, ...args], { env: { NODE_ENV: 'production' } }),
    ]);
    assert.equal(development.code, 0, development.stderr);
    assert.equal(hostsOf(development.stdout)['ok.test']!.connects, true);
    assert.equal(production.code, 1);
    const report = JSON.parse(production.stdout);
    assert.deepEqual(report.production, { checked: true, developmentOverrides: true });
    assert.match(report.policyFailures[0], /dev\.json carries "developmentOverrides": a process with NODE_ENV=production refuses to load it/);
    assert.equal(hostsOf(production.stdout)['ok.test']!.connects, false, 'production clients do not trust the development CA');
    assert.equal(productionEnv.code, 1, productionEnv.stderr);
    assert.match(productionEnv.stdout, /^✘ policy {2}.*dev\.json carries "developmentOverrides"/);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /developmentOverrides.*refused when NODE_ENV is "production"/);
    assert.doesNotMatch(refused.stderr, STACK);
  });

  it('without a policy argument reads ./certpin.json; says so when there is none', async () => {
    const here = path.join(world.dir, 'project');
    const empty = path.join(world.dir, 'empty');
    mkdirSync(here);
    mkdirSync(empty);
    writeFileSync(path.join(here, 'certpin.json'), JSON.stringify({ hosts: { 'ok.test': worldPinSets(world)['ok.test'] }, ca: [world.rootsFile] }));
    const [found, missing] = await Promise.all([
      certpin(['verify', ...world.connectArgs({ 'ok.test': world.ports.good }), '--json'], { cwd: here }),
      certpin(['verify'], { cwd: empty }),
    ]);
    assert.equal(found.code, 0, found.stderr);
    assert.equal(JSON.parse(found.stdout).policy, 'certpin.json');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /which policy\? .*there is no \.\/certpin\.json here/);
  });

  it('--host checks a concrete host for a wildcard; a missing or broken policy file is exit 2 with a plain message', async () => {
    const file = world.writePolicy('wild.json', { hosts: { '*.wild.test': [pinOf(world.pki.intermediate), backupPin()] } });
    const broken = world.writePolicy('broken.json', { hosts: { 'a.test': ['sha256/nope'] } });
    const [wild, missing, bad] = await Promise.all([
      certpin(['verify', file, '--host', 'a.wild.test', '--connect', `a.wild.test=127.0.0.1:${world.ports.good}`, '--ca', world.rootsFile, '--json']),
      certpin(['verify', path.join(world.dir, 'none.json')]),
      certpin(['verify', broken]),
    ]);
    const report = JSON.parse(wild.stdout);
    assert.equal(report.hosts[0].host, 'a.wild.test');
    assert.equal(report.hosts[0].pattern, '*.wild.test');
    assert.equal(report.hosts[0].connects, false, 'the certificate does not name a.wild.test');
    assert.equal(wild.code, 1);
    for (const r of [missing, bad]) {
      assert.equal(r.code, 2);
      assert.doesNotMatch(r.stderr, STACK);
    }
    assert.match(missing.stderr, /none\.json.*does not exist/);
    assert.match(bad.stderr, /broken\.json.*pins\[0\].*Invalid pin/);
  });

  it('--connect for a host that is not checked (a typo, a host no pin set covers, a wildcard host without --host) is a usage error, not a silent ok', async () => {
    const file = world.writePolicy('connect-typo.json', { hosts: { localhost: [pinOf(world.pki.intermediate), backupPin()], '*.wild.test': [pinOf(world.pki.intermediate), backupPin()] } });
    const results = await Promise.all([
      certpin(['verify', file, '--connect', `locaIhost=127.0.0.1:${world.ports.good}`, '--ca', world.rootsFile]),
      certpin(['verify', file, '--connect', `a.wild.test=127.0.0.1:${world.ports.good}`, '--ca', world.rootsFile]),
    ]);
    for (const r of results) {
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.doesNotMatch(r.stderr, STACK);
    }
    assert.match(results[0]!.stderr, /--connect locaihost=…: no pin set of the policy covers it/);
    assert.match(results[1]!.stderr, /--connect a\.wild\.test=…: a\.wild\.test is not one of the hosts checked; add --host a\.wild\.test/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
