/**
 * Policies from files and the environment, so that pins stay out of code and development and production pins never
 * mix: the JSON format `certpin init` writes (schema in `certpin/schema.json`), with certificate paths resolved next
 * to the file.
 * @module
 */
import { readBoundedSync } from './bounded-read.js';
import path from 'node:path';
import { duplicateJsonKey, duplicateKeyMessage } from '../core/json.js';
import { policyFromDocument } from '../core/policy-document.js';
import type { PolicyDocumentOptions } from '../core/policy-document.js';
import type { PinPolicy } from '../core/policy.js';
import { PolicyError } from '../errors.js';

/** Options of {@link loadPolicy} and {@link loadPolicyFromEnv}. */
export type LoadPolicyOptions = Pick<PolicyDocumentOptions, 'onReport' | 'onWarning' | 'now'>;

/**
 * Reads a policy file (JSON). Errors name the file, the field and what to fix.
 * @example
 * ```ts
 * import { loadPolicy, pinnedAgent } from 'certpin';
 * const agent = pinnedAgent(loadPolicy('certpin.json'));
 * ```
 * @throws {PolicyError}
 */
export function loadPolicy(file: string, options: LoadPolicyOptions = {}): PinPolicy {
  let text: string;
  try {
    text = readBoundedSync(file).toString('utf8');
  } catch (error) {
    throw new PolicyError(file, `cannot read the policy file: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message}`, { cause: error });
  }
  return policyFromText(text, file, options, path.dirname(path.resolve(file)));
}

/**
 * Reads a policy from an environment variable holding JSON or the path of a JSON file. Returns `undefined` when the
 * variable is not set.
 * @throws {PolicyError}
 */
export function loadPolicyFromEnv(variable = 'CERTPIN_POLICY', options: LoadPolicyOptions = {}): PinPolicy | undefined {
  const value = process.env[variable];
  if (value === undefined || value.trim() === '') return undefined;
  if (value.trim().startsWith('{')) return policyFromText(value, `$${variable}`, options, process.cwd());
  return loadPolicy(value.trim(), options);
}

/** Options of {@link policyFromJson}. */
export interface PolicyFromJsonOptions extends LoadPolicyOptions {
  /** Names the policy in errors and reports. Default `json`. */
  source?: string;
  /** Directory that certificate paths in the document are relative to. Default: the current directory. */
  baseDir?: string;
}

/**
 * A policy from an already parsed JSON document (the format of policy files), for policies kept in a configuration
 * service or assembled by a build step. Certificate paths it names are read relative to `baseDir`.
 * @throws {PolicyError} naming the source and the field to fix.
 */
export function policyFromJson(json: unknown, options: PolicyFromJsonOptions = {}): PinPolicy {
  return policyFromJsonNotingFiles(json, options, () => {});
}

/** {@link policyFromJson}, telling `onRead` the resolved path of each file the document names (the CLI never writes over them). */
export function policyFromJsonNotingFiles(json: unknown, options: PolicyFromJsonOptions, onRead: (file: string) => void): PinPolicy {
  const { source = 'json', baseDir = process.cwd(), ...rest } = options;
  const readFile = (file: string): Buffer => {
    const resolved = path.resolve(baseDir, file);
    onRead(resolved);
    return readBoundedSync(resolved);
  };
  try {
    return policyFromDocument(json, { ...rest, source, readFile });
  } catch (error) {
    if (options.source !== undefined && error instanceof PolicyError && !error.path.startsWith(source)) {
      throw new PolicyError(`${source}: ${error.path}`, error.message.replace(/^Invalid pin policy at [^:]*: /, ''), { cause: error });
    }
    throw error;
  }
}

function policyFromText(text: string, source: string, options: LoadPolicyOptions, baseDir: string): PinPolicy {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PolicyError(source, `not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const duplicate = duplicateJsonKey(text);
  if (duplicate !== undefined) throw new PolicyError(source, duplicateKeyMessage(duplicate));
  return policyFromJson(json, { ...options, source, baseDir });
}
