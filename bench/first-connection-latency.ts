/**
 * A process's first pinned connection over a link with latency, and two builds of certpin against each other: what
 * a command-line tool or a cold start pays on a real network, where the handshake's round trips leave the client
 * idle. The table's first-connection row runs on bare loopback, where the server answers within a millisecond or
 * two; here a relay on 127.0.0.1 delays every chunk by `--latency` ms each way.
 *
 *   npm run build && cp -r dist .tmp/dist-before    # the build to compare against (e.g. on the parent commit)
 *   npm run build
 *   node --import tsx bench/first-connection-latency.ts [--latency 10] [--pairs 20] [--node BIN] [ENTRY …]
 *
 * ENTRY is a built `index.js` (default: this checkout's `dist/index.js`); keep copies inside the project so that
 * they find its node_modules. Per set, in rotating order, fresh processes of BIN run a plain `tls.connect` and one
 * `PinPolicy` + `pinnedConnect` per entry, as in `bench/first-connection.ts` (both sides trust the server's root
 * through `NODE_EXTRA_CA_CERTS`). Each child reports its wall time to `secureConnect`, its CPU to 100 ms after it
 * (the work other threads finish then), and the `durationMs` of its pin decision (`certpin:decision`). Printed:
 * medians per side, and paired differences of each entry against plain and against the first entry.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { firstConnectionScript } from './first-connection.js';
import { median } from './harness.js';
import { distEntry, ensureBuilt } from './startup.js';
import { backupPin, createPki, pinOf } from '../test/support/pki.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { latency: { type: 'string', default: '10' }, pairs: { type: 'string', default: '20' }, node: { type: 'string', default: process.execPath } },
});
const latencyMs = Number(values.latency);
const sets = Number(values.pairs);
if (!(latencyMs >= 0) || !(sets > 0)) {
  console.error('usage: node --import tsx bench/first-connection-latency.ts [--latency MS] [--pairs N] [--node BIN] [ENTRY …]');
  process.exit(2);
}
if (positionals.length === 0) {
  const problem = ensureBuilt();
  if (problem) throw new Error(`the benchmark measures the built package: ${problem}`);
}
const entries = (positionals.length > 0 ? positionals : [distEntry]).map((entry) => path.resolve(entry));

const pki = createPki({ name: 'First', hosts: ['localhost'] });
const server = tls.createServer({ key: pki.leaf.key.keyPem, cert: pki.chainPem }, (socket) => socket.end());
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const serverPort = (server.address() as net.AddressInfo).port;
// Every chunk is held `latencyMs` in each direction, in order.
const relay = net.createServer((client) => {
  const upstream = net.connect(serverPort, '127.0.0.1');
  const delayed = (to: net.Socket) => (chunk: Buffer) => setTimeout(() => to.write(chunk), latencyMs);
  client.on('data', delayed(upstream));
  upstream.on('data', delayed(client));
  for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
    a.on('error', () => b.destroy());
    a.on('close', () => setTimeout(() => b.destroy(), latencyMs));
  }
});
await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
const port = latencyMs > 0 ? (relay.address() as net.AddressInfo).port : serverPort;

const dir = mkdtempSync(path.join(tmpdir(), 'certpin-first-latency-'));
const rootFile = path.join(dir, 'root.pem');
writeFileSync(rootFile, pki.root.pem);
const pins = [pinOf(pki.intermediate), backupPin()];

interface Sample {
  readonly wall: number;
  readonly cpu: number;
  readonly decisionMs?: number;
}


function run(entry: string | undefined): Promise<Sample> {
  return new Promise((resolve, reject) => {
    execFile(values.node, ['--input-type=module', '-e', firstConnectionScript(entry, port, pins)], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: rootFile } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`a child failed: ${stderr.slice(0, 500)}`));
      else resolve(JSON.parse(stdout.trim()) as Sample);
    });
  });
}

try {
  const sides = [undefined, ...entries];
  const samples: Sample[][] = sides.map(() => []);
  for (const side of sides) await run(side); // the file system cache
  for (let set = 0; set < sets; set++) {
    // The order rotates, so that no side always runs first after the others.
    for (let k = 0; k < sides.length; k++) {
      const index = (set + k) % sides.length;
      samples[index]!.push(await run(sides[index]));
    }
  }
  const ms = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)} ms`;
  const paired = (a: number, b: number, key: 'wall' | 'cpu' | 'decisionMs') => median(samples[a]!.map((sample, i) => (sample[key] ?? 0) - (samples[b]![i]![key] ?? 0)));
  console.log(`${values.node === process.execPath ? `Node ${process.version}` : values.node}: ${sets} sets, ${latencyMs} ms each way\n`);
  sides.forEach((side, i) => {
    const name = side ? `pinnedConnect of ${path.relative(process.cwd(), side)}` : 'plain tls.connect';
    const own = `wall ${median(samples[i]!.map((s) => s.wall)).toFixed(2)} ms, CPU ${median(samples[i]!.map((s) => s.cpu)).toFixed(2)} ms${side ? `, decision ${median(samples[i]!.map((s) => s.decisionMs ?? 0)).toFixed(2)} ms` : ''}`;
    const versusPlain = i === 0 ? '' : `; vs plain: wall ${ms(paired(i, 0, 'wall'))}, CPU ${ms(paired(i, 0, 'cpu'))}`;
    const versusFirst = i < 2 ? '' : `; vs the first entry: wall ${ms(paired(i, 1, 'wall'))}, CPU ${ms(paired(i, 1, 'cpu'))}, decision ${ms(paired(i, 1, 'decisionMs'))}`;
    console.log(`${name}: ${own}${versusPlain}${versusFirst}`);
  });
} finally {
  server.close();
  relay.close();
  rmSync(dir, { recursive: true, force: true });
}
