/**
 * The rotation calendar of `certpin verify`: for each host, one bar per certificate of its verified path (not
 * before → not after), with today, the pin set's `expires` and the pin-set document's `exp` as vertical marks, on a
 * time axis shared by every host so that a team sees what comes due first. Plain SVG markup, no script, no external
 * reference: the same drawing goes into the HTML page and into the `--svg` image.
 * @module
 */
import type { HostReport, ReportCertificate, VerifyReport } from '../verify/report.js';

const DAY = 86_400_000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Colours of the calendar, shared with the page's legend. */
export const COLOURS = {
  ok: '#2e7d32',
  okCa: '#81c784',
  soon: '#ef6c00',
  expired: '#c62828',
  unverified: '#9e9e9e',
  pin: '#1a237e',
  today: '#1565c0',
  pinSetExpires: '#6a1b9a',
  documentExpires: '#00838f',
  grid: '#e0e0e0',
  text: '#212121',
  muted: '#616161',
} as const;

/** A time axis: milliseconds to x in `[0, width]`. */
export interface TimeScale {
  readonly start: number;
  readonly end: number;
  readonly width: number;
  x(ms: number): number;
  /** Tick positions and labels. */
  readonly ticks: readonly { ms: number; label: string }[];
}

/**
 * The axis every host shares: from a little before the earliest leaf was issued (at most a year back) to a little
 * after the last leaf, pin set or document expiry (at least three months ahead, at most three years). Longer-lived
 * CA certificates run off the right edge, with their end date in the label.
 */
export function timeScale(report: VerifyReport, width: number): TimeScale {
  const today = Date.parse(report.checkedAt);
  const leafStarts = report.hosts.flatMap((h) => h.certificates.filter((c) => c.role === 'leaf').map((c) => Date.parse(c.notBefore)));
  const ends = report.hosts.flatMap((h) => [
    ...h.certificates.filter((c) => c.role === 'leaf').map((c) => Date.parse(c.notAfter)),
    ...[h.pinSetExpires, h.pinSetDocumentExpires].filter((d): d is string => d !== null).map(Date.parse),
  ]);
  const rawStart = Math.min(today - 30 * DAY, Math.max(today - 365 * DAY, Math.min(...leafStarts, today)));
  const rawEnd = Math.max(today + 90 * DAY, Math.min(today + 3 * 365 * DAY, Math.max(...ends, today)));
  const first = new Date(rawStart);
  const start = Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), 1);
  const last = new Date(rawEnd + 10 * DAY);
  const end = Date.UTC(last.getUTCFullYear(), last.getUTCMonth() + 1, 1);
  const x = (ms: number) => ((Math.min(Math.max(ms, start), end) - start) / (end - start)) * width;
  const months = Math.round((end - start) / (30.44 * DAY));
  const every = months <= 15 ? 1 : months <= 36 ? 3 : 6;
  const ticks: { ms: number; label: string }[] = [];
  for (let d = new Date(start); d.getTime() <= end; d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + every, 1))) {
    const month = d.getUTCMonth();
    ticks.push({ ms: d.getTime(), label: month === 0 || ticks.length === 0 ? `${MONTHS[month]} ${d.getUTCFullYear()}` : MONTHS[month]! });
  }
  return { start, end, width, x, ticks };
}

/** Escapes text for HTML and XML, attributes included. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The colour of a certificate's bar. */
export function barColour(c: ReportCertificate, warnDays: number): string {
  if (!c.onVerifiedPath) return COLOURS.unverified;
  if (c.daysLeft < 0) return COLOURS.expired;
  if (c.daysLeft <= warnDays) return COLOURS.soon;
  return c.role === 'leaf' ? COLOURS.ok : COLOURS.okCa;
}

const ROW = 18;
const BAR = 12;

/** The height of a host's timeline. */
export function timelineHeight(host: HostReport): number {
  return Math.max(1, host.certificates.length) * ROW + 6;
}

/**
 * A host's timeline as SVG elements, drawn at (`x0`, `y0`) on `scale`: grid, one bar per certificate (pinned ones
 * outlined and marked, those from the trust store dashed), and the day marks.
 */
export function timelineMarkup(host: HostReport, scale: TimeScale, report: VerifyReport, x0 = 0, y0 = 0): string {
  const height = timelineHeight(host);
  const parts: string[] = [];
  const at = (ms: number) => (x0 + scale.x(ms)).toFixed(1);
  for (const tick of scale.ticks) parts.push(`<line x1="${at(tick.ms)}" x2="${at(tick.ms)}" y1="${y0}" y2="${y0 + height}" stroke="${COLOURS.grid}" stroke-width="1"/>`);
  if (host.certificates.length === 0) {
    parts.push(`<text x="${x0 + 4}" y="${y0 + 13}" font-size="11" fill="${COLOURS.muted}">no certificate: ${escapeXml(host.failure ? 'the handshake stopped before the server sent one' : 'none')}</text>`);
  }
  host.certificates.forEach((c, i) => {
    const from = Date.parse(c.notBefore);
    const to = Date.parse(c.notAfter);
    const y = y0 + 3 + i * ROW;
    const x1 = scale.x(from);
    const x2 = scale.x(to);
    const width = Math.max(2, x2 - x1);
    const colour = barColour(c, report.warnDays);
    const cut = to > scale.end;
    const label = `${c.role}${c.pinned ? ' · pinned' : ''}${c.source === 'trust-store' ? ' · from trust store' : ''}${c.onVerifiedPath ? '' : ' · not verified'}`;
    const faded = c.source === 'trust-store' || !c.onVerifiedPath;
    const title = `${c.role}: ${c.subject}\n${c.notBefore.slice(0, 10)} → ${c.notAfter.slice(0, 10)} (${c.daysLeft < 0 ? `expired ${-c.daysLeft} days ago` : `${c.daysLeft} days left`})\n${c.spkiPin}${c.pinned ? ' (pinned)' : ''}\n${c.source === 'served' ? 'sent by the server' : 'not sent by the server: from the trust store'}`;
    parts.push(
      `<g class="cert" data-role="${c.role}" data-not-before="${c.notBefore.slice(0, 10)}" data-not-after="${c.notAfter.slice(0, 10)}" data-pinned="${c.pinned}" data-source="${c.source}">` +
        `<title>${escapeXml(title)}</title>` +
        `<rect x="${(x0 + x1).toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${BAR}" rx="2" fill="${colour}" fill-opacity="${faded ? 0.45 : 0.9}"` +
        `${c.pinned ? ` stroke="${COLOURS.pin}" stroke-width="2"` : c.source === 'trust-store' ? ` stroke="${colour}" stroke-dasharray="3 2"` : ''}/>` +
        `${c.pinned ? `<circle cx="${(x0 + x1 + 6).toFixed(1)}" cy="${y + BAR / 2}" r="3" fill="${COLOURS.pin}"/>` : ''}` +
        labelMarkup(`${label}${cut ? ` → ${c.notAfter.slice(0, 10)}` : ''}`, x0 + x1 + (c.pinned ? 12 : 4), x0 + x1 + width + 4, y + 9.5, width > 150, faded || colour === COLOURS.okCa, x0 + scale.width) +
        '</g>',
    );
  });
  const mark = (iso: string | null, colour: string, dash: string, name: string, kind: string) => {
    if (!iso) return;
    const ms = Date.parse(iso);
    const x = at(ms);
    const day = kind === 'pin-set-expires' ? lastDayOf(iso) : iso.slice(0, 10);
    const outside = ms > scale.end ? ' (after the end of the axis)' : ms < scale.start ? ' (before the start of the axis)' : '';
    parts.push(
      `<g class="mark" data-mark="${kind}" data-date="${day}"><title>${escapeXml(`${name}: ${day}${outside}`)}</title>` +
        `<line x1="${x}" x2="${x}" y1="${y0}" y2="${y0 + height}" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/></g>`,
    );
  };
  mark(host.pinSetExpires, COLOURS.pinSetExpires, '5 3', 'pin set enforced through', 'pin-set-expires');
  mark(host.pinSetDocumentExpires, COLOURS.documentExpires, '2 2', 'pin-set document exp', 'document-exp');
  mark(report.checkedAt, COLOURS.today, '', 'today', 'today');
  return parts.join('');
}

/** The axis labels and a "today" flag, as SVG elements at (`x0`, `y0`), 18 px high. */
export function axisMarkup(scale: TimeScale, today: number, x0 = 0, y0 = 0): string {
  const t = x0 + scale.x(today);
  const flag = `<g class="mark" data-mark="today"><line x1="${t.toFixed(1)}" x2="${t.toFixed(1)}" y1="${y0 + 4}" y2="${y0 + 18}" stroke="${COLOURS.today}" stroke-width="2"/>` +
    `<text x="${(t + 3).toFixed(1)}" y="${y0 + 17}" font-size="9" font-weight="bold" fill="${COLOURS.today}">today</text></g>`;
  return flag + scale.ticks
    .map((t) => `<line x1="${(x0 + scale.x(t.ms)).toFixed(1)}" x2="${(x0 + scale.x(t.ms)).toFixed(1)}" y1="${y0 + 12}" y2="${y0 + 18}" stroke="${COLOURS.muted}"/>` +
      (scale.x(t.ms) < scale.width - 20 ? `<text x="${(x0 + scale.x(t.ms) + 2).toFixed(1)}" y="${y0 + 10}" font-size="10" fill="${COLOURS.muted}">${escapeXml(t.label)}</text>` : ''))
    .join('');
}

/**
 * The whole calendar as one standalone SVG image: a row per host (in the report's order) with its status, name and
 * timeline, the axis on top, a legend below.
 */
export function renderSvgReport(report: VerifyReport): string {
  const labelWidth = 260;
  const plotWidth = 760;
  const width = labelWidth + plotWidth + 20;
  const scale = timeScale(report, plotWidth);
  const rows: string[] = [];
  let y = 64;
  for (const host of report.hosts) {
    const h = timelineHeight(host);
    const colour = host.status === 'failure' ? COLOURS.expired : host.status === 'warning' ? COLOURS.soon : COLOURS.ok;
    const symbol = host.status === 'failure' ? '✘' : host.status === 'warning' ? '▲' : '✔';
    const note = host.status === 'failure' ? host.reason : (host.warnings[0] ?? (host.breaksBecause ? `next: ${host.breaksBecause} ${host.breaksAt?.slice(0, 10)}` : ''));
    rows.push(
      `<g class="host" data-host="${escapeXml(host.host)}" data-status="${host.status}"><title>${escapeXml(`${host.host} (${host.address}): ${host.reason}${host.warnings.map((w) => `\nwarning: ${w}`).join('')}`)}</title>` +
        `<line x1="10" x2="${width - 10}" y1="${y - 3}" y2="${y - 3}" stroke="${COLOURS.grid}"/>` +
        `<text x="12" y="${y + 12}" font-size="12" fill="${colour}" font-weight="bold">${symbol}</text>` +
        `<text x="28" y="${y + 12}" font-size="12" fill="${COLOURS.text}" font-weight="bold">${escapeXml(truncate(host.host, 34))}</text>` +
        `<text x="28" y="${y + 25}" font-size="9.5" fill="${COLOURS.muted}">${escapeXml(truncate(note, 48))}</text>` +
        timelineMarkup(host, scale, report, labelWidth, y) +
        '</g>',
    );
    y += Math.max(h, 32) + 6;
  }
  const legendY = y + 8;
  const height = legendY + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">`,
    `<title>${escapeXml(`certpin verify ${report.policy}: ${report.summary.failures} failing, ${report.summary.warnings} with warnings, ${report.summary.ok} ok, ${report.checkedAt.slice(0, 10)}`)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold" fill="${COLOURS.text}">${escapeXml(`certpin verify ${report.policy}`)}</text>`,
    `<text x="12" y="40" font-size="11" fill="${COLOURS.muted}">${escapeXml(`${report.checkedAt.slice(0, 10)} · ${report.summary.failures} failing · ${report.summary.warnings} with warnings · ${report.summary.ok} ok`)}</text>`,
    axisMarkup(scale, Date.parse(report.checkedAt), labelWidth, 42),
    ...rows,
    legendMarkup(12, legendY),
    '</svg>',
  ].join('\n');
}

/** The legend as SVG elements. */
export function legendMarkup(x: number, y: number): string {
  const items: [string, string][] = [
    [`<rect width="14" height="10" rx="2" fill="${COLOURS.ok}"/>`, 'valid'],
    [`<rect width="14" height="10" rx="2" fill="${COLOURS.soon}"/>`, 'expires within the warning days'],
    [`<rect width="14" height="10" rx="2" fill="${COLOURS.expired}"/>`, 'expired'],
    [`<rect width="14" height="10" rx="2" fill="${COLOURS.ok}" fill-opacity="0.9" stroke="${COLOURS.pin}" stroke-width="2"/>`, 'pinned'],
    [`<rect width="14" height="10" rx="2" fill="${COLOURS.okCa}" fill-opacity="0.45" stroke="${COLOURS.okCa}" stroke-dasharray="3 2"/>`, 'from the trust store'],
    [`<line x1="7" x2="7" y1="-2" y2="12" stroke="${COLOURS.today}" stroke-width="2"/>`, 'today'],
    [`<line x1="7" x2="7" y1="-2" y2="12" stroke="${COLOURS.pinSetExpires}" stroke-width="2" stroke-dasharray="5 3"/>`, 'pin set expires'],
    [`<line x1="7" x2="7" y1="-2" y2="12" stroke="${COLOURS.documentExpires}" stroke-width="2" stroke-dasharray="2 2"/>`, 'pin-set document exp'],
  ];
  let offset = x;
  return items
    .map(([swatch, label]) => {
      const g = `<g transform="translate(${offset},${y})">${swatch}<text x="20" y="9.5" font-size="10.5" fill="${COLOURS.muted}">${escapeXml(label)}</text></g>`;
      offset += 28 + label.length * 5.6;
      return g;
    })
    .join('');
}

/**
 * The last day a pin set is enforced: its `expires` is the first moment it is not (a policy's "2027-06-30" is
 * enforced through that day, UTC), and people think in the day they wrote.
 */
export function lastDayOf(expires: string): string {
  return new Date(Date.parse(expires) - 1).toISOString().slice(0, 10);
}

/** A bar's label: inside a wide bar, after a narrow one (or before it, at the right edge). */
function labelMarkup(text: string, inside: number, after: number, y: number, wide: boolean, light: boolean, right: number): string {
  if (wide) return `<text x="${inside.toFixed(1)}" y="${y}" font-size="9.5" fill="${light ? COLOURS.text : '#ffffff'}">${escapeXml(text)}</text>`;
  const room = right - after > text.length * 5.2;
  return room
    ? `<text x="${after.toFixed(1)}" y="${y}" font-size="9.5" fill="${COLOURS.text}">${escapeXml(text)}</text>`
    : `<text x="${(inside - 8).toFixed(1)}" y="${y}" font-size="9.5" fill="${COLOURS.text}" text-anchor="end">${escapeXml(text)}</text>`;
}

function truncate(text: string, max: number): string {
  return [...text].length > max ? `${[...text].slice(0, max - 1).join('')}…` : text;
}
