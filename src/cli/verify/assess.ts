/**
 * One host of `certpin verify`, judged from one probe: would clients connect, how long the pinned certificates
 * last, whether a spare key is still pinned, when the host breaks if nothing changes.
 *
 * Spares and rotations are read from the order of the pin set, the order `certpin init` writes and the docs
 * recommend (issuing CA, the key in use, then backups): a pin on no served certificate that is listed *after* the
 * pin the leaf carries is a spare; one listed *before* it is a key rotated out. So after a rotation to the backup
 * key the retired key's pin no longer passes for a backup, and verify says that a new spare must be pinned.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import type { PinPolicy } from '../../index.js';
import { certificateFingerprint, formatName, pinMatches, spkiPin } from '../../tools/index.js';
import type { CertificateDigests, Pin, ServerProbe } from '../../tools/index.js';
import { missingFromServedChain } from '../chain-view.js';
import { explainFailure } from '../explain.js';
import { daysText } from '../render.js';
import type { HostReport, ReportCertificate } from './report.js';
import type { VerifyTarget } from './targets.js';

const DAY = 86_400_000;

/** What {@link assessHost} needs besides the probe. */
export interface AssessOptions {
  readonly warnDays: number;
  readonly timeoutMs: number;
  /** "Today" of the report, in milliseconds: one instant for every host of a run. Default: the policy's clock. */
  readonly now?: number;
  /** The `exp` of the signed pin-set document the policy's pin sets came from, if any. */
  readonly pinSetDocumentExpires?: Date;
}

/** When the signed pin-set document behind a policy's pin sets expires; policies read from a file have none. */
export function pinSetDocumentExpiry(policy: PinPolicy): Date | undefined {
  return policy.pinSetExpires;
}

/** Judges one host from its probe. */
export function assessHost(policy: PinPolicy, target: VerifyTarget, probe: ServerProbe, options: AssessOptions): HostReport {
  const now = options.now ?? policy.now();
  const { rule } = target;
  const pattern = rule.pattern.text === '*' ? 'defaultPins' : rule.pattern.text;
  const daysUntil = (ms: number) => Math.floor((ms - now) / DAY);
  const path = probe.verifiedPath ?? [];
  const served = probe.served;
  const result: HostReport = {
    host: target.host,
    pattern,
    address: target.label,
    status: 'ok',
    connects: probe.accepted,
    outcome: probe.decision?.outcome ?? null,
    reason: '',
    failure: null,
    pins: rule.pins.map((p) => p.canonical),
    matchedPins: [],
    leafDaysLeft: null,
    backupPins: [],
    retiredPins: [],
    backupInUse: null,
    pinSetExpires: rule.expires ? rule.expires.toISOString() : null,
    pinSetDocumentExpires: options.pinSetDocumentExpires?.toISOString() ?? null,
    breaksAt: null,
    breaksBecause: null,
    certificates: [],
    served: [],
    warnings: [],
  };

  // The pin set's own expiry.
  if (rule.expires) {
    const days = daysUntil(rule.expires.getTime());
    const lastDay = new Date(rule.expires.getTime() - 1).toISOString().slice(0, 10);
    if (rule.expires.getTime() <= now) result.warnings.push(`the pin set expired after ${lastDay}: it is not enforced (only CA validation applies). Renew it with current pins and a new date.`);
    else if (days <= options.warnDays) result.warnings.push(`the pin set expires after ${lastDay} (in ${days} day${days === 1 ? '' : 's'}): then it is no longer enforced. Renew it and ship the update before then.`);
  }

  // Every certificate the host showed, with its digests once: the served ones and those the path took from the store.
  const chain: { certificate: X509Certificate; digests: CertificateDigests }[] = [
    ...path.map((c) => ({ certificate: c.certificate, digests: c.digests })),
    ...served.filter((s) => !path.some((c) => c.certificate.fingerprint256 === s.fingerprint256)).map((certificate) => ({ certificate, digests: digestsOf(certificate) })),
  ];
  const carries = (pin: Pin) => chain.some((c) => pinMatches(pin, c.digests));
  const digestsFor = (certificate: X509Certificate) => chain.find((c) => c.certificate.fingerprint256 === certificate.fingerprint256)!.digests;
  result.served = served.map((c) => ({ spkiPin: `sha256/${digestsFor(c).spkiSha256}`, subject: formatName(c.subject) }));
  const leaf = path[0]?.certificate ?? served[0];
  if (leaf) result.leafDaysLeft = daysUntil(Date.parse(leaf.validTo));
  const leafDigests = chain.find((c) => c.certificate === leaf)?.digests;

  // Spares, retired keys, and a backup that went into service.
  const leafPinIndex = leafDigests ? rule.pins.findIndex((p) => pinMatches(p, leafDigests)) : -1;
  // Nothing seen, nothing known: a host that sent no certificate has no spares or retired keys to report.
  const offChain = chain.length ? rule.pins.map((pin, index) => ({ pin, index })).filter(({ pin }) => !carries(pin)) : [];
  result.backupPins = offChain.filter(({ index }) => index > leafPinIndex).map(({ pin }) => pin.canonical);
  result.retiredPins = offChain.filter(({ index }) => index < leafPinIndex).map(({ pin }) => pin.canonical);
  if (result.retiredPins.length && result.backupPins.length === 0) {
    result.backupInUse = rule.pins[leafPinIndex]!.canonical;
    result.warnings.push(
      `the pin order reads as a rotation to the backup key: the leaf carries ${result.backupInUse}, listed after ${result.retiredPins.join(', ')}, which no served certificate carries. ` +
        '(verify reads a pin set in the order init writes it: issuing CA, the key in use, then spares.) ' +
        `If ${result.retiredPins.length === 1 ? 'that pin is a spare you still hold, list it' : 'those pins are spares you still hold, list them'} after the one in use and this warning goes. ` +
        'If it is a retired key, no spare is left: pin a new spare key now (certpin backup-key) and ship it before the next rotation.',
    );
  } else if (chain.length && result.backupPins.length === 0) {
    result.warnings.push(`no backup pin: every pin of ${pattern} is on the served chain. If that key must change, clients are locked out until they update: add the pin of a spare key (certpin backup-key).`);
  }

  // The chain, for the timeline: the verified path, or what the server sent when nothing verified.
  const shown = path.length ? path.map((c) => ({ certificate: c.certificate, digests: c.digests, verified: true })) : chain.map((c) => ({ ...c, verified: false }));
  result.certificates = shown.map(({ certificate, digests, verified }, i): ReportCertificate => ({
    subject: formatName(certificate.subject),
    issuer: formatName(certificate.issuer),
    role: i === 0 ? 'leaf' : certificate.subject === certificate.issuer && i === shown.length - 1 ? 'root' : 'intermediate',
    notBefore: new Date(certificate.validFrom).toISOString(),
    notAfter: new Date(certificate.validTo).toISOString(),
    daysLeft: daysUntil(Date.parse(certificate.validTo)),
    spkiPin: `sha256/${digests.spkiSha256}`,
    source: served.some((s) => s.fingerprint256 === certificate.fingerprint256) ? 'served' : 'trust-store',
    pinned: rule.pins.some((p) => pinMatches(p, digests)),
    onVerifiedPath: verified,
  }));

  const missing = missingFromServedChain(probe);
  if (missing.length) {
    result.warnings.push(
      `incomplete chain: the server does not send ${missing.map((c) => `"${formatName(c.subject)}"`).join(' and ')}, which clients need; it verified here only because this machine's trust store has it. ` +
        'Node, curl and mobile apps without it fail ("unable to verify the first certificate"): configure the server to send its full chain.',
    );
  }

  if (!probe.accepted) {
    result.status = 'failure';
    const failure = explainFailure(probe.error, {
      label: target.label,
      servername: target.host,
      timeoutMs: options.timeoutMs,
      chain: served,
      nameHint: `verify checks the name the policy gives; if ${target.host} is served at another address, point it there with --connect ${target.host}=ADDRESS`,
    });
    result.failure = { kind: failure.kind, code: failure.code ?? null };
    result.reason =
      failure.kind === 'pinning'
        ? `clients would be refused: the verified chain carries none of the ${rule.pins.length} pin${rule.pins.length === 1 ? '' : 's'} of ${pattern}.`
        : `clients would not connect: ${failure.sentence}`;
    result.breaksAt = new Date(now).toISOString();
    result.breaksBecause = 'fails now';
    return result;
  }

  path.forEach((c, i) => {
    const pin = rule.pins.find((p) => pinMatches(p, c.digests));
    if (pin) result.matchedPins.push({ pin: pin.canonical, subject: formatName(c.certificate.subject), daysLeft: daysUntil(c.notAfter), position: i === 0 ? 'leaf' : 'ca' });
  });
  const first = result.certificates.reduce<ReportCertificate | undefined>((a, c) => (!a || Date.parse(c.notAfter) < Date.parse(a.notAfter) ? c : a), undefined);
  if (first) {
    result.breaksAt = first.notAfter;
    result.breaksBecause = `the ${first.role} ${commonName(first.subject)} expires`;
  }
  const decision = probe.decision;
  if (decision?.outcome === 'pin-set-expired') {
    result.reason = 'clients connect, without pinning (the pin set has expired).';
  } else if (decision?.outcome === 'mismatch' || decision?.outcome === 'chain-unverified') {
    result.reason = 'clients connect only because the pin set is report-only: no pin matches the verified chain.';
    result.warnings.push('report-only and no pin matches: enforcing this pin set today would lock clients out.');
  } else if (result.matchedPins.length) {
    const best = result.matchedPins.reduce((a, b) => (b.daysLeft > a.daysLeft ? b : a));
    result.reason = `clients connect; pin ${best.pin} matches ${best.position === 'leaf' ? 'the leaf' : 'the CA'} ${best.subject} (${daysText(best.daysLeft)}).`;
    if (best.daysLeft <= options.warnDays) {
      result.warnings.push(
        result.matchedPins.every((m) => m.position === 'leaf')
          ? `the only matching pin is on the leaf, which expires in ${best.daysLeft} day${best.daysLeft === 1 ? '' : 's'}: if the renewed certificate has a new key, clients are locked out. Pin the issuing CA or the next key now (or renew with the same key).`
          : `every matching pin is on a certificate that expires within ${best.daysLeft} day${best.daysLeft === 1 ? '' : 's'}: pin its successor now.`,
      );
    }
  } else {
    result.reason = 'clients connect (no pin set applies to this name).';
  }
  if (result.leafDaysLeft !== null && result.leafDaysLeft <= options.warnDays && !result.warnings.some((w) => w.includes('on the leaf'))) {
    result.warnings.push(`the server's certificate expires in ${result.leafDaysLeft} day${result.leafDaysLeft === 1 ? '' : 's'}: renew it (keep the key, or make sure a pinned key is on the new chain).`);
  }
  if (result.warnings.length) result.status = 'warning';
  return result;
}

function digestsOf(certificate: X509Certificate): CertificateDigests {
  return {
    spkiSha256: spkiPin(certificate, 'sha256').slice('sha256/'.length),
    spkiSha1: spkiPin(certificate, 'sha1').slice('sha1/'.length),
    certSha256: certificateFingerprint(certificate, 'sha256', 'base64'),
    certSha1: certificateFingerprint(certificate, 'sha1', 'base64'),
  };
}

/** `"api.example.com"` from `CN = api.example.com, O = …`, or the whole name when it has no CN. */
function commonName(subject: string): string {
  const cn = /(?:^|, )CN = ("(?:[^"\\]|\\.)*"|[^,]*)/.exec(subject)?.[1];
  return `"${(cn ?? subject).replace(/^"(.*)"$/, '$1')}"`;
}
