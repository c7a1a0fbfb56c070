/**
 * The pin decision timed inside real handshakes (never in a hot loop of its own, where caches stay warm and the
 * numbers flatter): the durations certpin itself publishes on `certpin:decision` (`durationMs`: from the start of
 * the pin check to the decision, after Node's host-name check), across many connections
 *
 * - with the same chain every time (the cached decision: what almost every connection of an application pays),
 * - with a new leaf under an intermediate seen before (a server's certificate renewed, or another host of a CDN),
 * - with a wholly new chain (leaf, intermediate and root never seen before),
 *
 * and Node's own `tls.checkServerIdentity` against certpin's whole `checkServerIdentity`, each timed inside the
 * handshakes of alternate connections. Also the cost of publishing on the channel with and without a subscriber.
 */
import diagnostics from 'node:diagnostics_channel';
import tls from 'node:tls';
import type { DecisionMessage, PinPolicy } from '../src/index.js';
import { certpin, createPinCheck, decide, publishDecision, tlsTrustFor } from './certpin.js';
import { backupPin, createPki, issueLeaf, pinOf } from '../test/support/pki.js';
import type { TestPki } from '../test/support/pki.js';
import { tlsOnce } from './tls-once.js';
import { CONNECTION_HEADER, comparisonRow } from './connections.js';
import { atMost, compareBatches, formatMicros, formatNanos, nsPerCall, quartiles, timeBatch } from './harness.js';
import type { Quartiles, Row, SizedRounds, Table } from './harness.js';
import type { Origin } from './origin.js';
import type { KeyAndChain } from './origin-server.js';

/** Certificates for the cold rows: served by SNI name, and the policy that pins them. */
export interface ColdWorld {
  readonly leaf: readonly (KeyAndChain & { name: string })[];
  readonly chain: readonly (KeyAndChain & { name: string })[];
  readonly policy: PinPolicy;
}

const { channels, pinnedConnect } = certpin;
const WARM_LEAF = 'warm.leaf.bench';
const WARM_CHAIN = 'warm.chain.bench';

/**
 * `count` leaves under one intermediate (`l<i>.leaf.bench`) and `count` wholly separate PKIs (`c<i>.chain.bench`),
 * each with a warm-up name first. One policy pins them all (on their intermediates) and trusts every root.
 */
export function makeColdWorld(count: number): ColdWorld {
  const shared = createPki({ name: 'Cold Leaf', hosts: [WARM_LEAF] });
  const leaf = [{ name: WARM_LEAF, key: shared.leaf.key.keyPem, cert: shared.chainPem }];
  for (let i = 0; i < count; i++) {
    const name = `l${i}.leaf.bench`;
    const issued = issueLeaf(shared.intermediate, [name]);
    leaf.push({ name, key: issued.key.keyPem, cert: issued.pem + shared.intermediate.pem });
  }
  const pkis: { name: string; pki: TestPki }[] = [WARM_CHAIN, ...Array.from({ length: count }, (_, i) => `c${i}.chain.bench`)].map((name, i) => ({ name, pki: createPki({ name: `Cold Chain ${i}`, hosts: [name] }) }));
  const backup = backupPin();
  const policy = new certpin.PinPolicy({
    hosts: {
      '**.leaf.bench': [pinOf(shared.intermediate), backup],
      ...Object.fromEntries(pkis.map(({ name, pki }) => [name, [pinOf(pki.intermediate), backup]])),
    },
    ca: [shared.root.pem, ...pkis.map(({ pki }) => pki.root.pem)],
    trustSystemRoots: false,
    onWarning: () => {},
  });
  return { leaf, chain: pkis.map(({ name, pki }) => ({ name, key: pki.leaf.key.keyPem, cert: pki.chainPem })), policy };
}

/** Collects the `durationMs` of every decision published while `run` runs, in microseconds. */
async function decisionDurations(run: () => Promise<void>): Promise<number[]> {
  const durations: number[] = [];
  const listener = (message: unknown) => durations.push((message as DecisionMessage).durationMs * 1000);
  diagnostics.subscribe(channels.decision, listener);
  try {
    await run();
  } finally {
    diagnostics.unsubscribe(channels.decision, listener);
  }
  return durations;
}

function spread(q: Quartiles, format: (x: number) => string = formatMicros): string {
  return `${format(q.median)} (IQR ${format(q.low)} … ${format(q.high)})`;
}

export const DECISION_HEADER = ['measurement', 'how', 'baseline', 'certpin', 'samples', 'target'];

export interface DecisionSettings {
  readonly cachedConnections: number;
  /** New names per cold row (each connects once). */
  readonly coldConnections: number;
  readonly diagnostics: SizedRounds;
}

export async function benchmarkDecisions(main: { policy: PinPolicy; port: number; chain: readonly Buffer[] }, cold: ColdWorld, origin: Origin, settings: DecisionSettings, progress: (text: string) => void): Promise<Table[]> {
  const rows: Row[] = [];

  progress('the cached pin decision inside real handshakes');
  const connect = () => tlsOnce(() => pinnedConnect(main.policy, { host: 'localhost', port: main.port }));
  await connect(); // the chain is now known (and the code warm): every later decision is the cached one
  // The synchronous call that starts each connection, certpin's and Node's, timed on the connections below.
  const callTimes = { certpin: [] as number[], node: [] as number[] };
  const timedCall = (into: number[], open: () => tls.TLSSocket) => () => {
    const start = performance.now();
    const socket = open();
    into.push((performance.now() - start) * 1000);
    return socket;
  };
  const cached = quartiles(await decisionDurations(async () => {
    for (let i = 0; i < settings.cachedConnections; i++) await tlsOnce(timedCall(callTimes.certpin, () => pinnedConnect(main.policy, { host: 'localhost', port: main.port })));
  }));
  rows.push({
    cells: ['pin decision, same chain again (cached)', `certpin:decision durationMs over ${settings.cachedConnections} full handshakes of pinnedConnect`, '', spread(cached), String(settings.cachedConnections), '≤ 10 µs'],
    verdict: atMost(10, cached),
  });

  // Node's check alone against certpin's whole check (which runs Node's first), on alternate connections.
  const nodeTimes: number[] = [];
  const certpinTimes: number[] = [];
  const timed = (into: number[], check: (host: string, cert: tls.PeerCertificate) => Error | undefined) => (host: string, cert: tls.PeerCertificate) => {
    const start = performance.now();
    const result = check(host, cert);
    into.push((performance.now() - start) * 1000);
    return result;
  };
  const { secureContext } = tlsTrustFor(main.policy);
  const base = { host: 'localhost', port: main.port, servername: 'localhost', secureContext };
  for (let i = 0; i < settings.cachedConnections; i++) {
    const check = createPinCheck(main.policy, { names: ['localhost'], port: main.port }).checkServerIdentity;
    await tlsOnce(timedCall(callTimes.node, () => tls.connect({ ...base, checkServerIdentity: timed(nodeTimes, tls.checkServerIdentity) })));
    await tlsOnce(() => tls.connect({ ...base, checkServerIdentity: timed(certpinTimes, check) }));
  }
  const nodeCheck = quartiles(nodeTimes.slice(1));
  const certpinCheck = quartiles(certpinTimes.slice(1));
  rows.push({
    cells: ['checkServerIdentity, same chain again', `timed inside ${settings.cachedConnections} full handshakes each, alternating`, `Node's tls.checkServerIdentity ${spread(nodeCheck)}`, `certpin's ${spread(certpinCheck)} (Node's check included)`, String(settings.cachedConnections), '(information)'],
    verdict: '',
  });

  const certpinCall = quartiles(callTimes.certpin);
  const nodeCall = quartiles(callTimes.node);
  rows.push({
    cells: ['the call that opens a connection (synchronous part)', `pinnedConnect(policy, { host, port }) vs tls.connect({ host, port, servername, secureContext, checkServerIdentity }), ${settings.cachedConnections} each`, `tls.connect ${spread(nodeCall)}`, `pinnedConnect ${spread(certpinCall)}`, String(settings.cachedConnections), '(information)'],
    verdict: '',
  });

  progress('cold pin decisions: a new leaf under a known intermediate, a wholly new chain');
  const coldRow = async (what: string, entries: ColdWorld['leaf'], port: number, limit: number) => {
    const once = (name: string) => tlsOnce(() => pinnedConnect(cold.policy, { host: 'localhost', port, servername: name }));
    await once(entries[0]!.name); // warm-up: the trust anchors' index, and the code
    const names = entries.slice(1).map((e) => e.name);
    const durations = await decisionDurations(async () => {
      for (const name of names) await once(name);
    });
    const q = quartiles(durations);
    rows.push({
      cells: [what, `certpin:decision durationMs, first full handshake for each of ${names.length} names`, '', spread(q), String(durations.length), `≤ ${formatMicros(limit)}`],
      verdict: atMost(limit, q),
    });
  };
  await coldRow('pin decision, new leaf under a known intermediate', cold.leaf, origin.ports['cold.leaf']!, 200);
  await coldRow('pin decision, wholly new chain (leaf, intermediate, root)', cold.chain, origin.ports['cold.chain']!, 500);

  progress('diagnostics_channel: publishing with and without a subscriber');
  const anchors = tlsTrustFor(main.policy).anchors;
  const decision = decide(main.policy, { names: ['localhost'], port: main.port, chain: main.chain }, anchors);
  const unsubscribed = nsPerCall(() => publishDecision(decision, main.port, 0.01), { rounds: 21, perRound: 200_000 });
  const noop = () => {};
  diagnostics.subscribe(channels.decision, noop);
  const subscribed = nsPerCall(() => publishDecision(decision, main.port, 0.01), { rounds: 21, perRound: 50_000 });
  diagnostics.unsubscribe(channels.decision, noop);
  rows.push({
    cells: ['publish a decision on certpin:decision, no subscriber', 'publishDecision() in a loop (what each pin check calls)', `with a subscriber ${spread(subscribed, formatNanos)}`, spread(unsubscribed, formatNanos), '21 batches', '≤ 50 ns (nothing next to a handshake)'],
    verdict: atMost(50, unsubscribed),
  });
  // The subscriber stays for a whole batch: subscribing and unsubscribing around every connection would make V8
  // deoptimise the code that reads the channel, every time, and measure that instead.
  const perRound = Math.max(settings.diagnostics.minPerRound, Math.round(settings.diagnostics.batchMs / Math.max(1, (await timeBatch({ run: connect }, settings.diagnostics.warmup)).wall / 1000)));
  const sub = await compareBatches(
    (n) => timeBatch({ run: connect }, n),
    async (n) => {
      diagnostics.subscribe(channels.decision, noop);
      try {
        return await timeBatch({ run: connect }, n);
      } finally {
        diagnostics.unsubscribe(channels.decision, noop);
      }
    },
    { rounds: settings.diagnostics.rounds, perRound: Math.min(perRound, settings.diagnostics.maxPerRound), warmup: 0 },
  );
  const subscriberRow = comparisonRow('pinnedConnect, no subscriber vs a subscriber on certpin:decision', 'pinnedConnect vs pinnedConnect + subscriber', sub, 'same listener; batches alternate (A B, B A, …)');
  const tables: Table[] = [
    {
      title: 'The pin decision inside real handshakes',
      header: DECISION_HEADER,
      rows,
      notes: [
        '"durationMs" is what certpin publishes for each decision: from the start of its pin check (after Node\'s host-name check and the caller\'s own check) to the decision (reading the chain Node linked, the policy lookup for each name, the chain facts and verification caches, pin matching).',
      ],
    },
    {
      title: 'diagnostics_channel with and without a subscriber, per new connection',
      header: CONNECTION_HEADER,
      rows: [{ ...subscriberRow, verdict: '' }],
      notes: ['Information: the subscriber\'s own cost per connection; the verdict on "free when no one listens" is the publish row above.'],
    },
  ];
  return tables;
}
