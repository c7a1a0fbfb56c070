/**
 * `certpin backup-key`: a spare key pair, a CSR for it, and its pin. The pin goes into the pin set now; the key stays
 * offline until the day the current key must be replaced, and then clients accept the new certificate at once.
 * @module
 */
import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { isIP } from '../../builtins.js';
import { createCertificateRequest, publicKeyPin } from '../../tools/index.js';
import { leadsToStandardOutput, writeOutputFiles } from '../files.js';
import { styleFor } from '../style.js';
import { UsageError, parseCommandArgs } from '../usage.js';

const TYPES = ['ec-p256', 'ec-p384', 'rsa2048', 'rsa3072', 'rsa4096', 'ed25519'] as const;
type KeyType = (typeof TYPES)[number];

/** `certpin backup-key --help`. */
export const help = `Usage: certpin backup-key [HOST…] [options]

Generates a spare key pair and a certificate signing request (CSR) for it, and prints the key's pin
(sha256/…) on stdout. HOST names go into the CSR: the first as its subject (CN), all of them as its
subjectAltName, which is where CAs read the names from. Add that pin to your pin set NOW, next to the current one, and ship it. Keep the
key offline. The day the current key is lost or must change, get the CSR signed and deploy this key:
clients already trust it, so no app release is needed.

Options:
  --type TYPE            ec-p256 (default), ec-p384, rsa2048, rsa3072, rsa4096, ed25519
                         (public CAs do not issue Ed25519 certificates; pick EC or RSA for them)
  --subject DN           subject of the CSR, written in the order it is encoded and shown by openssl:
                         "CN=api.example.com, O=Example" or "/CN=api.example.com/O=Example"
                         (default CN=HOST, or CN=certpin backup key without a HOST)
  --san NAME             DNS name or IP address for the CSR's subjectAltName; repeatable (default: the
                         HOSTs, else the subject's CN when it is a host name)
  --out-key FILE         private key file, PKCS#8 PEM, mode 0600 (default backup-key.pem)
  --out-csr FILE         CSR file, PEM (default backup-key.csr)
  --passphrase-env VAR   encrypt the private key (AES-256) with the passphrase in environment variable VAR
  --force                replace existing files (never done otherwise)
  --json                 print {type, pin, keyFile, csrFile} as JSON on stdout

Examples:
  certpin backup-key api.example.com
  certpin backup-key api.example.com www.example.com --type ec-p384 --subject "CN=api.example.com, O=Example" \\
    --out-key api-backup.key --out-csr api-backup.csr
  openssl req -verify -noout -in backup-key.csr     # check the CSR`;

/** Runs `certpin backup-key`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('backup-key', argv, {
    type: { type: 'string' },
    subject: { type: 'string' },
    san: { type: 'string', multiple: true },
    'out-key': { type: 'string' },
    'out-csr': { type: 'string' },
    'passphrase-env': { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const hosts = positionals.map((p) => {
    const written = p.trim().replace(/^\[(.*)\]$/, '$1');
    // A Unicode name goes into the CSR in its ASCII (IDNA) form, the form certificates carry.
    const host = /^[\u0020-\u007e]*$/.test(written) ? written : asciiName(written);
    if (!/^[A-Za-z0-9_*.:-]+$/.test(host)) throw new UsageError(`"${p}" is not a host name for the CSR; give names like api.example.com (options start with --).`, 'backup-key');
    return host;
  });
  const type = (values.type ?? 'ec-p256') as KeyType;
  if (!TYPES.includes(type)) throw new UsageError(`--type must be one of ${TYPES.join(', ')}; got "${values.type}".`, 'backup-key');
  const keyFile = values['out-key'] ?? 'backup-key.pem';
  const csrFile = values['out-csr'] ?? 'backup-key.csr';
  if (keyFile === csrFile) throw new UsageError('--out-key and --out-csr must be different files.', 'backup-key');
  let passphrase: string | undefined;
  if (values['passphrase-env'] !== undefined) {
    passphrase = process.env[values['passphrase-env']];
    if (!passphrase) throw new UsageError(`the environment variable ${values['passphrase-env']} (--passphrase-env) is not set or empty.`, 'backup-key');
  }

  const subject = values.subject ?? (hosts[0] ? `CN=${hosts[0]}` : 'CN=certpin backup key');
  const subjectAltNames = values.san ?? (hosts.length ? hosts : hostFromSubject(subject));
  const { privateKey } = generate(type);
  let csr;
  try {
    csr = createCertificateRequest({ privateKey, subject: inWrittenOrder(subject), subjectAltNames });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}.`, 'backup-key');
  }
  const keyPem = privateKey.export(passphrase ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase } : { type: 'pkcs8', format: 'pem' }) as string;
  writeOutputFiles([{ file: keyFile, data: keyPem, mode: 0o600 }, { file: csrFile, data: csr.pem, mode: 0o644 }], { force: values.force === true, command: 'backup-key' });
  const pin = publicKeyPin(privateKey);

  // Beside a private key sent to standard output, the pin goes to standard error: the two must not share a file.
  const keyOnStdout = leadsToStandardOutput(keyFile);
  const out = keyOnStdout ? process.stderr : process.stdout;
  if (values.json) out.write(`${JSON.stringify({ type, pin, keyFile, csrFile, encrypted: passphrase !== undefined }, null, 2)}\n`);
  else out.write(`${pin}\n`);
  const style = styleFor(process.stderr);
  process.stderr.write(
    [
      '',
      `${style.bold('Backup key')} ${type}: ${style.cyan(pin)}`,
      `  private key  ${keyOnStdout ? `standard output (${passphrase ? 'encrypted' : 'NOT encrypted'})` : `${keyFile} (mode 0600${passphrase ? ', encrypted' : ', NOT encrypted'})`}: move it offline (a vault, a safe); never deploy it until needed`,
      `  CSR          ${csrFile}: have it signed by your CA on the day you switch to this key`,
      ...(subjectAltNames.length
        ? [`               names ${subjectAltNames.join(', ')}`]
        : [style.yellow(`  The CSR names no host, and CAs take names from its subjectAltName: run again with the host (certpin backup-key api.example.com),`), style.yellow(`  or make a CSR for this key later: openssl req -new -key ${keyOnStdout ? 'KEY.pem' : keyFile} -subj /CN=HOST -addext subjectAltName=DNS:HOST`)]),
      '  Next: add the pin above to every pin set it should back up (replace the placeholder that `certpin init`',
      '  wrote), ship that, and run `certpin verify POLICY` in CI.',
      ...(type === 'ed25519' ? [style.yellow('  Note: public CAs do not issue certificates for Ed25519 keys; use it with your own CA only.')] : []),
      '',
    ].join('\n'),
  );
  return 0;
}

/**
 * The subject in the slash form that `createCertificateRequest` encodes in the order written: people type DNs the
 * way openssl prints them (`CN=…, O=…`, RDNs in encoding order), and a CSR that openssl then shows the other way
 * round reads as a mistake.
 */
function inWrittenOrder(subject: string): string {
  const text = subject.trim();
  if (text.startsWith('/')) return text;
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) current += ch + text[++i]!;
    else if (ch === ',') {
      parts.push(current);
      current = '';
    } else current += ch === '/' ? '\\/' : ch;
  }
  parts.push(current);
  return `/${parts.map((p) => p.trim()).filter(Boolean).join('/')}`;
}

/** The subject's CN as a subjectAltName when it is a host name or IP address (what CAs require there). */
function hostFromSubject(subject: string): string[] {
  const cn = /(?:^|[,/])\s*CN\s*=\s*([^,/]+)/i.exec(subject)?.[1]?.trim();
  return cn && (isIP(cn) !== 0 || /^(\*\.)?([A-Za-z0-9-]+\.)+[A-Za-z0-9-]+$/.test(cn)) ? [cn] : [];
}

function generate(type: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (type) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
    default:
      return generateKeyPairSync('rsa', { modulusLength: Number(type.slice(3)) });
  }
}

/** A Unicode host name (a wildcard's base included) in its ASCII form; unchanged when it is not a valid name. */
function asciiName(name: string): string {
  const wildcard = name.startsWith('*.');
  const ascii = domainToASCII(wildcard ? name.slice(2) : name);
  return ascii === '' ? name : wildcard ? `*.${ascii}` : ascii;
}
