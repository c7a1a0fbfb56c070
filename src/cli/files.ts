/**
 * Reading and writing the CLI's files, with errors that name the file and what to do.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { readBoundedSync } from '../node/bounded-read.js';
import { parseCertificates } from '../tools/index.js';
import { UsageError } from './usage.js';

/** Reads a file (at most 8 MiB), or throws a {@link UsageError} naming it. */
export function readInputFile(file: string, command?: string): Buffer {
  return readInput(file, file, command);
}

/** Reads standard input (at most 8 MiB), or throws a {@link UsageError}. */
export function readStandardInput(command?: string): Buffer {
  return readInput(0, 'standard input', command);
}

function readInput(file: string | 0, name: string, command: string | undefined): Buffer {
  try {
    return readBoundedSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new UsageError(`Cannot read ${name}: ${why}.`, command);
  }
}

/** Reads the certificates of `--ca` files (PEM bundles or DER). */
export function readCaFiles(files: readonly string[] | undefined, command: string): X509Certificate[] {
  return (files ?? []).flatMap((file) => parseCertificates(readInputFile(file, command), `The CA file ${file}`));
}

/**
 * Writes an output file. Refuses to replace an existing file unless `force`; `mode` applies to a new file and is
 * enforced on a replaced one too (a private key must never stay world-readable).
 */
export function writeOutputFile(file: string, data: string | Uint8Array, options: { force?: boolean; mode?: number; command?: string } = {}): void {
  const mode = options.mode ?? 0o644;
  try {
    writeFileSync(file, data, { mode, flag: options.force ? 'w' : 'wx' });
    if (options.force) chmodSync(file, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${file} already exists; choose another name, or pass --force to replace it.`, options.command);
    const why = code === 'ENOENT' ? 'its directory does not exist' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new UsageError(`Cannot write ${file}: ${why}.`, options.command);
  }
}
