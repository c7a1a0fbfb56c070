/**
 * `certpin init HOST…`: connect to each host and write a policy file: for each host the issuing CA's pin, the
 * server's own pin and a placeholder for a backup pin, each explained in `$comment` fields (JSON has no comments).
 * @module
 */
import path from 'node:path';
import { PinPolicy } from '../../index.js';
import { describeCertificate, normalizeHost, parsePin, probeServer } from '../../tools/index.js';
import type { ServerProbe } from '../../tools/index.js';
import { explainFailure } from '../explain.js';
import { readCaFiles, sameFile, sharesStandardOutput, writeOutputFiles, writesInPlace } from '../files.js';
import { realpathSync, statSync } from 'node:fs';
import { packageVersion } from '../version.js';
import { styleFor } from '../style.js';
import { createSigningKey } from '../signing-keys.js';
import { UsageError, parseCommandArgs, parseCount, parseTarget } from '../usage.js';
import type { ConnectTarget } from '../usage.js';

/** The text `certpin init` writes where the backup pin belongs. The file does not load until it is replaced. */
export const BACKUP_PLACEHOLDER = 'REPLACE-ME-WITH-A-BACKUP-PIN (run: certpin backup-key)';

/** `certpin init --help`. */
export const help = `Usage: certpin init HOST… [options]

Connects to each host, checks that its chain is trusted, and writes a policy file (JSON) with, per host:
  1. the pin of the issuing CA (intermediate): survives your certificate renewals, even with a new key;
  2. the pin of your server's own key (leaf): survives renewals only when the key is reused;
  3. a backup pin: a placeholder to replace with the pin of a spare key (certpin backup-key), so that
     losing or replacing your key never locks clients out. The file does not load until you replace it.
Each choice is explained on stderr and in "$comment" fields of the file.

Options:
  --out FILE         write the policy to FILE instead of stdout (replaces FILE only with --force)
  --force            replace --out FILE if it exists
  --backup-pin PIN   the backup pin to use instead of the placeholder (all hosts); repeatable
  --ca FILE          also trust the CA certificate(s) in FILE (written into the policy's "ca"); repeatable
  --timeout MS       give up on a host after MS milliseconds (default 10000)
  --signing-key FILE also make the signing setup for dynamic pin sets: an Ed25519 key pair, the private key
                     to FILE (mode 0600), the public JWKS to --jwks FILE (default certpin-keys.json beside it)
  --aud APP          the application's audience, for the commands printed next

Examples:
  certpin init api.example.com --out certpin.json
  certpin init api.example.com pay.example.com --backup-pin "$(certpin backup-key)" --out certpin.json
  certpin init localhost:8443 --ca dev-root.pem --out certpin.dev.json
  certpin init api.example.com --out certpin.json --signing-key pins-signing.key --aud com.example.app`;

interface HostEntry {
  readonly pattern: string;
  readonly json: Record<string, unknown>;
  readonly explanation: string[];
}

/** Runs `certpin init`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('init', argv, {
    out: { type: 'string' },
    force: { type: 'boolean' },
    'backup-pin': { type: 'string', multiple: true },
    ca: { type: 'string', multiple: true },
    timeout: { type: 'string' },
    'signing-key': { type: 'string' },
    jwks: { type: 'string' },
    aud: { type: 'string' },
  });
  if (positionals.length === 0) throw new UsageError('which hosts? Give one or more HOST[:PORT] or https:// URLs.', 'init');
  if ((values.jwks !== undefined || values.aud !== undefined) && values['signing-key'] === undefined) {
    throw new UsageError('--jwks and --aud go with --signing-key FILE (the signing setup for dynamic pin sets).', 'init');
  }
  const targets = positionals.map((p) => parseTarget(p, 'init'));
  const timeoutMs = parseCount(values.timeout, 'timeout', 10_000, 'init');
  const backupPins = (values['backup-pin'] ?? []).map((text) => {
    const pin = parsePin(text);
    // A backup is a key held in reserve: only a key pin can name one before any certificate for it exists.
    if (pin.kind !== 'spki') throw new UsageError(`--backup-pin ${text}: a certificate fingerprint cannot name a spare key (a certificate for it does not exist yet). Give the key's pin, sha256/… (certpin backup-key prints it).`, 'init');
    if (pin.legacy) throw new UsageError(`--backup-pin ${text}: a SHA-1 pin; give the key's sha256/… pin (certpin backup-key prints it).`, 'init');
    return pin.canonical;
  });
  const ca = readCaFiles(values.ca, 'init');
  const policy = new PinPolicy({ hosts: {}, ...(ca.length ? { ca } : {}), source: 'certpin init', onWarning: () => {} });

  const probes = await Promise.all(targets.map((t) => probeServer(policy, { host: t.host, port: t.port }, { timeoutMs })));
  const errStyle = styleFor(process.stderr);
  const failures = probes.flatMap((probe, i) => {
    if (probe.accepted && probe.verifiedPath?.length) return [];
    const target = targets[i]!;
    const why = probe.error ? explainFailure(probe.error, { label: target.label, servername: target.host, timeoutMs, chain: probe.served }).sentence : 'no verified chain';
    return [`${errStyle.red(errStyle.bold('certpin:'))} ${target.label}: ${why}`];
  });
  if (failures.length) {
    process.stderr.write(`${failures.join('\n')}\n${errStyle.dim('init pins only chains that verify (pins are matched against the verified chain). Fix the above, or trust your own CA with --ca FILE.')}\n`);
    return 2;
  }

  const entries = probes.map((probe, i) => hostEntry(probe, targets[i]!, backupPins));
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.pattern)) throw new UsageError(`${entry.pattern} is given twice; a policy has one pin set per host.`, 'init');
    seen.add(entry.pattern);
  }
  // CA paths are relative to where the policy is written (a file's directory, or the working directory for standard
  // output, `--out /dev/stdout > certpin.json` too), so that the policy and its CA files move together. loadPolicy
  // resolves them from the policy's name as text; where that directory is not the one the kernel finds (a symlink
  // followed by "..": `lnk/../certpin.json`), a relative path would be read from another place than it was written
  // for, and the CA files are named by their real absolute paths instead.
  const textDir = values.out && !writesInPlace(values.out) ? path.dirname(path.resolve(values.out)) : process.cwd();
  const realDir = values.out && !writesInPlace(values.out) ? realPathOf(path.dirname(values.out)) : process.cwd();
  const caPaths = (values.ca ?? []).map((f) => {
    // The policy names the file for every later run: a stream (`--ca <(cat root.pem)`) is gone once init exits.
    if (!statSync(f).isFile()) throw new UsageError(`--ca ${f} is not a regular file; the policy names its CA files for later runs: give the file itself.`, 'init');
    const relative = path.relative(textDir, path.resolve(f));
    if (path.isAbsolute(relative)) return relative;
    // Read from the policy's name as text (what loadPolicy does) and from its real directory, the path must reach the
    // file given: else (a symlink followed by "..", in the policy's directory or in the CA file's name) it is named by
    // its real absolute path.
    if (!(sameFile(path.resolve(textDir, relative), f) && sameFile(path.resolve(realDir, relative), f))) {
      const real = realPathOf(f);
      process.stderr.write(`note: ${f} is named by its absolute path ${real} in the policy: a path relative to the policy would lead elsewhere through a symbolic link.\n`);
      return real;
    }
    return relative.split(path.sep).join('/');
  });
  const file = values.out ?? 'POLICY.json';
  const document = {
    $schema: `https://unpkg.com/certpin@${packageVersion()}/schema/certpin-policy.schema.json`,
    $comment:
      `Written by certpin init on ${new Date().toISOString().slice(0, 10)}. A connection to a host is accepted when its chain is valid ` +
      'and verifies to a trusted root AND one of the host\'s pins matches a certificate of that verified chain. ' +
      `Check it in CI: certpin verify ${file}`,
    hosts: Object.fromEntries(entries.map((e) => [e.pattern, e.json])),
    ...(caPaths.length ? { ca: caPaths } : {}),
  };
  const text = `${JSON.stringify(document, null, 2)}\n`;
  const signingKeyFile = values['signing-key'];
  // The JWKS goes beside the key by default; a key sent to a stream or device has no "beside".
  if (signingKeyFile && values.jwks === undefined && writesInPlace(signingKeyFile)) {
    throw new UsageError(`--signing-key ${signingKeyFile} is not a file in a directory: name the JWKS file too (--jwks FILE).`, 'init');
  }
  if (signingKeyFile && (values.out === undefined || sharesStandardOutput(values.out)) && sharesStandardOutput(signingKeyFile)) {
    throw new UsageError('the policy and the signing key would go to one stream (standard output, or standard error sent where it goes): the private key would land in the policy. Give --out FILE, or a file for --signing-key.', 'init');
  }
  // Beside the key as the kernel finds it (`lnk/../k.key` is where `lnk` leads, then up), not as the text reads.
  const jwksFile = values.jwks ?? (signingKeyFile ? `${path.dirname(signingKeyFile)}/certpin-keys.json` : undefined);
  const policyOutput = values.out ? [{ file: values.out, data: text }] : [];
  const force = values.force === true;
  // The policy and the signing setup are written together: a clash between them (one file named twice) or an
  // existing file stops the command before anything is written.
  const signing = signingKeyFile ? createSigningKey({
        type: 'ed25519',
        keyFile: signingKeyFile,
        jwksFile,
        force,
        command: 'init',
        alongside: policyOutput,
        inputs: values.ca,
        // --force is for the policy: a signing key there may sign what clients already trust, a JWKS list their keys.
        neverReplaces: {
          key: 'init makes a new signing key and never replaces one (not even with --force): to keep this one, leave out --signing-key; to make a new one, run certpin signing-key --force.',
          jwks: 'init never replaces a JWKS (not even with --force): it may list keys clients need. Name another with --jwks FILE.',
        },
      }) : undefined;
  if (!signing && policyOutput.length) writeOutputFiles(policyOutput, { force, command: 'init', inputs: values.ca });
  if (!values.out) process.stdout.write(text);

  const s = errStyle;
  const lines = entries.flatMap((e) => ['', ...e.explanation]);
  lines.push(
    '',
    s.bold('Why these pins:'),
    '  leaf only      breaks at the first renewal that changes the key, and most renewals do: risky alone.',
    '  issuing CA     survives your renewals; breaks when the CA issues from another intermediate (some CAs',
    '                 rotate among several: watch it with certpin verify).',
    '  backup key     a key you hold offline, on no certificate yet: if your key is lost or compromised, you',
    '                 deploy it and clients already trust it. Without it, a rotation needs an app release.',
    '',
    s.bold('Next:'),
    backupPins.length
      ? `  ship the policy, then run "certpin verify ${file}" in CI.`
      : `  1. certpin backup-key ${entries.map((e) => e.pattern).join(' ')}   2. put its pin in place of ${JSON.stringify(BACKUP_PLACEHOLDER.split(' ')[0])} (the file does not load until then)\n  3. ship the policy, then run "certpin verify ${file}" in CI.`,
    '',
  );
  if (signing) {
    const aud = values.aud ?? 'YOUR.APP.ID';
    lines.push(
      s.bold('Dynamic pin sets:'),
      `  signing key  ${signingKeyFile} (Ed25519, kid ${signing.kid}, mode 0600): keep it with your release tooling, never in the app`,
      `  public JWKS  ${jwksFile}: embed it in the app, with the policy above as the built-in one:`,
      `               new DynamicPinPolicy({ bootstrap: loadPolicy('${file}'), keys, audience: '${aud}', document: 'https://…/pins.jws' })`,
      `  publish      certpin sign ${file} --key ${signingKeyFile} --aud ${aud} --out pins.jws   (then serve pins.jws from any host)`,
      `  check in CI  certpin verify ${file} --document pins.jws --keys ${jwksFile} --aud ${aud}`,
      '',
    );
  }
  process.stderr.write(`${lines.join('\n')}\n`);
  if (values.out) process.stderr.write(`Wrote ${values.out}.\n`);
  return 0;
}

function hostEntry(probe: ServerProbe, target: ConnectTarget, backupPins: readonly string[]): HostEntry {
  const pattern = normalizeHost(target.host) ?? target.host;
  const path = probe.verifiedPath!;
  const leaf = describeCertificate(path[0]!.certificate);
  const issuer = path.length > 1 ? describeCertificate(path[1]!.certificate) : undefined;
  const onChain = new Set(path.map((c) => `sha256/${c.digests.spkiSha256}`));
  const backups = backupPins.filter((p) => !onChain.has(p));
  const pins = [...(issuer ? [issuer.spkiPin] : []), leaf.spkiPin, ...(backups.length ? backups : [BACKUP_PLACEHOLDER])];
  const day = (iso: string) => iso.slice(0, 10);
  const comment = [
    ...(issuer ? [`${issuer.spkiPin} is the issuing CA "${issuer.subject}" (valid until ${day(issuer.validTo)}): survives renewals of your certificate while the CA issues from it.`] : []),
    `${leaf.spkiPin} is your server's key, "${leaf.subject}" (certificate valid until ${day(leaf.validTo)}): survives a renewal only if the key is reused.`,
    backups.length
      ? `${backups.join(', ')}: backup key${backups.length > 1 ? 's' : ''}, on no served certificate: deploy ${backups.length > 1 ? 'one' : 'it'} if your key must change.`
      : `The last entry is a placeholder for a backup pin: run "certpin backup-key", keep the key offline, and put its pin there.`,
    ...(target.port !== 443 ? [`Served on port ${target.port}: check with certpin verify --connect ${pattern}=${target.label}.`] : []),
  ].join(' ');
  const s = styleFor(process.stderr);
  const row = (n: number, label: string, pin: string, about: string) => `  ${n}. ${label.padEnd(11)} ${s.cyan(pin)}  ${s.dim(about)}`;
  const explanation = [
    `${s.bold(`Pinned ${pattern}`)} (${target.label}):`,
    ...(issuer ? [row(1, 'issuing CA', issuer.spkiPin, `${issuer.subject}, until ${day(issuer.validTo)}`)] : []),
    row(issuer ? 2 : 1, 'leaf', leaf.spkiPin, `${leaf.subject}, until ${day(leaf.validTo)} (${leaf.daysLeft} days)`),
    ...(backups.length
      ? backups.map((b, i) => row((issuer ? 3 : 2) + i, 'backup', b, 'spare key'))
      : [row(issuer ? 3 : 2, 'backup', 'placeholder', 'replace with the pin of `certpin backup-key`')]),
    ...(backupPins.length > backups.length ? [s.yellow('  A --backup-pin is on the served chain: a backup must be a key the server does not use yet; it was left out.')] : []),
  ];
  return { pattern, json: { $comment: comment, pins }, explanation };
}

/** A file's real absolute path (symlinks followed), or its absolute path when it cannot be resolved. */
function realPathOf(file: string): string {
  try {
    return realpathSync.native(file);
  } catch {
    return path.resolve(file);
  }
}
