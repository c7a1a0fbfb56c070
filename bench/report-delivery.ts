/**
 * The report-delivery row: a dead report collector must not change connection latency. Two processes run the same
 * pinned connections, each failing a report-only pin set: one with the policy's `reportUri` on a collector that
 * accepts TCP and never answers, one without a `reportUri`. Their batches are interleaved and paired like every
 * other comparison; the rounds are spread over more time than a POST to such a collector takes to fail (about 20 s
 * measured, for a 10-second POST timeout), so that hung requests time out and new ones start while connections are
 * being measured.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { ReportStatistics } from '../src/index.js';
import { comparisonRow } from './connections.js';
import { compareBatches, formatMicros } from './harness.js';
import type { Batch, Row } from './harness.js';
import type { Origin } from './origin.js';
import type { InitMessage } from './report-worker.js';

interface Worker {
  batch(count: number): Promise<Batch>;
  slowest: number;
  stats(): Promise<ReportStatistics>;
  close(): void;
}

function request<T>(child: ChildProcess, message: unknown, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string; message?: string }) => {
      if (m.type === 'error') {
        child.off('message', onMessage);
        reject(new Error(`report worker: ${m.message}`));
      } else if (m.type === type) {
        child.off('message', onMessage);
        resolve(m as T);
      }
    };
    child.on('message', onMessage);
    child.send(message as object);
  });
}

async function startWorker(init: Omit<InitMessage, 'type'>): Promise<Worker> {
  const child = fork(new URL('./report-worker.ts', import.meta.url), [], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await request(child, { type: 'init', ...init }, 'ready');
  const worker: Worker = {
    slowest: 0,
    async batch(count) {
      const result = await request<Batch & { slowest: number }>(child, { type: 'batch', count }, 'batch');
      worker.slowest = Math.max(worker.slowest, result.slowest);
      return result;
    },
    stats: async () => (await request<{ stats: ReportStatistics }>(child, { type: 'stats' }, 'stats')).stats,
    close: () => {
      if (child.connected) child.disconnect();
    },
  };
  return worker;
}

function describeStats(s: ReportStatistics): string {
  return `${s.pending} pending, ${s.failed} failed, ${s.dropped} dropped, ${s.skipped} skipped, ${s.sent} sent`;
}

export async function benchmarkReportDelivery(origin: Origin, material: { rootPem: string; pins: readonly string[] }, settings: { rounds: number; perRound: number; spanMs: number }, progress: (text: string) => void): Promise<Row> {
  progress(`report delivery: a dead collector vs none (${Math.round(settings.spanMs / 1000)} s)`);
  const dead = await startWorker({ ...material, port: origin.ports['https.full.a']!, collectorPort: origin.ports.collector });
  const none = await startWorker({ ...material, port: origin.ports['https.full.b']!, collectorPort: undefined });
  try {
    const accepted = (await origin.counts()).collectorAccepted;
    const pause = settings.rounds > 1 ? settings.spanMs / settings.rounds : 0;
    const c = await compareBatches((n) => dead.batch(n), (n) => none.batch(n), {
      rounds: settings.rounds,
      perRound: settings.perRound,
      between: () => new Promise((resolve) => setTimeout(resolve, pause)),
    });
    const collector = (await origin.counts()).collectorAccepted - accepted;
    const [deadStats, noneStats] = [await dead.stats(), await none.stats()];
    return comparisonRow(
      'pinnedConnect, every connection fails a report-only pin set',
      'reportUri → a collector that never answers vs no reportUri (one process each)',
      c,
      `collector accepted ${collector} connections; reports: ${describeStats(deadStats)} ‖ ${describeStats(noneStats)}; slowest connection ${formatMicros(dead.slowest)} ‖ ${formatMicros(none.slowest)}`,
    );
  } finally {
    dead.close();
    none.close();
  }
}
