/**
 * `certpin verify POLICY`: for every host of a policy, connect and say whether today's clients would connect, how
 * long the matching certificate lasts, whether the pin set has a backup off the served chain, and whether the pin
 * set's own expiry is near or past. Exit codes for CI.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { HostRule, PinPolicy, PolicyWarning } from '../../index.js';
import { certificateFingerprint, normalizeHost, probeServer, spkiPin } from '../../tools/index.js';
import type { Pin, ServerProbe } from '../../tools/index.js';
import { explainFailure } from '../explain.js';
import { loadPolicyFile } from '../policy-file.js';
import { daysText, subjectOf } from '../render.js';
import { styleFor } from '../style.js';
import { UsageError, parseCommandArgs, parseCount, parseTarget, targetLabel } from '../usage.js';

/** `certpin verify --help`. */
export const help = `Usage: certpin verify POLICY [options]

For every host of the policy file: connects (TLS handshake only) and reports
  - whether clients with this policy would connect today (failure if not);
  - days until the certificate carrying the matching pin expires; a warning when every matching pin is on
    certificates that expire within --warn-days (typically: the only match is the leaf);
  - a warning when a pin set has no backup pin, i.e. every pin is on the served chain;
  - a warning when the pin set's own "expires" is within --warn-days, and when it is past (not enforced).
Wildcard patterns (*.example.com, **.example.com) and defaultPins name no server: they are skipped unless
--host names a concrete host they cover.

Options:
  --warn-days N          warn N days ahead (default 30)
  --fail-on LEVEL        failure (default) or warning: what makes the exit code 1
  --host NAME            also check NAME (e.g. www.example.com for *.example.com); repeatable
  --port N               port for every host (default 443)
  --connect HOST=ADDR    connect to ADDR (host:port, [IPv6]:port) for HOST, still checking HOST's
                         certificate and pins (a staging address, a load-balancer node); repeatable
  --ca FILE              also trust the CA certificate(s) in FILE (added to the policy's "ca"); repeatable
  --concurrency N        hosts checked at once (default 8)
  --timeout MS           give up on a host after MS milliseconds (default 10000)
  --json                 print JSON on stdout

Exit codes: 0 ok (warnings allowed), 1 a host fails (or warns, with --fail-on warning), 2 the policy cannot
be read or a usage error.

Examples:
  certpin verify certpin.json
  certpin verify certpin.json --warn-days 45 --fail-on warning          # in CI
  certpin verify certpin.json --host www.example.com --json
  certpin verify certpin.json --connect api.example.com=10.0.0.5:8443`;

/** One host's result. */
interface HostResult {
  host: string;
  pattern: string;
  address: string;
  status: 'ok' | 'warning' | 'failure';
  connects: boolean;
  outcome: string | null;
  reason: string;
  matchedPins: { pin: string; subject: string; daysLeft: number; position: 'leaf' | 'ca' }[];
  leafDaysLeft: number | null;
  backupPins: string[];
  pinSetExpires: string | null;
  warnings: string[];
}

interface Target {
  host: string;
  rule: HostRule;
  connectHost: string;
  port: number;
  label: string;
}

const DAY = 86_400_000;

/** Runs `certpin verify`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('verify', argv, {
    'warn-days': { type: 'string' },
    'fail-on': { type: 'string' },
    host: { type: 'string', multiple: true },
    port: { type: 'string' },
    connect: { type: 'string', multiple: true },
    ca: { type: 'string', multiple: true },
    concurrency: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'give one policy file.' : 'which policy? Give the policy file (certpin init writes one).', 'verify');
  const warnDays = parseCount(values['warn-days'], 'warn-days', 30, 'verify', 0);
  const failOn = values['fail-on'] ?? 'failure';
  if (failOn !== 'failure' && failOn !== 'warning') throw new UsageError(`--fail-on is "failure" or "warning", not "${failOn}".`, 'verify');
  const port = parseCount(values.port, 'port', 443, 'verify');
  if (port > 65535) throw new UsageError('--port is at most 65535.', 'verify');
  const concurrency = parseCount(values.concurrency, 'concurrency', 8, 'verify');
  const timeoutMs = parseCount(values.timeout, 'timeout', 10_000, 'verify');
  const connectMap = new Map<string, { host: string; port: number; label: string }>();
  for (const mapping of values.connect ?? []) {
    const eq = mapping.indexOf('=');
    const name = eq > 0 ? normalizeHost(mapping.slice(0, eq)) : undefined;
    if (!name) throw new UsageError(`--connect expects HOST=ADDRESS[:PORT], e.g. api.example.com=127.0.0.1:8443; got "${mapping}".`, 'verify');
    const target = parseTarget(mapping.slice(eq + 1), 'verify');
    const address = mapping.slice(eq + 1).trim();
    const explicitPort = isIP(address) !== 6 && /:\d+(\/.*)?$/.test(address);
    const p = explicitPort ? target.port : port;
    connectMap.set(name, { host: target.host, port: p, label: targetLabel(target.host, p) });
  }

  const policyWarnings: PolicyWarning[] = [];
  const policy = loadPolicyFile(positionals[0]!, values.ca, 'verify', (w) => policyWarnings.push(w));
  const { targets, skipped } = planTargets(policy, values.host ?? [], connectMap, port);
  for (const name of values.host ?? []) {
    if (!policy.ruleFor(name)) throw new UsageError(`--host ${name}: no pin set of the policy covers it.`, 'verify');
  }

  const err = styleFor(process.stderr);
  const showProgress = process.stderr.isTTY === true && targets.length >= 5;
  let done = 0;
  const results: HostResult[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const index = next++;
      const target = targets[index]!;
      if (showProgress) process.stderr.write(`\r\u001b[2K${err.dim(`[${done}/${targets.length}] checking ${target.host}…`)}`);
      const probe = await probeServer(policy, { host: target.connectHost, port: target.port, servername: target.host }, { timeoutMs });
      results[index] = assess(policy, target, probe, warnDays, timeoutMs);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  if (showProgress) process.stderr.write('\r\u001b[2K');

  const failures = results.filter((r) => r.status === 'failure').length;
  const warnings = results.filter((r) => r.status === 'warning').length;
  const exitCode = failures > 0 || (failOn === 'warning' && warnings > 0) ? 1 : 0;

  if (values.json) {
    process.stdout.write(`${JSON.stringify({
      policy: positionals[0],
      checkedAt: new Date(policy.now()).toISOString(),
      warnDays,
      failOn,
      exitCode,
      summary: { hosts: results.length, ok: results.length - failures - warnings, warnings, failures, skipped: skipped.length },
      hosts: results,
      skipped,
      policyWarnings: policyWarnings.map((w) => ({ code: w.code, message: w.message, ...(w.pattern ? { pattern: w.pattern } : {}) })),
    }, null, 2)}\n`);
    return exitCode;
  }

  const out = styleFor(process.stdout);
  const lines: string[] = [];
  for (const r of results) {
    const mark = r.status === 'ok' ? out.green('✔ ok     ') : r.status === 'warning' ? out.yellow('▲ warning') : out.red('✘ failure');
    lines.push(`${mark} ${out.bold(r.host)}${r.address !== `${r.host}:443` ? out.dim(` (${r.address})`) : ''}${r.pattern !== r.host ? out.dim(` [pin set ${r.pattern}]`) : ''}`);
    lines.push(`          ${r.reason}`);
    for (const w of r.warnings) lines.push(`          ${out.yellow('warning:')} ${w}`);
  }
  for (const s of skipped) lines.push(`${out.dim('- skipped')}   ${s.pattern}: ${s.reason}`);
  lines.push('', `${results.length} host${results.length === 1 ? '' : 's'} checked: ${results.length - failures - warnings} ok, ${warnings} with warnings, ${failures} failing${skipped.length ? `, ${skipped.length} pattern${skipped.length === 1 ? '' : 's'} skipped` : ''}.`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (policyWarnings.length) {
    process.stderr.write(`${policyWarnings.map((w) => `${err.yellow('policy:')} ${w.message}`).join('\n')}\n`);
  }
  if (exitCode === 1 && failures === 0) process.stderr.write(`${err.yellow('Exit code 1: --fail-on warning and there are warnings.')}\n`);
  return exitCode;
}

function planTargets(policy: PinPolicy, extraHosts: readonly string[], connectMap: Map<string, { host: string; port: number; label: string }>, port: number) {
  const targets: Target[] = [];
  const skipped: { pattern: string; reason: string }[] = [];
  const make = (host: string, rule: HostRule): Target => {
    const mapped = connectMap.get(host);
    const connectHost = mapped?.host ?? host;
    const p = mapped?.port ?? port;
    return { host, rule, connectHost, port: p, label: targetLabel(connectHost, p) };
  };
  const extra = extraHosts.map((h) => normalizeHost(h) ?? h);
  for (const rule of policy.rules) {
    if (rule.pattern.type === 'exact' && rule.pattern.text !== '*') targets.push(make(rule.pattern.base, rule));
    const named = extra.filter((h) => policy.ruleFor(h) === rule && !(rule.pattern.type === 'exact' && h === rule.pattern.base));
    for (const h of named) targets.push(make(h, rule));
    if ((rule.pattern.type !== 'exact' || rule.pattern.text === '*') && named.length === 0) {
      const label = rule.pattern.text === '*' ? 'defaultPins' : rule.pattern.text;
      skipped.push({ pattern: label, reason: `a pattern names no server; add --host NAME for a host it covers (e.g. --host ${rule.pattern.text === '*' ? 'api.example.com' : `www.${rule.pattern.base}`}).` });
    }
  }
  return { targets, skipped };
}

function pinOnCertificate(pin: Pin, certificate: X509Certificate): boolean {
  if (pin.kind === 'spki') return spkiPin(certificate, pin.algorithm) === `${pin.algorithm}/${pin.digest}`;
  return certificateFingerprint(certificate, pin.algorithm, 'base64') === pin.digest;
}

function assess(policy: PinPolicy, target: Target, probe: ServerProbe, warnDays: number, timeoutMs: number): HostResult {
  const now = policy.now();
  const { rule } = target;
  const result: HostResult = {
    host: target.host,
    pattern: rule.pattern.text === '*' ? 'defaultPins' : rule.pattern.text,
    address: target.label,
    status: 'ok',
    connects: probe.accepted,
    outcome: probe.decision?.outcome ?? null,
    reason: '',
    matchedPins: [],
    leafDaysLeft: null,
    backupPins: [],
    pinSetExpires: rule.expires ? rule.expires.toISOString() : null,
    warnings: [],
  };
  const daysUntil = (ms: number) => Math.floor((ms - now) / DAY);

  // The pin set's own expiry.
  if (rule.expires) {
    const days = daysUntil(rule.expires.getTime());
    const lastDay = new Date(rule.expires.getTime() - 1).toISOString().slice(0, 10);
    if (rule.expires.getTime() <= now) result.warnings.push(`the pin set expired after ${lastDay}: it is not enforced (only CA validation applies). Renew it with current pins and a new date.`);
    else if (days <= warnDays) result.warnings.push(`the pin set expires after ${lastDay} (in ${days} day${days === 1 ? '' : 's'}): then it is no longer enforced. Renew it and ship the update before then.`);
  }

  const served = [...probe.served, ...(probe.verifiedPath ?? []).map((c) => c.certificate)];
  const leaf = probe.served[0];
  if (leaf) result.leafDaysLeft = daysUntil(new Date(leaf.validTo).getTime());

  // Backups: pins that are on no certificate the server presented (or that the path reached).
  result.backupPins = rule.pins.filter((pin) => !served.some((c) => pinOnCertificate(pin, c))).map((p) => p.canonical);
  if (served.length && result.backupPins.length === 0) {
    result.warnings.push(`no backup pin: every pin of ${result.pattern} is on the served chain. If that key must change, clients are locked out until they update: add the pin of a spare key (certpin backup-key).`);
  }

  if (!probe.accepted) {
    result.status = 'failure';
    const failure = explainFailure(probe.error, { label: target.label, servername: target.host, timeoutMs, chain: probe.served });
    result.reason = failure.kind === 'pinning' ? `clients would be refused: the verified chain carries none of the pins of ${result.pattern}.` : `clients would not connect: ${failure.sentence}`;
    return result;
  }

  const path = probe.verifiedPath ?? [];
  path.forEach((c, i) => {
    const pin = rule.pins.find((p) => pinOnCertificate(p, c.certificate));
    if (pin) result.matchedPins.push({ pin: pin.canonical, subject: subjectOf(c.certificate), daysLeft: daysUntil(c.notAfter), position: i === 0 ? 'leaf' : 'ca' });
  });
  const decision = probe.decision;
  if (decision?.outcome === 'pin-set-expired') {
    result.reason = 'clients connect, without pinning (the pin set has expired).';
  } else if (decision?.outcome === 'mismatch' || decision?.outcome === 'chain-unverified') {
    result.reason = 'clients connect only because the pin set is report-only: no pin matches the verified chain.';
    result.warnings.push('report-only and no pin matches: enforcing this pin set today would lock clients out.');
  } else if (result.matchedPins.length) {
    const best = result.matchedPins.reduce((a, b) => (b.daysLeft > a.daysLeft ? b : a));
    result.reason = `clients connect; pin ${best.pin} matches ${best.position === 'leaf' ? 'the leaf' : 'the CA'} ${best.subject} (${daysText(best.daysLeft)}).`;
    if (best.daysLeft <= warnDays) {
      result.warnings.push(
        result.matchedPins.every((m) => m.position === 'leaf')
          ? `the only matching pin is on the leaf, which expires in ${best.daysLeft} day${best.daysLeft === 1 ? '' : 's'}: if the renewed certificate has a new key, clients are locked out. Pin the issuing CA or the next key now (or renew with the same key).`
          : `every matching pin is on a certificate that expires within ${best.daysLeft} day${best.daysLeft === 1 ? '' : 's'}: pin its successor now.`,
      );
    }
  } else {
    result.reason = 'clients connect (no pin set applies to this name).';
  }
  if (result.leafDaysLeft !== null && result.leafDaysLeft <= warnDays && !result.warnings.some((w) => w.includes('on the leaf'))) {
    result.warnings.push(`the server's certificate expires in ${result.leafDaysLeft} day${result.leafDaysLeft === 1 ? '' : 's'}: renew it (keep the key, or make sure a pinned key is on the new chain).`);
  }
  if (result.warnings.length) result.status = 'warning';
  return result;
}
