/**
 * A TCP proxy on 127.0.0.1 that adds network latency, so that tests can measure what a round trip costs without
 * touching the machine's loopback (no `tc netem`): every connection first waits one RTT (the TCP handshake the
 * kernel skips on loopback), then each byte takes half an RTT in each direction. Order is kept per direction.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface LatencyProxy {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** The most connections open at once so far. */
  maxOpen(): number;
  close(): Promise<void>;
}

/** One direction of a connection: chunks delivered in order, each no sooner than `delay` after it arrived. */
function delayedPipe(from: net.Socket, to: net.Socket, delayMs: number, notBefore: number): void {
  const queue: { at: number; data: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let last = notBefore;
  const drain = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length && queue[0]!.at <= now) {
      const { data } = queue.shift()!;
      if (data === null) to.end();
      else if (!to.destroyed) to.write(data);
    }
    if (queue.length) timer = setTimeout(drain, queue[0]!.at - now);
  };
  const push = (data: Buffer | null) => {
    last = Math.max(Date.now() + delayMs, last);
    queue.push({ at: last, data });
    if (!timer) timer = setTimeout(drain, Math.max(0, queue[0]!.at - Date.now()));
  };
  from.on('data', (d: Buffer) => push(d));
  from.on('end', () => push(null));
  from.on('close', () => {
    // A reset travels as fast as data: after what is queued.
    setTimeout(() => to.destroy(), Math.max(0, last - Date.now()) + 1).unref();
  });
}

/** Starts a proxy to `127.0.0.1:upstreamPort` with a round-trip time of `rttMs`. */
export async function startLatencyProxy(options: { upstreamPort: number; rttMs: number }): Promise<LatencyProxy> {
  const oneWay = options.rttMs / 2;
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let open = 0;
  let maxOpen = 0;
  const server = net.createServer((client) => {
    accepted++;
    maxOpen = Math.max(maxOpen, ++open);
    client.on('close', () => open--);
    const opened = Date.now();
    const upstream = net.connect(options.upstreamPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    // The client's first bytes leave after the TCP handshake (one RTT) and arrive half an RTT later.
    delayedPipe(client, upstream, oneWay, opened + options.rttMs + oneWay);
    delayedPipe(upstream, client, oneWay, 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => accepted,
    maxOpen: () => maxOpen,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
