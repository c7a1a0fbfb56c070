/**
 * The JSON policy format (what `certpin init` writes, `certpin/schema.json` describes, and a signed pin-set
 * document carries): validated field by field, unknown fields refused, so that a typo never weakens a policy.
 * Certificate files named in it are read through a function the caller gives, so this module does no I/O.
 * @module
 */
import { PolicyError } from '../errors.js';
import { PinPolicy } from './policy.js';
import type { HostPinsOptions, PinPolicyOptions, PinSetOptions } from './policy.js';

/** How {@link policyFromDocument} reads the certificate and key files a document names. */
export interface DocumentFileReader {
  /** Returns the bytes of `file` (a path as written in the document); throws with a plain reason when it cannot. */
  (file: string): Buffer;
}

/** Options of {@link policyFromDocument}. */
export interface PolicyDocumentOptions extends Pick<PinPolicyOptions, 'onReport' | 'onWarning' | 'now'> {
  /** Names the policy in errors and reports. Default `json`. */
  source?: string;
  /** Reads the files named by `ca`, `clientCertificate` and `developmentOverrides.ca`. Without it, naming a file is an error. */
  readFile?: DocumentFileReader;
  /** Read `clientCertificate.passphraseEnv` from here. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

const PIN_SET_FIELDS = ['hosts', 'defaultPins', 'onlyPinnedHosts', 'reportOnly', 'reportUri'] as const;
const TOP_FIELDS = [...PIN_SET_FIELDS, 'requireBackupPin', 'trustSystemRoots', 'minVersion', 'ca', 'clientCertificate', 'developmentOverrides'] as const;
const HOST_FIELDS = ['pins', 'includeSubdomains', 'expires', 'reportOnly', 'reportUri'] as const;
const IGNORED = new Set(['$schema', '$comment']);

/**
 * Builds a policy from a parsed JSON document.
 * @throws {PolicyError} naming the field to fix.
 */
export function policyFromDocument(json: unknown, options: PolicyDocumentOptions = {}): PinPolicy {
  const document = objectAt(json, '(root)', 'a policy file holds a JSON object with a "hosts" map');
  refuseUnknown(document, TOP_FIELDS, '(root)');
  const readFile = options.readFile ?? ((file: string) => {
    throw new Error(`this policy is not read from a file, so "${file}" cannot be resolved; pass certificates inline`);
  });
  const read = (file: unknown, at: string): Buffer => {
    if (typeof file !== 'string' || file === '') throw new PolicyError(at, 'expected a file path (string)');
    try {
      return readFile(file);
    } catch (error) {
      throw new PolicyError(at, `cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
  };
  const list = (value: unknown, at: string): Buffer[] => (Array.isArray(value) ? value.map((item, i) => read(item, `${at}[${i}]`)) : [read(value, at)]);

  const pinSets = pinSetsFromDocument(document);
  const policyOptions: PinPolicyOptions = {
    ...pinSets,
    ...own(document, 'requireBackupPin'),
    ...own(document, 'trustSystemRoots'),
    ...own(document, 'minVersion'),
    source: options.source ?? 'json',
    ...(options.onReport ? { onReport: options.onReport } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
  if (Object.hasOwn(document, 'ca')) policyOptions.ca = list(document.ca, 'ca');
  if (Object.hasOwn(document, 'clientCertificate')) {
    const client = objectAt(document.clientCertificate, 'clientCertificate', 'expected { "cert": FILE, "key": FILE, "passphraseEnv"?: VARIABLE }');
    refuseUnknown(client, ['cert', 'key', 'passphraseEnv'], 'clientCertificate');
    let passphrase: string | undefined;
    if (Object.hasOwn(client, 'passphraseEnv')) {
      const variable = client.passphraseEnv;
      if (typeof variable !== 'string' || variable === '') throw new PolicyError('clientCertificate.passphraseEnv', 'expected the name of an environment variable');
      passphrase = (options.env ?? process.env)[variable];
      if (passphrase === undefined) throw new PolicyError('clientCertificate.passphraseEnv', `the environment variable ${variable} is not set`);
    }
    policyOptions.clientCertificate = {
      cert: read(client.cert, 'clientCertificate.cert'),
      key: read(client.key, 'clientCertificate.key'),
      ...(passphrase === undefined ? {} : { passphrase }),
    };
  }
  if (Object.hasOwn(document, 'developmentOverrides')) {
    const overrides = objectAt(document.developmentOverrides, 'developmentOverrides', 'expected { "ca": [FILE, …], "overridePins"?: boolean }');
    refuseUnknown(overrides, ['ca', 'overridePins'], 'developmentOverrides');
    policyOptions.developmentOverrides = {
      ca: Object.hasOwn(overrides, 'ca') ? list(overrides.ca, 'developmentOverrides.ca') : [],
      ...(Object.hasOwn(overrides, 'overridePins') ? { overridePins: overrides.overridePins as boolean } : {}),
    };
  }
  return new PinPolicy(policyOptions);
}

/**
 * The pin sets of a document (hosts, defaultPins, onlyPinnedHosts, reportOnly, reportUri), with unknown host fields
 * refused. Values are checked for type and meaning by the policy that receives them.
 * @throws {PolicyError}
 */
export function pinSetsFromDocument(json: unknown): PinSetOptions {
  const document = objectAt(json, '(root)', 'expected a JSON object with a "hosts" map');
  if (!Object.hasOwn(document, 'hosts')) throw new PolicyError('hosts', 'missing: a policy names its pinned hosts in a "hosts" map (it may be empty: {})');
  const hosts = objectAt(document.hosts, 'hosts', 'expected an object mapping host patterns to pin sets');
  const cleanHosts: Record<string, HostPinsOptions | readonly string[]> = {};
  for (const pattern of Object.keys(hosts)) {
    // Defined, not assigned: an entry named "__proto__" (JSON.parse makes it an own key) must stay an entry, where an
    // assignment would change the object's prototype and lose it.
    Object.defineProperty(cleanHosts, pattern, { value: hostEntry(hosts[pattern], `hosts[${JSON.stringify(pattern)}]`), enumerable: true, writable: true, configurable: true });
  }
  return {
    hosts: cleanHosts,
    ...(Object.hasOwn(document, 'defaultPins') ? { defaultPins: hostEntry(document.defaultPins, 'defaultPins') } : {}),
    ...own(document, 'onlyPinnedHosts'),
    ...own(document, 'reportOnly'),
    ...own(document, 'reportUri'),
  } as PinSetOptions;
}

function hostEntry(value: unknown, at: string): HostPinsOptions | readonly string[] {
  if (Array.isArray(value)) return value as readonly string[];
  const entry = objectAt(value, at, 'expected { "pins": [...] } or an array of pins');
  refuseUnknown(entry, HOST_FIELDS, at);
  const clean: Record<string, unknown> = {};
  for (const field of HOST_FIELDS) if (Object.hasOwn(entry, field)) clean[field] = entry[field];
  return clean as unknown as HostPinsOptions;
}

function objectAt(value: unknown, at: string, message: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PolicyError(at, message);
  return value as Record<string, unknown>;
}

function refuseUnknown(object: Record<string, unknown>, known: readonly string[], at: string): void {
  for (const key of Object.keys(object)) {
    if (IGNORED.has(key) || known.includes(key)) continue;
    if (at === '(root)') throw new PolicyError(key, `unknown field (known: ${known.join(', ')})`);
    throw new PolicyError(at, `unknown field "${key}" (known: ${known.join(', ')})`);
  }
}

function own(object: Record<string, unknown>, key: string): Record<string, unknown> {
  return Object.hasOwn(object, key) ? { [key]: object[key] } : {};
}
