/**
 * `certpin verify --html FILE`: one self-contained page a team can open from a CI artifact. A row per host with its
 * status, when it breaks, its certificates on a calendar shared by every host (today, the pin set's `expires`, the
 * pin-set document's `exp`), and its failures and warnings. Hosts open in "breaks first" order; three buttons re-sort
 * them (a few lines of inline script; without it the page still reads, in that order).
 *
 * Nothing is fetched: styles, drawing and script are inline, and the page's Content-Security-Policy allows only
 * those (by hash), so it cannot reach the network even if a certificate's subject held markup (it is escaped).
 * @module
 */
import { createHash } from 'node:crypto';
import { breakTime, statusRank } from '../verify/report.js';
import type { HostReport, ReportCertificate, VerifyReport } from '../verify/report.js';
import { COLOURS, axisMarkup, escapeXml, lastDayOf, legendMarkup, renderSvgReport, timeScale, timelineHeight, timelineMarkup } from './timeline.js';

export { renderSvgReport };

const PLOT_WIDTH = 600;

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: ${COLOURS.text}; margin: 24px; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 4px; }
h1 code { font-size: 17px; }
.meta, .muted { color: ${COLOURS.muted}; }
.summary { margin: 10px 0 16px; display: flex; gap: 8px; flex-wrap: wrap; }
.badge { border-radius: 12px; padding: 2px 10px; font-weight: 600; color: #fff; }
.badge.failure { background: ${COLOURS.expired}; } .badge.warning { background: ${COLOURS.soon}; } .badge.ok { background: ${COLOURS.ok}; } .badge.skipped { background: ${COLOURS.unverified}; }
.policy-failures { border-left: 4px solid ${COLOURS.expired}; background: #ffebee; padding: 8px 12px; margin: 0 0 16px; }
nav.sort { margin: 0 0 8px; }
nav.sort button { font: inherit; padding: 3px 10px; margin-left: 4px; border: 1px solid #bdbdbd; border-radius: 4px; background: #fff; cursor: pointer; }
nav.sort button[aria-pressed="true"] { background: ${COLOURS.today}; border-color: ${COLOURS.today}; color: #fff; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: 8px 10px; border-bottom: 1px solid ${COLOURS.grid}; }
th { position: sticky; top: 0; background: #fff; z-index: 1; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: ${COLOURS.muted}; }
td.status { white-space: nowrap; font-weight: 700; }
tr.failure td.status { color: ${COLOURS.expired}; } tr.warning td.status { color: ${COLOURS.soon}; } tr.ok td.status { color: ${COLOURS.ok}; }
td.host strong { white-space: nowrap; }
th svg { text-transform: none; letter-spacing: normal; font-weight: normal; }
td.breaks { white-space: nowrap; }
.timeline svg { display: block; width: ${PLOT_WIDTH}px; max-width: 100%; height: auto; }
ul.chain { list-style: none; margin: 4px 0 0; padding: 0; font-size: 11.5px; color: ${COLOURS.muted}; }
ul.chain li { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: ${PLOT_WIDTH}px; }
td.findings { max-width: 440px; overflow-wrap: anywhere; }
td.findings p { margin: 0 0 4px; }
td.findings ul { margin: 0; padding-left: 18px; }
li.warning { color: #8d4a00; }
p.reason.failure { color: ${COLOURS.expired}; font-weight: 600; }
details { margin-top: 4px; font-size: 12px; }
code, .pin { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
section.more { margin-top: 18px; }
footer { margin-top: 18px; }
`;

// Re-sorts the rows in place; the keys are the data attributes each row carries (the same order as sortBreaksFirst).
const SCRIPT = `
(function () {
  var body = document.querySelector('#hosts tbody');
  var keys = {
    breaks: function (r) { return [r.dataset.status === 'failure' ? 0 : 1, Number(r.dataset.breaks), Number(r.dataset.rank), r.dataset.host]; },
    status: function (r) { return [Number(r.dataset.rank), Number(r.dataset.breaks), r.dataset.host]; },
    host: function (r) { return [r.dataset.host]; }
  };
  function compare(a, b) {
    for (var i = 0; i < a.length; i++) {
      if (a[i] < b[i]) return -1;
      if (a[i] > b[i]) return 1;
    }
    return 0;
  }
  var buttons = document.querySelectorAll('nav.sort button');
  buttons.forEach(function (button) {
    button.addEventListener('click', function () {
      var key = keys[button.dataset.sort];
      Array.prototype.slice.call(body.rows)
        .sort(function (x, y) { return compare(key(x), key(y)); })
        .forEach(function (row) { body.appendChild(row); });
      buttons.forEach(function (b) { b.setAttribute('aria-pressed', String(b === button)); });
      document.body.dataset.sorted = button.dataset.sort;
    });
  });
  document.body.dataset.ready = 'true';
})();
`;

/** The report page for a verify run, hosts in the report's order (the caller sorts them "breaks first"). */
export function renderHtmlReport(report: VerifyReport): string {
  const scale = timeScale(report, PLOT_WIDTH);
  const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
  const csp = `default-src 'none'; style-src ${hash(STYLE)}; script-src ${hash(SCRIPT)}; img-src 'none'; form-action 'none'; base-uri 'none'`;
  const today = Date.parse(report.checkedAt);
  const { summary } = report;
  const badges = [
    `<span class="badge failure">${summary.failures} failing</span>`,
    `<span class="badge warning">${summary.warnings} with warnings</span>`,
    `<span class="badge ok">${summary.ok} ok</span>`,
    ...(summary.skipped ? [`<span class="badge skipped">${summary.skipped} pattern${summary.skipped === 1 ? '' : 's'} skipped</span>`] : []),
  ];
  const rows = report.hosts.map((host) => hostRow(host, report, scale, today));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="certpin verify">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(`certpin verify ${report.policy}: ${summary.failures} failing, ${summary.warnings} with warnings`)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>certpin verify <code>${escapeXml(report.policy)}</code></h1>
<p class="meta">Checked ${escapeXml(report.checkedAt.replace('T', ' ').slice(0, 16))} UTC · ${summary.hosts} host${summary.hosts === 1 ? '' : 's'} in ${(report.durationMs / 1000).toFixed(1)} s · warnings ${report.warnDays} days ahead · exit code ${report.exitCode}</p>
<p class="summary">${badges.join(' ')}</p>
</header>
${report.policyFailures.length ? `<section class="policy-failures"><strong>The policy itself fails:</strong><ul>${report.policyFailures.map((f) => `<li>${escapeXml(f)}</li>`).join('')}</ul></section>` : ''}
<nav class="sort" aria-label="Sort hosts">Sort: <button type="button" data-sort="breaks" aria-pressed="true">Breaks first</button><button type="button" data-sort="status" aria-pressed="false">Status</button><button type="button" data-sort="host" aria-pressed="false">Host</button></nav>
<table id="hosts">
<thead><tr><th>Status</th><th>Host</th><th>Breaks</th><th class="timeline">Certificates<svg viewBox="0 0 ${PLOT_WIDTH} 18" role="img" aria-label="time axis">${axisMarkup(scale, today)}</svg></th><th>Findings</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
${moreSections(report)}
<footer><svg viewBox="0 0 900 24" width="900" height="24" role="img" aria-label="legend">${legendMarkup(0, 8)}</svg></footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function hostRow(host: HostReport, report: VerifyReport, scale: ReturnType<typeof timeScale>, today: number): string {
  const breaks = breakTime(host);
  const days = host.breaksAt ? Math.floor((breaks - today) / 86_400_000) : undefined;
  const breaksText = host.status === 'failure' ? 'now' : host.breaksAt ? `${host.breaksAt.slice(0, 10)}<br><span class="muted">in ${days} day${days === 1 ? '' : 's'}</span>` : '—';
  const label = host.status === 'failure' ? '✘ failure' : host.status === 'warning' ? '▲ warning' : '✔ ok';
  const height = timelineHeight(host);
  const findings = [
    `<p class="reason${host.status === 'failure' ? ' failure' : ''}">${escapeXml(host.reason)}</p>`,
    host.warnings.length ? `<ul>${host.warnings.map((w) => `<li class="warning">${escapeXml(w)}</li>`).join('')}</ul>` : '',
    `<details><summary>pins</summary><div>pin set <code>${escapeXml(host.pattern)}</code>${host.pinSetExpires ? `, enforced through ${lastDayOf(host.pinSetExpires)}` : ''}${host.pinSetDocumentExpires ? `, document exp ${host.pinSetDocumentExpires.slice(0, 10)}` : ''}:</div><ul>${host.pins.map((p) => `<li class="pin">${escapeXml(p)}${pinNote(p, host)}</li>`).join('')}</ul>` +
      (host.served.length ? `<div>served:</div><ul>${host.served.map((c) => `<li><span class="pin">${escapeXml(c.spkiPin)}</span> ${escapeXml(c.subject)}</li>`).join('')}</ul>` : '') +
      '</details>',
  ].join('');
  return (
    `<tr class="host ${host.status}" data-host="${escapeXml(host.host)}" data-status="${host.status}" data-rank="${statusRank(host.status)}" data-breaks="${Number.isFinite(breaks) ? breaks : 9e15}">` +
    `<td class="status">${label}</td>` +
    `<td class="host"><strong>${escapeXml(host.host)}</strong><br><span class="muted">${escapeXml(host.address)}${host.pattern !== host.host ? ` · pin set ${escapeXml(host.pattern)}` : ''}</span></td>` +
    `<td class="breaks"${host.breaksAt ? ` data-date="${host.breaksAt.slice(0, 10)}" title="${escapeXml(host.breaksBecause ?? '')}"` : ''}>${breaksText}</td>` +
    `<td class="timeline"><svg viewBox="0 0 ${PLOT_WIDTH} ${height}" role="img" aria-label="${escapeXml(`certificates of ${host.host}`)}">${timelineMarkup(host, scale, report)}</svg>` +
    `<ul class="chain">${host.certificates.map((c) => `<li>${chainLine(c)}</li>`).join('')}</ul></td>` +
    `<td class="findings">${findings}</td>` +
    '</tr>'
  );
}

function chainLine(c: ReportCertificate): string {
  const days = c.daysLeft < 0 ? `expired ${-c.daysLeft} days ago` : `${c.daysLeft} days left`;
  const tags = [c.source === 'served' ? 'served' : 'from the trust store', ...(c.pinned ? ['pinned'] : []), ...(c.onVerifiedPath ? [] : ['not verified'])];
  return escapeXml(`${c.role} · ${c.subject} · ${c.notBefore.slice(0, 10)} → ${c.notAfter.slice(0, 10)} (${days}) · ${tags.join(' · ')}`);
}

function pinNote(pin: string, host: HostReport): string {
  if (host.backupInUse === pin) return ' <span class="muted">(backup, now in use)</span>';
  if (host.retiredPins.includes(pin)) return ' <span class="muted">(retired: on no certificate)</span>';
  if (host.backupPins.includes(pin)) return ' <span class="muted">(spare)</span>';
  return host.certificates.some((c) => c.spkiPin === pin && c.pinned) ? ' <span class="muted">(on the chain)</span>' : '';
}

function moreSections(report: VerifyReport): string {
  const parts: string[] = [];
  if (report.skipped.length) {
    parts.push(`<section class="more"><h2>Skipped patterns</h2><ul>${report.skipped.map((s) => `<li><code>${escapeXml(s.pattern)}</code>: ${escapeXml(s.reason)}</li>`).join('')}</ul></section>`);
  }
  if (report.policyWarnings.length) {
    parts.push(`<section class="more"><h2>Policy warnings</h2><ul>${report.policyWarnings.map((w) => `<li>${escapeXml(w.message)}</li>`).join('')}</ul></section>`);
  }
  return parts.join('\n');
}
