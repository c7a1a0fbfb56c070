/**
 * Making a pin-set signing key pair: the private key written with mode 0600 (never over an existing file without
 * `force`), the public key as the JWKS an application embeds. `certpin signing-key` and `certpin init --signing-key`
 * both use it.
 * @module
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { pinSetPublicJwk } from '../tools/index.js';
import { writeOutputFile } from './files.js';
import { UsageError } from './usage.js';

/** Key types for signing pin-set documents. */
export const SIGNING_KEY_TYPES = ['ed25519', 'es256'] as const;
/** One of {@link SIGNING_KEY_TYPES}. */
export type SigningKeyType = (typeof SIGNING_KEY_TYPES)[number];

/** What was made. */
export interface SigningKey {
  readonly kid: string;
  /** The public JWKS, as JSON text. */
  readonly jwks: string;
}

/** Generates a signing key pair and writes the private key (and the JWKS when `jwksFile` is given). */
export function createSigningKey(options: { type: SigningKeyType; kid?: string | undefined; keyFile: string; jwksFile?: string | undefined; passphrase?: string | undefined; force: boolean; command: string }): SigningKey {
  if (!options.force) {
    for (const file of [options.keyFile, ...(options.jwksFile ? [options.jwksFile] : [])]) {
      if (existsSync(file)) throw new UsageError(`${file} already exists; a key is never overwritten without --force.`, options.command);
    }
  }
  const { privateKey, publicKey } = options.type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = pinSetPublicJwk(publicKey, options.kid);
  const jwks = `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`;
  const passphrase = options.passphrase;
  const keyPem = privateKey.export(passphrase ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase } : { type: 'pkcs8', format: 'pem' }) as string;
  writeOutputFile(options.keyFile, keyPem, { mode: 0o600, force: options.force, command: options.command });
  if (options.jwksFile) writeOutputFile(options.jwksFile, jwks, { mode: 0o644, force: options.force, command: options.command });
  return { kid: jwk.kid, jwks };
}
