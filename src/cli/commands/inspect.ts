/**
 * `certpin inspect FILE…`: describe certificate files (PEM, DER, `.cer`, `.crt`, bundles) the way `fetch` describes
 * a served chain, or convert them with `--pem` / `--der`.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describeCertificate, parseCertificates } from '../../tools/index.js';
import { readInputFile, writeOutputFile } from '../files.js';
import { certificateJson, renderCertificateList, roleOf } from '../render.js';
import type { CertificateView } from '../render.js';
import { styleFor } from '../style.js';
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

Examples:
  certpin inspect server.crt
  certpin inspect chain.pem --json | jq -r '.[0].certificates[].spkiPin'
  certpin inspect server.cer --pem --out server.pem      # DER → PEM
  certpin inspect server.pem --der --out server.cer      # PEM → DER`;

/** Runs `certpin inspect`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('inspect', argv, {
    pem: { type: 'boolean' },
    der: { type: 'boolean' },
    out: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (positionals.length === 0) throw new UsageError('which file? Give one or more certificate files (PEM, DER, .cer, .crt).', 'inspect');
  if (values.pem && values.der) throw new UsageError('choose one of --pem and --der.', 'inspect');
  if (values.out && !values.pem && !values.der) throw new UsageError('--out goes with --pem or --der (the format to write).', 'inspect');

  const files = positionals.map((file) => {
    const data = file === '-' ? readStdin() : readInputFile(file, 'inspect');
    const name = file === '-' ? 'standard input' : file;
    const certificates = parseCertificates(data, name);
    return { file: name, format: data.includes('-----BEGIN') ? 'PEM' : 'DER', certificates };
  });
  const all = files.flatMap((f) => f.certificates);

  if (values.pem || values.der) return convert(all, values.der ? 'der' : 'pem', values.out, values.force === true);

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

function convert(certificates: readonly X509Certificate[], format: 'pem' | 'der', out: string | undefined, force: boolean): number {
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
    writeOutputFile(out, data, { force, command: 'inspect' });
    process.stderr.write(`Wrote ${certificates.length} certificate${certificates.length === 1 ? '' : 's'} as ${format.toUpperCase()} to ${out}.\n`);
  } else process.stdout.write(data);
  return 0;
}

function readStdin(): Buffer {
  try {
    return readFileSync(0);
  } catch (error) {
    throw new UsageError(`Cannot read standard input: ${(error as Error).message}.`, 'inspect');
  }
}
