/**
 * `certpin fetch HOST[:PORT] | URL`: one handshake, no application data, and the chain shown as a tree with every
 * pin and fingerprint form, marked where certpin verified it, with a plain verdict when it is not trusted.
 * @module
 */
import { PinPolicy } from '../../index.js';
import { probeServer } from '../../tools/index.js';
import type { ServerProbe } from '../../tools/index.js';
import { probeChainViews } from '../chain-view.js';
import { explainFailure } from '../explain.js';
import { readCaFiles, writeOutputFile } from '../files.js';
import { certificateJson, renderChainTree } from '../render.js';
import { styleFor } from '../style.js';
import { UsageError, parseCommandArgs, parseCount, parseTarget } from '../usage.js';

/** `certpin fetch --help`. */
export const help = `Usage: certpin fetch HOST[:PORT] | https://URL [options]

Connects (TLS handshake only, no request is sent) and shows the chain the server presents, leaf first:
subject, issuer, names, key, validity and days left, SPKI pin (sha256/…), SHA-256 fingerprint (colon and
plain hex) and SHA-1. Certificates on the path certpin verified to a trusted root are marked; an untrusted
chain (self-signed, unknown CA, expired, wrong name) is still shown, with the reason.

Options:
  --servername NAME  name to send (SNI) and to check the certificate for (default: the host)
  --ca FILE          also trust the CA certificate(s) in FILE (PEM or DER); repeatable.
                     The system roots and NODE_EXTRA_CA_CERTS are always trusted.
  --pem FILE         save the chain as received, leaf first, as PEM (like openssl s_client -showcerts)
  --json             print JSON on stdout instead of the tree
  --timeout MS       give up after MS milliseconds (default 10000)

Exit codes: 0 the chain was shown (trusted or not; see "trusted" in --json), 2 no chain (network, usage).

Examples:
  certpin fetch api.example.com
  certpin fetch https://api.example.com:8443/v1/health
  certpin fetch [::1]:8443 --servername localhost --ca dev-root.pem
  certpin fetch api.example.com --pem chain.pem
  certpin fetch api.example.com --json | jq -r '.chain[0].spkiPin'`;

/** Runs `certpin fetch`. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('fetch', argv, {
    servername: { type: 'string' },
    ca: { type: 'string', multiple: true },
    pem: { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'give one host at a time.' : 'which server? Give HOST[:PORT] or an https:// URL.', 'fetch');
  const target = parseTarget(positionals[0]!, 'fetch');
  const timeoutMs = parseCount(values.timeout, 'timeout', 10_000, 'fetch');
  const ca = readCaFiles(values.ca, 'fetch');
  const policy = new PinPolicy({ hosts: {}, ...(ca.length ? { ca } : {}), source: 'certpin fetch', onWarning: () => {} });
  const servername = values.servername ?? target.host;
  const probe = await probeServer(policy, { host: target.host, port: target.port, servername }, { timeoutMs });
  const failure = probe.error ? explainFailure(probe.error, { label: target.label, servername, timeoutMs, chain: probe.served }) : undefined;
  const views = probeChainViews(probe);

  if (values.pem && probe.served.length) writeOutputFile(values.pem, probe.served.map((c) => c.toString()).join(''), { force: true, command: 'fetch' });

  if (values.json) {
    process.stdout.write(`${JSON.stringify({
      host: target.host,
      port: target.port,
      servername,
      protocol: probe.protocol ?? null,
      cipher: probe.cipher ?? null,
      trusted: probe.accepted,
      error: failure ? { kind: failure.kind, code: failure.code ?? null, message: failure.sentence } : null,
      chain: views.map(certificateJson),
    }, null, 2)}\n`);
    return probe.served.length ? 0 : 2;
  }
  if (!probe.served.length) {
    const style = styleFor(process.stderr);
    process.stderr.write(`${style.red(style.bold('certpin:'))} ${failure?.sentence ?? `no certificate from ${target.label}`}\n`);
    return 2;
  }
  process.stdout.write(`${render(probe, target.label, servername, views, failure?.sentence)}\n`);
  if (values.pem) process.stderr.write(`Saved ${probe.served.length} certificate${probe.served.length === 1 ? '' : 's'} to ${values.pem}.\n`);
  return 0;
}

function render(probe: ServerProbe, label: string, servername: string, views: ReturnType<typeof probeChainViews>, problem: string | undefined): string {
  const style = styleFor(process.stdout);
  const about = [label, servername !== probe.host ? `servername ${servername}` : undefined, probe.protocol, probe.cipher].filter(Boolean).join(style.dim(' · '));
  const verdict = problem
    ? style.red(`✘ ${problem}`)
    : style.green(`✔ Trusted: the chain verifies to a trusted root and the certificate is valid for ${servername}.`);
  return `${style.bold(about)}\n${verdict}\n\n${renderChainTree(views, style)}`;
}
