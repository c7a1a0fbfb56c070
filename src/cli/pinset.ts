/**
 * Signed pin-set documents in the CLI: recognising one, showing its header and claims, and judging it exactly as an
 * application would (a `DynamicPinPolicy` offered the document), for `inspect` and `verify`.
 * @module
 */
import { DynamicPinPolicy, PinPolicy } from '../index.js';
import type { PinSetKeySet, PolicyUpdateMessage } from '../index.js';
import { readInputFile } from './files.js';
import { UsageError } from './usage.js';

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Whether a file's text is a compact JWS (a signed pin-set document) rather than a certificate or a policy. */
export function isSignedDocument(text: string): boolean {
  return COMPACT_JWS.test(text.trim());
}

/** A document's protected header and claims, decoded without verifying anything (for display). */
export interface DecodedDocument {
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
}

/**
 * Decodes a compact JWS for display. Nothing here is trusted: the judgement is {@link judgeDocument}'s.
 * @throws {UsageError} when the parts are not base64url JSON objects.
 */
export function decodeDocument(text: string, what: string, command: string): DecodedDocument {
  const [header, payload] = text.trim().split('.');
  const part = (encoded: string | undefined, name: string): Record<string, unknown> => {
    try {
      const value: unknown = JSON.parse(Buffer.from(encoded ?? '', 'base64url').toString('utf8'));
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // reported below
    }
    throw new UsageError(`${what} looks like a signed document, but its ${name} is not a base64url JSON object.`, command);
  };
  return { header: part(header, 'header'), claims: part(payload, 'payload') };
}

/** What an application would make of a document. */
export interface DocumentJudgement {
  readonly event: PolicyUpdateMessage;
  /** The policy in force once the document is applied (the bootstrap when it was refused). */
  readonly policy: PinPolicy;
}

/** Reads a JWKS file (the keys an application embeds). */
export function readKeySet(file: string, command: string): PinSetKeySet {
  const text = readInputFile(file, command).toString('utf8');
  try {
    return JSON.parse(text) as PinSetKeySet;
  } catch (error) {
    throw new UsageError(`${file} is not JSON (${(error as Error).message}); give the JWKS that certpin signing-key wrote (--out-jwks).`, command);
  }
}

/**
 * Offers `text` to a dynamic policy built on `bootstrap`, as an application would receive it, and says what happened.
 * No network, no timers, no cache file.
 */
export async function judgeDocument(text: string, options: { bootstrap?: PinPolicy; keys: PinSetKeySet; audience: string; issuer?: string }): Promise<DocumentJudgement> {
  const bootstrap = options.bootstrap ?? new PinPolicy({ hosts: {}, onWarning: () => {} });
  const dynamic = new DynamicPinPolicy({
    bootstrap,
    keys: options.keys,
    audience: options.audience,
    ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
    document: () => Promise.resolve(text),
    autoRefresh: false,
  });
  try {
    const event = await dynamic.offer(text.trim());
    return { event, policy: dynamic.current() };
  } finally {
    dynamic.close();
  }
}
