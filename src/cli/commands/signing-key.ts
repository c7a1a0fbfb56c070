/**
 * `certpin signing-key`: a key pair for signing pin-set documents. The private key stays with whoever publishes pins
 * (a release pipeline, a vault); the public key, as a JWKS, is embedded in the application.
 * @module
 */
import { SIGNING_KEY_TYPES, createSigningKey } from '../signing-keys.js';
import type { SigningKeyType } from '../signing-keys.js';
import { styleFor } from '../style.js';
import { UsageError, parseCommandArgs } from '../usage.js';
import { leadsToStandardOutput } from '../files.js';

const TYPES = SIGNING_KEY_TYPES;
type KeyType = SigningKeyType;

/** `certpin signing-key --help`. */
export const help = `Usage: certpin signing-key [options]

Generates a key pair that signs pin-set documents (certpin sign). The private key is written as
PKCS#8 PEM with mode 0600; keep it where pins are published from, never in the application. The
public key is printed as a JWKS on stdout (and written with --out-jwks): embed it in the application
as DynamicPinPolicy's "keys".

To rotate the signing key later: make a new one, add its JWK to the application's JWKS next to the
old one and ship that; once the versions in use know both keys, sign with the new one.

Options:
  --type TYPE            ed25519 (default, EdDSA) or es256 (ECDSA P-256)
  --kid ID               the key id (default: the key's RFC 7638 thumbprint)
  --out-key FILE         private key file (default pinset-signing-key.pem)
  --out-jwks FILE        also write the public JWKS to FILE
  --passphrase-env VAR   encrypt the private key (AES-256) with the passphrase in environment variable VAR
  --force                replace existing files (never done otherwise)

Examples:
  certpin signing-key --out-key pins-2026.key --out-jwks certpin-keys.json
  certpin signing-key --type es256 --kid pins-2027 --out-key pins-2027.key`;

/** Runs `certpin signing-key`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('signing-key', argv, {
    type: { type: 'string' },
    kid: { type: 'string' },
    'out-key': { type: 'string' },
    'out-jwks': { type: 'string' },
    'passphrase-env': { type: 'string' },
    force: { type: 'boolean' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"; signing-key takes only options.`, 'signing-key');
  const type = (values.type ?? 'ed25519').toLowerCase() as KeyType;
  if (!TYPES.includes(type)) throw new UsageError(`--type must be ed25519 or es256; got "${values.type}".`, 'signing-key');
  if (values.kid !== undefined && values.kid.trim() === '') throw new UsageError('--kid may not be empty.', 'signing-key');
  const keyFile = values['out-key'] ?? 'pinset-signing-key.pem';
  const jwksFile = values['out-jwks'];
  if (jwksFile === keyFile) throw new UsageError('--out-key and --out-jwks must be different files.', 'signing-key');
  let passphrase: string | undefined;
  if (values['passphrase-env'] !== undefined) {
    passphrase = process.env[values['passphrase-env']];
    if (!passphrase) throw new UsageError(`the environment variable ${values['passphrase-env']} (--passphrase-env) is not set or empty.`, 'signing-key');
  }
  const { kid, jwks } = createSigningKey({ type, kid: values.kid, keyFile, jwksFile, passphrase, force: values.force === true, command: 'signing-key' });
  // Beside a private key sent to standard output, the JWKS goes to standard error: the two must not share a file.
  (leadsToStandardOutput(keyFile) ? process.stderr : process.stdout).write(jwks);

  const style = styleFor(process.stderr);
  process.stderr.write(
    [
      '',
      `${style.bold('Signing key')} ${type === 'ed25519' ? 'Ed25519 (EdDSA)' : 'P-256 (ES256)'}, kid ${style.cyan(kid)}`,
      `  private key  ${keyFile} (mode 0600${passphrase ? ', encrypted' : ', NOT encrypted'}): keep it with your release tooling, never in the app`,
      `  public JWKS  ${jwksFile ?? 'stdout (above)'}: embed it as DynamicPinPolicy({ keys })`,
      `  Next: certpin sign POLICY --key ${keyFile} --aud YOUR.APP.ID --out pins.jws`,
      '',
    ].join('\n'),
  );
  return 0;
}
