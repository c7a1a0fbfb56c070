/**
 * Loading a policy file for `check` and `verify`, with `--ca` files added to the policy's own `ca`.
 * @module
 */
import path from 'node:path';
import { errors, loadPolicy, policyFromJson } from '../index.js';
import type { PinPolicy, PolicyWarning } from '../index.js';
import { readInputFile } from './files.js';

/**
 * Reads a policy file as `loadPolicy` does; `--ca` files, if any, are added to its `ca` list.
 * @throws {PolicyError} naming the file and the entry to fix.
 */
export function loadPolicyFile(file: string, caFiles: readonly string[] | undefined, command: string, onWarning: (w: PolicyWarning) => void): PinPolicy {
  if (!caFiles?.length) return loadPolicy(file, { onWarning });
  const text = readInputFile(file, command).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new errors.PolicyError(file, `not valid JSON (${(error as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new errors.PolicyError(file, 'a policy file holds a JSON object with a "hosts" map');
  const own = (json as { ca?: unknown }).ca;
  const ca = [...(own === undefined ? [] : Array.isArray(own) ? own : [own]), ...caFiles.map((f) => path.resolve(f))];
  return policyFromJson({ ...json, ca }, { source: file, baseDir: path.dirname(path.resolve(file)), onWarning });
}
