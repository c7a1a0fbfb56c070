/**
 * The on-disk memory of a dynamic policy: the last good document (compact JWS) and the highest `seq` accepted with
 * its payload digest, so that a restart keeps both the pins and the anti-rollback floor. Written atomically (a
 * temporary file in the same directory, flushed, then renamed over the old one) with mode 0600. Nothing read back is
 * trusted: the document is verified again like any other, and the floor may only raise the one in memory (and, when
 * it is above the document's `seq`, puts the document out of force).
 * @module
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { nodeFsPromises } from '../builtins.js';
import { isSequence } from '../core/pinset-sequence.js';
import type { SequenceFloor } from '../core/pinset-sequence.js';

const FORMAT = 'certpin-pinset-cache';
const DIGEST = /^[0-9a-f]{64}$/;

/** What a cache file held, each part already checked for shape (not for authenticity). */
export interface PinSetCacheContents {
  /** The cached document, to verify before use. */
  readonly jws: string | undefined;
  /** The highest `seq` recorded, and its payload digest when recorded. */
  readonly floor: SequenceFloor | undefined;
  /** Why (part of) the file was ignored: unreadable, not JSON, a field of the wrong shape. */
  readonly problem: string | undefined;
}

/** Reads a cache file. Never throws: a missing file is empty, a damaged one is reported in `problem` and ignored. */
export async function readPinSetCache(file: string, maxBytes: number): Promise<PinSetCacheContents> {
  let text: string;
  try {
    const bytes = await nodeFsPromises().readFile(file);
    if (bytes.length > maxBytes + 4096) return { jws: undefined, floor: undefined, problem: `${file} is ${bytes.length} bytes, too large to be a cache file` };
    text = bytes.toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { jws: undefined, floor: undefined, problem: code === 'ENOENT' ? undefined : `${file} cannot be read (${(error as Error).message})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { jws: undefined, floor: undefined, problem: `${file} is not JSON` };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json) || (json as { format?: unknown }).format !== FORMAT) {
    return { jws: undefined, floor: undefined, problem: `${file} is not a certpin pin-set cache` };
  }
  const { jws, highestSeq, highestDigest } = json as Record<string, unknown>;
  const problems: string[] = [];
  if (jws !== undefined && typeof jws !== 'string') problems.push('"jws" is not text');
  if (highestSeq !== undefined && !isSequence(highestSeq)) problems.push('"highestSeq" is not a positive whole number');
  if (highestDigest !== undefined && (typeof highestDigest !== 'string' || !DIGEST.test(highestDigest))) problems.push('"highestDigest" is not a SHA-256 digest');
  return {
    jws: typeof jws === 'string' ? jws : undefined,
    floor: isSequence(highestSeq) ? { sequence: highestSeq, digest: typeof highestDigest === 'string' && DIGEST.test(highestDigest) ? highestDigest : undefined } : undefined,
    problem: problems.length ? `${file}: ${problems.join('; ')} (ignored)` : undefined,
  };
}

/**
 * Replaces the cache file atomically with `jws` and `floor`, unless the file records a higher floor (another process
 * of the same application accepted a newer document): then the file stays as it is, and an older document is never
 * written beside a newer floor. The comparison and the replacement happen under a lock file (`FILE.lock`, created
 * exclusively), so two processes that write at the same moment cannot leave the lower of their two documents.
 * @throws the file system's error when the file cannot be written, or when the lock stays held by a live process.
 */
export async function writePinSetCache(file: string, contents: { readonly jws: string; readonly floor: SequenceFloor }, maxBytes: number): Promise<void> {
  const directory = path.dirname(path.resolve(file));
  await nodeFsPromises().mkdir(directory, { recursive: true, mode: 0o700 });
  await withLock(`${path.resolve(file)}.lock`, () => replaceUnlessHigher(file, directory, contents, maxBytes));
}

async function replaceUnlessHigher(file: string, directory: string, contents: { readonly jws: string; readonly floor: SequenceFloor }, maxBytes: number): Promise<void> {
  const onDisk = await readPinSetCache(file, maxBytes);
  if (onDisk.floor && onDisk.floor.sequence > contents.floor.sequence) return;
  const floor = contents.floor;
  const data = `${JSON.stringify({ format: FORMAT, version: 1, jws: contents.jws, highestSeq: floor.sequence, ...(floor.digest ? { highestDigest: floor.digest } : {}) }, null, 2)}\n`;
  const fs = nodeFsPromises();
  // Same directory: rename() is atomic only within one file system.
  const temporary = path.join(directory, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    // A full disk must not fill up further with one leftover per refresh.
    await handle.close();
    await fs.rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

/** How long a writer waits for another's lock before giving up (the write is then reported, not lost silently). */
const LOCK_WAIT_MS = 5_000;
/** A lock older than this is a crashed writer's: a write takes milliseconds. */
const LOCK_STALE_MS = 30_000;

/**
 * Runs `work` while holding `lock`, a file created with O_EXCL that names its writer (host, pid, a random token). A
 * lock older than {@link LOCK_STALE_MS}, or whose writer on this host is gone, is taken over; only the waiter that
 * creates `LOCK.takeover` (also O_EXCL) may remove it, and only while it is still the stale one, so two waiters never
 * both take it over.
 */
async function withLock(lock: string, work: () => Promise<void>): Promise<void> {
  const fs = nodeFsPromises();
  const token = `${processSpace()} ${process.pid} ${randomBytes(8).toString('hex')}\n`;
  const takeover = `${lock}.takeover`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await fs.writeFile(lock, token, { flag: 'wx', mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        // Created but not written (a full disk): an empty lock names no one and would hold every writer off.
        if ((await lockHolder(lock))?.text === '') await fs.rm(lock, { force: true });
        throw error;
      }
    }
    const holder = await lockHolder(lock);
    if (holder?.stale && (await claim(takeover))) {
      try {
        if ((await lockHolder(lock))?.text === holder.text) await fs.rm(lock, { force: true });
      } finally {
        await fs.rm(takeover, { force: true });
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${lock} stayed held by another process for ${LOCK_WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
  }
  try {
    await work();
  } finally {
    if ((await lockHolder(lock))?.text === token) await fs.rm(lock, { force: true });
  }
}

/** Creates `file` exclusively; a leftover of a waiter that crashed while taking over is itself stale after a while. */
async function claim(file: string): Promise<boolean> {
  const fs = nodeFsPromises();
  try {
    await fs.writeFile(file, '', { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const stat = await fs.stat(file).catch(() => undefined);
    if (stat && Date.now() - stat.mtimeMs > LOCK_STALE_MS) await fs.rm(file, { force: true });
    return false;
  }
}

async function lockHolder(lock: string): Promise<{ text: string; stale: boolean } | undefined> {
  const fs = nodeFsPromises();
  try {
    const [text, stat] = await Promise.all([fs.readFile(lock, 'utf8'), fs.stat(lock)]);
    const [space, pidText] = text.split(' ');
    const pid = Number(pidText);
    // A pid means something only in the pid namespace of the host that wrote it: a lock from another container
    // sharing the volume (another namespace, whatever its host name) is judged by its age alone.
    const gone = space === processSpace() && Number.isInteger(pid) && pid > 0 && !processAlive(pid);
    // A lock that names no one (its writer stopped between creating and writing it) is stale after a second.
    const anonymous = !/^\S+ \d+ [0-9a-f]+\n$/.test(text) && Date.now() - stat.mtimeMs > 1000;
    return { text, stale: Date.now() - stat.mtimeMs > LOCK_STALE_MS || gone || anonymous };
  } catch {
    return undefined;
  }
}

let space: string | undefined;

/**
 * Where this process's pid means something: the host name and, on Linux, the pid namespace (two containers of one
 * pod can share both a host name and a volume). No spaces, so that it is one word of the lock's text.
 */
function processSpace(): string {
  if (space === undefined) {
    let namespace = '';
    try {
      namespace = process.getBuiltinModule('node:fs').readlinkSync('/proc/self/ns/pid');
    } catch {
      // Not Linux, or no /proc: the host name alone.
    }
    space = `${process.getBuiltinModule('node:os').hostname()}/${namespace}`.replace(/\s/g, '_');
  }
  return space;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, owned by another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
