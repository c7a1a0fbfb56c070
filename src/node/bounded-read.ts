/**
 * Reading a file or standard input with a size limit. Certificates, keys, policies and pin-set documents are small;
 * an input that is not (`/dev/zero`, a FIFO that never closes, a disk image given by mistake) must end in an error
 * that names it, not in a process that hangs while its memory grows.
 * @module
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The most certpin reads from one input: 8 MiB, forty times a full public CA bundle. */
export const INPUT_LIMIT_BYTES = 8 * 1024 * 1024;

/** Thrown by {@link readBoundedSync} when the input holds more than the limit. */
export class InputTooLargeError extends Error {
  /** A stable code, as Node's own file errors carry. */
  readonly code = 'ERR_CERTPIN_INPUT_TOO_LARGE';

  constructor(readonly limit: number) {
    super(`it holds more than ${limit / (1024 * 1024)} MiB, more than any certificate bundle, key or policy`);
    this.name = 'InputTooLargeError';
  }
}

/**
 * Reads a whole file (a path, or `0` for standard input) of at most `limit` bytes. Reads one byte beyond the limit
 * to tell a file of exactly `limit` bytes from a longer one, and stops there.
 * @throws {InputTooLargeError} past the limit; Node's own errors (ENOENT, EISDIR, EACCES…) otherwise.
 */
export function readBoundedSync(file: string | 0, limit = INPUT_LIMIT_BYTES): Buffer {
  const fd = file === 0 ? 0 : openSync(file, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read`), { code: 'EISDIR' });
    if (stat.isFile() && stat.size > limit) throw new InputTooLargeError(limit);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, limit + 1 - total));
      let read: number;
      try {
        read = readSync(fd, chunk, 0, chunk.length, null);
      } catch (error) {
        // A non-blocking standard input (a pipe set so by the parent) has no data yet: wait for it as readFileSync does.
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
          continue;
        }
        // A closed or absent standard input reads as empty, as readFileSync(0) reads it.
        if (file === 0 && (error as NodeJS.ErrnoException).code === 'EOF') break;
        throw error;
      }
      if (read === 0) break;
      chunks.push(read === chunk.length ? chunk : chunk.subarray(0, read));
      total += read;
      if (total > limit) throw new InputTooLargeError(limit);
    }
    return Buffer.concat(chunks, total);
  } finally {
    if (file !== 0) closeSync(fd);
  }
}
