/**
 * The demo's report collector: an HTTPS endpoint on 127.0.0.1 (a security team's, or a SIEM's) that receives the
 * JSON pin-failure reports certpin POSTs to the policy's `reportUri`.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { PinReport } from '../src/index.js';

export interface ReportCollector {
  /** The URI to put in the policy's `reportUri`. */
  readonly uri: string;
  /** The reports received, in order. */
  readonly reports: PinReport[];
  close(): Promise<void>;
}

/** Starts the collector with the given certificate (PEM key and chain). */
export async function startReportCollector(tlsFiles: { key: string; cert: string }): Promise<ReportCollector> {
  const reports: PinReport[] = [];
  const server = https.createServer({ key: tlsFiles.key, cert: tlsFiles.cert }, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      try {
        reports.push(JSON.parse(body) as PinReport);
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    uri: `https://127.0.0.1:${(server.address() as AddressInfo).port}/pin-reports`,
    reports,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
