/**
 * Runs the certpin CLI from the TypeScript source in a child process, as a user runs it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const repo = path.resolve(import.meta.dirname, '../..');
// Resolved here, so that the CLI also runs from a working directory outside the repository.
const tsx = import.meta.resolve('tsx');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly raw: Buffer;
}

/** Colour variables are removed (not emptied: Node 22 warns when both are set) unless `options.env` sets them. */
export function certpin(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: Buffer | string; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const { NO_COLOR: _noColor, FORCE_COLOR: _forceColor, ...inherited } = process.env;
    const env = { ...inherited, ...options.env };
    const child = spawn(process.execPath, ['--import', tsx, path.join(repo, 'src/cli/main.ts'), ...args], { cwd: options.cwd ?? repo, env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      const raw = Buffer.concat(out);
      resolve({ code: code ?? -1, stdout: raw.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), raw });
    });
    // A CLI that stops reading (an input past its limit) closes the pipe: that is its answer, not the test's error.
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') reject(error);
    });
    child.stdin.end(options.input ?? '');
  });
}
