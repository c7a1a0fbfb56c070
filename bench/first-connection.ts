/**
 * The first connection of a process: what a command-line tool, a serverless function's cold start or an app's first
 * request pays. Fresh child processes of the Node binary running the benchmark, in interleaved pairs (the order
 * alternating): one makes a `PinPolicy` (system roots trusted, the default; the intermediate pinned) and opens one
 * `pinnedConnect`, the other one `tls.connect` with Node's defaults. Like for like, both trust the server's root
 * through Node's default store (`NODE_EXTRA_CA_CERTS`), as a public server's root is. Each child times itself from
 * just before the policy (or the connection) to `secureConnect` (wall), and its CPU from the same moment to
 * {@link SETTLE_MS} after `secureConnect`, the socket closed at once: V8 compiles hot code and collects garbage on
 * other threads, and work started near `secureConnect` finishes after it, where CPU read at `secureConnect` does not
 * see it (certpin moved the trust store's building into the handshake's wait, and the CPU read at `secureConnect`
 * rose by 2 to 6 ms while the whole process's stayed the same). The import of certpin is not counted (the start-up
 * rows measure it).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { quartiles } from './harness.js';
import type { Quartiles } from './harness.js';
import { distEntry } from './startup.js';

/** How long after `secureConnect` a child keeps counting its CPU, for the work its other threads finish then. */
export const SETTLE_MS = 100;

/** Quartiles of the per-pair ratios (certpin over plain) and differences (ms), and the plain side's own times (ms). */
export interface FirstConnectionResults {
  readonly plain: { readonly wall: Quartiles; readonly cpu: Quartiles };
  readonly ratio: { readonly wall: Quartiles; readonly cpu: Quartiles };
  readonly delta: { readonly wall: Quartiles; readonly cpu: Quartiles };
  readonly pairs: number;
}

/**
 * A child's script: `entry` (a built certpin) makes a policy and opens one `pinnedConnect`, or without it one
 * `tls.connect`; it prints its wall time to `secureConnect`, its CPU to {@link SETTLE_MS} after it, and the
 * `durationMs` of its pin decision (`certpin:decision`).
 */
export function firstConnectionScript(entry: string | undefined, port: number, pins: readonly string[]): string {
  const open = entry
    ? `const { PinPolicy, pinnedConnect } = await import(${JSON.stringify(entry)});
       dc.subscribe('certpin:decision', (message) => { decisionMs = message.durationMs; });
       start();
       const socket = pinnedConnect(new PinPolicy({ hosts: { localhost: ${JSON.stringify(pins)} } }), { host: 'localhost', port: ${port} });`
    : `start();
       const socket = tls.connect({ host: 'localhost', port: ${port}, servername: 'localhost' });`;
  return `import tls from 'node:tls';
    import dc from 'node:diagnostics_channel';
    let wall, cpu, decisionMs;
    const start = () => { wall = performance.now(); cpu = process.cpuUsage(); };
    ${open}
    socket.once('secureConnect', () => {
      const elapsed = performance.now() - wall;
      socket.destroy();
      setTimeout(() => {
        const used = process.cpuUsage(cpu);
        console.log(JSON.stringify({ wall: elapsed, cpu: (used.user + used.system) / 1000, decisionMs }));
      }, ${SETTLE_MS});
    });
    socket.once('error', (error) => { console.error(error); process.exit(1); });`;
}

export function benchmarkFirstConnection(pairs: number, server: { port: number; rootPem: string; pins: readonly string[] }): FirstConnectionResults {
  const dir = mkdtempSync(path.join(tmpdir(), 'certpin-first-'));
  try {
    const rootFile = path.join(dir, 'root.pem');
    writeFileSync(rootFile, server.rootPem);
    const run = (pinned: boolean): { wall: number; cpu: number } => {
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', firstConnectionScript(pinned ? distEntry : undefined, server.port, server.pins)], {
        encoding: 'utf8',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: rootFile },
      });
      if (result.status !== 0) throw new Error(`the first-connection child (${pinned ? 'certpin' : 'plain'}) failed: ${result.stderr.slice(0, 500)}`);
      return JSON.parse(result.stdout.trim()) as { wall: number; cpu: number };
    };
    run(true); // the file system cache
    run(false);
    const plain: { wall: number; cpu: number }[] = [];
    const ratios: { wall: number; cpu: number }[] = [];
    const deltas: { wall: number; cpu: number }[] = [];
    for (let i = 0; i < pairs; i++) {
      let pinned: { wall: number; cpu: number };
      let unpinned: { wall: number; cpu: number };
      if (i % 2) {
        pinned = run(true);
        unpinned = run(false);
      } else {
        unpinned = run(false);
        pinned = run(true);
      }
      plain.push(unpinned);
      ratios.push({ wall: pinned.wall / unpinned.wall, cpu: pinned.cpu / unpinned.cpu });
      deltas.push({ wall: pinned.wall - unpinned.wall, cpu: pinned.cpu - unpinned.cpu });
    }
    return {
      plain: { wall: quartiles(plain.map((p) => p.wall)), cpu: quartiles(plain.map((p) => p.cpu)) },
      ratio: { wall: quartiles(ratios.map((r) => r.wall)), cpu: quartiles(ratios.map((r) => r.cpu)) },
      delta: { wall: quartiles(deltas.map((d) => d.wall)), cpu: quartiles(deltas.map((d) => d.cpu)) },
      pairs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
