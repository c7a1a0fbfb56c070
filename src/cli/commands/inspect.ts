/**
 * `certpin inspect FILE…`: describe certificate files (PEM, DER, `.cer`, `.crt`, bundles) the way `fetch` describes
 * a served chain, or convert them with `--pem` / `--der`.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { describeCertificate, parseCertificates } from '../../tools/index.js';
import { readInputFile, readStandardInput, writeOutputFile } from '../files.js';
import { loadPolicyFile } from '../policy-file.js';
import { certificateJson, renderCertificateList, roleOf } from '../render.js';
import type { CertificateView } from '../render.js';
import { styleFor } from '../style.js';
import { decodeDocument, isSignedDocument, judgeDocument, readKeySet } from '../pinset.js';
import { UsageError, parseCommandArgs } from '../usage.js';

/** `certpin inspect --help`. */
export const help = `Usage: certpin inspect FILE… [options]

Shows each certificate in the files: subject, issuer, names, key, validity and days left, SPKI pin
(sha256/…), SHA-256 fingerprint (colon and plain hex) and SHA-1. Reads PEM (one certificate or a bundle),
DER, .cer and .crt, whatever the extension says. "-" reads standard input.

Options:
  --pem         convert: write every certificate as PEM (to stdout, or --out FILE)
  --der         convert: write the certificate as DER (one certificate only; needs --out FILE on a terminal)
  --out FILE    where --pem / --der write (replaces FILE only with --force)
  --force       replace --out FILE if it exists
  --json        print JSON on stdout

A signed pin-set document (certpin sign writes one) is shown with its header, claims and pin sets:
  --keys JWKS   the public keys the application embeds (certpin signing-key --out-jwks)
  --aud APP     the application's audience; with --keys, says whether the application would apply the
                document, exit 1 when it would refuse it
  --iss NAME    the issuer the application expects, if it checks one
  --policy FILE the application's built-in policy (its certpin.json): with it, the weakening rules are
                checked too (a document may not unpin a host the policy pins, make it report-only, …)

Examples:
  certpin inspect server.crt
  certpin inspect chain.pem --json | jq -r '.[0].certificates[].spkiPin'
  certpin inspect server.cer --pem --out server.pem      # DER → PEM
  certpin inspect pinset.jws --keys certpin-keys.json --aud com.example.app
  certpin inspect server.pem --der --out server.cer      # PEM → DER`;

/** Runs `certpin inspect`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('inspect', argv, {
    pem: { type: 'boolean' },
    der: { type: 'boolean' },
    out: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
    keys: { type: 'string' },
    aud: { type: 'string' },
    iss: { type: 'string' },
    policy: { type: 'string' },
  });
  if (positionals.length === 0) throw new UsageError('which file? Give one or more certificate files (PEM, DER, .cer, .crt).', 'inspect');
  if (positionals.length === 1 && positionals[0] !== '-') {
    const text = readInputFile(positionals[0]!, 'inspect').toString('utf8');
    if (isSignedDocument(text)) return inspectDocument(positionals[0]!, text, { keys: values.keys, aud: values.aud, iss: values.iss, policy: values.policy, json: values.json === true });
  }
  if (values.keys || values.aud || values.iss || values.policy) throw new UsageError('--keys, --aud, --iss and --policy check a signed pin-set document (certpin sign writes one).', 'inspect');
  if (values.pem && values.der) throw new UsageError('choose one of --pem and --der.', 'inspect');
  if (values.out && !values.pem && !values.der) throw new UsageError('--out goes with --pem or --der (the format to write).', 'inspect');

  const files = positionals.map((file) => {
    const data = file === '-' ? readStandardInput('inspect') : readInputFile(file, 'inspect');
    const name = file === '-' ? 'standard input' : file;
    const certificates = parseCertificates(data, name);
    return { file: name, format: data.includes('-----BEGIN') ? 'PEM' : 'DER', certificates };
  });
  const all = files.flatMap((f) => f.certificates);

  if (values.pem || values.der) return convert(all, values.der ? 'der' : 'pem', values.out, values.force === true, positionals.filter((file) => file !== '-'));

  const now = new Date();
  const described = files.map((f) => ({
    ...f,
    views: f.certificates.map((c, i): CertificateView => {
      const details = describeCertificate(c, now);
      return { details, role: roleOf(details, i, f.certificates.length) };
    }),
  }));
  if (values.json) {
    const json = described.map((f) => ({ file: f.file, format: f.format, certificates: f.views.map(certificateJson) }));
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return 0;
  }
  const style = styleFor(process.stdout);
  const text = described.map((f) => {
    const title = style.bold(`${f.file}`) + style.dim(` (${f.format}, ${f.certificates.length} certificate${f.certificates.length === 1 ? '' : 's'})`);
    return `${title}\n\n${renderCertificateList(f.views, style)}`;
  });
  process.stdout.write(`${text.join('\n\n')}\n`);
  return 0;
}

function convert(certificates: readonly X509Certificate[], format: 'pem' | 'der', out: string | undefined, force: boolean, inputs: readonly string[]): number {
  let data: string | Buffer;
  if (format === 'der') {
    if (certificates.length !== 1) {
      throw new UsageError(`DER holds one certificate and the input has ${certificates.length}; use --pem for a bundle, or split it first.`, 'inspect');
    }
    data = certificates[0]!.raw;
    if (!out && process.stdout.isTTY) throw new UsageError('DER is binary; write it to a file with --out FILE (or redirect stdout).', 'inspect');
  } else {
    data = certificates.map((c) => c.toString()).join('');
  }
  if (out) {
    writeOutputFile(out, data, { force, command: 'inspect', inputs });
    process.stderr.write(`Wrote ${certificates.length} certificate${certificates.length === 1 ? '' : 's'} as ${format.toUpperCase()} to ${out}.\n`);
  } else process.stdout.write(data);
  return 0;
}

/**
 * Shows a signed pin-set document: its header, claims and pin sets, and with `--keys` and `--aud` whether an
 * application with those keys would apply it (exit 1 when it would refuse it).
 */
async function inspectDocument(file: string, text: string, options: { keys?: string | undefined; aud?: string | undefined; iss?: string | undefined; policy?: string | undefined; json: boolean }): Promise<number> {
  const { header, claims } = decodeDocument(text, file, 'inspect');
  if ((options.keys === undefined) !== (options.aud === undefined)) throw new UsageError('give both --keys JWKS and --aud APP to check the document as an application would.', 'inspect');
  if (options.policy !== undefined && options.keys === undefined) throw new UsageError('--policy goes with --keys JWKS and --aud APP (it adds the weakening rules to that check).', 'inspect');
  const bootstrap = options.policy === undefined ? undefined : loadPolicyFile(options.policy, undefined, 'inspect', () => {});
  const judgement = options.keys !== undefined && options.aud !== undefined
    ? await judgeDocument(text, { keys: readKeySet(options.keys, 'inspect'), audience: options.aud, ...(options.iss === undefined ? {} : { issuer: options.iss }), ...(bootstrap ? { bootstrap } : {}) })
    : undefined;
  const accepted = judgement ? judgement.event.event === 'updated' || judgement.event.event === 'unchanged' : undefined;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({
      file,
      type: 'signed pin-set document',
      header,
      claims,
      ...(judgement ? { accepted, event: judgement.event.event, reason: judgement.event.reason ?? null, code: judgement.event.code ?? null } : {}),
    }, null, 2)}\n`);
    return accepted === false ? 1 : 0;
  }
  const style = styleFor(process.stdout);
  // A claim out of Date's range is shown as it is written (the application refuses such a document).
  const time = (value: unknown) => (value === undefined ? '-' : typeof value === 'number' && Number.isFinite(new Date(value * 1000).getTime()) ? new Date(value * 1000).toISOString() : `${JSON.stringify(value)} (not a time)`);
  const exp = typeof claims.exp === 'number' && Number.isFinite(new Date(claims.exp * 1000).getTime()) ? claims.exp * 1000 : undefined;
  const days = exp === undefined ? '' : ` (${Math.floor((exp - Date.now()) / 86_400_000)} days left)`;
  const pinset = (claims.pinset ?? {}) as { hosts?: Record<string, unknown> };
  const hostLines = Object.entries(pinset.hosts ?? {}).map(([pattern, entry]) => {
    const pins = Array.isArray(entry) ? entry : ((entry as { pins?: unknown[] } | null)?.pins ?? []);
    return `  ${pattern.padEnd(28)} ${pins.length} pin${pins.length === 1 ? '' : 's'}`;
  });
  const row = (label: string, value: string) => `${style.dim(label.padEnd(10))} ${value}`;
  const lines = [
    style.bold(file) + style.dim(' (signed pin-set document, compact JWS)'),
    '',
    row('alg', String(header.alg)),
    row('kid', String(header.kid)),
    row('typ', String(header.typ)),
    row('iss', String(claims.iss ?? '-')),
    row('aud', Array.isArray(claims.aud) ? claims.aud.join(', ') : String(claims.aud)),
    row('seq', String(claims.seq)),
    row('issued', time(claims.iat)),
    row('valid', `${time(claims.nbf)} → ${time(claims.exp)}${days}`),
    '',
    `${style.bold('Pin sets')} ${style.dim('(replace the application\'s while the document is in force)')}`,
    ...(hostLines.length ? hostLines : ['  (none)']),
  ];
  if (judgement) {
    lines.push('');
    lines.push(accepted
      ? style.green(`✔ An application with these keys, for ${options.aud}, applies it (${judgement.event.event})${bootstrap ? `, its built-in policy ${options.policy} included` : ''}.`)
      : style.red(`✘ An application with these keys, for ${options.aud}, refuses it: ${judgement.event.reason ?? judgement.event.event}`));
    if (accepted && !bootstrap) lines.push(style.dim('  The weakening rules (against the application\'s built-in pins) were not checked: add --policy FILE.'));
  } else {
    lines.push('', style.dim('Not verified: add --keys JWKS --aud APP to check it as the application would.'));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return accepted === false ? 1 : 0;
}

