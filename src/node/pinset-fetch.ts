/**
 * Fetching a signed pin-set document over https with ordinary TLS validation (the system roots, plus any CAs the
 * application names for the document's host). Not pinned on purpose: the document's authenticity comes from its
 * signature, so it may be served by any CDN or object store, and pinning its host to the very pins the document
 * rotates would lock a client out of the fix it needs. TLS here only keeps the document private and costs an
 * attacker a certificate; one who has it can serve old or broken documents, which are refused.
 * @module
 */
import { nodeHttps } from '../builtins.js';
import { CERTPIN_VERSION } from '../version.js';
import { systemTrustStore } from './trust-store.js';

/** How a document is fetched. */
export interface PinSetFetchOptions {
  /** Extra trust anchors (PEM) for the document's host, besides the system roots. */
  readonly ca: readonly string[];
  /** Milliseconds for the whole request, redirects included. */
  readonly timeout: number;
  /** Largest body accepted, in bytes. */
  readonly maxBytes: number;
  /** A refresh nobody awaits: its socket and timer do not keep the process alive. */
  readonly background: boolean;
}

const MAX_REDIRECTS = 3;

/**
 * GETs the document at `url` (https only, also after a redirect, at most 3 redirects) and resolves to its text.
 * @throws an `Error` saying what went wrong (status, size, timeout, network error).
 */
export function fetchPinSetDocument(url: URL, options: PinSetFetchOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    // Node's default store, the one a connection without `ca` trusts, plus the document's own anchors. Read before
    // the deadline starts: a store certpin refuses to read rejects at once.
    const ca = options.ca.length ? [...systemTrustStore().pems(), ...options.ca] : undefined;
    let request: import('node:http').ClientRequest | undefined;
    let settled = false;
    const finish = (error: Error | undefined, text?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (error) {
        request?.destroy();
        reject(error);
      } else resolve(text!);
    };
    const deadline = setTimeout(() => finish(new Error(`no complete answer from ${url.origin} within ${options.timeout} ms`)), options.timeout);
    if (options.background) deadline.unref();

    const get = (target: URL, redirects: number) => {
      if (target.protocol !== 'https:') {
        finish(new Error(`a redirect to ${target.href}, which is not https: the document is fetched over https only`));
        return;
      }
      request = nodeHttps().get(
        target,
        {
          agent: false,
          // Explicit: NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment would otherwise turn validation off.
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          ...(ca ? { ca } : {}),
          headers: { accept: 'application/jose, text/plain;q=0.5', 'user-agent': `certpin/${CERTPIN_VERSION}` },
        },
        (response) => {
          const status = response.statusCode ?? 0;
          if (status >= 300 && status < 400 && response.headers.location) {
            response.resume();
            if (redirects >= MAX_REDIRECTS) finish(new Error(`more than ${MAX_REDIRECTS} redirects from ${url.href}`));
            else get(new URL(response.headers.location, target), redirects + 1);
            return;
          }
          if (status !== 200) {
            response.resume();
            finish(new Error(`HTTP ${status}${target.href === url.href ? '' : ` from ${target.href}`}`));
            return;
          }
          const declared = Number(response.headers['content-length']);
          if (Number.isFinite(declared) && declared > options.maxBytes) {
            finish(new Error(`the document is ${declared} bytes, more than ${options.maxBytes} bytes (maxDocumentBytes)`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > options.maxBytes) finish(new Error(`the document is more than ${options.maxBytes} bytes (maxDocumentBytes)`));
            else chunks.push(chunk);
          });
          response.on('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8')));
          response.on('error', (error) => finish(error));
        },
      );
      if (options.background) request.on('socket', (socket) => socket.unref());
      request.on('error', (error) => finish(error));
    };
    get(url, 0);
  });
}
