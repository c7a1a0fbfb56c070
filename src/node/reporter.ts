/**
 * Report delivery: failure reports POSTed as JSON to the policy's https report URIs, in the background, never
 * blocking or slowing a connection. A bounded queue (full: dropped and counted), a timeout per POST, and TrustKit's
 * de-duplication (the same host, port, validated chain, known pins and result once per 24 hours, at most 50
 * distinct reports a window). A URI whose host the failing policy itself pins is skipped: the report would meet the
 * same failure, and could loop. `onReport` learns what became of each report.
 * @module
 */
import type https from 'node:https';
import type tls from 'node:tls';
import { nodeHttps } from '../builtins.js';
import type { PinPolicy } from '../core/policy.js';
import { reportIdentity } from '../core/report.js';
import type { PinReport, ReportDelivery } from '../core/report.js';
import { publishReport } from './diagnostics.js';
import { anchoredContext, ownAnchors } from './trust-store.js';

const WINDOW_MS = 24 * 60 * 60_000;
const DISTINCT_PER_WINDOW = 50;
const QUEUE_LIMIT = 16;
const CONCURRENCY = 2;
/** The longest one POST may take, connection and answer included. */
export const POST_TIMEOUT_MS = 10_000;

/** Counters of every report this process handled. */
export interface ReportStatistics {
  readonly sent: number;
  readonly failed: number;
  readonly deduplicated: number;
  readonly skipped: number;
  readonly dropped: number;
  /** Reports waiting or being sent now. */
  readonly pending: number;
}

interface Job {
  readonly policy: PinPolicy;
  readonly report: PinReport;
  readonly uris: readonly string[];
}

const counts = { sent: 0, failed: 0, deduplicated: 0, skipped: 0, dropped: 0 };
const queue: Job[] = [];
let inFlight = 0;
let windowStart = 0;
const seen = new Set<string>();
/**
 * Reports with nowhere to go, de-duplicated apart: they must not spend the budget of the reports that are sent (50
 * distinct failures of a host without a report URI would silence every other policy's collector for a day).
 */
const seenSkipped = new Set<string>();
const idleWaiters: (() => void)[] = [];

/** What report delivery has done in this process so far. */
export function reportStatistics(): ReportStatistics {
  return { ...counts, pending: queue.length + inFlight };
}

/**
 * Hands reports to delivery: returns at once; the POSTs happen in the background.
 * @internal called by the pin check.
 */
export function deliverReports(policy: PinPolicy, reports: readonly PinReport[]): void {
  for (const report of reports) {
    const now = Date.now();
    if (now - windowStart >= WINDOW_MS) {
      windowStart = now;
      seen.clear();
      seenSkipped.clear();
    }
    const identity = reportIdentity(report);
    const uris = urisFor(policy, report);
    if (uris.length === 0) {
      if (seenSkipped.has(identity)) settle(policy, report, 'deduplicated');
      else {
        if (seenSkipped.size < DISTINCT_PER_WINDOW) seenSkipped.add(identity);
        settle(policy, report, 'skipped');
      }
      continue;
    }
    if (seen.has(identity)) {
      settle(policy, report, 'deduplicated');
      continue;
    }
    if (seen.size >= DISTINCT_PER_WINDOW) {
      settle(policy, report, 'dropped');
      continue;
    }
    if (queue.length >= QUEUE_LIMIT) {
      // Not remembered as seen: the same failure may be reported once the queue drains.
      settle(policy, report, 'dropped');
      continue;
    }
    seen.add(identity);
    queue.push({ policy, report, uris });
  }
  // Not now: this runs inside the failing handshake's certificate check, which a POST's set-up would slow.
  if (queue.length > 0 && !pumpScheduled) {
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      pump();
    });
  }
}

let pumpScheduled = false;

/**
 * Waits until every queued report has been sent or has failed, for at most `timeoutMs`; for a clean shutdown
 * (`process.on('beforeExit', …)`). Resolves to the number of reports still pending.
 */
export function flushReports(timeoutMs = 5_000): Promise<number> {
  if (queue.length + inFlight === 0) return Promise.resolve(0);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(queue.length + inFlight), timeoutMs);
    timer.unref();
    idleWaiters.push(() => {
      clearTimeout(timer);
      resolve(0);
    });
  });
}

/** The report URIs of the pin set that failed, without those whose host the policy itself pins. */
function urisFor(policy: PinPolicy, report: PinReport): string[] {
  const rule = policy.rules.find((r) => r.pattern.text === report['noted-hostname']);
  const uris = rule?.reportUris ?? policy.reportUris;
  return uris.filter((uri) => policy.ruleFor(new URL(uri).hostname.replace(/^\[(.*)\]$/, '$1')) === undefined);
}

function pump(): void {
  while (inFlight < CONCURRENCY && queue.length > 0) {
    const job = queue.shift()!;
    inFlight++;
    void send(job).then((delivery) => {
      inFlight--;
      settle(job.policy, job.report, delivery);
      pump();
      if (queue.length + inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
    });
  }
}

async function send(job: Job): Promise<ReportDelivery> {
  const body = JSON.stringify(job.report);
  let delivered = false;
  for (const uri of job.uris) {
    if (await post(job.policy, uri, body)) delivered = true;
  }
  return delivered ? 'sent' : 'failed';
}

const reportContexts = new WeakMap<object, tls.SecureContext>();

/** POSTs one report; resolves to whether the collector took it (a 2xx answer). */
function post(policy: PinPolicy, uri: string, body: string): Promise<boolean> {
  return new Promise((resolve) => {
    let context = reportContexts.get(policy.trust);
    if (!context) {
      // The policy's trust anchors, without its client certificate: a collector has no business seeing the app's identity.
      context = anchoredContext({ minVersion: 'TLSv1.2' }, ownAnchors(policy.trust), policy.trust.trustSystemRoots).secureContext;
      reportContexts.set(policy.trust, context);
    }
    const options: https.RequestOptions & { secureContext: tls.SecureContext } = {
      method: 'POST',
      agent: false,
      secureContext: context,
      rejectUnauthorized: true,
      timeout: POST_TIMEOUT_MS,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    };
    const request = nodeHttps().request(uri, options);
    // A deadline for the whole POST, answer included: the socket's idle timeout alone lets a collector that trickles
    // bytes, or accepts and stalls, hold a delivery slot for longer.
    const deadline = setTimeout(() => request.destroy(new Error(`no answer within ${POST_TIMEOUT_MS} ms`)), POST_TIMEOUT_MS);
    deadline.unref();
    const finish = (delivered: boolean) => {
      clearTimeout(deadline);
      resolve(delivered);
    };
    request.on('socket', (socket) => socket.unref());
    request.on('response', (response) => {
      response.resume();
      finish((response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => finish(false));
    request.end(body);
  });
}

function settle(policy: PinPolicy, report: PinReport, delivery: ReportDelivery): void {
  counts[delivery]++;
  publishReport(report, delivery);
  const onReport = policy.onReport;
  if (!onReport) return;
  queueMicrotask(() => {
    try {
      onReport(report, delivery);
    } catch {
      // A reporter's failure must not affect connections.
    }
  });
}
