/**
 * Starts bench/origin-server.ts in a child process (the same Node binary, with tsx) and talks to it over IPC.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Counts, HandshakeCounts, Ports, StartMessage } from './origin-server.js';

export type { HandshakeCounts } from './origin-server.js';

export interface Origin {
  readonly ports: Ports;
  /** Handshakes each listener has seen so far. */
  counts(): Promise<{ counts: Counts; collectorAccepted: number }>;
  close(): void;
}

export async function startOrigin(start: Omit<StartMessage, 'type'>): Promise<Origin> {
  const child: ChildProcess = fork(new URL('./origin-server.ts', import.meta.url), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise<Ports>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the benchmark server exited (${String(code)})`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve((m as { ports: Ports }).ports);
    });
    child.send({ type: 'start', ...start } satisfies StartMessage);
  });
  return {
    ports,
    counts: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m as { counts: Counts; collectorAccepted: number }));
        child.send({ type: 'counts' });
      }),
    close: () => {
      if (child.connected) child.disconnect();
    },
  };
}

/** What a listener saw between two snapshots. */
export function countsBetween(before: Counts, after: Counts, name: string): HandshakeCounts {
  const b = before[name] ?? { full: 0, resumed: 0, offered: 0 };
  const a = after[name] ?? { full: 0, resumed: 0, offered: 0 };
  return { full: a.full - b.full, resumed: a.resumed - b.resumed, offered: a.offered - b.offered };
}

/** `612 full, 0 resumed, 0 offered`. */
export function describeCounts(c: HandshakeCounts): string {
  return `${c.full} full/${c.resumed} resumed/${c.offered} offered`;
}
