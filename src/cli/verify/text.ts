/**
 * `certpin verify` on a terminal: the detailed text (each host, its reason, its warnings, and on a failure what the
 * server sent and what was pinned), or `--format table`, one line per host for many hosts.
 * @module
 */
import type { Style } from '../style.js';
import type { HostReport, VerifyReport } from './report.js';

/** The detailed text, hosts in the order given. */
export function renderText(report: VerifyReport, hosts: readonly HostReport[], out: Style): string {
  const lines: string[] = [];
  for (const failure of report.policyFailures) lines.push(`${out.red('✘ policy ')} ${failure}`);
  for (const r of hosts) {
    lines.push(`${mark(r, out)} ${out.bold(r.host)}${r.address !== `${r.host}:443` ? out.dim(` (${r.address})`) : ''}${r.pattern !== r.host ? out.dim(` [pin set ${r.pattern}]`) : ''}`);
    lines.push(`          ${r.reason}`);
    for (const w of r.warnings) lines.push(`          ${out.yellow('warning:')} ${w}`);
    if (r.status === 'failure' && r.served.length) {
      r.served.forEach((c, i) => lines.push(`          ${out.dim(i === 0 ? 'served: ' : '        ')} ${out.cyan(c.spkiPin)}  ${c.subject}`));
    }
    if (r.failure?.kind === 'pinning') {
      r.pins.forEach((pin, i) => lines.push(`          ${out.dim(i === 0 ? 'pinned: ' : '        ')} ${pin}`));
    }
  }
  for (const s of report.skipped) lines.push(`${out.dim('- skipped')}   ${s.pattern}: ${s.reason}`);
  lines.push('', summaryLine(report));
  return lines.join('\n');
}

/** `4 hosts checked: 1 ok, 3 with warnings, 0 failing, 1 pattern skipped.` */
export function summaryLine(report: VerifyReport): string {
  const { hosts, ok, warnings, failures, skipped } = report.summary;
  return `${hosts} host${hosts === 1 ? '' : 's'} checked: ${ok} ok, ${warnings} with warnings, ${failures} failing${skipped ? `, ${skipped} pattern${skipped === 1 ? '' : 's'} skipped` : ''}${report.policyFailures.length ? `; the policy itself fails ${report.policyFailures.length} check${report.policyFailures.length === 1 ? '' : 's'}` : ''}.`;
}

/**
 * One line per host: status, host, when it breaks, days left on the leaf, where the pins match, spare pins, and the
 * first thing to know. Cut to `width` columns.
 */
export function renderTable(report: VerifyReport, hosts: readonly HostReport[], out: Style, width: number): string {
  const today = Date.parse(report.checkedAt);
  const rows = hosts.map((r) => ({
    status: r.status === 'ok' ? '✔ ok' : r.status === 'warning' ? '▲ warn' : '✘ fail',
    colour: r.status === 'ok' ? out.green : r.status === 'warning' ? out.yellow : out.red,
    host: r.host,
    breaks: r.status === 'failure' ? 'now' : r.breaksAt ? `${r.breaksAt.slice(0, 10)} (${Math.floor((Date.parse(r.breaksAt) - today) / 86_400_000)} d)` : '-',
    leaf: r.leafDaysLeft === null ? '-' : `${r.leafDaysLeft} d`,
    pinned: pinnedOn(r),
    spare: r.status === 'failure' || r.certificates.length === 0 ? '-' : r.backupInUse ? '0 (in use)' : String(r.backupPins.length),
    note: r.status === 'failure' ? r.reason : (r.warnings[0] ?? (r.breaksBecause ? `next: ${r.breaksBecause}` : '')),
  }));
  const header = { status: 'STATUS', host: 'HOST', breaks: 'BREAKS', leaf: 'LEAF', pinned: 'PINNED ON', spare: 'SPARES', note: 'NOTE' };
  const columns = ['status', 'host', 'breaks', 'leaf', 'pinned', 'spare'] as const;
  const widths = Object.fromEntries(columns.map((c) => [c, Math.max(header[c].length, ...rows.map((r) => [...r[c]].length))])) as Record<(typeof columns)[number], number>;
  const pad = (text: string, n: number) => text + ' '.repeat(Math.max(0, n - [...text].length));
  const fixed = columns.reduce((sum, c) => sum + widths[c] + 2, 0);
  const noteWidth = Math.max(20, width - fixed);
  const cut = (text: string) => ([...text].length > noteWidth ? `${[...text].slice(0, noteWidth - 1).join('')}…` : text);
  const lines = [out.bold(columns.map((c) => pad(header[c], widths[c])).join('  ') + `  ${header.note}`)];
  for (const failure of report.policyFailures) lines.push(out.red(`✘ policy  ${cut(failure)}`));
  for (const r of rows) {
    lines.push(`${r.colour(pad(r.status, widths.status))}  ${columns.slice(1).map((c) => pad(r[c], widths[c])).join('  ')}  ${out.dim(cut(r.note))}`);
  }
  for (const s of report.skipped) lines.push(out.dim(`- skip    ${s.pattern}: ${cut(s.reason)}`));
  lines.push('', summaryLine(report));
  return lines.join('\n');
}

function mark(r: HostReport, out: Style): string {
  return r.status === 'ok' ? out.green('✔ ok     ') : r.status === 'warning' ? out.yellow('▲ warning') : out.red('✘ failure');
}

function pinnedOn(r: HostReport): string {
  const pinned = r.certificates.filter((c) => c.pinned && c.onVerifiedPath);
  if (r.status === 'failure' || pinned.length === 0) return r.outcome === 'not-pinned' ? 'unpinned' : '-';
  return pinned.map((c) => (c.role === 'leaf' ? 'leaf' : c.role === 'root' ? 'root' : 'CA')).join('+');
}
