/**
 * The per-connection and per-request rows: a new connection per operation (full handshakes, then resumed ones), a
 * new HTTP/2 session, requests on an open connection, and the "interceptor" approach (a separate TLS connection
 * that reads the certificate before each request, as Flutter's http_certificate_pinning and dio interceptors do).
 */
import https from 'node:https';
import tls from 'node:tls';
import { certpin } from './certpin.js';
import { httpsGet, keepAlivePairs, newConnectionPairs } from './clients.js';
import type { ClientEnvironment, ClientPair } from './clients.js';
import { atMost, formatMicros, percent, ratioAtMost, ratioWithSpread, sizedCompare } from './harness.js';
import type { Comparison, Quartiles, Row, SizedRounds, Table } from './harness.js';
import { countsBetween, describeCounts } from './origin.js';
import type { HandshakeCounts, Origin } from './origin.js';

export interface ConnectionSettings {
  readonly newConnection: SizedRounds;
  readonly keepAlive: SizedRounds;
}

export const CONNECTION_HEADER = ['client', 'certpin vs plain', 'plain, per op', 'certpin CPU (paired)', 'certpin wall (paired)', 'server saw: certpin ‖ plain', 'target'];

/**
 * `+65 µs = +4.0 % (IQR +2.1 % … +6.3 %), 17/20 ↑`: the paired difference, the paired ratio with its spread, and in
 * how many rounds certpin's side was the slower one (a sign test: about half of them when there is no difference).
 */
function delta(d: Quartiles, r: Quartiles, slower: number, rounds: number): string {
  return `${d.median >= 0 ? '+' : ''}${formatMicros(d.median)} = ${ratioWithSpread(r)}, ${slower}/${rounds} ↑`;
}

export function comparisonRow(client: string, sides: string, c: Comparison, evidence: string, limit = 1.01, control = false): Row {
  const verdict = ratioAtMost(limit, c.cpuRatio, c.wallRatio);
  const target = `≤ ${percent(limit, 0)} CPU and wall`;
  return {
    cells: [client, sides, `${c.rounds}×${c.operations / c.rounds}: CPU ${formatMicros(c.cpuB)}, wall ${formatMicros(c.wallB)}`, delta(c.cpuDelta, c.cpuRatio, c.cpuSlower, c.rounds), delta(c.wallDelta, c.wallRatio, c.wallSlower, c.rounds), evidence, control ? `A/A control: ${target} would read ${verdict || 'n/a'}` : target],
    ...(control ? { verdict: '', control: verdict } : { verdict }),
  };
}

async function runPairs(pairs: readonly ClientPair[], origin: Origin, options: SizedRounds, progress: (text: string) => void, label: string): Promise<{ rows: Row[]; counts: { certpin: HandshakeCounts; plain: HandshakeCounts }[] }> {
  const rows: Row[] = [];
  const counts: { certpin: HandshakeCounts; plain: HandshakeCounts }[] = [];
  try {
    for (const pair of pairs) {
      progress(`${label}: ${pair.client}`);
      // The warm-up stays outside the counts: certpin's side stops offering sessions to a server that declined two.
      let before = (await origin.counts()).counts;
      const c = await sizedCompare(pair.certpin, pair.plain, options, async () => (before = (await origin.counts()).counts));
      const after = (await origin.counts()).counts;
      const seen = { certpin: countsBetween(before, after, pair.listeners.certpin), plain: countsBetween(before, after, pair.listeners.plain) };
      counts.push(seen);
      rows.push(comparisonRow(pair.client, `${pair.certpinSide} vs ${pair.plainSide}`, c, `${describeCounts(seen.certpin)} ‖ ${describeCounts(seen.plain)}`, 1.01, pair.control === true));
    }
  } finally {
    for (const pair of pairs) await pair.close();
  }
  return { rows, counts };
}

const CONTROL_NOTE =
  'A control row runs the plain client on both sides, certpin on neither: its paired difference is what this instrument reports for no difference at all, in the same run. Its verdict is not counted; it says what the same rule makes of nothing.';

export async function benchmarkConnections(env: ClientEnvironment, origin: Origin, settings: ConnectionSettings, progress: (text: string) => void): Promise<Table[]> {
  const full = await runPairs(newConnectionPairs(env, 'full'), origin, settings.newConnection, progress, 'new connection, full handshakes');
  const resumed = await runPairs(newConnectionPairs(env, 'resume'), origin, settings.newConnection, progress, 'new connection, resumed sessions');
  const keep = await runPairs(await keepAlivePairs(env), origin, settings.keepAlive, progress, 'requests on an open connection');
  const interceptor = await benchmarkInterceptor(env, settings.newConnection, progress);
  return [
    {
      title: 'A new connection per operation, full handshakes (the server never resumes; neither side offers a session)',
      header: CONNECTION_HEADER,
      rows: [...full.rows, interceptor],
      notes: [
        `"plain, per op" starts with rounds × operations per round per side; "n/N ↑" counts the rounds in which certpin's side was slower (about N/2 when there is no difference) (batches of about ${settings.newConnection.batchMs} ms, after ${settings.newConnection.warmup} warm-up operations per side). "server saw" counts the handshakes of the measured rounds: full, resumed, and ClientHellos that offered a session.`,
        CONTROL_NOTE,
      ],
    },
    {
      title: 'A new connection per operation, resumed sessions (both sides resume)',
      header: CONNECTION_HEADER,
      rows: resumed.rows,
      notes: ['Both sides resume every connection (see "server saw"); certpin resumes only sessions whose full handshake passed its check.', CONTROL_NOTE],
    },
    {
      title: 'Requests on an open connection (keep-alive, one connection per side)',
      header: CONNECTION_HEADER,
      rows: keep.rows,
      notes: [`Batches of about ${settings.keepAlive.batchMs} ms; one connection per side, opened before timing.`, CONTROL_NOTE],
    },
  ];
}

/**
 * What an interceptor does before each request: a TLS connection of its own, to read and compare the leaf's
 * fingerprint, then the request through a normal client. certpin checks inside the request's own handshake.
 */
async function benchmarkInterceptor(env: ClientEnvironment, options: SizedRounds, progress: (text: string) => void): Promise<Row> {
  progress('the interceptor approach vs the check in the handshake');
  const { policy, secureContext, ports } = env;
  const pinned = certpin.pinnedAgent(policy, { keepAlive: false });
  const plain = new https.Agent({ keepAlive: false, maxCachedSessions: 0, secureContext });
  const check = () =>
    new Promise<void>((resolve, reject) => {
      const socket = tls.connect({ host: 'localhost', port: ports['https.full.b'], servername: 'localhost', secureContext }, () => {
        const leaf = socket.getPeerCertificate();
        socket.destroy();
        if (leaf.fingerprint256) resolve();
        else reject(new Error('no certificate'));
      });
      socket.once('error', reject);
    });
  try {
    const c = await sizedCompare(
      () => httpsGet(`https://localhost:${ports['https.full.a']}/close`, pinned),
      async () => {
        await check();
        await httpsGet(`https://localhost:${ports['https.full.b']}/close`, plain);
      },
      options,
    );
    return {
      cells: ['interceptor approach (new connection per request)', 'pinnedAgent vs a check connection + https.Agent', `${c.rounds}×${c.perRound}: CPU ${formatMicros(c.cpuB)}, wall ${formatMicros(c.wallB)}`, `${c.cpuRatio.median.toFixed(2)}× (IQR ${c.cpuRatio.low.toFixed(2)} … ${c.cpuRatio.high.toFixed(2)})`, `${c.wallRatio.median.toFixed(2)}× (IQR ${c.wallRatio.low.toFixed(2)} … ${c.wallRatio.high.toFixed(2)})`, 'full handshakes on both sides', 'certpin ≤ 0.55× the interceptor\'s wall time'],
      verdict: atMost(0.55, c.wallRatio),
    };
  } finally {
    pinned.destroy();
    plain.destroy();
  }
}
