/**
 * One side of the report-delivery row, in a process of its own (report delivery keeps per-process state: its
 * queue, its de-duplication window and its hung requests must not leak into the other side). Every connection fails
 * a report-only pin set, so every decision makes a report; the policy's `reportUri` names a collector that accepts
 * TCP and never answers, or there is none. Each connection uses another name under `*.report.bench`, so that the
 * reports are distinct and not de-duplicated (until the reporter's cap of distinct reports per day).
 *
 * Protocol (IPC): `{ type: 'init', … }` → `{ type: 'ready' }`; `{ type: 'batch', count }` → `{ type: 'batch', wall,
 * cpu, slowest }` (microseconds per connection, and the slowest single connection); `{ type: 'stats' }` →
 * `{ type: 'stats', stats }`.
 */
import type { PinPolicy } from '../src/index.js';
import { certpin } from './certpin.js';
import { tlsOnce } from './tls-once.js';

export interface InitMessage {
  readonly type: 'init';
  readonly rootPem: string;
  readonly port: number;
  readonly collectorPort: number | undefined;
  /** Two pins that match nothing the server sends. */
  readonly pins: readonly string[];
}

const { pinnedConnect, reportStatistics } = certpin;
let policy: PinPolicy | undefined;
let port = 0;
let next = 0;
const collectGarbage = (globalThis as { gc?: () => void }).gc;

async function batch(count: number): Promise<{ wall: number; cpu: number; slowest: number }> {
  collectGarbage?.();
  let slowest = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const name = `r${next++ % 400}.report.bench`;
    const t = performance.now();
    await tlsOnce(() => pinnedConnect(policy!, { host: 'localhost', port, servername: name }));
    slowest = Math.max(slowest, (performance.now() - t) * 1000);
  }
  const wall = ((performance.now() - start) * 1000) / count;
  const cpu = process.cpuUsage(cpuStart);
  return { wall, cpu: (cpu.user + cpu.system) / count, slowest };
}

process.on('message', (message: InitMessage | { type: 'batch'; count: number } | { type: 'stats' }) => {
  if (message.type === 'init') {
    port = message.port;
    policy = new certpin.PinPolicy({
      hosts: { '**.report.bench': { pins: message.pins, reportOnly: true } },
      ca: message.rootPem,
      trustSystemRoots: false,
      ...(message.collectorPort === undefined ? {} : { reportUri: `https://127.0.0.1:${message.collectorPort}/certpin-reports` }),
      onWarning: () => {},
    });
    process.send!({ type: 'ready' });
  } else if (message.type === 'batch') {
    void batch(message.count).then((result) => process.send!({ type: 'batch', ...result }), (error: Error) => process.send!({ type: 'error', message: error.message }));
  } else if (message.type === 'stats') {
    process.send!({ type: 'stats', stats: reportStatistics() });
  }
});
process.on('disconnect', () => process.exit(0));
