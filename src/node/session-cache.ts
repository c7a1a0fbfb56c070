/**
 * TLS sessions a pinned connection may resume. Node skips `checkServerIdentity` on a resumed session, so only a
 * session whose full handshake passed the pin check (and the caller's own identity check, when there is one) is
 * kept, per policy, per set of names and per caller check; and it is never offered past the lifetime its full
 * handshake earned: a few minutes, the certificates' validity and the pin sets' expiry, whichever ends first. A
 * resumed handshake's new ticket inherits that limit instead of starting a fresh one.
 * @module
 */
import type tls from 'node:tls';
import type { PinPolicy } from '../core/policy.js';

/** How long a checked session may be offered at most. */
export const SESSION_LIFETIME_MS = 5 * 60_000;
const DECLINES_BEFORE_PAUSE = 2;
const CACHE_LIMIT = 256;

/**
 * A checked session to offer, or (`session` undefined) a note that the server keeps declining the sessions it
 * issues: such a server would otherwise be offered one, and the client pay for a PSK it ignores, on every handshake.
 * One decline is forgiven (a restarted server has new ticket keys); {@link DECLINES_BEFORE_PAUSE} in a row are not.
 */
interface Entry {
  readonly session: Buffer | undefined;
  /** Wall-clock time after which the entry is never offered. */
  readonly until: number;
  readonly declines: number;
}

const caches = new WeakMap<PinPolicy, Map<string, Entry>>();
const checkIds = new WeakMap<object, number>();
let nextCheckId = 1;

/** A stable number for a caller's `checkServerIdentity` function: sessions it checked are kept apart. */
export function callerCheckId(check: unknown): number {
  if (typeof check !== 'function') return 0;
  let id = checkIds.get(check);
  if (id === undefined) {
    id = nextCheckId++;
    checkIds.set(check, id);
  }
  return id;
}

/** The session cache of one policy and one connection key. */
export interface SessionSlot {
  /** The session to offer, if one is cached and still within its lifetime. */
  readonly offer: Buffer | undefined;
  /**
   * Watches a socket: once its handshake completes (full and checked, or resumed from {@link SessionSlot.offer}),
   * caches the session it receives with its limit.
   * @param checkedUntil the limit the full handshake earned, read when the session arrives; undefined for a resumed one.
   */
  watch(socket: tls.TLSSocket, checkedUntil: () => number | undefined): void;
}

/** The cache slot of `key` under `policy`. Lifetimes follow the wall clock, never the policy's (test) clock. */
export function sessionSlot(policy: PinPolicy, key: string, resume: boolean): SessionSlot {
  let cache = caches.get(policy);
  if (!cache) caches.set(policy, (cache = new Map()));
  const entries = cache;
  const current = entries.get(key);
  if (current && current.until <= Date.now()) entries.delete(key);
  const live = current !== undefined && current.until > Date.now();
  const offered = resume && live ? current.session : undefined;
  // A server that keeps declining gets no session offered; its new ones are not even asked for, because a `session`
  // listener makes Node have OpenSSL serialise every ticket the server sends (tens of µs per handshake).
  const paused = live && current.session === undefined;
  return {
    offer: offered,
    watch(socket, checkedUntil) {
      if (paused) return;
      let established = false;
      socket.once('secureConnect', () => {
        established = true;
        const entry = entries.get(key);
        if (!offered || !entry?.session) return;
        const declines = socket.isSessionReused() ? 0 : entry.declines + 1;
        entries.set(key, declines >= DECLINES_BEFORE_PAUSE ? { session: undefined, until: Date.now() + SESSION_LIFETIME_MS, declines } : { ...entry, declines });
      });
      socket.on('session', (session: Buffer) => {
        // Node 20 to 24 emit `session` after `secureConnect` and never for a refused handshake; the guard keeps that
        // true whatever a future version does.
        if (!established) return;
        const entry = entries.get(key);
        // Paused by a decline on another connection since this one started.
        if (entry && entry.session === undefined && entry.until > Date.now()) return;
        // A resumed handshake's ticket inherits the limit of the session it resumed; a full one earned its own.
        const until = socket.isSessionReused() ? entry?.until : checkedUntil();
        if (until === undefined || until <= Date.now()) return;
        if (entries.size >= CACHE_LIMIT && !entries.has(key)) entries.delete(entries.keys().next().value!);
        entries.set(key, { session, until, declines: entry?.declines ?? 0 });
      });
    },
  };
}
