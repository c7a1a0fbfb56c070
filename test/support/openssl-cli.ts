/**
 * The system `openssl verify`, run on PEM files in a temporary directory: the reference verdict certpin's validator
 * is compared with.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OpensslVerifyInput {
  readonly trusted: readonly string[];
  readonly untrusted: readonly string[];
  readonly leaf: string;
  /** Seconds since the epoch; the current time when absent. */
  readonly atTime?: number;
  readonly hostname?: string;
  readonly ip?: string;
  readonly partialChain?: boolean;
  /** OpenSSL's -auth_level (the TLS security level); none by default, as `openssl verify` does. */
  readonly authLevel?: number;
}

export interface OpensslVerdict {
  readonly ok: boolean;
  /** openssl's own words, e.g. `error 26 at depth 0 lookup: unsuitable certificate purpose`. */
  readonly detail: string;
}

/** `openssl verify -purpose sslserver -attime …`; `ok` only when openssl says OK and exits 0. */
export function opensslVerify(input: OpensslVerifyInput): OpensslVerdict {
  const dir = mkdtempSync(join(tmpdir(), 'certpin-verify-'));
  try {
    const ca = join(dir, 'ca.pem');
    const untrusted = join(dir, 'untrusted.pem');
    const leaf = join(dir, 'leaf.pem');
    writeFileSync(ca, input.trusted.join('\n'));
    writeFileSync(leaf, input.leaf);
    const args = ['verify', '-purpose', 'sslserver', '-CAfile', ca];
    if (input.atTime !== undefined) args.push('-attime', String(input.atTime));
    if (input.untrusted.length > 0) {
      writeFileSync(untrusted, input.untrusted.join('\n'));
      args.push('-untrusted', untrusted);
    }
    if (input.hostname !== undefined) args.push('-verify_hostname', input.hostname);
    if (input.ip !== undefined) args.push('-verify_ip', input.ip);
    if (input.partialChain) args.push('-partial_chain');
    if (input.authLevel !== undefined) args.push('-auth_level', String(input.authLevel));
    args.push(leaf);
    const run = spawnSync('openssl', args, { encoding: 'utf8', timeout: 20_000 });
    const out = `${run.stdout ?? ''}${run.stderr ?? ''}`;
    const error = /error (\d+) at (\d+) depth lookup: ([^\n]*)/.exec(out);
    return { ok: run.status === 0 && /: OK\s*$/m.test(out) && !error, detail: error ? error[0] : run.status === 0 ? 'OK' : out.trim().split('\n')[0] ?? 'failed' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
