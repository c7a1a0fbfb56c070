/**
 * Loading a policy file for `check` and `verify`, with `--ca` files added to the policy's own `ca`, and for
 * `verify --production` without its development overrides (what production clients load).
 * @module
 */
import path from 'node:path';
import { duplicateJsonKey, duplicateKeyMessage } from '../core/json.js';
import { errors } from '../index.js';
import { policyFromJsonNotingFiles } from '../node/policy-file.js';
import type { PinPolicy, PolicyWarning } from '../index.js';
import { readInputFile } from './files.js';

/** A policy file as read: the policy, and whether the file carries `developmentOverrides`. */
export interface PolicyFile {
  readonly policy: PinPolicy;
  readonly developmentOverrides: boolean;
  /** The file itself and every file it names (`ca`, `clientCertificate`, `developmentOverrides.ca`), resolved. */
  readonly files: readonly string[];
}

/**
 * Reads a policy file as `loadPolicy` does; `--ca` files, if any, are added to its `ca` list. With
 * `withoutDevelopmentOverrides`, the file's `developmentOverrides` are left out (and reported as present), so the
 * policy is the one a production process gets (where `NODE_ENV=production` refuses them).
 * @throws {PolicyError} naming the file and the entry to fix; {@link UsageError} when the file cannot be read.
 */
export function readPolicyFile(file: string, caFiles: readonly string[] | undefined, command: string, onWarning: (w: PolicyWarning) => void, options: { withoutDevelopmentOverrides?: boolean } = {}): PolicyFile {
  const text = readInputFile(file, command).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new errors.PolicyError(file, `not valid JSON (${(error as Error).message})`);
  }
  const duplicate = duplicateJsonKey(text);
  if (duplicate !== undefined) throw new errors.PolicyError(file, duplicateKeyMessage(duplicate));
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new errors.PolicyError(file, 'a policy file holds a JSON object with a "hosts" map');
  const { developmentOverrides, ...rest } = json as Record<string, unknown>;
  const present = Object.hasOwn(json, 'developmentOverrides');
  const document: Record<string, unknown> = options.withoutDevelopmentOverrides || !present ? rest : { ...rest, developmentOverrides };
  if (caFiles?.length) {
    const own = document.ca;
    document.ca = [...(own === undefined ? [] : Array.isArray(own) ? own : [own]), ...caFiles.map((f) => path.resolve(f))];
  }
  const baseDir = path.dirname(path.resolve(file));
  const files = [path.resolve(file)];
  // Left out for --production, the development CA files are still the user's files, never a command's output.
  const overrideCa = (developmentOverrides as { ca?: unknown } | null | undefined)?.ca;
  if (!Object.hasOwn(document, 'developmentOverrides')) for (const named of [overrideCa].flat()) if (typeof named === 'string' && named !== '') files.push(path.resolve(baseDir, named));
  const policy = policyFromJsonNotingFiles(document, { source: file, baseDir, onWarning }, (named) => files.push(named));
  return { policy, developmentOverrides: present, files };
}

/** {@link readPolicyFile}'s policy, development overrides included. */
export function loadPolicyFile(file: string, caFiles: readonly string[] | undefined, command: string, onWarning: (w: PolicyWarning) => void): PinPolicy {
  return readPolicyFile(file, caFiles, command, onWarning).policy;
}
