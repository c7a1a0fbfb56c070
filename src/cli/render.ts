/**
 * How the CLI shows certificates: every detail `describeCertificate` gives (names, key, validity, SPKI pin and
 * fingerprints), as a tree for a served chain or as a list for files.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { describeCertificate } from '../tools/index.js';
import type { CertificateDetails } from '../tools/index.js';
import type { Style } from './style.js';

/** Where a certificate shown for a server came from: the server's own list (position `served` of `of`), or a trust store. */
export type CertificateOrigin = { readonly served: number; readonly of: number } | { readonly store: string };

/** A certificate as shown: its details and where it stands in the chain. */
export interface CertificateView {
  readonly details: CertificateDetails;
  /** Short label: `leaf`, `intermediate`, `root`, `self-signed`, … */
  readonly role: string;
  /** True/false for a served chain (is it on the path certpin verified?); undefined for files. */
  readonly onVerifiedPath?: boolean;
  /** The certificate is a trust anchor of the store. */
  readonly trustAnchor?: boolean;
  /** For a server's chain: sent by the server, or taken from a trust store. */
  readonly origin?: CertificateOrigin;
}

/** The role of certificate `index` of a chain of `length`, leaf first. */
export function roleOf(details: CertificateDetails, index: number, length: number): string {
  if (details.selfSigned) return index === 0 && length === 1 ? 'self-signed' : 'root';
  if (index === 0 && !details.isCA) return 'leaf';
  return details.isCA ? 'intermediate' : 'end-entity';
}

/** Whole days, with the sign said in words. */
export function daysText(daysLeft: number): string {
  if (daysLeft < 0) return `expired ${-daysLeft} day${daysLeft === -1 ? '' : 's'} ago`;
  return `${daysLeft} day${daysLeft === 1 ? '' : 's'} left`;
}

function header(view: CertificateView, style: Style): string {
  const tags = [view.role];
  if (view.origin && 'served' in view.origin) tags.push(`served ${view.origin.served}/${view.origin.of}`);
  if (view.origin && 'store' in view.origin) tags.push(style.yellow(`not served: from the ${view.origin.store}`));
  if (view.onVerifiedPath === true) tags.push(style.green('on verified path'));
  if (view.onVerifiedPath === false) tags.push(style.yellow('not on a verified path'));
  if (view.trustAnchor) tags.push('trust anchor');
  return `${style.bold(view.details.subject || '(empty subject)')}  ${style.dim('[')}${tags.join(style.dim(' · '))}${style.dim(']')}`;
}

function detailLines(d: CertificateDetails, style: Style, warnDays: number): string[] {
  const days = daysText(d.daysLeft);
  const coloured = d.daysLeft < 0 ? style.red(days) : d.daysLeft <= warnDays ? style.yellow(days) : style.green(days);
  const row = (label: string, value: string) => `${style.dim(label.padEnd(11))} ${value}`;
  return [
    row('issuer', d.issuer),
    ...(d.subjectAltNames.length ? [row('names', d.subjectAltNames.join(', '))] : []),
    row('key', d.key),
    row('valid', `${d.validFrom.slice(0, 10)} → ${d.validTo.slice(0, 10)} (${coloured})`),
    row('serial', d.serialNumber),
    row('spki pin', style.cyan(d.spkiPin)),
    row('sha256', d.sha256),
    row('sha256 hex', d.sha256Hex),
    row('sha1', d.sha1),
  ];
}

/** A served chain as a tree, leaf first, each issuer one level deeper. */
export function renderChainTree(views: readonly CertificateView[], style: Style, warnDays = 30): string {
  const lines: string[] = [];
  views.forEach((view, i) => {
    const indent = '   '.repeat(Math.max(0, i - 1));
    lines.push(`${i === 0 ? '' : `${indent}└─ `}${header(view, style)}`);
    const detailIndent = '   '.repeat(i) + (i < views.length - 1 ? '│  ' : '   ');
    for (const line of detailLines(view.details, style, warnDays)) lines.push(`${detailIndent}${line}`);
  });
  return lines.join('\n');
}

/** Certificates of a file as a numbered list. */
export function renderCertificateList(views: readonly CertificateView[], style: Style, warnDays = 30): string {
  return views
    .map((view, i) => [`${views.length > 1 ? `${i + 1}/${views.length}  ` : ''}${header(view, style)}`, ...detailLines(view.details, style, warnDays).map((l) => `   ${l}`)].join('\n'))
    .join('\n\n');
}

/** A certificate as `--json` prints it. */
export function certificateJson(view: CertificateView): Record<string, unknown> {
  return {
    role: view.role,
    ...(view.onVerifiedPath === undefined ? {} : { onVerifiedPath: view.onVerifiedPath }),
    ...(view.trustAnchor === undefined ? {} : { trustAnchor: view.trustAnchor }),
    ...(view.origin === undefined
      ? {}
      : 'served' in view.origin
        ? { source: 'served', servedIndex: view.origin.served }
        : { source: 'trust-store', store: view.origin.store }),
    ...view.details,
  };
}

/** A certificate's subject as one line, as `openssl x509 -noout -subject` prints it (`CN = …, O = …` in the certificate's order). */
export function subjectOf(certificate: X509Certificate): string {
  return describeCertificate(certificate).subject;
}
