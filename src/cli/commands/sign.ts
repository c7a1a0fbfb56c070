/**
 * `certpin sign`: a policy file's pin sets, signed into a pin-set document (compact JWS) that applications using
 * `DynamicPinPolicy` fetch from any static host.
 * @module
 */
import { errors } from '../../index.js';
import { signPinSetDocument } from '../../tools/index.js';
import { readInputFile, writeOutputFile } from '../files.js';
import { styleFor } from '../style.js';
import { UsageError, parseCommandArgs } from '../usage.js';

/** `certpin sign --help`. */
export const help = `Usage: certpin sign POLICY --key KEY.pem --aud APP [options]

Signs the pin sets of POLICY (a policy JSON file: hosts, defaultPins, onlyPinnedHosts, reportOnly,
reportUri) into a pin-set document, a compact JWS, for applications that use DynamicPinPolicy. Serve
it as a static file from any host: its authenticity comes from the signature.

Trust anchors (ca), client certificates and development overrides are refused: they stay in the
application. A document may replace pins, never unpin what the application pins itself.

Options:
  --key FILE             the signing key, PKCS#8 PEM (certpin signing-key makes one)
  --aud APP              the application the document is for (DynamicPinPolicy's audience); required
  --kid ID               the key id the application knows the key by (default: its RFC 7638 thumbprint)
  --seq N                sequence number, higher than every document published before (default: now, in seconds)
  --exp WHEN             expiry: 7d, 36h, or an ISO date/time (default 7d; at most 30d). After it, applications
                         fall back to their built-in pins, so publish a fresh document well before
  --iss NAME             issuer name, for applications that check one
  --out FILE             write the JWS to FILE instead of stdout
  --passphrase-env VAR   the key's passphrase is in environment variable VAR
  --force                replace an existing --out file

Examples:
  certpin sign pins.json --key pinset-signing-key.pem --aud com.example.app --out app.jws
  certpin sign pins.json --key k.pem --aud com.example.app --exp 2026-08-01 --seq 42`;

const DAY_MS = 86_400_000;

/** Runs `certpin sign`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('sign', argv, {
    key: { type: 'string' },
    kid: { type: 'string' },
    seq: { type: 'string' },
    exp: { type: 'string' },
    aud: { type: 'string' },
    iss: { type: 'string' },
    out: { type: 'string' },
    'passphrase-env': { type: 'string' },
    force: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `expected one policy file, got ${positionals.length}.` : 'name the policy file to sign: certpin sign POLICY --key KEY.pem --aud APP.', 'sign');
  const policyFile = positionals[0]!;
  if (!values.key) throw new UsageError('--key is required: the private signing key (certpin signing-key makes one).', 'sign');
  if (!values.aud) throw new UsageError('--aud is required: the application id the clients expect (DynamicPinPolicy\'s audience), e.g. --aud com.example.app.', 'sign');
  if (values.kid !== undefined && values.kid.trim() === '') throw new UsageError('--kid may not be empty.', 'sign');
  if (values.iss !== undefined && values.iss.trim() === '') throw new UsageError('--iss may not be empty.', 'sign');
  const now = new Date();
  const sequence = values.seq === undefined ? undefined : parseSequence(values.seq);
  const expires = parseExpiry(values.exp, now);
  let passphrase: string | undefined;
  if (values['passphrase-env'] !== undefined) {
    passphrase = process.env[values['passphrase-env']];
    if (!passphrase) throw new UsageError(`the environment variable ${values['passphrase-env']} (--passphrase-env) is not set or empty.`, 'sign');
  }

  let json: unknown;
  try {
    json = JSON.parse(readInputFile(policyFile, 'sign').toString('utf8'));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${policyFile} is not valid JSON (${(error as Error).message}).`, 'sign');
  }
  let signed;
  try {
    signed = await signPinSetDocument(json, {
      privateKey: readInputFile(values.key, 'sign'),
      ...(passphrase === undefined ? {} : { passphrase }),
      ...(values.kid === undefined ? {} : { keyId: values.kid }),
      audience: values.aud,
      ...(values.iss === undefined ? {} : { issuer: values.iss }),
      ...(sequence === undefined ? {} : { sequence }),
      issuedAt: now,
      expires,
    });
  } catch (error) {
    if (error instanceof errors.PolicyError) {
      const where = ['privateKey', 'keyId', 'audience', 'sequence', 'expires'].includes(error.path) ? '' : ` in ${policyFile}`;
      throw new UsageError(`cannot sign${where}: ${error.message.replace(/^Invalid pin policy at /, '')}`, 'sign');
    }
    throw error;
  }

  if (values.out) writeOutputFile(values.out, `${signed.jws}\n`, { force: values.force === true, command: 'sign', inputs: [policyFile, values.key] });
  else process.stdout.write(`${signed.jws}\n`);
  const style = styleFor(process.stderr);
  for (const warning of signed.warnings) process.stderr.write(`${style.yellow('warning:')} ${warning.message}\n`);
  process.stderr.write(
    [
      '',
      `${style.bold('Signed')} ${policyFile} → ${values.out ?? 'stdout'}`,
      `  seq ${signed.sequence}, ${signed.algorithm} key ${style.cyan(signed.keyId)}, for ${values.aud}`,
      `  valid ${signed.issuedAt.toISOString()} … ${signed.expires.toISOString()}; publish a newer one before it expires`,
      '',
    ].join('\n'),
  );
  return 0;
}

function parseSequence(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--seq expects a positive whole number (at most 2^53 - 1), got "${text}".`, 'sign');
  }
  return n;
}

/** `7d`, `36h`, `2026-08-01` (end of that day, UTC) or a full ISO timestamp with a zone. */
function parseExpiry(text: string | undefined, now: Date): Date {
  if (text === undefined) return new Date(now.getTime() + 7 * DAY_MS);
  const relative = /^(\d+)\s*([dh])$/i.exec(text.trim());
  let date: Date;
  if (relative) {
    date = new Date(now.getTime() + Number(relative[1]) * (relative[2]!.toLowerCase() === 'd' ? DAY_MS : DAY_MS / 24));
  } else if (/^\d{4}-\d{2}-\d{2}$/.test(text.trim())) {
    date = new Date(Date.parse(`${text.trim()}T00:00:00Z`) + DAY_MS);
  } else if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(text.trim())) {
    date = new Date(text.trim());
  } else {
    throw new UsageError(`--exp expects 7d, 36h, 2026-08-01 or 2026-08-01T12:00:00Z; got "${text}".`, 'sign');
  }
  if (Number.isNaN(date.getTime())) throw new UsageError(`--exp "${text}" is not a valid date.`, 'sign');
  if (date.getTime() <= now.getTime()) throw new UsageError(`--exp "${text}" is not in the future.`, 'sign');
  if (date.getTime() - now.getTime() > 30 * DAY_MS) throw new UsageError(`--exp "${text}" is more than 30 days away; applications refuse documents valid longer than 30 days.`, 'sign');
  return date;
}
