/**
 * `certpin fetch HOST[:PORT] | URL`: one handshake, no application data, and the chain shown as a tree with every
 * pin and fingerprint form: what the server sent kept apart from what the trust store supplied, marked where
 * certpin verified it, with a plain verdict when it is not trusted and a warning when the server omits a certificate
 * clients need.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { PinPolicy } from '../../index.js';
import { probeServer } from '../../tools/index.js';
import type { ServerProbe } from '../../tools/index.js';
import { missingIntermediateWarning, probeChainViews } from '../chain-view.js';
import type { LocalAnchors } from '../chain-view.js';
import { explainFailure } from '../explain.js';
import { readCaFiles, writeOutputFiles } from '../files.js';
import type { OutputFile } from '../files.js';
import { certificateJson, renderChainTree } from '../render.js';
import { styleFor } from '../style.js';
import { UsageError, parseAlpn, parseCommandArgs, parseCount, parseServername, parseTarget } from '../usage.js';

/** `certpin fetch --help`. */
export const help = `Usage: certpin fetch HOST[:PORT] | https://URL [options]

Connects (TLS handshake only, no request is sent) and shows the certificates the server sent, in its
order, then those the verified path took from the trust store: subject, issuer, names, key, validity and
days left, SPKI pin (sha256/…), SHA-256 fingerprint (colon and plain hex) and SHA-1. Each certificate says
whether the server sent it ("served 1/2") or the trust store supplied it ("not served"), and whether it is
on the path certpin verified to a trusted root. A server that omits its intermediate is called out: it
works in browsers and fails in Node, curl and mobile apps. An untrusted chain (self-signed, unknown CA,
expired, wrong name) is still shown, with the reason.

Options:
  --servername NAME  name to send (SNI) and to check the certificate for (default: the host)
  --ca FILE          also trust the CA certificate(s) in FILE (PEM or DER); repeatable.
                     The system roots and NODE_EXTRA_CA_CERTS are always trusted.
  --pem FILE         save exactly what the server sent, in its order, as PEM (like openssl s_client -showcerts)
  --pem-path FILE    save the verified path instead, leaf to trust anchor, store certificates included
                     (either replaces a saved chain; any other existing file only with --force)
  --force            replace an existing --pem / --pem-path file whatever it holds
  --alpn LIST        ALPN protocols to offer, comma-separated (default h2,http/1.1)
  --json             print JSON on stdout instead of the tree
  --timeout MS       give up after MS milliseconds (default 10000)

Exit codes: 0 the chain was shown (trusted or not; see "trusted" in --json), 2 no chain (network, usage).

Examples:
  certpin fetch api.example.com
  certpin fetch https://api.example.com:8443/v1/health
  certpin fetch [::1]:8443 --servername localhost --ca dev-root.pem
  certpin fetch api.example.com --pem served.pem --pem-path path.pem
  certpin fetch api.example.com --json | jq -r '.chain[0].spkiPin'`;

/** Runs `certpin fetch`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('fetch', argv, {
    servername: { type: 'string' },
    ca: { type: 'string', multiple: true },
    pem: { type: 'string' },
    'pem-path': { type: 'string' },
    alpn: { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    force: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'give one host at a time.' : 'which server? Give HOST[:PORT] or an https:// URL.', 'fetch');
  if (values.pem && values.pem === values['pem-path']) throw new UsageError('--pem and --pem-path must be different files.', 'fetch');
  const target = parseTarget(positionals[0]!, 'fetch');
  const timeoutMs = parseCount(values.timeout, 'timeout', 10_000, 'fetch');
  const alpn = parseAlpn(values.alpn, 'fetch');
  const ca = readCaFiles(values.ca, 'fetch');
  const local: LocalAnchors = { certificates: ca, label: '--ca' };
  const policy = new PinPolicy({ hosts: {}, ...(ca.length ? { ca } : {}), source: 'certpin fetch', onWarning: () => {} });
  const servername = values.servername === undefined ? target.host : parseServername(values.servername, 'fetch');
  const probe = await probeServer(policy, { host: target.host, port: target.port, servername }, { timeoutMs, alpn });
  const failure = probe.error
    ? explainFailure(probe.error, { label: target.label, servername, timeoutMs, chain: probe.served, alpn, alpnHint: 'Offer its protocol with --alpn NAME to see its certificate.' })
    : undefined;
  const views = probeChainViews(probe, local);
  const incomplete = missingIntermediateWarning(probe, local);
  const path = (probe.verifiedPath ?? []).map((c) => c.certificate);

  const saved: string[] = [];
  const outputs: OutputFile[] = [];
  if (values.pem && probe.served.length) {
    outputs.push({ file: values.pem, data: savedChainText(target.label, servername, 'the certificates the server sent, in its order', probe.served), replaces: (contents: string) => savedChain(contents, servername, false) });
    saved.push(`Saved the ${count(probe.served.length, 'certificate')} the server sent to ${values.pem}${path.length > probe.served.length && !values['pem-path'] ? ` (the verified path has ${path.length}: --pem-path FILE saves it)` : ''}.`);
  }
  if (values['pem-path']) {
    if (!path.length) throw new UsageError(`no verified path to save in ${values['pem-path']}: ${failure?.sentence ?? 'the chain does not verify'}`, 'fetch');
    outputs.push({ file: values['pem-path'], data: savedChainText(target.label, servername, VERIFIED_PATH, path), replaces: (contents: string) => savedChain(contents, servername, true) });
    const fromStore = path.filter((c) => !probe.served.some((s) => s.fingerprint256 === c.fingerprint256)).length;
    saved.push(`Saved the verified path (${count(path.length, 'certificate')}, ${fromStore} of them from the trust store) to ${values['pem-path']}.`);
  }
  const extraCa = process.env.NODE_EXTRA_CA_CERTS;
  if (outputs.length) writeOutputFiles(outputs, { force: values.force === true, command: 'fetch', inputs: [...(values.ca ?? []), ...(extraCa ? [extraCa] : [])] });

  if (values.json) {
    process.stdout.write(`${JSON.stringify({
      host: target.host,
      port: target.port,
      servername,
      protocol: probe.protocol ?? null,
      cipher: probe.cipher ?? null,
      alpnProtocol: probe.alpnProtocol ?? null,
      trusted: probe.accepted,
      served: probe.served.length,
      complete: incomplete === undefined,
      error: failure ? { kind: failure.kind, code: failure.code ?? null, message: failure.sentence } : null,
      warnings: incomplete ? [{ code: 'MISSING_INTERMEDIATE', message: incomplete }] : [],
      chain: views.map(certificateJson),
    }, null, 2)}\n`);
    return probe.served.length ? 0 : 2;
  }
  if (!probe.served.length) {
    const style = styleFor(process.stderr);
    process.stderr.write(`${style.red(style.bold('certpin:'))} ${failure?.sentence ?? `no certificate from ${target.label}`}\n`);
    return 2;
  }
  process.stdout.write(`${render(probe, target.label, servername, views, failure?.sentence, incomplete)}\n`);
  if (saved.length) process.stderr.write(`${saved.join('\n')}\n`);
  return 0;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 || noun === 'more' ? '' : 's'}`;
}

function render(probe: ServerProbe, label: string, servername: string, views: ReturnType<typeof probeChainViews>, problem: string | undefined, incomplete: string | undefined): string {
  const style = styleFor(process.stdout);
  const about = [label, servername !== probe.host ? `servername ${servername}` : undefined, probe.protocol, probe.cipher, probe.alpnProtocol ? `ALPN ${probe.alpnProtocol}` : undefined]
    .filter(Boolean)
    .join(style.dim(' · '));
  const verdict = problem
    ? style.red(`✘ ${problem}`)
    : incomplete
      ? style.yellow(`▲ Trusted on this machine only: the chain verifies to a trusted root and the certificate is valid for ${servername}, with a certificate the server did not send.`)
      : style.green(`✔ Trusted: the chain verifies to a trusted root and the certificate is valid for ${servername}.`);
  const servedLine = style.dim(`The server sent ${count(probe.served.length, 'certificate')}${views.length > probe.served.length ? `; ${count(views.length - probe.served.length, 'more')} from the trust store ${views.length - probe.served.length === 1 ? 'completes' : 'complete'} the verified path` : ''}.`);
  return [`${style.bold(about)}`, verdict, ...(incomplete ? [style.yellow(`▲ ${incomplete}`)] : []), servedLine, '', renderChainTree(views, style)].join('\n');
}

/**
 * A saved chain: a first line saying where it came from (text before the first PEM block, which PEM readers skip, RFC
 * 7468), then the certificates. The line is what marks the file as `fetch`'s own output.
 */
function savedChainText(label: string, servername: string, what: string, certificates: readonly X509Certificate[]): string {
  return `${SAVED_CHAIN_MARK}${label} (server name ${servername}) on ${new Date().toISOString().slice(0, 19)}Z: ${what}.\n${certificates.map((c) => c.toString()).join('')}`;
}

const SAVED_CHAIN_MARK = 'Saved by certpin fetch from ';
const VERIFIED_PATH = 'the verified path, from the leaf to the trust anchor';

/**
 * Whether an existing file is a chain `fetch` saved before for this server, to be replaced without --force: its mark
 * on the first line, then at most {@link MAX_SAVED_CHAIN} certificates and nothing else, the first one the server's
 * own (not a CA's, valid for `servername`), and none self-signed but, in a saved verified path, the trust anchor it
 * ends at. Any other file (a renewed chain not yet deployed, a
 * root or a self-signed certificate a policy's `ca` names, a bundle, an haproxy cert+key file) is never replaced with
 * what a possibly hostile server sent.
 */
function savedChain(contents: string, servername: string, endsAtAnchor: boolean): boolean {
  if (!contents.startsWith(SAVED_CHAIN_MARK)) return false;
  const newline = contents.indexOf('\n');
  if (newline === -1 || contents.slice(0, newline).includes('-----BEGIN')) return false;
  const body = contents.slice(newline + 1);
  const blocks = body.match(/-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0 || blocks.length > MAX_SAVED_CHAIN) return false;
  if (!/^(\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*-----END CERTIFICATE-----)+\s*$/.test(body)) return false;
  try {
    const certificates = blocks.map((pem) => new X509Certificate(pem));
    const leaf = certificates[0]!;
    if (leaf.ca || leaf.checkHost(servername) === undefined && leaf.checkIP(servername) === undefined) return false;
    // A saved verified path ends at its trust anchor, a CA's certificate self-signed as roots are, above the server's
    // own; nothing else in a chain may be self-signed (a self-signed development certificate is a trust file).
    if (endsAtAnchor && (certificates.length < 2 || !certificates.at(-1)!.ca || !contents.slice(0, newline).endsWith(`: ${VERIFIED_PATH}.`))) return false;
    const above = endsAtAnchor ? certificates.slice(0, -1) : certificates;
    return above.every((c) => !(c.subject === c.issuer && c.verify(c.publicKey)));
  } catch {
    return false;
  }
}

/** The longest chain `fetch --pem` replaces without --force (servers send 2 to 4; Node stops linking at 10). */
const MAX_SAVED_CHAIN = 10;
