/**
 * The clients compared, each configured as a careful user would, certpin's side against the plain side:
 *
 * - both sides share ONE `SecureContext` (the policy's, `tlsTrustFor(policy).secureContext`), so neither parses CA
 *   certificates per connection;
 * - both sides follow the same session policy: for full handshakes neither side offers a session (the plain side
 *   is told not to keep any: `maxCachedSessions: 0`; certpin's stops offering to a server that declines its
 *   sessions, after two declines, which the warm-up absorbs), for resumption both sides resume (the plain side with
 *   the session cache a careful user keeps: Node's agent cache, or the last session of the connection before);
 * - certpin's side talks to listener `…a`, the plain side to `…b` of the same server process, so that the server's
 *   counts of full, resumed and session-offering handshakes are per side.
 */
import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import axios from 'axios';
import got from 'got';
import type { Got } from 'got';
import { Agent, buildConnector } from 'undici';
import type { Dispatcher } from 'undici';
import WebSocket from 'ws';
import type { PinPolicy } from '../src/index.js';
import { certpin, pinAxios, pinnedGotOptions, pinnedWebSocketOptions } from './certpin.js';
import type { Ports } from './origin-server.js';
import { tlsOnce } from './tls-once.js';

export { tlsOnce };

export type Operation = () => Promise<void>;

/** One client, both sides. */
export interface ClientPair {
  /** e.g. `node:https`. */
  readonly client: string;
  /** What each side is, for the table. */
  readonly certpinSide: string;
  readonly plainSide: string;
  readonly certpin: Operation;
  readonly plain: Operation;
  /** The server listeners each side used (for the handshake counts). */
  readonly listeners: { readonly certpin: string; readonly plain: string };
  /**
   * An A/A control: the plain client on both sides, certpin on neither. What the instrument reports for no difference
   * at all is the resolution every other row of its table has in the same run.
   */
  readonly control?: boolean;
  close(): Promise<void>;
}

export interface ClientEnvironment {
  readonly policy: PinPolicy;
  /** The policy's own secure context, shared by the plain side. */
  readonly secureContext: tls.SecureContext;
  readonly ports: Ports;
}

const HOST = 'localhost';
const { pinnedAgent, pinnedConnect, pinnedDispatcher, pinnedHttp2Connect } = certpin;

export function httpsGet(url: string, agent: https.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { agent }, (response) => {
        response.resume();
        response.once('end', resolve);
        response.once('error', reject);
      })
      .once('error', reject);
  });
}

async function fetchGet(url: string, dispatcher: Dispatcher): Promise<void> {
  // Node's global fetch (its bundled undici) with undici 7 dispatchers on both sides.
  const response = await fetch(url, { dispatcher } as unknown as RequestInit);
  await response.arrayBuffer();
}

function wsOnce(open: () => WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = open();
    socket.once('open', () => socket.send('ping'));
    socket.once('message', () => socket.terminate());
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
}

function wsMessage(socket: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('message', () => {
      socket.off('error', reject);
      resolve();
    });
    socket.once('error', reject);
    socket.send('ping');
  });
}

function wsOpen(open: () => WebSocket): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = open();
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

function h2Request(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = session.request({ ':path': '/' });
    request.once('error', reject);
    request.resume();
    request.once('end', resolve);
  });
}

/** A new HTTP/2 session: connect, one request, close. */
function h2Once(open: () => http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = open();
    session.once('error', reject);
    session.once('close', () => resolve());
    h2Request(session).then(() => session.close(), reject);
  });
}

/**
 * A connector for undici's Agent that resumes like a careful user would: undici's own connector, plus a strong
 * reference to the last session per server name. (undici keeps sessions only through `WeakRef`s, so after a garbage
 * collection it has none to offer: left alone it resumes a few percent of its connections.)
 */
function resumingUndiciConnector(secureContext: tls.SecureContext): buildConnector.connector {
  const connect = buildConnector({ secureContext } as buildConnector.BuildOptions);
  const held = new Map<string, Buffer>();
  return (options, callback) =>
    connect(options, (error, socket) => {
      if (socket) (socket as tls.TLSSocket).on('session', (session: Buffer) => held.set(options.servername ?? options.hostname, session));
      (callback as (e: Error | null, s: typeof socket) => void)(error, socket);
    });
}

/** A bare `tls.connect` that resumes with the last session it received (what `pinnedConnect` does for certpin). */
function resumingTlsConnect(options: tls.ConnectionOptions): () => tls.TLSSocket {
  let session: Buffer | undefined;
  return () => tls.connect({ ...options, session }).on('session', (s: Buffer) => (session = s));
}

/** The pairs for a new connection per operation; `kind` is `full` (no side resumes) or `resume` (both resume). */
export function newConnectionPairs(env: ClientEnvironment, kind: 'full' | 'resume'): ClientPair[] {
  const { policy, secureContext, ports } = env;
  const resume = kind === 'resume';
  const port = (family: 'https' | 'h2', side: 'a' | 'b') => ports[`${family}.${kind}.${side}`]!;
  const listeners = (family: 'https' | 'h2') => ({ certpin: `${family}.${kind}.a`, plain: `${family}.${kind}.b` });
  const closeUrl = (side: 'a' | 'b') => `https://${HOST}:${port('https', side)}/close`;
  const sessionsNote = resume ? '' : ', maxCachedSessions: 0';
  const plainAgent = () => new https.Agent({ keepAlive: false, secureContext, ...(resume ? {} : { maxCachedSessions: 0 }) });
  const pairs: ClientPair[] = [];

  {
    const base = { host: HOST, port: port('https', 'b'), servername: HOST, secureContext };
    const plainOpen = resume ? resumingTlsConnect(base) : () => tls.connect(base);
    pairs.push({
      client: 'node:tls',
      certpinSide: 'pinnedConnect',
      plainSide: resume ? 'tls.connect, offering the last session' : 'tls.connect, no session',
      certpin: () => tlsOnce(() => pinnedConnect(policy, { host: HOST, port: port('https', 'a') })),
      plain: () => tlsOnce(plainOpen),
      listeners: listeners('https'),
      close: async () => {},
    });
  }
  {
    const base = { host: HOST, servername: HOST, secureContext };
    const open = (side: 'a' | 'b') => (resume ? resumingTlsConnect({ ...base, port: port('https', side) }) : () => tls.connect({ ...base, port: port('https', side) }));
    const [a, b] = [open('a'), open('b')];
    pairs.push({
      client: 'control: node:tls on both sides',
      certpinSide: `${resume ? 'tls.connect, offering the last session' : 'tls.connect, no session'}, to certpin's listener`,
      plainSide: 'the same, to the plain side\'s',
      certpin: () => tlsOnce(a),
      plain: () => tlsOnce(b),
      listeners: listeners('https'),
      control: true,
      close: async () => {},
    });
  }
  {
    const pinned = pinnedAgent(policy, { keepAlive: false });
    const plain = plainAgent();
    pairs.push({
      client: 'node:https',
      certpinSide: 'pinnedAgent',
      plainSide: `https.Agent({ keepAlive: false${sessionsNote} })`,
      certpin: () => httpsGet(closeUrl('a'), pinned),
      plain: () => httpsGet(closeUrl('b'), plain),
      listeners: listeners('https'),
      close: async () => {
        pinned.destroy();
        plain.destroy();
      },
    });
  }
  {
    const pinned = pinnedDispatcher(policy);
    const plain = new Agent({ connect: resume ? resumingUndiciConnector(secureContext) : ({ secureContext, maxCachedSessions: 0 } as buildConnector.BuildOptions) });
    pairs.push({
      client: 'fetch',
      certpinSide: 'pinnedDispatcher',
      plainSide: resume ? 'undici Agent, connector keeping its sessions' : 'undici Agent({ connect: { maxCachedSessions: 0 } })',
      certpin: () => fetchGet(closeUrl('a'), pinned),
      plain: () => fetchGet(closeUrl('b'), plain),
      listeners: listeners('https'),
      close: async () => {
        await pinned.close();
        await plain.close();
      },
    });
  }
  {
    const pinned = pinAxios(axios.create({ proxy: false }), policy, { agentOptions: { keepAlive: false } });
    const agent = plainAgent();
    const plain = axios.create({ proxy: false, httpsAgent: agent });
    pairs.push({
      client: 'axios',
      certpinSide: 'pinAxios',
      plainSide: `axios + https.Agent({ keepAlive: false${sessionsNote} })`,
      certpin: async () => void (await pinned.get(closeUrl('a'), { responseType: 'arraybuffer' })),
      plain: async () => void (await plain.get(closeUrl('b'), { responseType: 'arraybuffer' })),
      listeners: listeners('https'),
      close: async () => {
        (pinned.defaults.httpsAgent as https.Agent).destroy();
        agent.destroy();
      },
    });
  }
  {
    const options = pinnedGotOptions(policy, { agentOptions: { keepAlive: false } });
    const pinned: Got = got.extend({ retry: { limit: 0 } }, options);
    const agent = plainAgent();
    const plain: Got = got.extend({ retry: { limit: 0 }, agent: { https: agent } });
    pairs.push({
      client: 'got',
      certpinSide: 'got.extend(pinnedGotOptions)',
      plainSide: `got + https.Agent({ keepAlive: false${sessionsNote} })`,
      certpin: async () => void (await pinned(closeUrl('a'), { responseType: 'buffer' })),
      plain: async () => void (await plain(closeUrl('b'), { responseType: 'buffer' })),
      listeners: listeners('https'),
      close: async () => {
        options.destroy();
        agent.destroy();
      },
    });
  }
  {
    const options = pinnedWebSocketOptions(policy, { agentOptions: { keepAlive: false } });
    const agent = plainAgent();
    pairs.push({
      client: 'ws',
      certpinSide: 'pinnedWebSocketOptions',
      plainSide: `ws + https.Agent({ keepAlive: false${sessionsNote} })`,
      certpin: () => wsOnce(() => new WebSocket(`wss://${HOST}:${port('https', 'a')}/`, options)),
      plain: () => wsOnce(() => new WebSocket(`wss://${HOST}:${port('https', 'b')}/`, { agent })),
      listeners: listeners('https'),
      close: async () => {
        options.agent.destroy();
        agent.destroy();
      },
    });
  }
  {
    const plainBase = { host: HOST, port: port('h2', 'b'), servername: HOST, secureContext, ALPNProtocols: ['h2'] };
    const plainOpen = resume ? resumingTlsConnect(plainBase) : undefined;
    const plainUrl = `https://${HOST}:${port('h2', 'b')}`;
    pairs.push({
      client: 'node:http2 (new session + 1 request)',
      certpinSide: 'pinnedHttp2Connect',
      plainSide: resume ? 'http2.connect, createConnection offering the last session' : 'http2.connect({ secureContext })',
      certpin: () => h2Once(() => pinnedHttp2Connect(policy, `https://${HOST}:${port('h2', 'a')}`)),
      plain: () => h2Once(() => (plainOpen ? http2.connect(plainUrl, { createConnection: plainOpen }) : http2.connect(plainUrl, { secureContext }))),
      listeners: listeners('h2'),
      close: async () => {},
    });
  }
  return pairs;
}

/** The pairs for requests on an open connection (one connection per side, opened before timing). */
export async function keepAlivePairs(env: ClientEnvironment): Promise<ClientPair[]> {
  const { policy, secureContext, ports } = env;
  const url = (side: 'a' | 'b') => `https://${HOST}:${ports[`https.resume.${side}`]}/keep`;
  const listeners = (family: 'https' | 'h2') => ({ certpin: `${family}.resume.a`, plain: `${family}.resume.b` });
  const keepAgent = () => new https.Agent({ keepAlive: true, maxSockets: 1, secureContext });
  const pairs: ClientPair[] = [];
  {
    const pinned = pinnedAgent(policy, { keepAlive: true, maxSockets: 1 });
    const plain = keepAgent();
    pairs.push({
      client: 'node:https',
      certpinSide: 'pinnedAgent',
      plainSide: 'https.Agent({ keepAlive: true })',
      certpin: () => httpsGet(url('a'), pinned),
      plain: () => httpsGet(url('b'), plain),
      listeners: listeners('https'),
      close: async () => {
        pinned.destroy();
        plain.destroy();
      },
    });
  }
  {
    const [a, b] = [keepAgent(), keepAgent()];
    pairs.push({
      client: 'control: node:https on both sides',
      certpinSide: "https.Agent({ keepAlive: true }), to certpin's listener",
      plainSide: "the same, to the plain side's",
      certpin: () => httpsGet(url('a'), a),
      plain: () => httpsGet(url('b'), b),
      listeners: listeners('https'),
      control: true,
      close: async () => {
        a.destroy();
        b.destroy();
      },
    });
  }
  {
    const pinned = pinnedDispatcher(policy, { connections: 1 });
    const plain = new Agent({ connections: 1, connect: { secureContext } as buildConnector.BuildOptions });
    pairs.push({
      client: 'fetch',
      certpinSide: 'pinnedDispatcher',
      plainSide: 'undici Agent',
      certpin: () => fetchGet(url('a'), pinned),
      plain: () => fetchGet(url('b'), plain),
      listeners: listeners('https'),
      close: async () => {
        await pinned.close();
        await plain.close();
      },
    });
  }
  {
    const pinned = pinAxios(axios.create({ proxy: false }), policy, { agentOptions: { keepAlive: true, maxSockets: 1 } });
    const agent = keepAgent();
    const plain = axios.create({ proxy: false, httpsAgent: agent });
    pairs.push({
      client: 'axios',
      certpinSide: 'pinAxios',
      plainSide: 'axios + https.Agent({ keepAlive: true })',
      certpin: async () => void (await pinned.get(url('a'), { responseType: 'arraybuffer' })),
      plain: async () => void (await plain.get(url('b'), { responseType: 'arraybuffer' })),
      listeners: listeners('https'),
      close: async () => {
        (pinned.defaults.httpsAgent as https.Agent).destroy();
        agent.destroy();
      },
    });
  }
  {
    const options = pinnedGotOptions(policy, { agentOptions: { keepAlive: true, maxSockets: 1 } });
    const pinned: Got = got.extend({ retry: { limit: 0 } }, options);
    const agent = keepAgent();
    const plain: Got = got.extend({ retry: { limit: 0 }, agent: { https: agent } });
    pairs.push({
      client: 'got',
      certpinSide: 'got.extend(pinnedGotOptions)',
      plainSide: 'got + https.Agent({ keepAlive: true })',
      certpin: async () => void (await pinned(url('a'), { responseType: 'buffer' })),
      plain: async () => void (await plain(url('b'), { responseType: 'buffer' })),
      listeners: listeners('https'),
      close: async () => {
        options.destroy();
        agent.destroy();
      },
    });
  }
  {
    const pinned = pinnedHttp2Connect(policy, `https://${HOST}:${ports['h2.resume.a']}`);
    const plain = http2.connect(`https://${HOST}:${ports['h2.resume.b']}`, { secureContext });
    await Promise.all([h2Request(pinned), h2Request(plain)]);
    pairs.push({
      client: 'node:http2 (request on an open session)',
      certpinSide: 'pinnedHttp2Connect',
      plainSide: 'http2.connect',
      certpin: () => h2Request(pinned),
      plain: () => h2Request(plain),
      listeners: listeners('h2'),
      close: async () => {
        pinned.close();
        plain.close();
      },
    });
  }
  {
    const options = pinnedWebSocketOptions(policy);
    const agent = new https.Agent({ secureContext });
    const pinned = await wsOpen(() => new WebSocket(`wss://${HOST}:${ports['https.resume.a']}/`, options));
    const plain = await wsOpen(() => new WebSocket(`wss://${HOST}:${ports['https.resume.b']}/`, { agent }));
    pairs.push({
      client: 'ws (message round trip on an open socket)',
      certpinSide: 'pinnedWebSocketOptions',
      plainSide: 'ws + https.Agent',
      certpin: () => wsMessage(pinned),
      plain: () => wsMessage(plain),
      listeners: listeners('https'),
      close: async () => {
        pinned.terminate();
        plain.terminate();
        options.agent.destroy();
        agent.destroy();
      },
    });
  }
  return pairs;
}
