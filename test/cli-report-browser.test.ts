/**
 * `certpin verify --html` / `--svg` in a real headless browser: Debian's Chromium driven by playwright-core, every
 * request but the report file aborted. One row per host with the certificates' real dates and the right states,
 * "breaks first" order and re-sorting, no script or console error, nothing fetched, markup in a certificate name
 * shown as text. Without Chromium this suite fails and says how to install it, unless CERTPIN_SKIP_BROWSER_TESTS=1.
 *
 * CERTPIN_UPDATE_SCREENSHOT=1 also writes docs/images/verify-report.png (the README's picture).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { renderHtmlReport } from '../src/cli/report/html.js';
import type { VerifyReport } from '../src/cli/verify/report.js';
import { certpin, repo } from './support/cli.js';
import { startVerifyWorld, worldAddresses, worldPinSets } from './support/verify-world.js';
import type { VerifyWorld } from './support/verify-world.js';

const CHROMIUM = process.env.CERTPIN_CHROMIUM ?? '/usr/bin/chromium';
const SKIP = process.env.CERTPIN_SKIP_BROWSER_TESTS === '1';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const day = (iso: string) => new Date(iso).toISOString().slice(0, 10);

interface Opened {
  page: Page;
  requests: string[];
  blocked: string[];
  problems: string[];
}

describe('verify --html and --svg in headless Chromium', { skip: SKIP ? 'CERTPIN_SKIP_BROWSER_TESTS=1' : false }, () => {
  let world: VerifyWorld;
  let context: BrowserContext;
  let profile: string;
  let out: string;
  let json: { hosts: { host: string; status: string }[] };

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed (no ${CHROMIUM}): the report page is tested in a real browser. Install it with ` +
          '"apt-get install -y chromium" (Debian/Ubuntu; as root), or point CERTPIN_CHROMIUM at a Chromium binary. ' +
          'To skip the browser tests on purpose, set CERTPIN_SKIP_BROWSER_TESTS=1.',
      );
    }
    world = await startVerifyWorld();
    out = mkdtempSync(path.join(os.tmpdir(), 'certpin-report-'));
    profile = mkdtempSync(path.join(os.tmpdir(), 'certpin-chromium-'));
    // launchPersistentContext is how Playwright takes a --user-data-dir: a fresh, empty profile.
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, viewport: { width: 1400, height: 900 } });
    const sets = worldPinSets(world);
    world.writePolicy('certpin.json', {
      hosts: { ...sets, 'ok.test': { pins: sets['ok.test'], expires: '2027-06-30' } },
      ca: ['roots.pem'],
    });
    const run = await certpin(['verify', 'certpin.json', ...world.connectArgs(worldAddresses(world)), '--timeout', '1500', '--json', '--html', path.join(out, 'report.html'), '--svg', path.join(out, 'report.svg')], { cwd: world.dir });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /Wrote the report page to .*report\.html\./);
    json = JSON.parse(run.stdout);
  });
  after(async () => {
    await context?.close();
    await world?.close();
    for (const dir of [out, profile]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a file with every other request aborted, and records requests, script errors and console errors. */
  async function open(file: string): Promise<Opened> {
    const url = pathToFileURL(file).href;
    const page = await context.newPage();
    const opened: Opened = { page, requests: [], blocked: [], problems: [] };
    await page.route('**/*', (route) => {
      if (route.request().url() === url) return route.continue();
      opened.blocked.push(route.request().url());
      return route.abort();
    });
    page.on('request', (request) => opened.requests.push(request.url()));
    page.on('pageerror', (error) => opened.problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') opened.problems.push(`console ${message.type()}: ${message.text()}`);
    });
    await page.goto(url);
    return opened;
  }

  async function rows(page: Page) {
    return page.$$eval('#hosts tbody tr', (trs) =>
      trs.map((tr) => ({
        host: tr.getAttribute('data-host')!,
        status: tr.getAttribute('data-status')!,
        breaks: tr.querySelector('td.breaks')!.textContent!.trim(),
        certificates: [...tr.querySelectorAll('g.cert')].map((g) => ({
          role: g.getAttribute('data-role'),
          notBefore: g.getAttribute('data-not-before'),
          notAfter: g.getAttribute('data-not-after'),
          pinned: g.getAttribute('data-pinned') === 'true',
          source: g.getAttribute('data-source'),
        })),
        marks: [...tr.querySelectorAll('g.mark')].map((g) => `${g.getAttribute('data-mark')} ${g.getAttribute('data-date')}`),
        chain: tr.querySelector('ul.chain')!.textContent!,
      })),
    );
  }

  it('one row per host with its certificates\' real dates and its state, in "breaks first" order; the buttons re-sort; no error, nothing fetched', async () => {
    const { page, requests, blocked, problems } = await open(path.join(out, 'report.html'));
    assert.equal(await page.getAttribute('body', 'data-ready'), 'true', 'the inline script ran');
    const shown = await rows(page);
    assert.equal(shown.length, json.hosts.length);
    assert.equal(shown.length, 7);

    const states = Object.fromEntries(shown.map((r) => [r.host, r.status]));
    assert.deepEqual(states, {
      'down.test': 'failure', 'leafonly.test': 'failure', 'mispinned.test': 'failure', 'silent.test': 'failure',
      'expiring.test': 'warning', 'rotated.test': 'warning', 'ok.test': 'ok',
    });
    // Failing hosts first, then by the day each breaks: the expiring leaf (10 days), ok.test (50), rotated.test (87).
    const breaksFirst = ['down.test', 'leafonly.test', 'mispinned.test', 'silent.test', 'expiring.test', 'ok.test', 'rotated.test'];
    assert.deepEqual(shown.map((r) => r.host), breaksFirst);

    const { pki, short, rotatedLeaf } = world;
    const dates = (c: { cert: { validFrom: string; validTo: string } }) => [day(c.cert.validFrom), day(c.cert.validTo)];
    const row = (host: string) => shown.find((r) => r.host === host)!;
    assert.deepEqual(row('ok.test').certificates.map((c) => [c.role, c.notBefore, c.notAfter, c.source, c.pinned]), [
      ['leaf', ...dates(pki.leaf), 'served', true],
      ['intermediate', ...dates(pki.intermediate), 'served', true],
      ['root', ...dates(pki.root), 'trust-store', false],
    ]);
    assert.deepEqual(row('rotated.test').certificates.map((c) => [c.role, c.notBefore, c.notAfter]), [['leaf', ...dates(rotatedLeaf)], ['intermediate', ...dates(pki.intermediate)], ['root', ...dates(pki.root)]]);
    assert.deepEqual(row('expiring.test').certificates[0], { role: 'leaf', notBefore: day(short.leaf.cert.validFrom), notAfter: day(short.leaf.cert.validTo), pinned: true, source: 'served' });
    assert.equal(row('expiring.test').breaks, `${day(short.leaf.cert.validTo)}in 10 days`);
    assert.equal(row('ok.test').breaks.slice(0, 10), day(pki.leaf.cert.validTo));
    assert.equal(row('down.test').breaks, 'now');
    assert.deepEqual(row('down.test').certificates, [], 'a host that sent nothing has no bars');
    assert.ok(row('ok.test').chain.includes(`leaf · O = Bank, CN = ok.test · ${day(pki.leaf.cert.validFrom)} → ${day(pki.leaf.cert.validTo)}`));
    assert.ok(row('ok.test').marks.includes('pin-set-expires 2027-06-30'), row('ok.test').marks.join());
    for (const r of shown) assert.ok(r.marks.includes(`today ${day(new Date().toISOString())}`) || r.marks.some((m) => m.startsWith('today ')), r.host);
    const findings = await page.$eval('tr[data-host="rotated.test"] td.findings', (td) => td.textContent!);
    assert.match(findings, /the pin order reads as a rotation to the backup key/);
    assert.match(await page.$eval('tr[data-host="mispinned.test"] td.findings', (td) => td.textContent!), /clients would be refused/);

    await page.click('button[data-sort="host"]');
    assert.deepEqual((await rows(page)).map((r) => r.host), [...breaksFirst].sort());
    await page.click('button[data-sort="status"]');
    assert.deepEqual((await rows(page)).map((r) => r.status), ['failure', 'failure', 'failure', 'failure', 'warning', 'warning', 'ok']);
    await page.click('button[data-sort="breaks"]');
    assert.deepEqual((await rows(page)).map((r) => r.host), breaksFirst);
    assert.equal(await page.getAttribute('button[data-sort="breaks"]', 'aria-pressed'), 'true');

    assert.deepEqual(problems, []);
    assert.deepEqual(blocked, []);
    assert.deepEqual(requests, [pathToFileURL(path.join(out, 'report.html')).href]);
    await page.close();
  });

  it('the --svg calendar opens on its own: a group per host, no error, nothing fetched', async () => {
    const { page, requests, problems } = await open(path.join(out, 'report.svg'));
    const hosts = await page.$$eval('g.host', (gs) => gs.map((g) => `${g.getAttribute('data-host')} ${g.getAttribute('data-status')}`));
    assert.deepEqual(hosts, ['down.test failure', 'leafonly.test failure', 'mispinned.test failure', 'silent.test failure', 'expiring.test warning', 'ok.test ok', 'rotated.test warning']);
    assert.ok((await page.$$('g.cert')).length >= 10);
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, [pathToFileURL(path.join(out, 'report.svg')).href]);
    await page.close();
  });

  it('shows the pin-set document\'s exp when a policy has one, and markup in a certificate name as text (escaped; the CSP would block it anyway)', async () => {
    const now = new Date();
    const at = (days: number) => new Date(now.getTime() + days * 86_400_000).toISOString();
    const evil = 'O = "<img src=x onerror=alert(1)>", CN = evil.test';
    const report: VerifyReport = {
      policy: 'dynamic.json', checkedAt: now.toISOString(), durationMs: 12, warnDays: 30, failOn: 'failure', exitCode: 0,
      production: { checked: false, developmentOverrides: false },
      summary: { hosts: 1, ok: 1, warnings: 0, failures: 0, skipped: 0 },
      hosts: [{
        host: 'evil.test', pattern: 'evil.test', address: 'evil.test:443', status: 'ok', connects: true, outcome: 'matched', reason: 'clients connect.', failure: null,
        pins: ['sha256/AAAA'], matchedPins: [], leafDaysLeft: 60, backupPins: [], retiredPins: [], backupInUse: null,
        pinSetExpires: null, pinSetDocumentExpires: at(20), breaksAt: at(60), breaksBecause: 'the leaf expires',
        certificates: [{ subject: evil, issuer: evil, role: 'leaf', notBefore: at(-30), notAfter: at(60), daysLeft: 60, spkiPin: 'sha256/AAAA', source: 'served', pinned: true, onVerifiedPath: true }],
        served: [{ spkiPin: 'sha256/AAAA', subject: evil }], warnings: [],
      }],
      skipped: [], policyWarnings: [], policyFailures: [],
    };
    const file = path.join(out, 'dynamic.html');
    writeFileSync(file, renderHtmlReport(report));
    const { page, requests, problems } = await open(file);
    const marks = await page.$$eval('g.mark', (gs) => gs.map((g) => `${g.getAttribute('data-mark')} ${g.getAttribute('data-date')}`));
    assert.ok(marks.includes(`document-exp ${at(20).slice(0, 10)}`), marks.join());
    assert.equal(await page.$$eval('img', (imgs) => imgs.length), 0, 'no element made from a certificate name');
    assert.ok((await page.textContent('ul.chain'))!.includes('<img src=x onerror=alert(1)>'));
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, [pathToFileURL(file).href]);
    await page.close();
  });

  it('a screenshot of the report renders (and, with CERTPIN_UPDATE_SCREENSHOT=1, becomes the README\'s picture)', async () => {
    const { page } = await open(path.join(out, 'report.html'));
    const shot = path.join(out, 'verify-report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    assert.ok(statSync(shot).size > 20_000, 'a page with content, not a blank one');
    if (process.env.CERTPIN_UPDATE_SCREENSHOT === '1') writeFileSync(path.join(repo, 'docs/images/verify-report.png'), png);
    await page.close();
  });
});

// The guard itself: a machine without Chromium must not pass this suite silently.
describe('the browser suite without a browser', { skip: process.env.CERTPIN_BROWSER_SELF_TEST === '1' ? 'inside the self-test' : false }, () => {
  it('fails and says how to install Chromium; CERTPIN_SKIP_BROWSER_TESTS=1 reports it skipped', async () => {
    // Without NODE_TEST_CONTEXT: the inner run reports on its own, not to this runner.
    const { NODE_TEST_CONTEXT: _context, ...inherited } = process.env;
    const run = (env: NodeJS.ProcessEnv) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', fileURLToPath(import.meta.url)], { cwd: repo, env: { ...inherited, CERTPIN_BROWSER_SELF_TEST: '1', ...env } }, (error, stdout, stderr) => {
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
        });
      });
    const [missing, skipped] = await Promise.all([
      run({ CERTPIN_CHROMIUM: '/nonexistent/chromium', CERTPIN_SKIP_BROWSER_TESTS: '' }),
      run({ CERTPIN_CHROMIUM: '/nonexistent/chromium', CERTPIN_SKIP_BROWSER_TESTS: '1' }),
    ]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.output, /not ok .*headless Chromium/);
    assert.match(missing.output, /Chromium is not installed .*apt-get install -y chromium/);
    assert.equal(skipped.code, 0, skipped.output);
    assert.match(skipped.output, /# SKIP CERTPIN_SKIP_BROWSER_TESTS=1/);
  });
});
