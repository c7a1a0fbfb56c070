/**
 * `certpin check URL --pin PIN… | --policy FILE`: would a connection be accepted? Exit 0 accepted, 1 refused by
 * pinning, 2 any other failure. Made for scripts and start-up gates.
 * @module
 */
import { PinPolicy } from '../../index.js';
import { parsePin, probeServer, spkiPin } from '../../tools/index.js';
import { subjectOf } from '../render.js';
import type { PinDecision } from '../../index.js';
import type { ServerProbe } from '../../tools/index.js';
import { explainFailure } from '../explain.js';
import { readCaFiles } from '../files.js';
import { loadPolicyFile } from '../policy-file.js';
import { styleFor } from '../style.js';
import { UsageError, parseAlpn, parseCommandArgs, parseCount, parseServername, parseTarget } from '../usage.js';

/** `certpin check --help`. */
export const help = `Usage: certpin check HOST[:PORT] | https://URL (--pin PIN… | --policy FILE) [options]

Connects once (TLS handshake only, nothing is sent) and says whether the connection would be accepted
with these pins: the chain must be valid for the name AND a pin must match a certificate of the path
certpin verified. Prints a one-line reason.

Options:
  --pin PIN          a pin, in any form: sha256/<base64> (SPKI), "SHA256 Fingerprint=AA:…", hex; repeatable
  --policy FILE      a policy file (certpin init writes one) instead of --pin
  --servername NAME  name to send (SNI) and to check the certificate for (default: the host)
  --ca FILE          also trust the CA certificate(s) in FILE; repeatable (system roots and
                     NODE_EXTRA_CA_CERTS are trusted too, unless the policy sets trustSystemRoots false)
  --alpn LIST        ALPN protocols to offer, comma-separated (default h2,http/1.1)
  --json             print JSON on stdout
  --timeout MS       give up after MS milliseconds (default 10000)

On a refusal, the pins of the verified chain (or, when nothing verifies, of what the server sent) are
printed on stderr, ready to paste into a pin set once you know the change is yours.

Exit codes: 0 accepted, 1 refused by pinning, 2 any other failure (invalid certificate, network, usage).

Examples:
  certpin check api.example.com --pin sha256/C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=
  certpin check https://api.example.com/health --policy certpin.json --json
  certpin check api.example.com --pin "$(certpin fetch api.example.com --json | jq -r '.chain[1].spkiPin')"`;

/** Runs `certpin check`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('check', argv, {
    pin: { type: 'string', multiple: true },
    policy: { type: 'string' },
    servername: { type: 'string' },
    ca: { type: 'string', multiple: true },
    alpn: { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'give one host or URL at a time.' : 'which server? Give HOST[:PORT] or an https:// URL.', 'check');
  if (values.pin?.length && values.policy) throw new UsageError('give either --pin or --policy, not both.', 'check');
  if (!values.pin?.length && !values.policy) throw new UsageError('give the pins to check with --pin PIN (repeatable) or --policy FILE.', 'check');
  const target = parseTarget(positionals[0]!, 'check');
  const timeoutMs = parseCount(values.timeout, 'timeout', 10_000, 'check');
  const alpn = parseAlpn(values.alpn, 'check');

  let policy: PinPolicy;
  if (values.policy) {
    policy = loadPolicyFile(values.policy, values.ca, 'check', () => {});
  } else {
    const pins = values.pin!.map((p) => parsePin(p).canonical);
    const ca = readCaFiles(values.ca, 'check');
    policy = new PinPolicy({ hosts: {}, defaultPins: pins, ...(ca.length ? { ca } : {}), source: '--pin', onWarning: () => {} });
  }
  const servername = values.servername === undefined ? target.host : parseServername(values.servername, 'check');
  const probe = await probeServer(policy, { host: target.host, port: target.port, servername }, { timeoutMs, alpn });
  const verdict = judge(probe, target.label, servername, timeoutMs, alpn);

  if (values.json) {
    const decision = probe.decision;
    process.stdout.write(`${JSON.stringify({
      host: target.host,
      port: target.port,
      servername,
      accepted: probe.accepted,
      exitCode: verdict.exitCode,
      outcome: decision?.outcome ?? null,
      reason: verdict.reason,
      error: probe.error ? { kind: verdict.kind, code: verdict.code ?? null } : null,
      matchedPin: decision?.outcome === 'matched' ? decision.matchedPin.canonical : null,
      matchedCertificate: decision?.outcome === 'matched' ? subjectOf(decision.matchedCertificate.certificate) : null,
      pattern: decision && 'rule' in decision ? decision.rule.pattern.text : null,
      chain: (probe.verifiedPath ?? []).map((c) => ({ subject: subjectOf(c.certificate), spkiPin: `sha256/${c.digests.spkiSha256}` })),
      served: probe.served.map((c) => ({ subject: subjectOf(c), spkiPin: spkiPin(c) })),
    }, null, 2)}\n`);
    return verdict.exitCode;
  }
  const style = styleFor(process.stdout);
  const colour = verdict.exitCode === 0 ? style.green : style.red;
  process.stdout.write(`${colour(verdict.reason)}\n`);
  if (verdict.exitCode !== 0) {
    const err = styleFor(process.stderr);
    const path = probe.verifiedPath ?? [];
    if (path.length) {
      process.stderr.write(`${err.dim('Pins of the verified chain (leaf first):')}\n${path.map((c) => `  sha256/${c.digests.spkiSha256}  ${subjectOf(c.certificate)}`).join('\n')}\n`);
    } else if (probe.served.length) {
      process.stderr.write(`${err.dim('Pins of the certificates the server sent (not verified):')}\n${probe.served.map((c) => `  ${spkiPin(c)}  ${subjectOf(c)}`).join('\n')}\n`);
    }
  }
  return verdict.exitCode;
}

interface Verdict {
  readonly exitCode: 0 | 1 | 2;
  readonly reason: string;
  readonly kind?: string;
  readonly code?: string;
}

function judge(probe: ServerProbe, label: string, servername: string, timeoutMs: number, alpn: readonly string[]): Verdict {
  const decision: PinDecision | undefined = probe.decision;
  if (probe.accepted) {
    switch (decision?.outcome) {
      case 'matched':
        return { exitCode: 0, reason: `Accepted: ${label} presents a valid chain for ${servername} and pin ${decision.matchedPin.canonical} matches ${subjectOf(decision.matchedCertificate.certificate)}.` };
      case 'pin-set-expired':
        return { exitCode: 0, reason: `Accepted without pinning: the pin set ${decision.rule.pattern.text} expired on ${decision.rule.expires?.toISOString().slice(0, 10)}, so only CA validation applies.` };
      case 'mismatch':
      case 'chain-unverified':
        return { exitCode: 0, reason: `Accepted in report-only mode, but no pin matches: enforcing the pin set ${decision.rule.pattern.text} would refuse ${label}.` };
      default:
        // The names the decision looked up (the host dialled and the server name, as the library reads them).
        return { exitCode: 0, reason: `Accepted without pinning: the policy has no pin set for ${decision?.host || servername}; only CA validation applies.` };
    }
  }
  const failure = explainFailure(probe.error, { label, servername, timeoutMs, chain: probe.served, alpn, alpnHint: 'Offer its protocol with --alpn NAME.' });
  const base = { kind: failure.kind, ...(failure.code ? { code: failure.code } : {}) };
  if (failure.kind === 'pinning') {
    const rule = decision && 'rule' in decision ? decision.rule : undefined;
    const reason = decision?.outcome === 'mismatch' && rule
      ? `Refused by pinning: the verified chain of ${label} ${rule.pins.length === 1 ? 'does not carry the pinned key' : `carries none of the ${rule.pins.length} pinned keys`} for ${rule.pattern.text === '*' ? servername : rule.pattern.text}.`
      : failure.sentence;
    return { exitCode: 1, reason, ...base };
  }
  return { exitCode: 2, reason: failure.sentence, ...base };
}
