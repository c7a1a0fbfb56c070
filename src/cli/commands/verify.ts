/**
 * `certpin verify [POLICY]`: for every host of a policy, connect and say whether today's clients would connect, how
 * long the pinned certificates last, whether a spare key is still pinned (also after a rotation to it), and whether
 * the pin set's own expiry is near or past. Exit codes for CI, progress that shows in CI logs, and a report page
 * (`--html`, `--svg`) that draws each host's certificates on one calendar.
 * @module
 */
import { existsSync } from 'node:fs';
import type { PolicyWarning } from '../../index.js';
import { probeServer } from '../../tools/index.js';
import type { ServerProbe } from '../../tools/index.js';
import { readInputFile, writeOutputFiles } from '../files.js';
import { judgeDocument, readKeySet } from '../pinset.js';
import { readPolicyFile } from '../policy-file.js';
import { styleFor } from '../style.js';
import { UsageError, parseCommandArgs, parseCount } from '../usage.js';
import { assessHost, pinSetDocumentExpiry } from '../verify/assess.js';
import { checkAll } from '../verify/check-all.js';
import { createProgress } from '../verify/progress.js';
import type { ProgressMode } from '../verify/progress.js';
import { sortBreaksFirst, sortByHost } from '../verify/report.js';
import type { HostReport, VerifyReport } from '../verify/report.js';
import { parseConnectMappings, planTargets } from '../verify/targets.js';
import { renderTable, renderText } from '../verify/text.js';

/** The policy file `verify` reads when none is given. */
export const DEFAULT_POLICY_FILE = 'certpin.json';

/** `certpin verify --help`. */
export const help = `Usage: certpin verify [POLICY] [options]

For every host of the policy file (default ./certpin.json): connects (TLS handshake only) and reports
  - whether clients with this policy would connect today (failure if not), and on a failure the pins of
    what the server sent next to the pins of the pin set;
  - days until the certificate carrying the matching pin expires; a warning when every matching pin is on
    certificates that expire within --warn-days (typically: the only match is the leaf);
  - a warning when a pin set has no spare pin left: every pin is on the served chain, or the leaf now
    carries a backup pin (a rotation happened) and only the retired key's pin is off the chain. Pins are
    read in their order (certpin init writes: issuing CA, key in use, backup): an unserved pin listed
    after the one in use is a spare, one listed before it a retired key;
  - a warning when the pin set's own "expires" is within --warn-days, and when it is past (not enforced).
Wildcard patterns (*.example.com, **.example.com) and defaultPins name no server: they are skipped unless
--host names a concrete host they cover.

Options:
  --warn-days N          warn N days ahead (default 30)
  --fail-on LEVEL        failure (default) or warning: what makes the exit code 1
  --production           also fail when the policy carries developmentOverrides (refused in production,
                         where NODE_ENV=production); hosts are checked without them, as production sees them
  --host NAME            also check NAME (e.g. www.example.com for *.example.com); repeatable
  --port N               port for every host (default 443)
  --connect HOST=ADDR    connect to ADDR (host:port, [IPv6]:port) for HOST, still checking HOST's
                         certificate and pins (a staging address, a load-balancer node); repeatable
  --ca FILE              also trust the CA certificate(s) in FILE (added to the policy's "ca"); repeatable
  --concurrency N        hosts checked at once (default 32)
  --timeout MS           give up on a host after MS milliseconds (default 10000)
  --format FORMAT        text (default), table (one line per host) or json
  --json                 same as --format json
  --sort ORDER           breaks (the host that breaks first, first), policy or host; default: policy for
                         text and json, breaks for table, --html and --svg
  --html FILE            also write a report page: one self-contained HTML file (no network, no assets),
                         each host's certificates on one calendar with today and the pin sets' expiry,
                         sortable by "breaks first"
  --svg FILE             also write that calendar as one SVG image (each replaces an earlier report;
                         any other existing file only with --force)
  --force                replace an existing --html / --svg file whatever it holds
  --no-progress          no progress on stderr (by default: a live line on a terminal; in a log, a line
                         every tenth of the hosts and every --progress-every seconds, naming what is pending)
  --progress-every S     in a log, a progress line at least every S seconds while hosts are pending (default 5)
  --document FILE        a signed pin-set document (certpin sign): judged as the application judges it (with
                         --keys JWKS and --aud APP, and --iss NAME if it checks one), then the hosts are checked
                         against its pins; a document applications would refuse is a failure. The report shows
                         its "exp".

Exit codes: 0 ok (warnings allowed), 1 a host fails (or warns, with --fail-on warning), or --production
finds development overrides, 2 the policy cannot be read or a usage error.

Examples:
  certpin verify
  certpin verify certpin.json --warn-days 45 --fail-on warning --production     # in CI
  certpin verify certpin.json --format table --html verify-report.html
  certpin verify certpin.json --host www.example.com --json
  certpin verify certpin.json --connect api.example.com=10.0.0.5:8443
  certpin verify certpin.json --document pinset.jws --keys certpin-keys.json --aud com.example.app`;

const FORMATS = ['text', 'table', 'json'] as const;
const SORTS = ['breaks', 'policy', 'host'] as const;

/** Runs `certpin verify`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('verify', argv, {
    'warn-days': { type: 'string' },
    'fail-on': { type: 'string' },
    production: { type: 'boolean' },
    host: { type: 'string', multiple: true },
    port: { type: 'string' },
    connect: { type: 'string', multiple: true },
    ca: { type: 'string', multiple: true },
    concurrency: { type: 'string' },
    timeout: { type: 'string' },
    format: { type: 'string' },
    json: { type: 'boolean' },
    sort: { type: 'string' },
    html: { type: 'string' },
    svg: { type: 'string' },
    force: { type: 'boolean' },
    'no-progress': { type: 'boolean' },
    'progress-every': { type: 'string' },
    document: { type: 'string' },
    keys: { type: 'string' },
    aud: { type: 'string' },
    iss: { type: 'string' },
  });
  if (values.document !== undefined && (values.keys === undefined || values.aud === undefined)) {
    throw new UsageError('--document needs --keys JWKS and --aud APP: the document is judged as the application judges it.', 'verify');
  }
  if (positionals.length > 1) throw new UsageError('give one policy file.', 'verify');
  const policyFile = positionals[0] ?? (existsSync(DEFAULT_POLICY_FILE) ? DEFAULT_POLICY_FILE : undefined);
  if (!policyFile) throw new UsageError(`which policy? Give the policy file (certpin init writes one); there is no ./${DEFAULT_POLICY_FILE} here.`, 'verify');
  const warnDays = parseCount(values['warn-days'], 'warn-days', 30, 'verify', 0);
  const failOn = values['fail-on'] ?? 'failure';
  if (failOn !== 'failure' && failOn !== 'warning') throw new UsageError(`--fail-on is "failure" or "warning", not "${failOn}".`, 'verify');
  if (values.json && values.format && values.format !== 'json') throw new UsageError(`--json and --format ${values.format} contradict each other; give one.`, 'verify');
  const format = (values.json ? 'json' : (values.format ?? 'text')) as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) throw new UsageError(`--format is ${FORMATS.join(', ')}; not "${values.format}".`, 'verify');
  if (values.sort !== undefined && !SORTS.includes(values.sort as (typeof SORTS)[number])) throw new UsageError(`--sort is ${SORTS.join(', ')}; not "${values.sort}".`, 'verify');
  if (values.html && values.html === values.svg) throw new UsageError('--html and --svg must be different files.', 'verify');
  const port = parseCount(values.port, 'port', 443, 'verify');
  if (port > 65535) throw new UsageError('--port is at most 65535.', 'verify');
  const concurrency = parseCount(values.concurrency, 'concurrency', 32, 'verify');
  const timeoutMs = parseCount(values.timeout, 'timeout', 10_000, 'verify');
  const progressEvery = parseCount(values['progress-every'], 'progress-every', 5, 'verify');
  const connect = parseConnectMappings(values.connect ?? [], port);

  const policyWarnings: PolicyWarning[] = [];
  const { policy: bootstrap, developmentOverrides, files: policyFiles } = readPolicyFile(policyFile, values.ca, 'verify', (w) => policyWarnings.push(w), { withoutDevelopmentOverrides: values.production === true });
  const policyFailures: string[] = [];
  let policy = bootstrap;
  if (values.document !== undefined) {
    // The policy file is the application's built-in policy; the document's pin sets replace its pins, as they would.
    const judgement = await judgeDocument(readInputFile(values.document, 'verify').toString('utf8'), {
      bootstrap,
      keys: readKeySet(values.keys!, 'verify'),
      audience: values.aud!,
      ...(values.iss === undefined ? {} : { issuer: values.iss }),
    });
    if (judgement.event.event === 'updated' || judgement.event.event === 'unchanged') policy = judgement.policy;
    else policyFailures.push(`${values.document}: applications would refuse this signed pin-set document (${judgement.event.reason ?? judgement.event.event}); hosts were checked against the built-in pins of ${policyFile}.`);
  }
  const { targets, skipped } = planTargets(policy, values.host ?? [], connect, port);
  if (policy.rules.length === 0) policyFailures.push(`${policyFile} pins no host: its "hosts" is empty, so clients check certificates against the CAs alone. Add the hosts the app talks to (certpin init HOST…).`);
  if (values.production && developmentOverrides) {
    policyFailures.push(
      `${policyFile} carries "developmentOverrides": a process with NODE_ENV=production refuses to load it. Ship a policy without them ` +
        '(keep development CAs in a separate file, e.g. certpin.dev.json). Hosts were checked without them, as production clients would.',
    );
  }

  const err = styleFor(process.stderr);
  const mode: ProgressMode = values['no-progress'] ? 'none' : process.stderr.isTTY === true ? (targets.length >= 5 ? 'tty' : 'none') : 'lines';
  const progress = createProgress({ stream: process.stderr, style: err, mode, total: targets.length, everyMs: progressEvery * 1000 });
  const documentExpires = pinSetDocumentExpiry(policy);
  const checkedAt = policy.now();
  const started = performance.now();
  const hosts = await checkAll(
    targets,
    concurrency,
    async (target) => {
      // A probe rejects only when no connection can even be attempted (an address Node refuses): that host fails, the run goes on.
      const probe = await probeServer(policy, { host: target.connectHost, port: target.port, servername: target.host }, { timeoutMs }).catch(
        (error: unknown): ServerProbe => ({
          host: target.connectHost, port: target.port, servername: target.host, accepted: false, served: [], verifiedPath: undefined,
          decision: undefined, error: error instanceof Error ? error : new Error(String(error)), protocol: undefined, cipher: undefined, alpnProtocol: undefined,
        }),
      );
      return assessHost(policy, target, probe, { warnDays, timeoutMs, now: checkedAt, ...(documentExpires ? { pinSetDocumentExpires: documentExpires } : {}) });
    },
    progress,
    (r: HostReport) => r.status === 'failure',
  );
  const durationMs = Math.round(performance.now() - started);

  const failures = hosts.filter((r) => r.status === 'failure').length;
  const warnings = hosts.filter((r) => r.status === 'warning').length;
  const exitCode = failures > 0 || policyFailures.length > 0 || (failOn === 'warning' && warnings > 0) ? 1 : 0;
  const report: VerifyReport = {
    policy: policyFile,
    checkedAt: new Date(checkedAt).toISOString(),
    durationMs,
    warnDays,
    failOn,
    exitCode,
    production: { checked: values.production === true, developmentOverrides },
    summary: { hosts: hosts.length, ok: hosts.length - failures - warnings, warnings, failures, skipped: skipped.length },
    hosts,
    skipped,
    policyWarnings: policyWarnings.map((w) => ({ code: w.code, message: w.message, ...(w.pattern ? { pattern: w.pattern } : {}) })),
    policyFailures,
  };

  const ordered = (fallback: (typeof SORTS)[number]) => {
    const order = (values.sort as (typeof SORTS)[number] | undefined) ?? fallback;
    return order === 'breaks' ? sortBreaksFirst(hosts) : order === 'host' ? sortByHost(hosts) : hosts;
  };
  if (values.html || values.svg) {
    // The renderers are loaded only when asked for: `certpin verify` and `--help` stay quick to start.
    const { renderHtmlReport, renderSvgReport } = await import('../report/html.js');
    const sortedReport = { ...report, hosts: ordered('breaks') };
    // A report of an earlier run is replaced; any other existing file only with --force.
    writeOutputFiles(
      [
        ...(values.html ? [{ file: values.html, data: renderHtmlReport(sortedReport), replaces: (head: string) => /^<!doctype html>\s*<html[^>]*>\s*<head>\s*<meta charset="utf-8">\s*<meta name="generator" content="certpin verify">/.test(head) }] : []),
        ...(values.svg ? [{ file: values.svg, data: renderSvgReport(sortedReport), replaces: (head: string) => /^<svg [^>]*>\s*<title>certpin verify /.test(head) }] : []),
      ],
      { force: values.force === true, command: 'verify', inputs: [...policyFiles, ...(values.ca ?? []), ...(values.document ? [values.document] : []), ...(values.keys ? [values.keys] : [])] },
    );
  }

  if (format === 'json') {
    process.stdout.write(`${JSON.stringify({ ...report, hosts: ordered('policy') }, null, 2)}\n`);
  } else {
    const out = styleFor(process.stdout);
    const text = format === 'table' ? renderTable(report, ordered('breaks'), out, process.stdout.columns || 160) : renderText(report, ordered('policy'), out);
    process.stdout.write(`${text}\n`);
    if (policyWarnings.length) process.stderr.write(`${policyWarnings.map((w) => `${err.yellow('policy:')} ${w.message}`).join('\n')}\n`);
    if (exitCode === 1 && failures === 0 && policyFailures.length === 0) process.stderr.write(`${err.yellow('Exit code 1: --fail-on warning and there are warnings.')}\n`);
  }
  for (const [flag, file] of [['html', values.html], ['svg', values.svg]] as const) {
    if (file) process.stderr.write(`Wrote the ${flag === 'html' ? 'report page' : 'calendar image'} to ${file}.\n`);
  }
  return exitCode;
}
