/**
 * Connection benchmarks against the origin in bench/server.ts: a new TLS connection per request (full handshakes,
 * and with session resumption), keep-alive requests, and the interceptor approach (a separate TLS connection that
 * reads the certificate before each request, as Flutter's http_certificate_pinning / dio interceptors do).
 */
import { createHash } from 'node:crypto';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import https from 'node:https';
import tls from 'node:tls';
import axios from 'axios';
import type { AxiosInstance } from 'axios';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { pinAxios } from '../src/adapters/axios.js';
import { pinnedAgent, pinnedDispatcher } from '../src/index.js';
import type { PinPolicy } from '../src/index.js';
import { compare } from './harness.js';
import type { Comparison } from './harness.js';

export interface Origin {
  /** Port with TLS session tickets (clients can resume). */
  readonly resume: number;
  /** Port without session resumption: every handshake is a full one. */
  readonly full: number;
  counts(): Promise<{ resume: HandshakeCounts; full: HandshakeCounts }>;
  close(): void;
}

export interface HandshakeCounts {
  full: number;
  resumed: number;
}

/** Starts bench/server.ts in a child process (with tsx, like this process). */
export async function startOrigin(key: string, cert: string): Promise<Origin> {
  const child: ChildProcess = fork(new URL('./server.ts', import.meta.url), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise<{ resume: number; full: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { resume: number; full: number }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the benchmark server exited (${String(code)})`)));
    child.send({ key, cert });
  });
  return {
    ...ports,
    counts: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve((m as { counts: { resume: HandshakeCounts; full: HandshakeCounts } }).counts));
        child.send('counts');
      }),
    close: () => child.disconnect(),
  };
}

function httpsGet(url: string, agent: https.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { agent }, (response) => {
        response.resume();
        response.on('end', resolve);
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

async function fetchGet(url: string, dispatcher: Dispatcher): Promise<void> {
  // Node's RequestInit types `dispatcher` with its bundled undici; the dispatchers are undici 7's (same interface).
  const response = await fetch(url, { dispatcher } as unknown as RequestInit);
  await response.arrayBuffer();
}

async function axiosGet(url: string, instance: AxiosInstance): Promise<void> {
  await instance.get(url, { responseType: 'arraybuffer' });
}

/** What an interceptor does before each request: a TLS connection of its own, to read and compare the leaf's fingerprint. */
function interceptorCheck(port: number, context: tls.SecureContext, allowed: ReadonlySet<string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: 'localhost', port, servername: 'localhost', secureContext: context }, () => {
      const fingerprint = createHash('sha256').update(socket.getPeerCertificate().raw).digest('hex');
      socket.destroy();
      if (allowed.has(fingerprint)) resolve();
      else reject(new Error('certificate fingerprint not allowed'));
    });
    socket.on('error', reject);
  });
}

export interface ConnectionResults {
  readonly httpsFull: Comparison;
  readonly httpsResumed: Comparison;
  readonly fetchFull: Comparison;
  readonly fetchResumed: Comparison;
  readonly axiosFull: Comparison;
  readonly httpsKeepAlive: Comparison;
  readonly fetchKeepAlive: Comparison;
  readonly axiosKeepAlive: Comparison;
  readonly interceptorNewConnection: Comparison;
  readonly interceptorKeepAlive: Comparison;
  /** Handshakes the server saw during the full and the resumption comparisons (resumed must be 0, resp. most). */
  readonly fullHandshakes: HandshakeCounts;
  readonly resumptionHandshakes: HandshakeCounts;
  /** Share of connections each client resumed against the resumption origin, probed alone (20 connections each). */
  readonly resumedShare: { readonly pinnedAgent: number; readonly httpsAgent: number; readonly pinnedDispatcher: number; readonly undiciAgent: number };
}

export interface ConnectionSettings {
  readonly rounds: number;
  readonly perRound: number;
  readonly keepAliveRounds: number;
  readonly keepAlivePerRound: number;
}

/**
 * Runs every connection comparison. `a` is always certpin, `b` the plain client with the same trust anchors (one
 * shared `SecureContext` on both sides, so that neither pays for parsing CA certificates per connection).
 */
export async function benchmarkConnections(policy: PinPolicy, origin: Origin, caPem: string, leafSha256Hex: string, settings: ConnectionSettings, progress: (text: string) => void): Promise<ConnectionResults> {
  const context = tls.createSecureContext({ ca: caPem });
  const { rounds, perRound } = settings;
  const closeUrl = (port: number) => `https://localhost:${port}/close`;
  const keepUrl = `https://localhost:${origin.resume}/keep`;
  const destroyers: (() => unknown)[] = [];
  const track = <T extends { destroy(): unknown }>(thing: T): T => {
    destroyers.push(() => thing.destroy());
    return thing;
  };

  try {
    // New connection per request. The agents do not keep sockets; the server also answers Connection: close.
    const pinnedOnce = track(pinnedAgent(policy, { keepAlive: false }));
    const plainOnce = track(new https.Agent({ keepAlive: false, secureContext: context }));
    const pinnedFetch = track(pinnedDispatcher(policy));
    const plainFetch = track(new Agent({ connect: { secureContext: context } }));
    // axios on Node is node:https underneath: pinAxios installs a pinnedAgent; the plain instance gets an https.Agent.
    const pinnedAxios = pinAxios(axios.create({ proxy: false }), policy, { agentOptions: { keepAlive: false } });
    track(pinnedAxios.defaults.httpsAgent as https.Agent);
    const plainAxios = axios.create({ proxy: false, httpsAgent: track(new https.Agent({ keepAlive: false, secureContext: context })) });

    // Which clients actually resume, each probed alone (the comparisons below interleave them).
    const resumedShareOf = async (run: () => Promise<void>) => {
      const start = (await origin.counts()).resume;
      for (let i = 0; i < 20; i++) await run();
      const end = (await origin.counts()).resume;
      return (end.resumed - start.resumed) / Math.max(1, end.resumed - start.resumed + end.full - start.full);
    };
    progress('which clients resume TLS sessions');
    const resumedShare = {
      pinnedAgent: await resumedShareOf(() => httpsGet(closeUrl(origin.resume), pinnedOnce)),
      httpsAgent: await resumedShareOf(() => httpsGet(closeUrl(origin.resume), plainOnce)),
      pinnedDispatcher: await resumedShareOf(() => fetchGet(closeUrl(origin.resume), pinnedFetch)),
      undiciAgent: await resumedShareOf(() => fetchGet(closeUrl(origin.resume), plainFetch)),
    };

    const before = await origin.counts();
    progress('new connection per request, full handshakes: node:https');
    const httpsFull = await compare(() => httpsGet(closeUrl(origin.full), pinnedOnce), () => httpsGet(closeUrl(origin.full), plainOnce), { rounds, perRound });
    progress('new connection per request, full handshakes: fetch');
    const fetchFull = await compare(() => fetchGet(closeUrl(origin.full), pinnedFetch), () => fetchGet(closeUrl(origin.full), plainFetch), { rounds, perRound });
    progress('new connection per request, full handshakes: axios');
    const axiosFull = await compare(() => axiosGet(closeUrl(origin.full), pinnedAxios), () => axiosGet(closeUrl(origin.full), plainAxios), { rounds, perRound });
    progress('new connection per request, with TLS session resumption: node:https');
    const httpsResumed = await compare(() => httpsGet(closeUrl(origin.resume), pinnedOnce), () => httpsGet(closeUrl(origin.resume), plainOnce), { rounds, perRound });
    progress('new connection per request, with TLS session resumption: fetch');
    const fetchResumed = await compare(() => fetchGet(closeUrl(origin.resume), pinnedFetch), () => fetchGet(closeUrl(origin.resume), plainFetch), { rounds, perRound });
    const after = await origin.counts();

    // Keep-alive: one connection each, many requests.
    const pinnedKeep = track(pinnedAgent(policy, { keepAlive: true, maxSockets: 1 }));
    const plainKeep = track(new https.Agent({ keepAlive: true, maxSockets: 1, secureContext: context }));
    const pinnedFetchKeep = track(pinnedDispatcher(policy, { connections: 1 }));
    const plainFetchKeep = track(new Agent({ connections: 1, connect: { secureContext: context } }));
    const pinnedAxiosKeep = pinAxios(axios.create({ proxy: false }), policy, { agentOptions: { keepAlive: true, maxSockets: 1 } });
    track(pinnedAxiosKeep.defaults.httpsAgent as https.Agent);
    const plainAxiosKeep = axios.create({ proxy: false, httpsAgent: track(new https.Agent({ keepAlive: true, maxSockets: 1, secureContext: context })) });
    const keepOptions = { rounds: settings.keepAliveRounds, perRound: settings.keepAlivePerRound };
    progress('keep-alive requests: node:https');
    const httpsKeepAlive = await compare(() => httpsGet(keepUrl, pinnedKeep), () => httpsGet(keepUrl, plainKeep), keepOptions);
    progress('keep-alive requests: fetch');
    const fetchKeepAlive = await compare(() => fetchGet(keepUrl, pinnedFetchKeep), () => fetchGet(keepUrl, plainFetchKeep), keepOptions);
    progress('keep-alive requests: axios');
    const axiosKeepAlive = await compare(() => axiosGet(keepUrl, pinnedAxiosKeep), () => axiosGet(keepUrl, plainAxiosKeep), keepOptions);

    // The interceptor approach: check connection (full handshake, as a separate native client would make), then the request.
    const allowed = new Set([leafSha256Hex]);
    progress('interceptor approach vs in-handshake check: new connection per request');
    const interceptorNewConnection = await compare(
      async () => {
        await interceptorCheck(origin.full, context, allowed);
        await httpsGet(closeUrl(origin.full), plainOnce);
      },
      () => httpsGet(closeUrl(origin.full), pinnedOnce),
      { rounds, perRound },
    );
    progress('interceptor approach vs in-handshake check: keep-alive');
    const interceptorKeepAlive = await compare(
      async () => {
        await interceptorCheck(origin.full, context, allowed);
        await httpsGet(keepUrl, plainKeep);
      },
      () => httpsGet(keepUrl, pinnedKeep),
      { rounds, perRound },
    );

    return {
      httpsFull,
      httpsResumed,
      fetchFull,
      fetchResumed,
      axiosFull,
      httpsKeepAlive,
      fetchKeepAlive,
      axiosKeepAlive,
      interceptorNewConnection,
      interceptorKeepAlive,
      fullHandshakes: { full: after.full.full - before.full.full, resumed: after.full.resumed - before.full.resumed },
      resumptionHandshakes: { full: after.resume.full - before.resume.full, resumed: after.resume.resumed - before.resume.resumed },
      resumedShare,
    };
  } finally {
    for (const destroy of destroyers) await destroy();
  }
}
