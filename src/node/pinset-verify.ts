/**
 * Verifying a signed pin-set document: the header checked before any signature work, the key chosen by `kid` from the
 * application's JWKS and bound to its one algorithm, the signature verified by jose (loaded on first use, so that
 * `import 'certpin'` does not pay for it), then the claims read from the payload jose verified.
 * @module
 */
import type { CompactVerifyResult } from 'jose';
import { readPinSetClaims, splitPinSetJws } from '../core/pinset-document.js';
import type { PinSetDocument, PinSetExpectations } from '../core/pinset-document.js';
import type { PinSetKey } from '../core/pinset-keys.js';
import { PinSetDocumentError } from '../errors.js';

/** A verified document: its claims, the compact text it came in, and the key that signed it. */
export interface VerifiedPinSetDocument extends PinSetDocument {
  readonly compact: string;
  readonly kid: string;
}

type Jose = typeof import('jose');
let jose: Promise<Jose> | undefined;

/** jose is ESM-only and costs tens of milliseconds to load: loaded the first time a document is verified. */
function loadJose(): Promise<Jose> {
  jose ??= import('jose');
  return jose;
}

/**
 * Verifies a compact JWS against the application's keys and expectations.
 * @throws {PinSetDocumentError} with the reason (`malformed`, `type`, `algorithm`, `unknown-key`, `signature`, the
 *   claim checks of `readPinSetClaims`, …).
 */
export async function verifyPinSetDocument(
  text: unknown,
  keys: ReadonlyMap<string, PinSetKey>,
  expect: PinSetExpectations & { readonly maxBytes?: number | undefined },
): Promise<VerifiedPinSetDocument> {
  const jws = splitPinSetJws(text, expect.maxBytes);
  const entry = keys.get(jws.header.kid);
  if (!entry) {
    throw new PinSetDocumentError('unknown-key', `"kid" ${JSON.stringify(jws.header.kid)} is not a key of the application (known: ${[...keys.keys()].join(', ')})`);
  }
  if (entry.alg !== jws.header.alg) {
    throw new PinSetDocumentError('algorithm', `"alg" is ${jws.header.alg}, but the key ${JSON.stringify(entry.kid)} signs with ${entry.alg}`);
  }
  const { compactVerify } = await loadJose();
  let verified: CompactVerifyResult;
  try {
    // The algorithm list holds the key's one algorithm: jose refuses any other before touching the key.
    verified = await compactVerify(jws.compact, entry.key, { algorithms: [entry.alg] });
  } catch (error) {
    throw joseRefusal(error);
  }
  // The claims are read from the payload jose verified, not from an earlier decoding.
  return { ...readPinSetClaims(Buffer.from(verified.payload), expect), compact: jws.compact, kid: entry.kid };
}

function joseRefusal(error: unknown): PinSetDocumentError {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return new PinSetDocumentError('signature', 'the signature does not verify with the key its "kid" names: the document was altered or signed with another key', { cause: error });
  if (code === 'ERR_JOSE_ALG_NOT_ALLOWED' || code === 'ERR_JOSE_NOT_SUPPORTED') return new PinSetDocumentError('algorithm', message, { cause: error });
  if (code === 'ERR_JWS_INVALID') return new PinSetDocumentError('malformed', message, { cause: error });
  return new PinSetDocumentError('signature', `the signature could not be verified (${message})`, { cause: error });
}
