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
 * written beside a newer floor. Processes that write at the same moment may still leave the lower of their two
 * documents (there is no lock); a restart never uses a document below the floor recorded beside it.
 * @throws the file system's error when the file cannot be written.
 */
export async function writePinSetCache(file: string, contents: { readonly jws: string; readonly floor: SequenceFloor }, maxBytes: number): Promise<void> {
  const onDisk = await readPinSetCache(file, maxBytes);
  if (onDisk.floor && onDisk.floor.sequence > contents.floor.sequence) return;
  const floor = contents.floor;
  const data = `${JSON.stringify({ format: FORMAT, version: 1, jws: contents.jws, highestSeq: floor.sequence, ...(floor.digest ? { highestDigest: floor.digest } : {}) }, null, 2)}\n`;
  const directory = path.dirname(path.resolve(file));
  const fs = nodeFsPromises();
  await fs.mkdir(directory, { recursive: true, mode: 0o700 });
  // Same directory: rename() is atomic only within one file system.
  const temporary = path.join(directory, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}
