/**
 * mitmproxy (Debian's `mitmproxy` package) run for a test: a real debugging proxy, as developers run it, with a CA
 * the test gives it. Tests that need it fail with the install command when it is missing, unless
 * `CERTPIN_SKIP_MITMPROXY_TESTS=1` says the machine cannot have it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface Mitmproxy {
  /** `http://127.0.0.1:PORT`, for a client's proxy setting. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Whether mitmdump is installed; `skip` is the reason to give `it()` when the machine may not have it. */
export function mitmproxyAvailability(): { installed: boolean; skip: string | false } {
  const installed = spawnSync('mitmdump', ['--version'], { stdio: 'ignore' }).status === 0;
  const skip = !installed && process.env.CERTPIN_SKIP_MITMPROXY_TESTS === '1' ? 'mitmproxy is not installed (CERTPIN_SKIP_MITMPROXY_TESTS=1)' : false;
  return { installed, skip };
}

/** Starts mitmdump on 127.0.0.1 with `caPem` (certificate and key) as its CA, trusting `upstreamCa` for the origins. */
export async function startMitmproxy(options: { caCertPem: string; caKeyPem: string; upstreamCa: string }): Promise<Mitmproxy> {
  if (!mitmproxyAvailability().installed) {
    throw new Error('mitmproxy is not installed: run `apt-get install mitmproxy` (or set CERTPIN_SKIP_MITMPROXY_TESTS=1 on a machine that cannot have it)');
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certpin-mitmproxy-'));
  writeFileSync(path.join(dir, 'mitmproxy-ca.pem'), options.caKeyPem + options.caCertPem);
  writeFileSync(path.join(dir, 'upstream-ca.pem'), options.upstreamCa);
  const port = await freePort();
  const child = spawn('mitmdump', [
    '--listen-host', '127.0.0.1',
    '--listen-port', String(port),
    '--set', `confdir=${dir}`,
    '--set', `ssl_verify_upstream_trusted_ca=${path.join(dir, 'upstream-ca.pem')}`,
    '--set', 'connection_strategy=lazy',
    '-q',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mitmdump exited: ${output}`);
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`mitmdump did not listen within 20 s: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      child.kill();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
