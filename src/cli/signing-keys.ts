/**
 * Making a pin-set signing key pair: the private key written with mode 0600 (never over an existing file without
 * `force`), the public key as the JWKS an application embeds. `certpin signing-key` and `certpin init --signing-key`
 * both use it.
 * @module
 */
import { generateKeyPairSync } from 'node:crypto';
import { pinSetPublicJwk } from '../tools/index.js';
import { writeOutputFiles } from './files.js';
import type { OutputFile } from './files.js';

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

/**
 * Generates a signing key pair and writes the private key (and the JWKS when `jwksFile` is given), together with
 * `alongside` (the policy `init` writes): all are checked before any is written.
 */
export function createSigningKey(options: { type: SigningKeyType; kid?: string | undefined; keyFile: string; jwksFile?: string | undefined; passphrase?: string | undefined; force: boolean; command: string; alongside?: readonly OutputFile[]; neverReplaces?: { readonly key: string; readonly jwks: string }; inputs?: readonly string[] }): SigningKey {
  const { privateKey, publicKey } = options.type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = pinSetPublicJwk(publicKey, options.kid);
  const jwks = `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`;
  const passphrase = options.passphrase;
  const keyPem = privateKey.export(passphrase ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase } : { type: 'pkcs8', format: 'pem' }) as string;
  writeOutputFiles(
    [
      ...(options.alongside ?? []),
      { file: options.keyFile, data: keyPem, mode: 0o600, neverReplaces: options.neverReplaces?.key },
      ...(options.jwksFile ? [{ file: options.jwksFile, data: jwks, mode: 0o644, neverReplaces: options.neverReplaces?.jwks }] : []),
    ],
    { force: options.force, command: options.command, inputs: options.inputs },
  );
  return { kid: jwk.kid, jwks };
}
